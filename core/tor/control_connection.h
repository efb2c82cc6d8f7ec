// An asynchronous Tor controller on an sd-event loop: connects to the control
// port, authenticates with SAFECOOKIE, sends commands and matches the replies
// to them in order, and hands asynchronous events (650) to a callback.
#pragma once

#include "tor/control_reply.h"

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tails_server::core {

// What a command ended with. `error` is empty when Tor answered 2xx;
// otherwise it names the command (its keyword only, never its arguments) and
// says what happened: "ADD_ONION failed: 512 Failed to decode ED25519-V3 key",
// "GETINFO timed out after 10 s", "DEL_ONION failed: lost the connection to
// Tor: Tor closed the control connection".
struct CommandResult {
  std::string error;
  ControlReply reply;  // Tor's reply, when one came (for 4xx/5xx as well)
  bool ok() const { return error.empty(); }
};

// One port of an onion service: Port=<virtual_port>,<target>.
struct OnionPort {
  std::uint16_t virtual_port = 0;
  std::string target;  // "127.0.0.1:8080", "8080" or "unix:/path"; empty = 127.0.0.1:<virtual_port>

  bool operator==(const OnionPort&) const = default;
};

class ControlConnection {
 public:
  using ReadyCallback = std::function<void()>;
  using DisconnectCallback = std::function<void(const std::string& reason)>;
  using CommandCallback = std::function<void(const CommandResult&)>;
  using EventCallback = std::function<void(const ControlReply&)>;
  using ValueCallback = std::function<void(const std::string& error, const std::string& value)>;
  using DoneCallback = std::function<void(const std::string& error)>;

  static constexpr std::chrono::milliseconds default_timeout{10000};

  // Does nothing until connect(). `event` must outlive the connection.
  explicit ControlConnection(sd_event* event);
  // Closes the socket. No callback runs after or during destruction.
  ~ControlConnection();
  ControlConnection(const ControlConnection&) = delete;
  ControlConnection& operator=(const ControlConnection&) = delete;

  // Starts connecting to `endpoint` ("unix:/run/tor/control", "127.0.0.1:9051",
  // "[::1]:9051") and authenticating with SAFECOOKIE, using the cookie file
  // at `cookie_path`, or the COOKIEFILE Tor names when it is empty (an
  // explicit path is safer: an impostor on a TCP port could name its own
  // file). Returns at once; later exactly one of these runs: `on_ready` once
  // authenticated (then, at most once, `on_disconnect`), or `on_disconnect`
  // with the reason connecting or authenticating failed. Only SAFECOOKIE is
  // accepted, so that no secret goes to a peer that has not proved it knows
  // the cookie. Throws std::invalid_argument for a malformed endpoint and
  // std::logic_error when called twice.
  void connect(const std::string& endpoint, const std::string& cookie_path, ReadyCallback on_ready,
               DisconnectCallback on_disconnect);

  // Where asynchronous events go (the whole reply, status 650).
  void on_event(EventCallback callback);

  // Sends one command line (no CR or LF in `text`) once authenticated and
  // calls `callback` with its reply. If no reply comes within `timeout`, the
  // command fails and the connection is closed (later replies could no
  // longer be matched). Throws std::invalid_argument for a line with CR/LF
  // and std::logic_error after the connection was closed.
  void command(const std::string& text, CommandCallback callback,
               std::chrono::milliseconds timeout = default_timeout);

  // ADD_ONION ED25519-V3:<key> Flags=Detach[,V3Auth] Port=... [ClientAuthV3=...]
  // `key_blob` is the secret base64 blob of the 64-byte expanded key, with or
  // without "ED25519-V3:"; it never appears in errors. `client_auth_keys` are
  // 52-character base32 x25519 public keys; none means no client auth.
  // Calls back with the ServiceID (56 characters, no ".onion"). Throws
  // std::invalid_argument, naming the bad part, for malformed input.
  void add_onion(const std::string& key_blob, const std::vector<OnionPort>& ports,
                 const std::vector<std::string>& client_auth_keys, bool detach, ValueCallback callback,
                 std::chrono::milliseconds timeout = default_timeout);
  // DEL_ONION <service_id>.
  void del_onion(const std::string& service_id, DoneCallback callback,
                 std::chrono::milliseconds timeout = default_timeout);
  // GETINFO <key>; calls back with its value (a data block without its last
  // newline, so a list is "a\nb").
  void get_info(const std::string& key, ValueCallback callback,
                std::chrono::milliseconds timeout = default_timeout);
  // SETEVENTS <events...> (replaces the whole set).
  void set_events(const std::vector<std::string>& events, DoneCallback callback,
                  std::chrono::milliseconds timeout = default_timeout);

  // Closes the connection: pending commands fail with "closed by the
  // controller", on_disconnect does not run. Safe to call from a callback.
  void close();

  bool ready() const;
  // Tor's version from PROTOCOLINFO, once authenticated.
  const std::string& tor_version() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tails_server::core

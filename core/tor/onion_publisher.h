// Keeps Tor's onion services in line with the ones the daemon wants: adds
// them (detached) whenever a control connection is up, re-adds them after Tor
// restarts, follows HS_DESC to tell when each is published, and reconnects
// with exponential backoff while Tor is down.
#pragma once

#include "tor/control_connection.h"

#include <systemd/sd-event.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tails_server::core {

// One onion service as the daemon wants it.
struct OnionSpec {
  std::string key_blob;                       // secret: base64 ED25519-V3 key, never logged
  std::vector<OnionPort> ports;               // Port=virtual,target
  std::vector<std::string> client_auth_keys;  // 52-char base32 x25519 public keys; empty = no auth
  // The address the key gives (56 characters, no ".onion"), if known. With
  // it, a leftover detached onion of the same key is found and replaced;
  // without it, re-adding such a key fails with "550 Onion address collision".
  std::string service_id;

  bool operator==(const OnionSpec&) const = default;
};

enum class TorState {
  NotRunning,  // no control connection (Tor down, or it refused us)
  Connecting,  // connecting or authenticating
  Connected,   // authenticated; onions are being added or are added
};

enum class OnionState {
  Pending,     // waiting for Tor, or being added
  Announcing,  // Tor has it; no descriptor upload confirmed yet
  Published,   // an HSDir accepted its descriptor (HS_DESC UPLOADED)
  Error,       // Tor refused it; see OnionStatus::error
};

struct OnionStatus {
  OnionState state = OnionState::Pending;
  std::string service_id;  // once Tor returned it (or as given)
  std::string error;       // for Error: the command and Tor's reply
};

const char* to_string(TorState state);
const char* to_string(OnionState state);

class OnionPublisher {
 public:
  struct Options {
    std::string endpoint = "unix:/run/tor/control";
    std::string cookie_path;  // empty: the COOKIEFILE Tor names
    std::chrono::milliseconds min_backoff{500};
    std::chrono::milliseconds max_backoff{30000};
    std::chrono::milliseconds command_timeout{10000};
    // How often to look for stalled rendezvous circuits to the onions we hold
    // client keys for, and how long one may wait (tor/stalled_rendezvous.h).
    std::chrono::seconds rendezvous_check{15};
    std::chrono::seconds rendezvous_limit{40};
  };
  // detail: why Tor is not running, or "".
  using TorStateCallback = std::function<void(TorState state, const std::string& detail)>;
  using OnionStateCallback = std::function<void(const std::string& name, const OnionStatus& status)>;

  // Does nothing until start(). `event` must outlive the publisher. The
  // callbacks run on the event loop, only when a state changes.
  OnionPublisher(sd_event* event, Options options, TorStateCallback on_tor_state,
                 OnionStateCallback on_onion_state);
  ~OnionPublisher();
  OnionPublisher(const OnionPublisher&) = delete;
  OnionPublisher& operator=(const OnionPublisher&) = delete;

  // Starts connecting; keeps reconnecting for as long as the publisher lives.
  void start();

  // Wants the onion `name` with `spec`: adds it, or replaces it (DEL_ONION,
  // ADD_ONION with the same key) when the spec changed, for example its
  // client-auth keys. A spec Tor refuses (or that is malformed) turns into
  // OnionState::Error with the reason; the next set() tries again.
  void set(const std::string& name, const OnionSpec& spec);
  // Stops wanting `name`: DEL_ONION now, or once connected. Unknown: no-op.
  void remove(const std::string& name);

  // The keys for reaching other onion services (client authorization):
  // 56-character address → 44-character base64 x25519 private key (secrets,
  // never logged). Each is given to Tor (ONION_CLIENT_AUTH_ADD) now if
  // connected, and again after every reconnection, since Tor forgets them
  // when it restarts; one no longer in `keys` is taken back
  // (ONION_CLIENT_AUTH_REMOVE). Failures are logged.
  void set_client_auth(std::map<std::string, std::string> keys);

  TorState tor_state() const;
  // nullopt for a name not set.
  std::optional<OnionStatus> status(const std::string& name) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tails_server::core

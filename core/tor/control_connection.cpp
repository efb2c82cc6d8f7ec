#include "tor/control_connection.h"

#include "tor/control_endpoint.h"
#include "tor/safecookie.h"

#include <openssl/crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>

namespace tails_server::core {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

bool only_chars(std::string_view text, std::string_view allowed_extra, bool alnum) {
  for (char c : text) {
    bool ok = (alnum && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) ||
              allowed_extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool is_base32(std::string_view text) {
  for (char c : text)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) return false;
  return true;
}

}  // namespace

struct ControlConnection::Impl : std::enable_shared_from_this<Impl> {
  enum class State { Idle, Connecting, Authenticating, Ready, Closed };

  struct Pending {
    Impl* owner = nullptr;
    std::string label;  // the command keyword, for messages
    std::string text;   // the line, until it is written
    CommandCallback callback;
    std::chrono::milliseconds timeout{};
    sd_event_source* timer = nullptr;
    bool sent = false;
    ~Pending() {
      OPENSSL_cleanse(text.data(), text.size());
      sd_event_source_disable_unref(timer);
    }
  };

  sd_event* event = nullptr;
  State state = State::Idle;
  bool destroyed = false;
  int fd = -1;
  sd_event_source* io = nullptr;
  sd_event_source* deferred_failure = nullptr;
  std::string deferred_reason;
  std::string endpoint;
  std::string cookie_path;
  std::string tor_version;
  ReadyCallback on_ready;
  DisconnectCallback on_disconnect;
  EventCallback on_event;
  ControlReplyParser parser;
  std::string out;
  std::deque<std::unique_ptr<Pending>> in_flight;  // written, waiting for replies, in order
  std::deque<std::unique_ptr<Pending>> unsent;     // waiting for authentication
  std::vector<std::uint8_t> cookie;
  std::vector<std::uint8_t> client_nonce;

  explicit Impl(sd_event* e) : event(sd_event_ref(e)) {}

  ~Impl() {
    release();
    sd_event_unref(event);
  }

  // Closes the socket and drops everything, with no callback.
  void release() {
    sd_event_source_disable_unref(io);
    io = nullptr;
    sd_event_source_disable_unref(deferred_failure);
    deferred_failure = nullptr;
    if (fd >= 0) ::close(fd);
    fd = -1;
    OPENSSL_cleanse(out.data(), out.size());
    out.clear();
    OPENSSL_cleanse(cookie.data(), cookie.size());
    cookie.clear();
    in_flight.clear();
    unsent.clear();
  }

  bool stopped() const { return destroyed || state == State::Closed; }

  // Ends the connection: every pending command fails, then on_disconnect
  // runs (if `notify`). `timed_out` is the command whose timeout caused it.
  void fail(const std::string& reason, bool notify = true, Pending* timed_out = nullptr) {
    if (destroyed || state == State::Closed) return;
    auto self = shared_from_this();
    state = State::Closed;
    auto flying = std::move(in_flight);
    auto waiting = std::move(unsent);
    in_flight.clear();
    unsent.clear();
    release();
    for (auto* queue : {&flying, &waiting}) {
      for (auto& pending : *queue) {
        sd_event_source_disable_unref(pending->timer);
        pending->timer = nullptr;
        CommandResult result;
        result.error = pending.get() == timed_out ? reason
                                                  : pending->label + " failed: " + (notify ? "lost the connection to Tor: " : "") + reason;
        if (pending->callback) pending->callback(result);
        if (destroyed) return;
      }
    }
    if (notify && on_disconnect) {
      auto callback = std::move(on_disconnect);
      on_disconnect = nullptr;
      callback(reason);
    }
  }

  void fail_later(const std::string& reason) {
    deferred_reason = reason;
    int r = sd_event_add_time_relative(event, &deferred_failure, CLOCK_MONOTONIC, 0, 0, &Impl::on_deferred, this);
    if (r < 0) throw std::runtime_error("cannot add an event-loop timer: " + errno_text(-r));
  }

  static int on_deferred(sd_event_source*, std::uint64_t, void* userdata) {
    auto* impl = static_cast<Impl*>(userdata);
    auto self = impl->shared_from_this();
    impl->fail(impl->deferred_reason);
    return 0;
  }

  void start(const std::string& endpoint_text, const std::string& cookie) {
    ControlEndpoint parsed = parse_control_endpoint(endpoint_text);
    endpoint = endpoint_text;
    cookie_path = cookie;
    state = State::Connecting;
    fd = ::socket(parsed.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_later("cannot create a socket for Tor's control port: " + errno_text(errno));
    bool in_progress = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&parsed.address), parsed.length) != 0) {
      if (errno != EINPROGRESS)
        return fail_later("cannot connect to Tor's control port at " + endpoint + ": " + errno_text(errno));
      in_progress = true;
    }
    int r = sd_event_add_io(event, &io, fd, EPOLLIN | EPOLLOUT, &Impl::on_io, this);
    if (r < 0) throw std::runtime_error("cannot watch the control socket: " + errno_text(-r));
    if (!in_progress) authenticate();
  }

  void watch() {
    if (io) sd_event_source_set_io_events(io, out.empty() ? std::uint32_t{EPOLLIN} : std::uint32_t{EPOLLIN | EPOLLOUT});
  }

  void flush() {
    while (!out.empty() && fd >= 0) {
      ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return fail("cannot write to Tor's control port: " + errno_text(errno));
      }
      OPENSSL_cleanse(out.data(), static_cast<std::size_t>(n));
      out.erase(0, static_cast<std::size_t>(n));
    }
    watch();
  }

  void write(std::unique_ptr<Pending> pending) {
    out += pending->text;
    out += "\r\n";
    OPENSSL_cleanse(pending->text.data(), pending->text.size());
    pending->text.clear();
    pending->sent = true;
    in_flight.push_back(std::move(pending));
    flush();
  }

  std::unique_ptr<Pending> make(const std::string& text, CommandCallback callback, std::chrono::milliseconds timeout) {
    auto pending = std::make_unique<Pending>();
    pending->owner = this;
    pending->label = text.substr(0, text.find(' '));
    pending->text = text;
    pending->callback = std::move(callback);
    pending->timeout = timeout;
    auto usec = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());
    int r = sd_event_add_time_relative(event, &pending->timer, CLOCK_MONOTONIC, usec, 0, &Impl::on_timeout,
                                       pending.get());
    if (r < 0) throw std::runtime_error("cannot add an event-loop timer: " + errno_text(-r));
    return pending;
  }

  static int on_timeout(sd_event_source*, std::uint64_t, void* userdata) {
    auto* pending = static_cast<Pending*>(userdata);
    Impl* impl = pending->owner;
    auto self = impl->shared_from_this();
    std::string reason = pending->label + " timed out after " + describe(pending->timeout) +
                         (pending->sent ? " waiting for Tor's reply" : " waiting for the connection to Tor");
    if (!pending->sent) {
      for (auto it = impl->unsent.begin(); it != impl->unsent.end(); ++it) {
        if (it->get() != pending) continue;
        auto mine = std::move(*it);
        impl->unsent.erase(it);
        sd_event_source_disable_unref(mine->timer);
        mine->timer = nullptr;
        if (mine->callback) mine->callback(CommandResult{reason, {}});
        return 0;
      }
      return 0;
    }
    // A late reply would be taken for the next command's: give up the connection.
    impl->fail(reason, true, pending);
    return 0;
  }

  static int on_io(sd_event_source*, int, std::uint32_t revents, void* userdata) {
    auto* impl = static_cast<Impl*>(userdata);
    auto self = impl->shared_from_this();
    impl->handle_io(revents);
    return 0;
  }

  void handle_io(std::uint32_t revents) {
    if (state == State::Connecting) {
      if (!(revents & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      int error = 0;
      socklen_t length = sizeof error;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
      if (error != 0) return fail("cannot connect to Tor's control port at " + endpoint + ": " + errno_text(error));
      authenticate();
      return;
    }
    if (revents & EPOLLOUT) flush();
    if (stopped()) return;
    if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buffer[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return fail("cannot read from Tor's control port: " + errno_text(errno));
      }
      if (n == 0) return fail("Tor closed the control connection");
      std::vector<ControlReply> replies;
      try {
        replies = parser.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
      } catch (const ControlProtocolError& e) {
        return fail(std::string("Tor's control port sent something invalid: ") + e.what());
      }
      for (auto& reply : replies) {
        dispatch(reply);
        if (stopped()) return;
      }
    }
  }

  void dispatch(const ControlReply& reply) {
    if (reply.is_event()) {
      if (on_event) {
        auto callback = on_event;  // the callback may replace it
        callback(reply);
      }
      return;
    }
    if (in_flight.empty())
      return fail("Tor's control port sent a reply while no command was waiting: " + reply.summary());
    auto pending = std::move(in_flight.front());
    in_flight.pop_front();
    sd_event_source_disable_unref(pending->timer);
    pending->timer = nullptr;
    CommandResult result;
    result.reply = reply;
    if (!reply.ok()) result.error = pending->label + " failed: " + reply.summary();
    if (pending->callback) pending->callback(result);
  }

  // --- SAFECOOKIE handshake (control-spec §3.21, §3.24, §3.5) ---

  void authenticate() {
    state = State::Authenticating;
    write(make("PROTOCOLINFO 1", [this](const CommandResult& r) { on_protocolinfo(r); }, default_timeout));
  }

  void on_protocolinfo(const CommandResult& result) {
    if (stopped()) return;
    if (!result.ok()) return fail(result.error);
    std::string methods;
    std::string cookie_file;
    bool have_auth = false;
    try {
      for (const auto& line : result.reply.lines) {
        auto args = parse_keyword_args(line.text);
        if (args.positional.empty()) continue;
        if (args.positional[0] == "AUTH") {
          have_auth = true;
          methods = args.find("METHODS").value_or("");
          cookie_file = args.find("COOKIEFILE").value_or("");
        } else if (args.positional[0] == "VERSION") {
          tor_version = args.find("Tor").value_or("");
        }
      }
    } catch (const ControlProtocolError& e) {
      return fail(std::string("PROTOCOLINFO reply is malformed: ") + e.what());
    }
    if (!have_auth) return fail("expected an AUTH line in Tor's PROTOCOLINFO reply, found none");
    bool safecookie = false;
    for (std::size_t start = 0; start <= methods.size();) {
      auto comma = methods.find(',', start);
      if (comma == std::string::npos) comma = methods.size();
      if (methods.compare(start, comma - start, "SAFECOOKIE") == 0) safecookie = true;
      start = comma + 1;
    }
    if (!safecookie)
      return fail("Tor's control port does not offer SAFECOOKIE authentication (METHODS=" +
                  escape_for_message(methods) + "); set CookieAuthentication 1 in torrc");
    std::string path = cookie_path.empty() ? cookie_file : cookie_path;
    if (path.empty()) return fail("Tor's PROTOCOLINFO names no COOKIEFILE and no cookie path was configured");
    cookie_path = path;
    std::string error = read_control_cookie(path, cookie);
    if (!error.empty()) return fail(error);
    try {
      client_nonce = safecookie::random_bytes(32);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    write(make("AUTHCHALLENGE SAFECOOKIE " + safecookie::to_hex(client_nonce),
               [this](const CommandResult& r) { on_authchallenge(r); }, default_timeout));
  }

  void on_authchallenge(const CommandResult& result) {
    if (stopped()) return;
    if (!result.ok()) return fail(result.error);
    std::vector<std::uint8_t> server_hash, server_nonce;
    const std::string& text = result.reply.lines.back().text;
    try {
      auto args = parse_keyword_args(text);
      auto hash_hex = args.find("SERVERHASH");
      auto nonce_hex = args.find("SERVERNONCE");
      if (args.positional.empty() || args.positional[0] != "AUTHCHALLENGE" || !hash_hex || !nonce_hex ||
          !safecookie::from_hex(*hash_hex, server_hash) || server_hash.size() != 32 ||
          !safecookie::from_hex(*nonce_hex, server_nonce) || server_nonce.size() != 32)
        return fail("expected AUTHCHALLENGE SERVERHASH=<64 hex digits> SERVERNONCE=<64 hex digits> from Tor, "
                    "found " + escape_for_message(text));
    } catch (const ControlProtocolError& e) {
      return fail(std::string("AUTHCHALLENGE reply is malformed: ") + e.what());
    }
    std::string client_hash_hex;
    try {
      auto expected = safecookie::compute(safecookie::server_key, cookie, client_nonce, server_nonce);
      if (!safecookie::equal_constant_time(expected, server_hash))
        return fail("Tor's SAFECOOKIE server hash does not match the cookie in " + cookie_path +
                    ": the cookie file is not this Tor's, or the peer is not Tor");
      auto client_hash = safecookie::compute(safecookie::client_key, cookie, client_nonce, server_nonce);
      client_hash_hex = safecookie::to_hex(client_hash);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    OPENSSL_cleanse(cookie.data(), cookie.size());
    cookie.clear();
    write(make("AUTHENTICATE " + client_hash_hex, [this](const CommandResult& r) { on_authenticate(r); },
               default_timeout));
  }

  void on_authenticate(const CommandResult& result) {
    if (stopped()) return;
    if (!result.ok()) return fail(result.error);
    state = State::Ready;
    while (!unsent.empty() && !stopped()) {
      auto pending = std::move(unsent.front());
      unsent.pop_front();
      write(std::move(pending));
    }
    if (stopped()) return;
    if (on_ready) {
      auto callback = std::move(on_ready);
      on_ready = nullptr;
      callback();
    }
  }

  void submit(const std::string& text, CommandCallback callback, std::chrono::milliseconds timeout) {
    if (text.find_first_of("\r\n") != std::string::npos)
      throw std::invalid_argument("expected a control command without CR or LF, found one in a " +
                                  text.substr(0, text.find_first_of(" \r\n")) + " command");
    if (state == State::Closed || state == State::Idle)
      throw std::logic_error("cannot send " + text.substr(0, text.find(' ')) +
                             ": the Tor control connection is not open");
    auto pending = make(text, std::move(callback), timeout);
    if (state == State::Ready) write(std::move(pending));
    else unsent.push_back(std::move(pending));
  }
};

ControlConnection::ControlConnection(sd_event* event) : impl_(std::make_shared<Impl>(event)) {}

ControlConnection::~ControlConnection() {
  impl_->destroyed = true;
  impl_->release();
}

void ControlConnection::connect(const std::string& endpoint, const std::string& cookie_path, ReadyCallback on_ready,
                                DisconnectCallback on_disconnect) {
  if (impl_->state != Impl::State::Idle) throw std::logic_error("ControlConnection::connect called twice");
  impl_->on_ready = std::move(on_ready);
  impl_->on_disconnect = std::move(on_disconnect);
  impl_->start(endpoint, cookie_path);
}

void ControlConnection::on_event(EventCallback callback) { impl_->on_event = std::move(callback); }

void ControlConnection::command(const std::string& text, CommandCallback callback, std::chrono::milliseconds timeout) {
  impl_->submit(text, std::move(callback), timeout);
}

void ControlConnection::add_onion(const std::string& key_blob, const std::vector<OnionPort>& ports,
                                  const std::vector<std::string>& client_auth_keys, bool detach,
                                  ValueCallback callback, std::chrono::milliseconds timeout) {
  std::string_view key = key_blob;
  if (key.rfind("ED25519-V3:", 0) == 0) key.remove_prefix(11);
  if (key.empty() || key.size() > 200 || !only_chars(key, "+/=", true))
    throw std::invalid_argument("expected the ADD_ONION key as base64 (optionally after \"ED25519-V3:\"), "
                                "found " + std::to_string(key.size()) + " bytes with other characters (the key is not shown)");
  if (ports.empty()) throw std::invalid_argument("expected at least one port for ADD_ONION, found none");
  std::string flags;
  if (detach) flags = "Detach";
  if (!client_auth_keys.empty()) flags += flags.empty() ? "V3Auth" : ",V3Auth";
  std::string text = "ADD_ONION ED25519-V3:";
  text.append(key);
  if (!flags.empty()) text += " Flags=" + flags;
  for (const auto& port : ports) {
    if (port.virtual_port == 0) throw std::invalid_argument("expected an ADD_ONION virtual port from 1 to 65535, found 0");
    if (!only_chars(port.target, ".:/_-[]@+", true))
      throw std::invalid_argument("expected an ADD_ONION port target like 127.0.0.1:8080 or unix:/path, found " +
                                  escape_for_message(port.target));
    text += " Port=" + std::to_string(port.virtual_port);
    if (!port.target.empty()) text += "," + port.target;
  }
  for (const auto& client : client_auth_keys) {
    if (client.size() != 52 || !is_base32(client))
      throw std::invalid_argument("expected a client-auth public key of 52 base32 characters, found " +
                                  escape_for_message(client));
    text += " ClientAuthV3=" + client;
  }
  auto wrapped = [callback = std::move(callback)](const CommandResult& result) {
    if (!result.ok()) return callback(result.error, "");
    for (const auto& line : result.reply.lines) {
      if (line.text.rfind("ServiceID=", 0) == 0) return callback("", line.text.substr(10));
    }
    callback("ADD_ONION succeeded but Tor's reply has no ServiceID line: " + result.reply.summary(), "");
  };
  impl_->submit(text, std::move(wrapped), timeout);
  OPENSSL_cleanse(text.data(), text.size());
}

void ControlConnection::del_onion(const std::string& service_id, DoneCallback callback,
                                  std::chrono::milliseconds timeout) {
  if (service_id.empty() || service_id.size() > 100 || !is_base32(service_id))
    throw std::invalid_argument("expected an onion service ID in base32 for DEL_ONION, found " +
                                escape_for_message(service_id));
  impl_->submit("DEL_ONION " + service_id,
                [callback = std::move(callback)](const CommandResult& result) { callback(result.error); }, timeout);
}

void ControlConnection::get_info(const std::string& key, ValueCallback callback, std::chrono::milliseconds timeout) {
  if (key.empty() || !only_chars(key, "/-_.:", true))
    throw std::invalid_argument("expected a GETINFO key like onions/detached, found " + escape_for_message(key));
  impl_->submit("GETINFO " + key,
                [key, callback = std::move(callback)](const CommandResult& result) {
                  if (!result.ok()) return callback(result.error, "");
                  for (const auto& line : result.reply.lines) {
                    if (line.text.size() <= key.size() || line.text.compare(0, key.size(), key) != 0 ||
                        line.text[key.size()] != '=')
                      continue;
                    if (line.separator != '+') return callback("", line.text.substr(key.size() + 1));
                    std::string value = line.data;
                    if (!value.empty() && value.back() == '\n') value.pop_back();
                    return callback("", value);
                  }
                  callback("GETINFO " + key + ": Tor's reply has no value for it: " + result.reply.summary(), "");
                },
                timeout);
}

void ControlConnection::set_events(const std::vector<std::string>& events, DoneCallback callback,
                                   std::chrono::milliseconds timeout) {
  std::string text = "SETEVENTS";
  for (const auto& name : events) {
    if (name.empty() || !only_chars(name, "_", true))
      throw std::invalid_argument("expected an event name like HS_DESC, found " + escape_for_message(name));
    text += " " + name;
  }
  impl_->submit(text, [callback = std::move(callback)](const CommandResult& result) { callback(result.error); },
                timeout);
}

void ControlConnection::close() { impl_->fail("closed by the controller", false); }

bool ControlConnection::ready() const { return impl_->state == Impl::State::Ready; }

const std::string& ControlConnection::tor_version() const { return impl_->tor_version; }

}  // namespace tails_server::core

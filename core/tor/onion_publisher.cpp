#include "tor/onion_publisher.h"

#include "tor/onion_client_auth.h"
#include "tor/stalled_rendezvous.h"
#include "util/log.h"

#include <algorithm>
#include <deque>
#include <set>
#include <stdexcept>

namespace tails_server::core {

const char* to_string(TorState state) {
  switch (state) {
    case TorState::NotRunning: return "not running";
    case TorState::Connecting: return "connecting";
    case TorState::Connected: return "connected";
  }
  return "unknown";
}

const char* to_string(OnionState state) {
  switch (state) {
    case OnionState::Pending: return "pending";
    case OnionState::Announcing: return "announcing";
    case OnionState::Published: return "published";
    case OnionState::Error: return "error";
  }
  return "unknown";
}

struct OnionPublisher::Impl : std::enable_shared_from_this<Impl> {
  struct Entry {
    OnionSpec desired;
    bool wanted = true;
    std::string live_id;                 // the onion Tor has for it (ours, detached), or ""
    std::optional<OnionSpec> live_spec;  // what live_id was added with; nullopt when found detached
    bool busy = false;                   // a command for it is on the way
    bool failed = false;                 // Tor refused `desired`; wait for a new set()
    bool was_published = false;
    OnionStatus status;
  };

  // A state change waiting to be reported (callbacks run after our own
  // bookkeeping, so they may call set() or remove()).
  struct Note {
    bool is_tor = false;
    TorState tor{};
    std::string detail;
    std::string name;
    OnionStatus status;
  };

  sd_event* event;
  Options options;
  TorStateCallback on_tor_state;
  OnionStateCallback on_onion_state;
  std::unique_ptr<ControlConnection> connection;
  std::map<std::string, Entry> entries;
  TorState tor = TorState::NotRunning;
  std::string tor_detail;
  bool lost_once = false;  // no connection since the last loss
  bool synced = false;  // onions/detached read on this connection
  std::uint64_t epoch = 0;
  std::chrono::milliseconds backoff{};
  sd_event_source* retry = nullptr;
  bool started = false;
  bool destroyed = false;
  std::deque<Note> notes;
  bool flushing = false;
  std::map<std::string, std::string> client_auth;  // address → base64 key (secrets)
  std::set<std::string> client_auth_removed;       // to take back from Tor once connected
  sd_event_source* rendezvous_timer = nullptr;
  StalledRendezvous stalled;

  Impl(sd_event* e, Options o, TorStateCallback t, OnionStateCallback s)
      : event(sd_event_ref(e)), options(std::move(o)), on_tor_state(std::move(t)), on_onion_state(std::move(s)),
        backoff(options.min_backoff) {}

  ~Impl() {
    connection.reset();
    sd_event_source_disable_unref(rendezvous_timer);
    sd_event_source_disable_unref(retry);
    sd_event_unref(event);
  }

  void flush() {
    if (flushing) return;
    flushing = true;
    auto self = shared_from_this();
    while (!notes.empty() && !destroyed) {
      Note note = std::move(notes.front());
      notes.pop_front();
      if (note.is_tor) {
        if (on_tor_state) on_tor_state(note.tor, note.detail);
      } else if (on_onion_state) {
        on_onion_state(note.name, note.status);
      }
    }
    flushing = false;
  }

  void set_tor(TorState state, const std::string& detail = {}) {
    if (state == tor && detail == tor_detail) return;
    // While Tor is down, retries stay "not running" rather than flicker.
    if (state == TorState::Connecting && lost_once) return;
    if (state == TorState::NotRunning) lost_once = true;
    if (state == TorState::Connected) lost_once = false;
    tor = state;
    tor_detail = detail;
    notes.push_back(Note{true, state, detail, {}, {}});
  }

  void set_status(const std::string& name, Entry& e, OnionState state, const std::string& error = {}) {
    OnionStatus status{state, e.live_id.empty() ? e.desired.service_id : e.live_id, error};
    if (status.state == e.status.state && status.service_id == e.status.service_id && status.error == e.status.error)
      return;
    e.status = status;
    if (e.wanted) notes.push_back(Note{false, {}, {}, name, status});
  }

  bool live(std::uint64_t my_epoch) const {
    return !destroyed && my_epoch == epoch && connection && connection->ready();
  }

  void connect() {
    ++epoch;
    synced = false;
    connection = std::make_unique<ControlConnection>(event);
    std::uint64_t my_epoch = epoch;
    set_tor(TorState::Connecting);
    connection->on_event([this, my_epoch](const ControlReply& reply) {
      if (my_epoch != epoch) return;
      handle_event(reply);
      flush();
    });
    connection->connect(
        options.endpoint, options.cookie_path,
        [this, my_epoch] {
          if (my_epoch != epoch) return;
          on_ready(my_epoch);
          flush();
        },
        [this, my_epoch](const std::string& reason) {
          if (my_epoch != epoch) return;
          on_lost(reason);
          flush();
        });
  }

  void on_ready(std::uint64_t my_epoch) {
    backoff = options.min_backoff;
    schedule_rendezvous_check();
    connection->set_events({"HS_DESC", "SIGNAL"}, [](const std::string&) {
      // Without HS_DESC the onions still work; they only stay "announcing".
    }, options.command_timeout);
    connection->get_info(
        "onions/detached",
        [this, my_epoch](const std::string& error, const std::string& value) {
          if (!live(my_epoch)) return;
          if (!error.empty()) {
            connection->close();
            on_lost(error);
          } else {
            sync(value);
          }
          flush();
        },
        options.command_timeout);
  }

  // Compares Tor's detached onions with ours after (re)connecting.
  void sync(const std::string& detached_list) {
    std::set<std::string> detached;
    std::size_t start = 0;
    while (start < detached_list.size()) {
      auto end = detached_list.find('\n', start);
      if (end == std::string::npos) end = detached_list.size();
      std::string id = detached_list.substr(start, end - start);
      if (!id.empty() && id.back() == '\r') id.pop_back();
      if (!id.empty()) detached.insert(id);
      start = end + 1;
    }
    synced = true;
    set_tor(TorState::Connected);
    for (auto& [name, e] : entries) {
      if (!e.live_id.empty() && !detached.count(e.live_id)) {
        // Tor restarted (or someone removed it): it is gone.
        e.live_id.clear();
        e.live_spec.reset();
      }
      if (e.live_id.empty() && !e.desired.service_id.empty() && detached.count(e.desired.service_id)) {
        // Left by an earlier run: its ports and clients are unknown, so replace it.
        e.live_id = e.desired.service_id;
        e.live_spec.reset();
      }
      if (e.wanted && !e.live_id.empty() && e.live_spec && *e.live_spec == e.desired)
        set_status(name, e, e.was_published ? OnionState::Published : OnionState::Announcing);
    }
    std::vector<std::string> names;
    for (auto& [name, e] : entries) names.push_back(name);
    for (const auto& name : names) reconcile(name);
    // A restarted Tor has forgotten them; a reconnection alone replaces them (251).
    for (const auto& [id, key] : client_auth) send_client_auth(id, true);
    std::set<std::string> removed = client_auth_removed;
    for (const auto& id : removed) send_client_auth(id, false);
  }

  void send_client_auth(const std::string& id, bool add) {
    if (!synced || !connection || !connection->ready()) return;
    std::string line;
    try {
      line = add ? onion_client_auth_add_line(id, client_auth.at(id)) : onion_client_auth_remove_line(id);
    } catch (const std::exception& bad) {
      log::error(bad.what());
      return;
    }
    std::uint64_t my_epoch = epoch;
    connection->command(
        line,
        [this, id, add, my_epoch](const CommandResult& result) {
          if (!live(my_epoch)) return;
          if (!result.ok()) {
            log::warning(result.error + " (client authorization for " + id + ".onion)");
            return;
          }
          if (add) {
            log::info("Tor holds the client key for " + id + ".onion");
          } else {
            client_auth_removed.erase(id);
            log::info("Tor no longer holds the client key for " + id + ".onion");
          }
        },
        options.command_timeout);
  }

  void on_lost(const std::string& reason) {
    ++epoch;  // ignore whatever the old connection still reports
    synced = false;
    // Destroying the connection from its own callback is safe.
    connection.reset();
    for (auto& [name, e] : entries) {
      e.busy = false;
      if (e.wanted && e.status.state != OnionState::Error) set_status(name, e, OnionState::Pending);
    }
    set_tor(TorState::NotRunning, reason);
    schedule_retry();
  }

  void schedule_retry() {
    sd_event_source_disable_unref(retry);
    retry = nullptr;
    auto usec = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(backoff).count());
    backoff = std::min(backoff * 2, options.max_backoff);
    int r = sd_event_add_time_relative(event, &retry, CLOCK_MONOTONIC, usec, 0, &Impl::on_retry, this);
    if (r < 0) throw std::runtime_error("cannot add the Tor reconnect timer");
  }

  void schedule_rendezvous_check() {
    if (rendezvous_timer) return;
    auto usec = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(options.rendezvous_check).count());
    if (sd_event_add_time_relative(event, &rendezvous_timer, CLOCK_MONOTONIC, usec, 0, &Impl::on_rendezvous_check,
                                   this) < 0)
      log::warning("cannot add the timer that looks for stalled rendezvous circuits");
  }

  static int on_rendezvous_check(sd_event_source*, std::uint64_t, void* userdata) {
    auto* impl = static_cast<Impl*>(userdata);
    auto self = impl->shared_from_this();
    sd_event_source_disable_unref(impl->rendezvous_timer);
    impl->rendezvous_timer = nullptr;
    impl->check_rendezvous();
    impl->schedule_rendezvous_check();
    return 0;
  }

  // Closes the rendezvous circuits to peers that stalled (their tor restarted).
  void check_rendezvous() {
    if (client_auth.empty() || !synced || !connection || !connection->ready()) return;
    std::uint64_t my_epoch = epoch;
    connection->get_info(
        "circuit-status",
        [this, my_epoch](const std::string& error, const std::string& value) {
          if (!live(my_epoch) || !error.empty()) return;
          std::set<std::string> peers;
          for (const auto& [id, key] : client_auth) peers.insert(id);
          for (const auto& circuit :
               stalled.update(value, peers, StalledRendezvous::Clock::now(), options.rendezvous_limit))
            connection->command(
                "CLOSECIRCUIT " + circuit,
                [circuit](const CommandResult& result) {
                  if (result.ok())
                    log::notice("Closed Tor circuit " + circuit +
                                ", which waited for a peer's onion to answer (its tor probably restarted); "
                                "tor tries again with the peer's new descriptor");
                },
                options.command_timeout);
        },
        options.command_timeout);
  }

  static int on_retry(sd_event_source*, std::uint64_t, void* userdata) {
    auto* impl = static_cast<Impl*>(userdata);
    auto self = impl->shared_from_this();
    sd_event_source_disable_unref(impl->retry);
    impl->retry = nullptr;
    impl->connect();
    impl->flush();
    return 0;
  }

  void handle_event(const ControlReply& reply) {
    // NEWNYM (Tor Browser's "New Identity") purges tor's ephemeral client keys.
    if (reply.event_name() == "SIGNAL" && reply.lines.front().text == "SIGNAL NEWNYM") {
      for (const auto& [id, key] : client_auth) send_client_auth(id, true);
      return;
    }
    if (reply.event_name() != "HS_DESC") return;
    HsDescEvent hs;
    try {
      hs = parse_hs_desc_event(reply.lines.front().text);
    } catch (const ControlProtocolError&) {
      return;  // not ours to judge: events may grow fields
    }
    if (hs.action != "UPLOADED") return;
    for (auto& [name, e] : entries) {
      if (!e.wanted || e.live_id != hs.address || e.status.state != OnionState::Announcing) continue;
      e.was_published = true;
      set_status(name, e, OnionState::Published);
    }
  }

  // Takes one step towards what `name` should be, if nothing is on the way.
  void reconcile(const std::string& name) {
    auto it = entries.find(name);
    if (it == entries.end()) return;
    Entry& e = it->second;
    if (!synced || e.busy || !connection || !connection->ready()) {
      if (!e.wanted && e.live_id.empty() && !e.busy) entries.erase(it);
      return;
    }
    bool up_to_date = !e.live_id.empty() && e.live_spec && *e.live_spec == e.desired;
    if (e.wanted && up_to_date) return;
    std::uint64_t my_epoch = epoch;
    if (!e.live_id.empty()) {
      e.busy = true;
      if (e.wanted) set_status(name, e, OnionState::Pending);
      connection->command(
          "DEL_ONION " + e.live_id,
          [this, name, my_epoch](const CommandResult& result) {
            if (!live(my_epoch)) return;
            auto found = entries.find(name);
            if (found == entries.end()) return;
            Entry& entry = found->second;
            entry.busy = false;
            // 552: Tor does not know it (any more); that is what we wanted.
            if (!result.ok() && result.reply.status != 552) {
              entry.failed = true;
              set_status(name, entry, OnionState::Error, result.error);
              if (!entry.wanted) entries.erase(found);
              flush();
              return;
            }
            entry.live_id.clear();
            entry.live_spec.reset();
            entry.was_published = false;
            reconcile(name);
            flush();
          },
          options.command_timeout);
      return;
    }
    if (!e.wanted) {
      entries.erase(it);
      return;
    }
    if (e.failed) return;
    e.busy = true;
    e.was_published = false;
    set_status(name, e, OnionState::Pending);
    OnionSpec spec = e.desired;
    try {
      connection->add_onion(
          spec.key_blob, spec.ports, spec.client_auth_keys, true,
          [this, name, my_epoch, spec](const std::string& error, const std::string& id) {
            if (!live(my_epoch)) return;
            auto found = entries.find(name);
            if (found == entries.end()) return;
            Entry& entry = found->second;
            entry.busy = false;
            if (!error.empty()) {
              entry.failed = entry.desired == spec;
              set_status(name, entry, OnionState::Error, error);
            } else {
              entry.live_id = id;
              entry.live_spec = spec;
              if (!spec.service_id.empty() && id != spec.service_id) {
                entry.failed = entry.desired == spec;
                set_status(name, entry, OnionState::Error,
                           "ADD_ONION gave the address " + id + " but " + spec.service_id + " was expected");
              } else {
                set_status(name, entry, OnionState::Announcing);
              }
            }
            reconcile(name);  // the spec may have changed meanwhile
            flush();
          },
          options.command_timeout);
    } catch (const std::invalid_argument& bad) {
      e.busy = false;
      e.failed = true;
      set_status(name, e, OnionState::Error, bad.what());
    }
  }
};

OnionPublisher::OnionPublisher(sd_event* event, Options options, TorStateCallback on_tor_state,
                               OnionStateCallback on_onion_state)
    : impl_(std::make_shared<Impl>(event, std::move(options), std::move(on_tor_state), std::move(on_onion_state))) {}

OnionPublisher::~OnionPublisher() {
  impl_->destroyed = true;
  impl_->connection.reset();
  sd_event_source_disable_unref(impl_->retry);
  impl_->retry = nullptr;
  sd_event_source_disable_unref(impl_->rendezvous_timer);
  impl_->rendezvous_timer = nullptr;
}

void OnionPublisher::start() {
  if (impl_->started) return;
  impl_->started = true;
  impl_->connect();
  impl_->flush();
}

void OnionPublisher::set(const std::string& name, const OnionSpec& spec) {
  auto [it, added] = impl_->entries.try_emplace(name);
  Impl::Entry& e = it->second;
  if (!added && e.wanted && !e.failed && e.desired == spec) return;
  e.desired = spec;
  e.wanted = true;
  e.failed = false;
  if (added) {
    e.status.service_id = spec.service_id;
    impl_->notes.push_back(Impl::Note{false, {}, {}, name, e.status});
  }
  impl_->reconcile(name);
  impl_->flush();
}

void OnionPublisher::remove(const std::string& name) {
  auto it = impl_->entries.find(name);
  if (it == impl_->entries.end()) return;
  it->second.wanted = false;
  impl_->reconcile(name);
  impl_->flush();
}

void OnionPublisher::set_client_auth(std::map<std::string, std::string> keys) {
  auto& impl = *impl_;
  for (const auto& [id, key] : impl.client_auth)
    if (!keys.count(id)) impl.client_auth_removed.insert(id);
  std::vector<std::string> changed;
  for (const auto& [id, key] : keys) {
    impl.client_auth_removed.erase(id);
    auto old = impl.client_auth.find(id);
    if (old == impl.client_auth.end() || old->second != key) changed.push_back(id);
  }
  impl.client_auth = std::move(keys);
  for (const auto& id : changed) impl.send_client_auth(id, true);
  std::set<std::string> removed = impl.client_auth_removed;
  for (const auto& id : removed) impl.send_client_auth(id, false);
}

TorState OnionPublisher::tor_state() const { return impl_->tor; }

std::optional<OnionStatus> OnionPublisher::status(const std::string& name) const {
  auto it = impl_->entries.find(name);
  if (it == impl_->entries.end() || !it->second.wanted) return std::nullopt;
  return it->second.status;
}

}  // namespace tails_server::core

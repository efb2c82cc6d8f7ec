#include "systemd/unit_control.h"

#include "dbus/sd_bus_ptr.h"
#include "systemd/journal.h"

#include <systemd/sd-event.h>

#include <cstdlib>
#include <list>
#include <map>
#include <system_error>
#include <vector>

namespace tails_server::core {

using dbus::MessagePtr;
using dbus::SlotPtr;

namespace {

constexpr const char* systemd_service = "org.freedesktop.systemd1";
constexpr const char* manager_path = "/org/freedesktop/systemd1";
constexpr const char* manager_interface = "org.freedesktop.systemd1.Manager";
constexpr const char* unit_interface = "org.freedesktop.systemd1.Unit";
constexpr const char* service_interface = "org.freedesktop.systemd1.Service";

// How long a failed job waits before reading the unit's journal, so that
// journald has stored systemd's last messages about it.
constexpr uint64_t journal_delay_usec = 250 * 1000;
constexpr std::size_t journal_lines = 10;
// At most this many JobRemoved signals are kept while replies are awaited.
constexpr std::size_t max_early_jobs = 256;

void throw_if(int r, const char* what) {
  if (r < 0) throw std::system_error(-r, std::generic_category(), what);
}

// Why a job ended as it did, for people.
std::string explain(const std::string& result) {
  if (result == "failed") return "the unit failed";
  if (result == "timeout") return "it timed out";
  if (result == "dependency") return "a unit it depends on failed";
  if (result == "canceled") return "the job was canceled before it finished";
  if (result == "skipped") return "there was nothing to do in the unit's state";
  if (result == "invalid") return "the job does not apply to this unit";
  if (result == "assert") return "an assertion of the unit was not met";
  if (result == "unsupported") return "the unit type is not supported here";
  if (result == "collected") return "the job was dropped";
  if (result == "once") return "the unit may only be started once";
  return "see the log";
}

std::string job_failed_message(const std::string& verb, const std::string& unit, const std::string& result) {
  return "cannot " + verb + " " + unit + ": the " + verb + " job ended with result '" + result + "' (" +
         explain(result) + "). Last journal lines of " + unit + ":\n" + journal_tail_text(unit, journal_lines);
}

// Reads one property of type `type` ("s" or "u") into `out`. Returns the
// sd-bus error message on failure, empty on success.
std::string get_string(sd_bus* bus, const std::string& path, const char* interface, const char* name,
                       std::string& out) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  char* value = nullptr;
  int r = sd_bus_get_property_string(bus, systemd_service, path.c_str(), interface, name, &error, &value);
  std::string message;
  if (r < 0) {
    message = error.message ? error.message : std::system_category().message(-r);
  } else {
    out = value;
    std::free(value);
  }
  sd_bus_error_free(&error);
  return message;
}

// Updates `state` from an a{sv} of unit or service properties; skips the
// rest. Returns whether anything of UnitState was in it.
bool read_properties(sd_bus_message* m, UnitState& state) {
  bool changed = false;
  if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0) return false;
  while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
    const char* name = nullptr;
    if (sd_bus_message_read(m, "s", &name) < 0) return changed;
    std::string key = name;
    std::string* text = key == "LoadState"     ? &state.load_state
                        : key == "ActiveState" ? &state.active_state
                        : key == "SubState"    ? &state.sub_state
                                               : nullptr;
    if (text) {
      const char* value = nullptr;
      if (sd_bus_message_read(m, "v", "s", &value) >= 0 && value) {
        *text = value;
        changed = true;
      }
    } else if (key == "MainPID") {
      uint32_t pid = 0;
      if (sd_bus_message_read(m, "v", "u", &pid) >= 0) {
        state.main_pid = pid;
        changed = true;
      }
    } else {
      sd_bus_message_skip(m, "v");
    }
    sd_bus_message_exit_container(m);
  }
  sd_bus_message_exit_container(m);
  return changed;
}

}  // namespace

std::string unit_object_path(const std::string& unit) {
  char* path = nullptr;
  if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path) < 0) return {};
  std::string out = path;
  std::free(path);
  return out;
}

// ---------------------------------------------------------------- UnitWatch

struct UnitWatch::Impl {
  UnitState state;
  UnitChanged on_change;
  SlotPtr match;
  SlotPtr refresh;  // an outstanding GetAll after properties were invalidated

  static int on_properties_changed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Impl*>(userdata);
    const char* interface = nullptr;
    if (sd_bus_message_read(m, "s", &interface) < 0) return 0;
    std::string iface = interface;
    bool ours = iface == unit_interface || iface == service_interface;
    if (!ours) return 0;
    bool changed = read_properties(m, self->state);
    // systemd lists some properties as invalidated instead of sending their
    // value: read those of ours again, without blocking.
    bool invalidated = false;
    if (sd_bus_message_enter_container(m, 'a', "s") >= 0) {
      const char* name = nullptr;
      while (sd_bus_message_read(m, "s", &name) > 0) {
        std::string key = name;
        if (key == "LoadState" || key == "ActiveState" || key == "SubState" || key == "MainPID")
          invalidated = true;
      }
      sd_bus_message_exit_container(m);
    }
    if (invalidated) {
      sd_bus_slot* slot = nullptr;
      if (sd_bus_call_method_async(sd_bus_message_get_bus(m), &slot, systemd_service, sd_bus_message_get_path(m),
                                   "org.freedesktop.DBus.Properties", "GetAll", &Impl::on_get_all, self, "s",
                                   iface.c_str()) >= 0)
        self->refresh.reset(slot);
    }
    if (changed && self->on_change) {
      UnitChanged call = self->on_change;  // the callback may destroy the watch
      call(self->state);
    }
    return 0;
  }

  static int on_get_all(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Impl*>(userdata);
    if (sd_bus_message_is_method_error(m, nullptr)) return 0;
    if (read_properties(m, self->state) && self->on_change) {
      UnitChanged call = self->on_change;
      call(self->state);
    }
    return 0;
  }
};

UnitWatch::UnitWatch() = default;
UnitWatch::~UnitWatch() = default;
UnitWatch::UnitWatch(UnitWatch&&) noexcept = default;
UnitWatch& UnitWatch::operator=(UnitWatch&&) noexcept = default;

const UnitState& UnitWatch::state() const {
  static const UnitState none;
  return impl_ ? impl_->state : none;
}

// -------------------------------------------------------------- UnitControl

struct UnitControl::Impl {
  // A method call whose reply has not come yet.
  struct Call {
    Impl* impl = nullptr;
    std::string verb;  // "start", "stop", "restart", "reload"
    std::string unit;
    JobDone done;
    SlotPtr slot;
  };
  // A job systemd queued for us, waiting for its JobRemoved.
  struct Job {
    std::string verb;
    std::string unit;
    JobDone done;
  };
  // A failed job waiting a little before its journal is read.
  struct Failure {
    Impl* impl = nullptr;
    std::string verb;
    std::string unit;
    std::string result;
    JobDone done;
    sd_event_source* timer = nullptr;
    Failure() = default;
    Failure(const Failure&) = delete;
    Failure& operator=(const Failure&) = delete;
    ~Failure() { sd_event_source_disable_unref(timer); }
  };

  // A disable_unit_file() between its GetUnitFileState and its Reload.
  struct Disable {
    Impl* impl = nullptr;
    std::string unit;
    JobDone done;
    SlotPtr slot;
  };

  sd_bus* bus = nullptr;
  SlotPtr job_removed;
  SlotPtr subscribed;
  std::list<Call> calls;
  std::list<Disable> disables;
  // By job object path. systemd merges requests into one job (a start of a
  // unit whose start is already queued), so one path may have several.
  std::multimap<std::string, Job> jobs;
  std::map<std::string, std::string> early;   // job path -> result, seen before the reply
  std::list<Failure> failures;

  explicit Impl(sd_bus* b) : bus(sd_bus_ref(b)) {}
  ~Impl() {
    // Drop the slots before the bus reference.
    failures.clear();
    calls.clear();
    disables.clear();
    job_removed.reset();
    subscribed.reset();
    sd_bus_unref(bus);
  }

  void send(const char* method, const std::string& verb, const std::string& unit, JobDone done) {
    auto it = calls.emplace(calls.end());
    it->impl = this;
    it->verb = verb;
    it->unit = unit;
    it->done = std::move(done);
    sd_bus_slot* slot = nullptr;
    int r = unit.empty()
                ? sd_bus_call_method_async(bus, &slot, systemd_service, manager_path, manager_interface, method,
                                           &Impl::on_reply, &*it, "")
                : sd_bus_call_method_async(bus, &slot, systemd_service, manager_path, manager_interface, method,
                                           &Impl::on_reply, &*it, "ss", unit.c_str(), "replace");
    if (r < 0) {
      calls.erase(it);
      throw_if(r, ("cannot ask systemd to " + verb + (unit.empty() ? "" : " " + unit)).c_str());
    }
    it->slot.reset(slot);
  }

  void forget_early_if_idle() {
    if (calls.empty()) early.clear();
  }

  // Finishes a job that ended with `result`: at once if "done", else after
  // a short delay, with the journal.
  void job_ended(std::string verb, std::string unit, const std::string& result, JobDone done) {
    if (result == "done") {
      if (done) done(std::nullopt);
      return;
    }
    sd_event* event = sd_bus_get_event(bus);
    if (event) {
      auto& failure = failures.emplace_back();
      failure.impl = this;
      failure.verb = std::move(verb);
      failure.unit = std::move(unit);
      failure.result = result;
      failure.done = std::move(done);
      if (sd_event_add_time_relative(event, &failure.timer, CLOCK_MONOTONIC, journal_delay_usec, 0,
                                     &Impl::on_failure_timer, &failure) >= 0)
        return;
      verb = std::move(failure.verb);
      unit = std::move(failure.unit);
      done = std::move(failure.done);
      failures.pop_back();
    }
    if (done) done(UnitError(unit, result, "", job_failed_message(verb, unit, result)));
  }

  static int on_failure_timer(sd_event_source*, uint64_t, void* userdata) {
    auto* failure = static_cast<Failure*>(userdata);
    Impl* self = failure->impl;
    UnitError error(failure->unit, failure->result, "",
                    job_failed_message(failure->verb, failure->unit, failure->result));
    JobDone done = std::move(failure->done);
    self->failures.remove_if([failure](const Failure& f) { return &f == failure; });
    if (done) done(std::move(error));
    return 0;
  }

  static int on_reply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* call = static_cast<Call*>(userdata);
    Impl* self = call->impl;
    std::string verb = std::move(call->verb);
    std::string unit = std::move(call->unit);
    JobDone done = std::move(call->done);
    self->calls.remove_if([call](const Call& c) { return &c == call; });

    if (const sd_bus_error* error = sd_bus_message_get_error(m)) {
      std::string what = error->message ? error->message : (error->name ? error->name : "unknown error");
      std::string message = "cannot " + verb + (unit.empty() ? "" : " " + unit) + ": " + what;
      self->forget_early_if_idle();
      if (done) done(UnitError(unit, "", error->name ? error->name : "", message));
      return 0;
    }
    if (verb == "reload") {
      self->forget_early_if_idle();
      if (done) done(std::nullopt);
      return 0;
    }
    const char* job = nullptr;
    if (sd_bus_message_read(m, "o", &job) < 0 || !job) {
      self->forget_early_if_idle();
      if (done) done(UnitError(unit, "", "", "cannot " + verb + " " + unit + ": systemd's reply had no job"));
      return 0;
    }
    std::string path = job;
    auto seen = self->early.find(path);
    if (seen != self->early.end()) {
      // Kept for other replies naming the same (merged) job.
      std::string result = seen->second;
      self->forget_early_if_idle();
      self->job_ended(std::move(verb), std::move(unit), result, std::move(done));
      return 0;
    }
    self->forget_early_if_idle();
    self->jobs.emplace(path, Job{std::move(verb), std::move(unit), std::move(done)});
    return 0;
  }

  // Ends a disable_unit_file(): with `error`, or, after DisableUnitFiles
  // removed links, with systemd's Reload.
  static void disable_ended(Disable* disable, std::optional<UnitError> error, bool reload) {
    Impl* self = disable->impl;
    std::string unit = std::move(disable->unit);
    JobDone done = std::move(disable->done);
    self->disables.remove_if([disable](const Disable& d) { return &d == disable; });
    if (error || !reload) {
      if (done) done(std::move(error));
      return;
    }
    try {
      self->send("Reload", "reload", "", done);
    } catch (const std::system_error& e) {
      if (done) done(UnitError(unit, "", "", "disabled " + unit + ", but " + e.what()));
    }
  }

  // "PREFIX UNIT: what systemd said".
  static UnitError refused(const std::string& prefix, const std::string& unit, const sd_bus_error* error) {
    std::string what = error->message ? error->message : (error->name ? error->name : "unknown error");
    return UnitError(unit, "", error->name ? error->name : "", prefix + " " + unit + ": " + what);
  }

  static int on_unit_file_state(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* disable = static_cast<Disable*>(userdata);
    const std::string unit = disable->unit;
    if (const sd_bus_error* error = sd_bus_message_get_error(m)) {
      disable_ended(disable, refused("cannot read the unit file state of", unit, error), false);
      return 0;
    }
    const char* state = nullptr;
    if (sd_bus_message_read(m, "s", &state) < 0 || !state) {
      disable_ended(disable, UnitError(unit, "", "", "cannot read the unit file state of " + unit), false);
      return 0;
    }
    if (std::string(state) != "enabled") {
      disable_ended(disable, std::nullopt, false);
      return 0;
    }
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_call_method_async(disable->impl->bus, &slot, systemd_service, manager_path, manager_interface,
                                     "DisableUnitFiles", &Impl::on_unit_file_disabled, disable, "asb", 1,
                                     unit.c_str(), 0);
    if (r < 0) {
      disable_ended(disable, UnitError(unit, "", "", "cannot ask systemd to disable " + unit + ": " +
                                                         std::system_category().message(-r)), false);
      return 0;
    }
    disable->slot.reset(slot);
    return 0;
  }

  static int on_unit_file_disabled(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* disable = static_cast<Disable*>(userdata);
    if (const sd_bus_error* error = sd_bus_message_get_error(m)) {
      disable_ended(disable, refused("cannot disable", disable->unit, error), false);
      return 0;
    }
    disable_ended(disable, std::nullopt, true);
    return 0;
  }

  static int ignore_reply(sd_bus_message*, void*, sd_bus_error*) { return 0; }

  static int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<Impl*>(userdata);
    uint32_t id = 0;
    const char* job = nullptr;
    const char* unit = nullptr;
    const char* result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
    // Maybe ours, ahead of the method reply: keep it while replies are due.
    if (!self->calls.empty() && self->early.size() < max_early_jobs) self->early[job] = result;
    auto [first, last] = self->jobs.equal_range(job);
    std::vector<Job> ended;
    for (auto it = first; it != last; ++it) ended.push_back(std::move(it->second));
    self->jobs.erase(first, last);
    for (auto& e : ended) self->job_ended(std::move(e.verb), std::move(e.unit), result, std::move(e.done));
    return 0;
  }
};

UnitControl::UnitControl(sd_bus* bus) : impl_(std::make_unique<Impl>(bus)) {
  sd_bus_slot* slot = nullptr;
  // The match goes out before any of our calls, on the same connection: the
  // bus has it before systemd can answer them.
  throw_if(sd_bus_match_signal_async(bus, &slot, systemd_service, manager_path, manager_interface, "JobRemoved",
                                     &Impl::on_job_removed, &Impl::ignore_reply, impl_.get()),
           "cannot watch systemd's jobs");
  impl_->job_removed.reset(slot);
  slot = nullptr;
  // Without a subscriber systemd sends no job or unit signals. Harmless if
  // already subscribed ("already subscribed" errors are ignored).
  throw_if(sd_bus_call_method_async(bus, &slot, systemd_service, manager_path, manager_interface, "Subscribe",
                                    &Impl::ignore_reply, nullptr, ""),
           "cannot subscribe to systemd's signals");
  impl_->subscribed.reset(slot);
}

UnitControl::~UnitControl() = default;

void UnitControl::start(const std::string& unit, JobDone done) {
  impl_->send("StartUnit", "start", unit, std::move(done));
}

void UnitControl::stop(const std::string& unit, JobDone done) {
  impl_->send("StopUnit", "stop", unit, std::move(done));
}

void UnitControl::restart(const std::string& unit, JobDone done) {
  impl_->send("RestartUnit", "restart", unit, std::move(done));
}

void UnitControl::reload_or_restart(const std::string& unit, JobDone done) {
  impl_->send("ReloadOrRestartUnit", "reload-or-restart", unit, std::move(done));
}

void UnitControl::reload_daemon(JobDone done) { impl_->send("Reload", "reload", "", std::move(done)); }

void UnitControl::disable_unit_file(const std::string& unit, JobDone done) {
  auto& impl = *impl_;
  auto it = impl.disables.emplace(impl.disables.end());
  it->impl = &impl;
  it->unit = unit;
  it->done = std::move(done);
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_call_method_async(impl.bus, &slot, systemd_service, manager_path, manager_interface,
                                   "GetUnitFileState", &Impl::on_unit_file_state, &*it, "s", unit.c_str());
  if (r < 0) {
    impl.disables.erase(it);
    throw_if(r, ("cannot ask systemd whether " + unit + " is enabled").c_str());
  }
  it->slot.reset(slot);
}

UnitState UnitControl::unit_state(const std::string& unit) {
  sd_bus* bus = impl_->bus;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* raw = nullptr;
  int r = sd_bus_call_method(bus, systemd_service, manager_path, manager_interface, "LoadUnit", &error, &raw, "s",
                             unit.c_str());
  MessagePtr reply(raw);
  if (r < 0) {
    std::string what = error.message ? error.message : std::system_category().message(-r);
    std::string name = error.name ? error.name : "";
    sd_bus_error_free(&error);
    throw UnitError(unit, "", name, "cannot read the state of " + unit + ": " + what);
  }
  const char* object = nullptr;
  if (sd_bus_message_read(reply.get(), "o", &object) < 0 || !object)
    throw UnitError(unit, "", "", "cannot read the state of " + unit + ": systemd's reply had no unit");
  std::string path = object;

  UnitState state;
  for (auto [name, field] : {std::pair{"LoadState", &state.load_state}, std::pair{"ActiveState", &state.active_state},
                             std::pair{"SubState", &state.sub_state}}) {
    std::string failed = get_string(bus, path, unit_interface, name, *field);
    if (!failed.empty()) throw UnitError(unit, "", "", "cannot read " + std::string(name) + " of " + unit + ": " + failed);
  }
  if (state.load_state == "loaded") {
    uint32_t pid = 0;
    // Only services have a MainPID: other unit types keep 0.
    if (sd_bus_get_property_trivial(bus, systemd_service, path.c_str(), service_interface, "MainPID", &error, 'u',
                                    &pid) >= 0)
      state.main_pid = pid;
    sd_bus_error_free(&error);
  }
  return state;
}

UnitWatch UnitControl::watch(const std::string& unit, UnitChanged on_change) {
  UnitWatch watch;
  watch.impl_ = std::make_unique<UnitWatch::Impl>();
  auto& impl = *watch.impl_;
  impl.on_change = std::move(on_change);
  // Match first, then read: a change in between is reported, not lost.
  std::string path = unit_object_path(unit);
  sd_bus_slot* slot = nullptr;
  throw_if(sd_bus_match_signal(impl_->bus, &slot, systemd_service, path.c_str(), "org.freedesktop.DBus.Properties",
                               "PropertiesChanged", &UnitWatch::Impl::on_properties_changed, &impl),
           ("cannot watch " + unit).c_str());
  impl.match.reset(slot);
  impl.state = unit_state(unit);
  return watch;
}

}  // namespace tails_server::core

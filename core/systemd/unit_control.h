// Starting, stopping and watching systemd units over the system bus, on the
// daemon's event loop: every job is asynchronous and reports through a
// callback; only unit_state() and watch() read properties synchronously.
//
// A job's outcome comes from systemd's JobRemoved signal (matched by job
// path, including the race where the signal overtakes the method reply), so
// "done" means systemd says the job succeeded: for a Type=simple service,
// that its process started, not that it listens (see wait_for_port).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <systemd/sd-bus.h>

namespace tails_server::core {

// What systemd says about a unit now.
struct UnitState {
  std::string load_state;    // "loaded", "not-found", "masked", "bad-setting", "error", ...
  std::string active_state;  // "active", "inactive", "activating", "deactivating", "failed", "reloading"
  std::string sub_state;     // per unit type: "running", "dead", "auto-restart", "exited", ...
  std::uint32_t main_pid = 0;  // the service's main process, 0 if none (or not a service)
};

// A job or request that did not succeed. what() is a complete message for the
// user: the unit, what went wrong and, for failed jobs, the unit's last
// journal lines.
class UnitError : public std::runtime_error {
 public:
  UnitError(std::string unit, std::string result, std::string bus_error, const std::string& message)
      : std::runtime_error(message),
        unit_(std::move(unit)),
        result_(std::move(result)),
        bus_error_(std::move(bus_error)) {}
  // The unit, or empty for reload_daemon().
  const std::string& unit() const { return unit_; }
  // The job's result ("failed", "timeout", "dependency", "canceled",
  // "skipped", "invalid", ...), or empty when systemd refused the request.
  const std::string& result() const { return result_; }
  // The D-Bus error name when systemd refused the request, e.g.
  // "org.freedesktop.systemd1.NoSuchUnit" (message "Unit x.service not
  // found."); empty for a job result.
  const std::string& bus_error() const { return bus_error_; }

 private:
  std::string unit_;
  std::string result_;
  std::string bus_error_;
};

// Called once, from the event loop: with nothing on success, or the error.
using JobDone = std::function<void(std::optional<UnitError> error)>;
// Called from the event loop with the unit's state after each change.
using UnitChanged = std::function<void(const UnitState& state)>;

// A watch on one unit (see UnitControl::watch). Destroying it stops the
// callbacks. Movable, not copyable.
class UnitWatch {
 public:
  UnitWatch();
  ~UnitWatch();
  UnitWatch(UnitWatch&&) noexcept;
  UnitWatch& operator=(UnitWatch&&) noexcept;

  // The state as last reported (or read when the watch began).
  const UnitState& state() const;

  struct Impl;

 private:
  friend class UnitControl;
  std::unique_ptr<Impl> impl_;
};

class UnitControl {
 public:
  // Uses `bus` (a system bus connection, attached to an sd-event loop for the
  // callbacks to run; the loop also delays reading the journal of a failed
  // job a little so it holds systemd's last messages). Sends systemd's
  // Subscribe and adds the JobRemoved match, both without waiting.
  // Throws std::system_error if the match cannot be added.
  explicit UnitControl(sd_bus* bus);
  // Cancels every pending callback: none is called afterwards. Must not run
  // from inside one of this object's callbacks.
  ~UnitControl();
  UnitControl(const UnitControl&) = delete;
  UnitControl& operator=(const UnitControl&) = delete;

  // StartUnit / StopUnit / RestartUnit with mode "replace". `done` gets
  // success only when the job's result is "done". Requests that systemd
  // merges into one job (two starts of a unit) each get the job's result; a
  // job replaced by a later one ends "canceled". Throws std::system_error
  // only if the request cannot be sent (the bus connection is gone); every
  // other failure, including a refused request ("Unit x.service not found."),
  // goes to `done`.
  void start(const std::string& unit, JobDone done);
  void stop(const std::string& unit, JobDone done);
  void restart(const std::string& unit, JobDone done);
  // ReloadOrRestartUnit: a running unit reloads its configuration (nginx
  // keeps serving its other sites), a stopped one starts.
  void reload_or_restart(const std::string& unit, JobDone done);

  // systemctl daemon-reload: `done` runs when systemd has reloaded its units.
  // Throws std::system_error as above.
  void reload_daemon(JobDone done);

  // systemctl disable, for a unit that is enabled: GetUnitFileState, and
  // only if it says "enabled", DisableUnitFiles (the links in /etc, not the
  // runtime ones) and then Reload, as systemctl does, so that systemd also
  // forgets the dependencies those links gave (a target's Wants=). Any other
  // state ("disabled", "static", "masked", "alias", "indirect", ...) is left
  // alone, at the cost of one call. `done` gets success then too, or the
  // error (systemd refused, e.g. "No such file or directory" for a unit
  // without a file). Throws std::system_error as above.
  void disable_unit_file(const std::string& unit, JobDone done);

  // The unit's state now (LoadUnit, then its properties; load_state is
  // "not-found" for a unit that does not exist). Blocks for a few short bus
  // round trips. Throws UnitError if systemd cannot be asked.
  UnitState unit_state(const std::string& unit);

  // Calls `on_change` with the unit's new state each time systemd signals a
  // change of its properties (PropertiesChanged on the unit's object path; no
  // polling). Reads the current state first (see unit_state). Throws
  // UnitError or std::system_error.
  [[nodiscard]] UnitWatch watch(const std::string& unit, UnitChanged on_change);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The object path of `unit` in systemd's bus API, e.g.
// "/org/freedesktop/systemd1/unit/mumble_2dserver_2eservice".
std::string unit_object_path(const std::string& unit);

}  // namespace tails_server::core

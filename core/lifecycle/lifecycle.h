// The life of a service: install, enable, disable, uninstall and status.
//
// The long work (apt, systemd jobs, waiting for a port) runs asynchronously
// on the daemon's event loop; the plugin's hooks (TailsService::install,
// configure, start, stop, uninstall) run synchronously between the steps.
// Every change of a service's state is reported through one callback, which
// the daemon turns into its StateChanged D-Bus signal.
#pragma once

#include "services/service_manager.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace tails_server::core {

// The states a service goes through, as the front ends show them.
//   not-installed, installing, stopped, starting, announcing, online,
//   tor-not-running, running, stopping, stopped-unexpectedly, uninstalling,
//   failed, plugin-crashed
// A running service is "announcing" until Tor uploaded its onion descriptor,
// then "online"; "tor-not-running" while Tor cannot be reached; "running"
// only if its onion is not wanted. "failed" is transient: it reports an
// operation's failure and is followed by the service's real state.
// "plugin-crashed": its plugin is put aside after a crash; the daemon runs
// none of its code and leaves its unit and onion as they are, so only
// `enabled` and `address` (read from its files) are known then.
struct StateChange {
  std::string service;
  std::string state;
  int percent = -1;     // 0..100 while installing or uninstalling, else -1
  std::string message;  // e.g. "Unpacking mumble-server", or the error
};

// The full, current truth about one service.
struct LifecycleStatus {
  bool installed = false;  // every package is installed (dpkg)
  bool running = false;    // the unit is active and every local port listens
  bool published = false;  // Tor uploaded the onion's descriptor (HS_DESC UPLOADED)
  bool enabled = false;    // the user enabled it (it should be running)
  std::string address;     // "<56>.onion" or empty
  std::string onion;       // "", "pending", "announcing", "published", or "error: ..."
  std::string tor;         // "connected", "connecting", or "not running: <why>"
  std::string state;       // one of the states above
  std::string operation;   // the operation in progress, e.g. "installing 45%", or empty
};

// An operation could not start or failed. `code` says why in a way the
// daemon maps to a D-Bus error name.
enum class LifecycleErrorCode { Busy, NotInstalled, Failed };
class LifecycleError : public std::runtime_error {
 public:
  LifecycleError(LifecycleErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  LifecycleErrorCode code() const { return code_; }

 private:
  LifecycleErrorCode code_;
};

class Lifecycle {
 public:
  // Called once when an operation ends: nothing on success, or the error.
  using Done = std::function<void(std::optional<LifecycleError> error)>;
  using Changed = std::function<void(const StateChange&)>;

  struct Options {
    // How long enable() waits for the service's ports to listen.
    std::chrono::milliseconds port_timeout{std::chrono::seconds(60)};
    // Extra apt-get arguments (tests point apt at a local repository).
    std::vector<std::string> apt_arguments;
    // Tor's control endpoint ("unix:/path" or "127.0.0.1:9051") and cookie.
    std::string tor_control = "unix:/run/tor/control";
    std::string tor_cookie = "/run/tor/control.authcookie";
    // "iptables" or "nftables" (DaemonConfig::firewall_backend); "none" or
    // "" (the default, for tests on the host): no firewall rules at all.
    std::string firewall_backend;
    // Where the rules applied are recorded (DaemonConfig::runtime_dir /
    // firewall.json); "": nowhere, and a crashed plugin's service loses its
    // rules at the next start.
    std::filesystem::path firewall_record;
    // The user Tor runs as, whose connections reach the services' ports.
    std::string tor_user = "debian-tor";
    // How long autostart waits for the missing packages of a service (on
    // Tails, Additional Software installs them after the unlock).
    std::chrono::seconds package_wait{std::chrono::minutes(10)};
  };

  // `bus` is the daemon's system bus connection, attached to `event`. The
  // daemon must block SIGCHLD before creating this (apt's children are
  // watched through it). Starts watching the units of enabled services.
  Lifecycle(ServiceManager& manager, sd_event* event, sd_bus* bus, Changed on_change, Options options);
  Lifecycle(ServiceManager& manager, sd_event* event, sd_bus* bus, Changed on_change);
  ~Lifecycle();
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // Each starts the operation and returns at once; `done` runs later from
  // the loop. Throws ServiceError (no such service) or LifecycleError (Busy:
  // another operation on this service, or another install or uninstall
  // runs; NotInstalled for enable of a service whose packages are missing).
  //
  // install: apt-get the packages (progress reported), record the ones we
  // installed, then the plugin's install() and configure(), then disable the
  // unit file if the packages enabled it (TailsService::keep_unit_disabled).
  void install(const std::string& service, Done done);
  // enable: configure(), start(), disable the unit file if something enabled
  // it again (as install does), systemd RestartUnit (which starts a
  // stopped unit, and restarts a running one so that it reads the
  // configuration just written), wait until every local port listens; the
  // service is then marked enabled.
  void enable(const std::string& service, Done done);
  // apply: for an enabled service, what enable does, so that changed
  // options take effect (the configuration is written again, the unit
  // restarted, the ports waited for, the rules and onion renewed). Calls
  // `done` at once for a service that is not enabled.
  void apply(const std::string& service, Done done);
  // disable: systemd StopUnit, stop(); the service is marked disabled.
  void disable(const std::string& service, Done done);
  // uninstall: disable if needed, the plugin's uninstall(), remove the
  // persistent paths (the service's data) and its state, and purge the
  // packages we installed (never ones that were there before).
  void uninstall(const std::string& service, Done done);

  // Of a loaded service, or of a crashed plugin's ("plugin-crashed").
  LifecycleStatus status(const std::string& service);
  // A service the manager added while the daemon runs (a crashed plugin an
  // administrator retried): taken over as at start (an enabled one's unit
  // watched, its onion published, its rules applied).
  void adopt(const std::string& service);

  // Publishes the onion of an enabled service again with its current ports
  // and client keys (after a client was added or removed, or an option such
  // as client-authorization or virtual-port changed). No-op if not enabled.
  // A failure is logged, never thrown: the change it follows is stored.
  void refresh_onion(const std::string& service) noexcept;

  // What SetOption and ResetOption reply.
  struct OptionResult {
    std::string value;    // canonical
    std::string warning;  // for the user, or ""
    bool restart = false; // apply_option must follow before the value takes effect
  };
  // SetOption (`value`) and ResetOption (no value): Busy while an operation
  // on the service runs (nothing is stored then); stores the option
  // (ServiceManager), then does what option_effects() says: publishes the
  // onion and applies the firewall rules again (a failure there is logged:
  // the value is stored). Throws ServiceError or LifecycleError.
  OptionResult change_option(const std::string& service, const std::string& option,
                             const std::optional<std::string>& value);
  // After change_option said `restart`: apply(), whose error then says that
  // the option is set but the service did not restart with it.
  void apply_option(const std::string& service, const std::string& option, Done done);
  // Throws LifecycleError (Busy) while an operation on `service` runs.
  void refuse_while_busy(const std::string& service) const;

  // Applies the firewall rules again after allow-lan, allow-localhost or a
  // local port of `service` changed (no-op while an operation on it runs:
  // it applies them when it ends). Throws LifecycleError (Failed).
  void refresh_firewall(const std::string& service);
  // Makes the kernel's rules match the enabled services again (D-Bus
  // ReapplyFirewall, called by the NetworkManager hook after Tails reloaded
  // its firewall). Throws LifecycleError (Failed).
  void reapply_firewall();

  // At boot (tails-server-autostart.service → `tails-server autostart` →
  // D-Bus Autostart()), and when the Persistent Storage appears in the mount
  // table (Tails unlocks it after the Welcome Screen): reads the state of the
  // services found on it that the daemon has not read yet
  // (ServiceManager::load_persistent_state, which mounts their data), then
  // enables, one after the other, every service whose option `autostart` is
  // true and that is not running yet (enable writes the configuration,
  // starts the unit and publishes the onion). Never installs packages: a
  // service whose packages are missing is waited for (Options::package_wait:
  // Tails' Additional Software installs them after the unlock) and started
  // once they are there; if they never come it is reported (journal, a
  // "failed" StateChanged) and recorded as disabled. `done` gets Failed naming every
  // service that could not start, after all were tried.
  void autostart(Done done);

 private:
  struct AutostartRun {
    std::vector<std::string> pending;
    std::vector<std::string> failures;
    std::vector<std::string> waiting;  // for their packages, until `deadline`
    std::chrono::steady_clock::time_point deadline;
    Done done;  // called once, when no service is pending any more
  };
  void autostart_next(const std::shared_ptr<AutostartRun>& run);
  void wait_for_packages(const std::shared_ptr<AutostartRun>& run);
  static int on_package_timer(sd_event_source* source, std::uint64_t usec, void* userdata);
  void run_unit(const std::string& service, Done done);
  // The mount table changed: autostart once <persistence_root>/tails-server appears.
  void storage_changed();
  // An enabled service at start (or adopted): kept, watched and published.
  void take_over(const std::string& service);

  ServiceManager& manager_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tails_server::core

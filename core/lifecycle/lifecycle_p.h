// The Lifecycle's private part, shared by its source files (lifecycle.cpp:
// install, enable, disable, uninstall, status; autostart.cpp: autostart;
// option_change.cpp). Not part of the daemon's interface.
#pragma once

#include "lifecycle/lifecycle.h"
#include "util/log.h"

#include "apt/apt_installer.h"
#include "firewall/service_firewall.h"
#include "persistence/mount_watch.h"
#include "services/system_probe.h"
#include "systemd/journal.h"
#include "systemd/port_wait.h"
#include "systemd/unit_control.h"
#include "tor/keys/client_auth.h"
#include "tor/onion_publisher.h"

#include <tails_server/standard_options.h>

#include <map>
#include <memory>

namespace tails_server::core {
namespace lifecycle_detail {

inline std::uint64_t now_usec(sd_event* event) {
  std::uint64_t now = 0;
  sd_event_now(event, CLOCK_MONOTONIC, &now);
  return now;
}

// The one Busy error of an operation on a service.
inline LifecycleError busy(const std::string& service, const std::string& operation) {
  return LifecycleError(LifecycleErrorCode::Busy,
                        "busy: " + service + " is " + operation + "; try again when it is done");
}

inline std::string join_packages(const std::vector<std::string>& packages) {
  std::string out;
  for (const auto& p : packages) out += (out.empty() ? "" : " ") + p;
  return out;
}

}  // namespace lifecycle_detail

struct Lifecycle::Impl {
  Impl(ServiceManager& manager_, sd_event* event_, sd_bus* bus_, Changed on_change_, Options options_)
      : manager(manager_),
        event(event_),
        on_change(std::move(on_change_)),
        options(std::move(options_)),
        apt(event_, apt_options(options)),
        units(bus_),
        publisher(event_, publisher_options(options),
                  [this](TorState state, const std::string& detail) { tor_changed(state, detail); },
                  [this](const std::string& name, const OnionStatus& status) { onion_changed(name, status); }),
        firewall(manager_, event_,
                 {.backend = options.firewall_backend, .tor_user = options.tor_user, .record = options.firewall_record}) {}

  static OnionPublisher::Options publisher_options(const Options& options) {
    OnionPublisher::Options publisher;
    publisher.endpoint = options.tor_control;
    publisher.cookie_path = options.tor_cookie;
    return publisher;
  }

  static AptInstaller::Options apt_options(const Options& options) {
    AptInstaller::Options apt;
    apt.apt_arguments = options.apt_arguments;
    return apt;
  }

  ServiceManager& manager;
  sd_event* event;
  Changed on_change;
  Options options;
  AptInstaller apt;
  UnitControl units;
  OnionPublisher publisher;
  ServiceFirewall firewall;  // the services' rules in the kernel (none if options.firewall_backend is "none" or "")
  TorState tor_state = TorState::NotRunning;
  std::string tor_detail = "not connected yet";
  std::map<std::string, std::string> operations;  // service → state of the operation in progress
  std::map<std::string, UnitWatch> watches;       // units whose state was asked for, kept current by signals
  std::map<std::string, PortWait> port_waits;
  std::map<std::string, std::string> last_state;  // last state reported, to report changes only
  std::unique_ptr<MountWatch> mounts;             // notices the Persistent Storage being unlocked
  bool storage_present = false;
  // The autostart run waiting for packages, and its polling timer.
  std::shared_ptr<AutostartRun> waiting_run;
  std::unique_ptr<sd_event_source, sd_event_source* (*)(sd_event_source*)> package_timer{
      nullptr, sd_event_source_disable_unref};

  void emit(const std::string& service, const std::string& state, int percent = -1, const std::string& message = {}) {
    if (percent < 0 && message.empty()) {
      auto& last = last_state[service];
      if (last == state) return;
      last = state;
    } else {
      last_state[service] = state;
    }
    if (on_change) on_change(StateChange{service, state, percent, message});
  }

  // Reports the service's real state now (after an operation or a change).
  void emit_current(const std::string& service) { emit(service, compute(service).state); }

  void refuse_while_busy(const std::string& service) const {
    if (auto running = operations.find(service); running != operations.end()) throw lifecycle_detail::busy(service, running->second);
  }

  void begin(const std::string& service, const std::string& state) {
    refuse_while_busy(service);
    operations[service] = state;
    emit(service, state, state == "installing" || state == "uninstalling" ? 0 : -1);
  }

  void finish(const std::string& service, const Done& done, std::optional<LifecycleError> error) {
    firewall.abandon(service);  // an enable that failed: no rules for it
    operations.erase(service);
    if (error) emit(service, "failed", -1, error->what());
    last_state.erase(service);
    emit_current(service);
    done(std::move(error));
  }

  static LifecycleError failed(const std::string& message) {
    return LifecycleError(LifecycleErrorCode::Failed, message);
  }

  // Disables the service's unit file if its package enabled it (unless the
  // plugin says keep_unit_disabled = false), so that it never starts at boot
  // on its own, before our firewall rules and whether or not the user enabled
  // it; then calls `next`. A failure is only logged: the user's install or
  // start still does what was asked, the unit is as its package left it, and
  // the next install or start tries again.
  void keep_unit_disabled(const std::string& service, std::function<void()> next) {
    std::string unit;
    try {
      const auto& svc = manager.service(service);
      if (svc.keep_unit_disabled) unit = svc.systemd_service;
    } catch (const std::exception& error) {
      log::warning(service + ": " + error.what());
    }
    if (unit.empty()) return next();
    auto warn = [service, unit](const std::string& why) {
      log::warning(service + ": " + unit + " may start at boot on its own: " + why);
    };
    try {
      units.disable_unit_file(unit, [warn, next](std::optional<UnitError> error) {
        if (error) warn(error->what());
        next();
      });
    } catch (const std::exception& error) {
      warn(error.what());
      next();
    }
  }

  LifecycleStatus compute(const std::string& service) {
    const auto& svc = manager.service(service);
    LifecycleStatus status;
    status.installed = packages_installed(svc.packages);
    status.enabled = manager.enabled(service);
    status.address = manager.onion_address(service);
    status.tor = tor_text();
    if (status.installed) {
      const UnitState* unit = unit_state(service);
      status.running = unit && unit->active_state == "active";
      // Running means listening on every port with the service's own
      // sockets: a local user's socket on the port is not the service.
      const uid_t uid = unit ? process_uid(unit->main_pid).value_or(0) : 0;
      if (status.running)
        for (auto port : manager.local_ports(service))
          if (check_port_holder(tcp_listeners(port), uid).holder != PortHolder::Service) status.running = false;
    }
    if (auto onion = publisher.status(service)) {
      status.published = onion->state == OnionState::Published;
      status.onion = onion->state == OnionState::Error ? "error: " + onion->error : to_string(onion->state);
    }
    if (auto op = operations.find(service); op != operations.end()) {
      status.state = op->second;
      status.operation = op->second;
    } else if (!status.installed) {
      status.state = "not-installed";
    } else if (status.running) {
      if (status.onion.empty()) status.state = "running";
      else if (status.published) status.state = "online";
      else if (tor_state == TorState::NotRunning) status.state = "tor-not-running";
      else status.state = "announcing";
    } else if (status.enabled) {
      status.state = "stopped-unexpectedly";
    } else {
      status.state = "stopped";
    }
    return status;
  }

  std::string tor_text() const {
    switch (tor_state) {
      case TorState::Connected: return "connected";
      case TorState::Connecting: return "connecting";
      case TorState::NotRunning: break;
    }
    return "not running: " + tor_detail;
  }

  // The unit's state, kept current by a watch once asked for (so status
  // costs no systemd round trip after the first); nullptr if systemd cannot
  // be asked.
  const UnitState* unit_state(const std::string& service) {
    auto found = watches.find(service);
    if (found == watches.end()) {
      watch(service);
      found = watches.find(service);
      if (found == watches.end()) return nullptr;
    }
    return &found->second.state();
  }

  void tor_changed(TorState state, const std::string& detail) {
    tor_state = state;
    tor_detail = detail;
    if (state == TorState::Connecting) return;
    for (const auto& name : manager.service_names())
      if (manager.enabled(name) && !operations.count(name))
        emit(name, compute(name).state, -1, state == TorState::NotRunning ? "Tor is not running: " + detail : "Tor is running");
  }

  void onion_changed(const std::string& service, const OnionStatus& status) {
    if (operations.count(service)) return;
    std::string message;
    switch (status.state) {
      case OnionState::Pending:
        message = tor_state == TorState::Connected ? "adding the onion service to Tor" : "waiting for Tor";
        break;
      case OnionState::Announcing: message = "announcing onion address " + manager.onion_address(service); break;
      case OnionState::Published:
        message = "online at " + manager.onion_address(service);
        if (manager.get_option(service, standard_option::client_authorization) == "true" &&
            manager.clients(service).empty())
          message += "; client authorization is on and no client was added, so nobody can connect yet: "
                     "tails-server client add " + service + " NAME";
        break;
      case OnionState::Error: message = "Tor refused the onion service: " + status.error; break;
    }
    emit(service, compute(service).state, -1, message);
  }

  // Wants the service's onion published with its current ports and clients.
  void publish(const std::string& service) {
    std::string address = manager.ensure_onion_key(service);
    OnionSpec spec;
    spec.key_blob = manager.onion_key_blob(service);
    for (const auto& port : manager.onion_ports(service))
      spec.ports.push_back(core::OnionPort{port.virtual_port, "127.0.0.1:" + std::to_string(port.local_port)});
    if (manager.get_option(service, standard_option::client_authorization) == "true") {
      spec.client_auth_keys = manager.client_public_keys(service);
      // Tor publishes a descriptor without clients for everyone: while no
      // client was added, encrypt it for a key nobody holds, so nobody gets in.
      if (spec.client_auth_keys.empty()) spec.client_auth_keys.push_back(ClientKey::generate().public_key_base32());
    }
    spec.service_id = address.substr(0, address.size() - std::string(".onion").size());
    publisher.set(service, spec);
  }

  // Follows a service's unit, reporting changes (no polling: the unit's
  // PropertiesChanged signals drive it).
  void watch(const std::string& service) {
    const auto& unit = manager.service(service).systemd_service;
    try {
      watches[service] = units.watch(unit, [this, service](const UnitState& state) {
        if (operations.count(service)) return;
        // A reload (nginx taking another service's site in or out) keeps
        // serving: the onion stays.
        if (state.active_state == "reloading") return;
        if (state.active_state == "active") {
          // Active is not yet listening: report once every port listens
          // (running needs them all: prosody has two), and publish the
          // onion again if a failure withdrew it.
          wait_ports(service, manager.local_ports(service), [this, service](std::optional<std::string> error) {
            if (error) log::error(service + ": " + *error);
            else if (manager.enabled(service) && !publisher.status(service)) republish(service);
            emit_current(service);
          });
          return;
        }
        port_waits.erase(service);
        // While the unit is down its port is free for anyone to take: the
        // onion is withdrawn until the service listens again.
        if (manager.enabled(service) && publisher.status(service)) {
          publisher.remove(service);
          log::warning(service + ": " + unit_text(state) + ": its onion is withdrawn until it listens again");
        }
        emit_current(service);
      });
    } catch (const std::exception&) {
      watches.erase(service);  // systemd cannot be asked; status says not running
    }
  }

  // A service recorded as enabled whose unit is not running and that is not
  // marked autostart stays off (after a reboot): it is recorded as disabled.
  bool keep_enabled_at_start(const std::string& service) {
    try {
      if (manager.get_option(service, standard_option::autostart) == "true") return true;
      const UnitState* unit = unit_state(service);
      if (!unit) return true;  // systemd cannot be asked: change nothing
      const auto& active = unit->active_state;
      if (active == "active" || active == "activating" || active == "reloading") return true;
      manager.set_enabled(service, false);
      log::notice(service + " is not running and not marked autostart: recorded as disabled");
      return false;
    } catch (const std::exception& error) {
      log::error(service + ": " + error.what());
      return true;
    }
  }

  // Runs `work` (a persistence migration) with the service's unit stopped
  // if it runs, and starts it again afterwards, whatever happened.
  void guarded(const std::string& service, const std::function<void()>& work) {
    refuse_while_busy(service);
    const auto& svc = manager.service(service);
    std::string unit = svc.systemd_service;
    bool was_active = false;
    if (packages_installed(svc.packages)) {
      const UnitState* state = unit_state(service);
      was_active = state && (state->active_state == "active" || state->active_state == "activating" ||
                             state->active_state == "reloading");
    }
    auto systemctl = [this, &unit](const char* verb) {
      RunOptions run;
      run.timeout = std::chrono::seconds(90);
      auto result = manager.host().run({"systemctl", verb, unit}, run);
      if (result.exit_code != 0)
        throw failed("systemctl " + std::string(verb) + " " + unit + " failed: " + result.output);
    };
    operations[service] = was_active ? "stopping" : "starting";
    port_waits.erase(service);
    try {
      if (was_active) systemctl("stop");
      work();
    } catch (...) {
      if (was_active) {
        try {
          systemctl("start");
        } catch (const std::exception& error) {
          log::error(std::string(error.what()));
        }
      }
      operations.erase(service);
      last_state.erase(service);
      emit_current(service);
      throw;
    }
    try {
      if (was_active) systemctl("start");
    } catch (...) {
      operations.erase(service);
      last_state.erase(service);
      emit_current(service);
      throw;
    }
    operations.erase(service);
    last_state.erase(service);
    emit_current(service);
  }

  // Waits for each of `ports` in turn to be held by the service's own
  // sockets (those of the unit's main process's user, or root's), then calls
  // `done`; an error at once if anyone else holds one.
  void wait_ports(const std::string& service, std::vector<std::uint16_t> ports,
                  std::function<void(std::optional<std::string>)> done) {
    if (ports.empty()) return done(std::nullopt);
    auto port = ports.front();
    ports.erase(ports.begin());
    auto owner = [this, service]() -> std::optional<uid_t> {
      try {
        return process_uid(units.unit_state(manager.service(service).systemd_service).main_pid);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    };
    port_waits[service] = wait_for_port(
        event, port, options.port_timeout,
        [this, service, ports, done](std::optional<std::string> error) mutable {
          if (error) return done(error);
          wait_ports(service, std::move(ports), std::move(done));
        },
        std::chrono::milliseconds(100), owner);
  }

  void republish(const std::string& service) {
    try {
      publish(service);
      log::info(service + " listens again: its onion is published again");
    } catch (const std::exception& error) {
      log::error("cannot publish the onion of " + service + " again: " + error.what());
    }
  }

  // shared_units.cpp: units several services use (nginx.service for the
  // web sites), and PHP-FPM beside them.

  // Whether another enabled service uses the service's unit: then the unit
  // is not stopped for it, only reloaded.
  bool unit_shared(const std::string& service) const;
  // Starts PHP-FPM (its unit file kept disabled) if the service's site runs
  // PHP, then calls `next` with an error or nullopt.
  void start_php_if_needed(const std::string& service, std::function<void(std::optional<std::string>)> next);
  // After the service stopped being served (disable, uninstall): composes the
  // web server's configuration without its site (`forget`: removing the site
  // for good), reloads `unit` if `shared` (it serves others still), and stops
  // PHP-FPM if no enabled site runs PHP any more. Then calls `next`.
  void web_site_gone(const std::string& service, const std::string& unit, bool shared, bool forget,
                     std::function<void(std::optional<std::string>)> next);
  // After a failed enable, or an install: the configuration serves only the
  // enabled services' sites. Failures are logged.
  void drop_site_unless_enabled(const std::string& service) noexcept;
  // The packages recorded as installed for the service that no other
  // service of ours declares (one installed whose packages we installed, or
  // that is enabled), and the automatically installed
  // dependencies purging them leaves unneeded (apt-get -s): those uninstall
  // purges.
  std::vector<std::string> packages_to_purge(const std::string& service) const;
  // lifecycle.cpp: uninstall's end: purges packages_to_purge(), removes the
  // data and state, and finishes.
  void purge_and_remove(const std::string& service, const std::vector<std::string>& paths, const Done& done);

  static std::string unit_text(const UnitState& state) {
    return "its unit is " + state.active_state + (state.sub_state.empty() ? "" : " (" + state.sub_state + ")");
  }
};

}  // namespace tails_server::core

#include "lifecycle/lifecycle.h"

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

#include <cstdio>
#include <map>
#include <memory>

namespace tails_server::core {

namespace {

std::uint64_t now_usec(sd_event* event) {
  std::uint64_t now = 0;
  sd_event_now(event, CLOCK_MONOTONIC, &now);
  return now;
}

// The one Busy error of an operation on a service.
LifecycleError busy(const std::string& service, const std::string& operation) {
  return LifecycleError(LifecycleErrorCode::Busy,
                        "busy: " + service + " is " + operation + "; try again when it is done");
}

std::string join_packages(const std::vector<std::string>& packages) {
  std::string out;
  for (const auto& p : packages) out += (out.empty() ? "" : " ") + p;
  return out;
}

}  // namespace

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
        firewall(manager_, event_, {.backend = options.firewall_backend, .tor_user = options.tor_user}) {}

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
  ServiceFirewall firewall;  // the services' rules in the kernel (none if options.firewall_backend is "")
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
    if (auto running = operations.find(service); running != operations.end()) throw busy(service, running->second);
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
      if (status.running)
        for (auto port : manager.local_ports(service))
          if (!port_listening(port)) status.running = false;
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
      spec.ports.push_back(core::OnionPort{port.virtual_port, "127.0.0.1:" + std::to_string(port.target_port)});
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
        if (state.active_state == "active") {
          // Active is not yet listening: report once every port listens
          // (running needs them all: prosody has two).
          wait_ports(service, manager.local_ports(service),
                     [this, service](std::optional<std::string>) { emit_current(service); });
          return;
        }
        port_waits.erase(service);
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
      std::fprintf(stderr, "<5>%s is not running and not marked autostart: recorded as disabled\n", service.c_str());
      return false;
    } catch (const std::exception& error) {
      std::fprintf(stderr, "<3>%s: %s\n", service.c_str(), error.what());
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
          std::fprintf(stderr, "<3>%s\n", error.what());
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

  // Waits for each of `ports` in turn, then calls `done`.
  void wait_ports(const std::string& service, std::vector<std::uint16_t> ports,
                  std::function<void(std::optional<std::string>)> done) {
    if (ports.empty()) return done(std::nullopt);
    auto port = ports.front();
    ports.erase(ports.begin());
    port_waits[service] = wait_for_port(
        event, port, options.port_timeout,
        [this, service, ports, done](std::optional<std::string> error) mutable {
          if (error) return done(error);
          wait_ports(service, std::move(ports), std::move(done));
        });
  }
};

Lifecycle::Lifecycle(ServiceManager& manager, sd_event* event, sd_bus* bus, Changed on_change, Options options)
    : manager_(manager), impl_(std::make_unique<Impl>(manager, event, bus, std::move(on_change), std::move(options))) {
  impl_->publisher.start();
  manager.set_unit_guard([this](const std::string& service, const std::function<void()>& work) {
    impl_->guarded(service, work);
  });
  for (const auto& name : manager.service_names()) {
    if (!manager.enabled(name)) continue;
    if (!impl_->keep_enabled_at_start(name)) continue;
    impl_->watch(name);
    try {
      impl_->publish(name);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "<3>cannot publish the onion of %s: %s\n", name.c_str(), error.what());
    }
  }
  // The rules of the services recorded as enabled, and nothing else: after a
  // crash no LAN rule of a disabled service stays open.
  impl_->firewall.reconcile();
  // Tails mounts the Persistent Storage after the Welcome Screen, long after
  // boot: when it appears, do what tails-server-autostart.service did at boot.
  impl_->storage_present = manager.persistent_storage_present();
  try {
    impl_->mounts = std::make_unique<MountWatch>(event, [this] { storage_changed(); });
  } catch (const std::exception& error) {
    std::fprintf(stderr, "<4>the Persistent Storage will not be noticed when it is unlocked: %s\n", error.what());
  }
}

void Lifecycle::storage_changed() {
  bool present = impl_->manager.persistent_storage_present();
  if (present == impl_->storage_present) return;
  impl_->storage_present = present;
  if (!present) return;
  std::fprintf(stderr, "<6>the Persistent Storage is unlocked: starting the services marked autostart\n");
  autostart([](std::optional<LifecycleError> error) {
    if (error) std::fprintf(stderr, "<3>%s\n", error->what());
  });
}

Lifecycle::Lifecycle(ServiceManager& manager, sd_event* event, sd_bus* bus, Changed on_change)
    : Lifecycle(manager, event, bus, std::move(on_change), Options{}) {}

Lifecycle::~Lifecycle() = default;

LifecycleStatus Lifecycle::status(const std::string& service) { return impl_->compute(service); }

void Lifecycle::refresh_firewall(const std::string& service) {
  if (impl_->operations.count(service)) return;  // the operation applies the rules when it ends
  reapply_firewall();
}

void Lifecycle::reapply_firewall() {
  try {
    impl_->firewall.sync();
  } catch (const std::exception& error) {
    throw LifecycleError(LifecycleErrorCode::Failed, std::string("cannot apply the firewall rules: ") + error.what());
  }
}

void Lifecycle::refresh_onion(const std::string& service) noexcept {
  try {
    if (impl_->manager.enabled(service) && !impl_->operations.count(service)) impl_->publish(service);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "<4>cannot publish the onion of %s again: %s\n", service.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "<3>cannot publish the onion of %s again (unknown exception)\n", service.c_str());
  }
}

void Lifecycle::refuse_while_busy(const std::string& service) const { impl_->refuse_while_busy(service); }

void Lifecycle::install(const std::string& service, Done done) {
  auto& impl = *impl_;
  const auto& packages = impl.manager.service(service).packages;
  if (impl.apt.busy())
    throw LifecycleError(LifecycleErrorCode::Busy, "busy: " + impl.apt.current_operation() +
                                                       "; one installation at a time, try again when it is done");
  impl.begin(service, "installing");
  auto progress = [&impl, service](const AptProgress& p) {
    impl.emit(service, "installing", p.percent, p.message);
  };
  auto finished = [&impl, service, done](const AptResult& result) {
    if (!result.ok()) return impl.finish(service, done, Impl::failed(result.error));
    try {
      impl.manager.add_packages_installed_by_us(service, result.installed);
      impl.emit(service, "installing", 100, "Setting up " + service);
      impl.manager.ensure_onion_key(service);  // the configuration may name the address
      impl.manager.run_hook(service, ServiceManager::Hook::Install);
      impl.manager.run_hook(service, ServiceManager::Hook::Configure);
    } catch (const std::exception& error) {
      return impl.finish(service, done,
                         Impl::failed("the packages of " + service + " are installed, but " + error.what()));
    }
    impl.finish(service, done, std::nullopt);
  };
  try {
    AptRequestOptions request;
    request.requester = service;
    impl.apt.install(packages, progress, finished, request);
  } catch (const AptError& error) {
    impl.operations.erase(service);
    impl.emit_current(service);
    throw LifecycleError(error.kind() == AptErrorKind::Busy ? LifecycleErrorCode::Busy : LifecycleErrorCode::Failed,
                         error.what());
  }
}

void Lifecycle::enable(const std::string& service, Done done) {
  run_unit(service, std::move(done));
}

void Lifecycle::apply(const std::string& service, Done done) {
  if (!impl_->manager.enabled(service)) return done(std::nullopt);
  run_unit(service, std::move(done));
}

void Lifecycle::run_unit(const std::string& service, Done done) {
  auto& impl = *impl_;
  const auto& svc = impl.manager.service(service);
  if (!packages_installed(svc.packages))
    throw LifecycleError(LifecycleErrorCode::NotInstalled,
                         service + " is not installed (packages: " + join_packages(svc.packages) +
                             "); install it first: tails-server install " + service);
  impl.begin(service, "starting");
  std::string unit = svc.systemd_service;
  try {
    impl.manager.ensure_onion_key(service);
    impl.manager.run_hook(service, ServiceManager::Hook::Configure);
    impl.manager.run_hook(service, ServiceManager::Hook::Start);
  } catch (const std::exception& error) {
    return impl.finish(service, done, Impl::failed(error.what()));
  }
  // Tor's user (and local users, with allow-localhost) may reach the ports
  // before the unit starts, so Tor can connect as soon as the onion is
  // published; the LAN rule comes only once the service listens.
  try {
    impl.firewall.starting(service);
  } catch (const std::exception& error) {
    return impl.finish(service, done, Impl::failed("cannot set up the firewall rules of " + service + ": " + error.what()));
  }
  auto started = [&impl, service, unit, done](std::optional<UnitError> error) {
    if (error) return impl.finish(service, done, Impl::failed(error->what()));
    impl.wait_ports(service, impl.manager.local_ports(service),
                    [&impl, service, unit, done](std::optional<std::string> error) {
                      impl.port_waits.erase(service);
                      if (error) {
                        std::string message = service + " did not start listening: " + *error +
                                              "; last lines of " + unit + ":\n" + journal_tail_text(unit);
                        impl.units.stop(unit, [](std::optional<UnitError>) {});
                        return impl.finish(service, done, Impl::failed(message));
                      }
                      try {
                        impl.manager.set_enabled(service, true);
                        impl.firewall.started(service);  // now the LAN rule, with allow-lan
                        impl.publish(service);
                      } catch (const std::exception& e) {
                        return impl.finish(service, done, Impl::failed(e.what()));
                      }
                      impl.watch(service);
                      impl.finish(service, done, std::nullopt);
                    });
  };
  try {
    // RestartUnit starts a stopped unit, and restarts one that runs already
    // (a package's maintainer script may have started it, or an option
    // changed) so that it runs with the configuration just written.
    impl.units.reload_daemon([&impl, service, unit, done, started](std::optional<UnitError> error) {
      if (error) return impl.finish(service, done, Impl::failed(error->what()));
      impl.units.restart(unit, started);
    });
  } catch (const std::exception& error) {
    impl.finish(service, done, Impl::failed(std::string("cannot ask systemd: ") + error.what()));
  }
}

void Lifecycle::disable(const std::string& service, Done done) {
  auto& impl = *impl_;
  std::string unit = impl.manager.service(service).systemd_service;
  impl.begin(service, "stopping");
  impl.port_waits.erase(service);
  impl.publisher.remove(service);
  try {
    impl.units.stop(unit, [&impl, service, done](std::optional<UnitError> error) {
      if (error && error->bus_error() != "org.freedesktop.systemd1.NoSuchUnit")
        return impl.finish(service, done, Impl::failed(error->what()));
      try {
        impl.manager.run_hook(service, ServiceManager::Hook::Stop);
        impl.manager.set_enabled(service, false);
        impl.firewall.sync();  // its rules go
      } catch (const std::exception& e) {
        return impl.finish(service, done, Impl::failed(e.what()));
      }
      impl.finish(service, done, std::nullopt);
    });
  } catch (const std::exception& error) {
    impl.finish(service, done, Impl::failed(std::string("cannot ask systemd: ") + error.what()));
  }
}

void Lifecycle::uninstall(const std::string& service, Done done) {
  auto& impl = *impl_;
  const auto& svc = impl.manager.service(service);
  if (impl.apt.busy())
    throw LifecycleError(LifecycleErrorCode::Busy, "busy: " + impl.apt.current_operation() +
                                                       "; one installation at a time, try again when it is done");
  impl.begin(service, "uninstalling");
  impl.port_waits.erase(service);
  impl.publisher.remove(service);
  std::string unit = svc.systemd_service;
  std::vector<std::string> paths = svc.persistent_paths;

  // After the unit is stopped: the plugin's hook, the packages, the data.
  auto remove_everything = [&impl, service, paths, done]() {
    try {
      impl.manager.run_hook(service, ServiceManager::Hook::Uninstall);
    } catch (const std::exception& error) {
      return impl.finish(service, done, Impl::failed(error.what()));
    }
    auto remove_data = [&impl, service, paths, done]() {
      try {
        impl.manager.remove_persistent_data(service);  // unmounts; the state is amnesic again
        auto& host = impl.manager.host();
        for (const auto& path : paths) {
          std::error_code error;
          std::filesystem::remove_all(host.path(path), error);
          if (error) throw std::runtime_error("cannot remove " + path + ": " + error.message());
        }
        impl.manager.forget(service);
      } catch (const std::exception& error) {
        return impl.finish(service, done, Impl::failed(error.what()));
      }
      impl.finish(service, done, std::nullopt);
    };
    auto ours = impl.manager.packages_installed_by_us(service);
    if (ours.empty()) return remove_data();
    auto progress = [&impl, service](const AptProgress& p) {
      impl.emit(service, "uninstalling", p.percent, p.message);
    };
    try {
      AptRequestOptions request;
      request.requester = service;
      impl.apt.purge(ours, progress, [&impl, service, done, remove_data](const AptResult& result) {
        if (!result.ok()) return impl.finish(service, done, Impl::failed(result.error));
        remove_data();
      }, request);
    } catch (const std::exception& error) {
      impl.finish(service, done, Impl::failed(error.what()));
    }
  };

  try {
    impl.units.stop(unit, [&impl, service, done, remove_everything](std::optional<UnitError> error) {
      if (error && error->bus_error() != "org.freedesktop.systemd1.NoSuchUnit")
        return impl.finish(service, done, Impl::failed(error->what()));
      try {
        impl.manager.set_enabled(service, false);
        impl.firewall.sync();  // its rules go
      } catch (const std::exception& e) {
        return impl.finish(service, done, Impl::failed(e.what()));
      }
      remove_everything();
    });
  } catch (const std::exception&) {
    remove_everything();  // no systemd to ask: nothing of ours runs
  }
}

void Lifecycle::autostart(Done done) {
  auto run = std::make_shared<AutostartRun>();
  run->done = std::move(done);
  run->deadline = std::chrono::steady_clock::now() + impl_->options.package_wait;
  // On Tails the Persistent Storage is unlocked after the daemon started:
  // read what lies there now, and treat it as the daemon's start does.
  for (const auto& name : impl_->manager.load_persistent_state()) {
    std::fprintf(stderr, "<6>autostart: read the state of %s from the Persistent Storage\n", name.c_str());
    if (impl_->manager.enabled(name)) impl_->keep_enabled_at_start(name);
  }
  for (const auto& name : impl_->manager.service_names()) {
    try {
      if (impl_->manager.get_option(name, standard_option::autostart) == "true") run->pending.push_back(name);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "<3>autostart: %s: %s\n", name.c_str(), error.what());
    }
  }
  autostart_next(run);
}

// Starts the next service of `run`, or ends it.
void Lifecycle::autostart_next(const std::shared_ptr<AutostartRun>& run) {
  auto& impl = *impl_;
  while (!run->pending.empty()) {
    std::string service = run->pending.front();
    run->pending.erase(run->pending.begin());
    const auto& svc = impl.manager.service(service);
    if (!packages_installed(svc.packages) && std::chrono::steady_clock::now() < run->deadline) {
      std::string message = "waiting for the packages of " + service + " (" + join_packages(svc.packages) +
                            ") to be installed, e.g. by Tails' Additional Software; they are never installed "
                            "here";
      std::fprintf(stderr, "<5>autostart: %s\n", message.c_str());
      impl.emit(service, impl.compute(service).state, -1, message);
      run->waiting.push_back(service);
      continue;
    }
    if (!packages_installed(svc.packages)) {
      std::string message = service + " is marked autostart but not installed (packages: " +
                            join_packages(svc.packages) + ", waited " +
                            std::to_string(impl.options.package_wait.count()) +
                            " s); autostart never installs packages, so it stays off: install it with "
                            "tails-server install " + service;
      std::fprintf(stderr, "<3>autostart: %s\n", message.c_str());
      try {
        impl.manager.set_enabled(service, false);
      } catch (const std::exception&) {
      }
      impl.emit(service, "failed", -1, message);
      impl.last_state.erase(service);
      impl.emit_current(service);
      run->failures.push_back(message);
      continue;
    }
    if (auto running = impl.operations.find(service); running != impl.operations.end()) {
      // E.g. a second autostart (the boot unit's and the unlock's) overlapping.
      std::fprintf(stderr, "<6>autostart: %s is %s already\n", service.c_str(), running->second.c_str());
      continue;
    }
    auto status = impl.compute(service);
    if (status.running && status.enabled) {
      std::fprintf(stderr, "<6>autostart: %s runs already\n", service.c_str());
      continue;
    }
    std::fprintf(stderr, "<6>autostart: starting %s\n", service.c_str());
    try {
      enable(service, [this, service, run](std::optional<LifecycleError> error) {
        if (error) {
          std::fprintf(stderr, "<3>autostart: %s did not start: %s\n", service.c_str(), error->what());
          run->failures.push_back(service + ": " + error->what());
        } else {
          std::fprintf(stderr, "<6>autostart: %s started\n", service.c_str());
        }
        autostart_next(run);
      });
      return;  // continues from enable's callback
    } catch (const std::exception& error) {
      std::fprintf(stderr, "<3>autostart: %s did not start: %s\n", service.c_str(), error.what());
      run->failures.push_back(service + ": " + error.what());
    }
  }
  if (!run->waiting.empty()) wait_for_packages(run);
  if (!run->done) return;  // replied already
  auto done = std::move(run->done);
  run->done = nullptr;
  if (run->failures.empty()) return done(std::nullopt);
  std::string text;
  for (const auto& f : run->failures) text += (text.empty() ? "" : "; ") + f;
  done(Impl::failed("autostart: " + text));
}

// Checks every 2 s whether the packages of the waiting services came, until
// the run's deadline; the caller has had its reply already.
void Lifecycle::wait_for_packages(const std::shared_ptr<AutostartRun>& run) {
  auto& impl = *impl_;
  if (impl.waiting_run && impl.waiting_run != run) impl.waiting_run->waiting.clear();  // a newer run took over
  impl.waiting_run = run;
  const std::uint64_t at = now_usec(impl.event) + 2'000'000;
  if (impl.package_timer) {
    sd_event_source_set_time(impl.package_timer.get(), at);
    sd_event_source_set_enabled(impl.package_timer.get(), SD_EVENT_ONESHOT);
    return;
  }
  sd_event_source* source = nullptr;
  if (sd_event_add_time(impl.event, &source, CLOCK_MONOTONIC, at, 0, &Lifecycle::on_package_timer, this) < 0) {
    std::fprintf(stderr, "<3>autostart: cannot wait for packages (no timer)\n");
    return;
  }
  impl.package_timer.reset(source);
}

int Lifecycle::on_package_timer(sd_event_source*, std::uint64_t, void* userdata) {
  auto& self = *static_cast<Lifecycle*>(userdata);
  auto run = self.impl_->waiting_run;
  if (!run || run->waiting.empty()) return 0;
  const bool late = std::chrono::steady_clock::now() >= run->deadline;
  std::vector<std::string> still;
  for (const auto& service : run->waiting) {
    if (late || packages_installed(self.impl_->manager.service(service).packages)) run->pending.push_back(service);
    else still.push_back(service);
  }
  run->waiting = std::move(still);
  // autostart_next starts what came (or, past the deadline, reports it) and
  // waits again for the rest.
  if (!run->pending.empty()) self.autostart_next(run);
  else self.wait_for_packages(run);
  return 0;
}

}  // namespace tails_server::core

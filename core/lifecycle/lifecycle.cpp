#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_p.h"
#include "util/log.h"


namespace tails_server::core {

using namespace lifecycle_detail;

Lifecycle::Lifecycle(ServiceManager& manager, sd_event* event, sd_bus* bus, Changed on_change, Options options)
    : manager_(manager), impl_(std::make_unique<Impl>(manager, event, bus, std::move(on_change), std::move(options))) {
  impl_->publisher.start();
  // The services' keys for other onions (Prosody's peers), given to Tor now
  // and after each of its restarts.
  impl_->publisher.set_client_auth(manager.onion_client_credentials());
  manager.on_onion_client_keys_changed(
      [this] { impl_->publisher.set_client_auth(impl_->manager.onion_client_credentials()); });
  manager.set_unit_guard([this](const std::string& service, const std::function<void()>& work) {
    impl_->guarded(service, work);
  });
  for (const auto& name : manager.service_names()) take_over(name);
  // The rules of the services recorded as enabled, and nothing else: after a
  // crash no LAN rule of a disabled service stays open.
  impl_->firewall.reconcile();
  // Tails mounts the Persistent Storage after the Welcome Screen, long after
  // boot: when it appears, do what tails-server-autostart.service did at boot.
  impl_->storage_present = manager.persistent_storage_present();
  try {
    impl_->mounts = std::make_unique<MountWatch>(event, [this] { storage_changed(); });
  } catch (const std::exception& error) {
    log::warning(std::string("the Persistent Storage will not be noticed when it is unlocked: ") + error.what());
  }
}

void Lifecycle::take_over(const std::string& name) {
  if (!manager_.enabled(name)) return;
  if (!impl_->keep_enabled_at_start(name)) return;
  impl_->watch(name);
  try {
    impl_->publish(name);
  } catch (const std::exception& error) {
    log::error("cannot publish the onion of " + name + ": " + error.what());
  }
}

void Lifecycle::adopt(const std::string& name) {
  take_over(name);
  impl_->firewall.reconcile();
  impl_->emit_current(name);
}

void Lifecycle::storage_changed() {
  bool present = impl_->manager.persistent_storage_present();
  if (present == impl_->storage_present) return;
  impl_->storage_present = present;
  if (!present) return;
  log::info("the Persistent Storage is unlocked: starting the services marked autostart");
  autostart([](std::optional<LifecycleError> error) {
    if (error) log::error(std::string(error->what()));
  });
}

Lifecycle::Lifecycle(ServiceManager& manager, sd_event* event, sd_bus* bus, Changed on_change)
    : Lifecycle(manager, event, bus, std::move(on_change), Options{}) {}

Lifecycle::~Lifecycle() { manager_.on_onion_client_keys_changed(nullptr); }

LifecycleStatus Lifecycle::status(const std::string& service) {
  auto crashed = manager_.crashed_service(service);
  if (!crashed) return impl_->compute(service);
  LifecycleStatus status;
  status.state = "plugin-crashed";
  status.enabled = crashed->enabled;
  status.address = crashed->address;
  status.tor = impl_->tor_text();
  return status;
}

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
    log::warning("cannot publish the onion of " + service + " again: " + e.what());
  } catch (...) {
    log::error("cannot publish the onion of " + service + " again (unknown exception)");
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
      impl.drop_site_unless_enabled(service);
      return impl.finish(service, done,
                         Impl::failed("the packages of " + service + " are installed, but " + error.what()));
    }
    impl.drop_site_unless_enabled(service);  // configure() declared it: served once enabled
    // Their maintainer scripts may have enabled the unit (dh_installsystemd).
    impl.keep_unit_disabled(service, [&impl, service, done] { impl.finish(service, done, std::nullopt); });
  };
  // A program that ships with Tails Server: nothing for apt to fetch.
  if (packages.empty()) {
    AptResult nothing;
    nothing.requester = service;
    return finished(nothing);
  }
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

void Lifecycle::run_unit(const std::string& service, Done done_) {
  auto& impl = *impl_;
  // A web site declared by configure() for an enable that failed is not served.
  Done done = [&impl, service, done_ = std::move(done_)](std::optional<LifecycleError> error) {
    if (error) impl.drop_site_unless_enabled(service);
    done_(std::move(error));
  };
  const auto& svc = impl.manager.service(service);
  if (!packages_installed(svc.packages))
    throw LifecycleError(LifecycleErrorCode::NotInstalled,
                         service + " is not installed (packages: " + join_packages(svc.packages) +
                             "); install it first: tails-server install " + service);
  impl.begin(service, "starting");
  std::string unit = svc.systemd_service;
  // Another enabled service's unit too (nginx.service): reloaded, never stopped for this one.
  const bool shared = impl.unit_shared(service);
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
  auto started = [&impl, service, unit, shared, done](std::optional<UnitError> error) {
    if (error) return impl.finish(service, done, Impl::failed(error->what()));
    impl.wait_ports(service, impl.manager.local_ports(service),
                    [&impl, service, unit, shared, done](std::optional<std::string> error) {
                      impl.port_waits.erase(service);
                      if (error) {
                        std::string message = service + " did not start listening: " + *error +
                                              "; last lines of " + unit + ":\n" + journal_tail_text(unit);
                        if (!shared) impl.units.stop(unit, [](std::optional<UnitError>) {});
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
  // The packages may have been installed again since (on Tails, Additional
  // Software does it at every boot) and enabled the unit again.
  impl.keep_unit_disabled(service, [&impl, service, unit, shared, done, started] {
    try {
      // RestartUnit starts a stopped unit, and restarts one that runs already
      // (a package's maintainer script may have started it, or an option
      // changed) so that it runs with the configuration just written. A unit
      // that serves other services too reloads instead.
      impl.units.reload_daemon([&impl, service, unit, shared, done, started](std::optional<UnitError> error) {
        if (error) return impl.finish(service, done, Impl::failed(error->what()));
        impl.start_php_if_needed(service, [&impl, service, unit, shared, done, started](
                                              std::optional<std::string> error) {
          if (error) return impl.finish(service, done, Impl::failed(*error));
          try {
            if (shared) impl.units.reload_or_restart(unit, started);
            else impl.units.restart(unit, started);
          } catch (const std::exception& e) {
            impl.finish(service, done, Impl::failed(std::string("cannot ask systemd: ") + e.what()));
          }
        });
      });
    } catch (const std::exception& error) {
      impl.finish(service, done, Impl::failed(std::string("cannot ask systemd: ") + error.what()));
    }
  });
}

void Lifecycle::disable(const std::string& service, Done done) {
  auto& impl = *impl_;
  std::string unit = impl.manager.service(service).systemd_service;
  impl.begin(service, "stopping");
  impl.port_waits.erase(service);
  impl.publisher.remove(service);
  // A unit that serves another enabled service too (nginx.service) keeps
  // running, reloaded without this service's site.
  const bool shared = impl.unit_shared(service);
  auto stopped = [&impl, service, unit, shared, done](std::optional<UnitError> error) {
    if (error && error->bus_error() != "org.freedesktop.systemd1.NoSuchUnit")
      return impl.finish(service, done, Impl::failed(error->what()));
    try {
      impl.manager.run_hook(service, ServiceManager::Hook::Stop);
      impl.manager.set_enabled(service, false);
      impl.firewall.sync();  // its rules go
    } catch (const std::exception& e) {
      return impl.finish(service, done, Impl::failed(e.what()));
    }
    impl.web_site_gone(service, unit, shared, false, [&impl, service, done](std::optional<std::string> error) {
      impl.finish(service, done, error ? std::optional(Impl::failed(*error)) : std::nullopt);
    });
  };
  try {
    if (shared) stopped(std::nullopt);
    else impl.units.stop(unit, stopped);
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
  const bool shared = impl.unit_shared(service);

  // After the unit is stopped: the plugin's hook, its web site, the packages, the data.
  auto remove_everything = [&impl, service, unit, shared, paths, done]() {
    try {
      impl.manager.run_hook(service, ServiceManager::Hook::Uninstall);
    } catch (const std::exception& error) {
      return impl.finish(service, done, Impl::failed(error.what()));
    }
    impl.web_site_gone(service, unit, shared, true, [&impl, service, paths, done](std::optional<std::string> error) {
      if (error) return impl.finish(service, done, Impl::failed(*error));
      impl.purge_and_remove(service, paths, done);
    });
  };

  try {
    if (shared) {  // it serves another enabled service: not stopped
      try {
        impl.manager.set_enabled(service, false);
        impl.firewall.sync();  // its rules go
      } catch (const std::exception& e) {
        return impl.finish(service, done, Impl::failed(e.what()));
      }
      return remove_everything();
    }
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

void Lifecycle::Impl::purge_and_remove(const std::string& service, const std::vector<std::string>& paths,
                                       const Done& done) {
  auto& impl = *this;
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
  auto ours = impl.packages_to_purge(service);
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
}

}  // namespace tails_server::core

// Lifecycle::autostart: enabling, one after the other, the services marked
// autostart, at boot and when the Persistent Storage is unlocked; waiting
// for the packages Tails' Additional Software installs after the unlock.
#include "lifecycle/autostart_step.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_p.h"
#include "util/log.h"

namespace tails_server::core {

using namespace lifecycle_detail;

void Lifecycle::autostart(Done done) {
  auto run = std::make_shared<AutostartRun>();
  run->done = std::move(done);
  run->deadline = std::chrono::steady_clock::now() + impl_->options.package_wait;
  // On Tails the Persistent Storage is unlocked after the daemon started:
  // read what lies there now, and treat it as the daemon's start does.
  for (const auto& name : impl_->manager.load_persistent_state()) {
    log::info("autostart: read the state of " + name + " from the Persistent Storage");
    if (impl_->manager.enabled(name)) impl_->keep_enabled_at_start(name);
  }
  // Client keys of other onions that lay on the Persistent Storage.
  impl_->publisher.set_client_auth(impl_->manager.onion_client_credentials());
  for (const auto& record : impl_->manager.plugins())
    if (record.state == PluginState::Crashed)
      log::error("autostart: skipped " + (record.name.empty() ? record.file.string() : record.name) +
                 ", its plugin is put aside after a crash: " + record.message);
  // Its service is named to the caller too (`tails-server autostart` prints it).
  for (const auto& crashed : impl_->manager.crashed_services())
    impl_->emit(crashed.name, "plugin-crashed", -1, "skipped: " + crashed.message);
  for (const auto& name : impl_->manager.service_names()) {
    try {
      if (impl_->manager.get_option(name, standard_option::autostart) == "true") run->pending.push_back(name);
    } catch (const std::exception& error) {
      log::error("autostart: " + name + ": " + error.what());
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
    AutostartFacts facts;
    facts.packages_installed = packages_installed(svc.packages);
    facts.before_deadline = std::chrono::steady_clock::now() < run->deadline;
    auto running = impl.operations.find(service);
    facts.operation_running = running != impl.operations.end();
    if (facts.packages_installed && !facts.operation_running) {
      auto status = impl.compute(service);
      facts.running_and_enabled = status.running && status.enabled;
    }
    switch (next_autostart_step(facts)) {
      case AutostartStep::WaitForPackages: {
        std::string message = "waiting for the packages of " + service + " (" + join_packages(svc.packages) +
                              ") to be installed, e.g. by Tails' Additional Software; they are never installed "
                              "here";
        log::notice("autostart: " + message);
        impl.emit(service, impl.compute(service).state, -1, message);
        run->waiting.push_back(service);
        continue;
      }
      case AutostartStep::GiveUp: {
        std::string message = service + " is marked autostart but not installed (packages: " +
                              join_packages(svc.packages) + ", waited " +
                              std::to_string(impl.options.package_wait.count()) +
                              " s); autostart never installs packages, so it stays off: install it with "
                              "tails-server install " + service;
        log::error("autostart: " + message);
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
      case AutostartStep::SkipBusy:
        // E.g. a second autostart (the boot unit's and the unlock's) overlapping.
        log::info("autostart: " + service + " is " + running->second + " already");
        continue;
      case AutostartStep::SkipRunning:
        log::info("autostart: " + service + " runs already");
        continue;
      case AutostartStep::Start:
        break;
    }
    log::info("autostart: starting " + service);
    try {
      enable(service, [this, service, run](std::optional<LifecycleError> error) {
        if (error) {
          log::error("autostart: " + service + " did not start: " + error->what());
          run->failures.push_back(service + ": " + error->what());
        } else {
          log::info("autostart: " + service + " started");
        }
        autostart_next(run);
      });
      return;  // continues from enable's callback
    } catch (const std::exception& error) {
      log::error("autostart: " + service + " did not start: " + error.what());
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
    log::error("autostart: cannot wait for packages (no timer)");
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

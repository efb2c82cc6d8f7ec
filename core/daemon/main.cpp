// tails-serverd: loads the service plugins and serves them on the system bus
// as org.boum.tails.Server, on one sd-event loop.
#include "authorizer.h"
#include "bus_error.h"
#include "bus_server.h"
#include "config/daemon_config.h"
#include "dbus/contract.h"
#include "dbus/sd_bus_ptr.h"
#include "host/system_host.h"
#include "lifecycle/lifecycle.h"
#include "util/log.h"
#include "services/service_manager.h"

#include <boost/program_options.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

namespace po = boost::program_options;
using namespace tails_server;

namespace {

// How long polkit may take to decide, including a password prompt.
constexpr std::chrono::seconds polkit_timeout{90};

int serve(const core::DaemonConfig& config) {
  core::SystemHost host(config.root);
  core::ServiceManager manager(config, host);
  for (const auto& record : manager.plugins()) {
    if (record.state == core::PluginState::Loaded)
      log::info("loaded plugin '" + record.name + "' from " + record.file.string());
    else if (record.state == core::PluginState::Crashed)
      log::error("put aside plugin " + record.file.string() + ": " + record.message);
    else
      log::warning("refused plugin " + record.file.string() + " (" +
                           std::string(core::to_string(record.state)) + "): " + record.message);
  }

  sd_event* raw_event = nullptr;
  daemon::check(sd_event_default(&raw_event), "cannot create the event loop");
  dbus::EventPtr event(raw_event);
  // SIGTERM and SIGINT end the loop cleanly (a NULL handler exits the loop);
  // main() blocked them.
  daemon::check(sd_event_add_signal(event.get(), nullptr, SIGTERM, nullptr, nullptr),
                "cannot watch SIGTERM");
  daemon::check(sd_event_add_signal(event.get(), nullptr, SIGINT, nullptr, nullptr),
                "cannot watch SIGINT");

  sd_bus* raw_bus = nullptr;
  daemon::check(sd_bus_open_system(&raw_bus), "cannot connect to the system bus");
  dbus::BusPtr bus(raw_bus);
  daemon::check(sd_bus_attach_event(bus.get(), event.get(), SD_EVENT_PRIORITY_NORMAL),
                "cannot attach the bus to the event loop");
  daemon::check(sd_bus_set_exit_on_disconnect(bus.get(), 1), "cannot configure the bus connection");

  // Every state change of a service becomes a StateChanged signal. The
  // lifecycle's children (apt) are watched through SIGCHLD, blocked in main().
  sd_bus* signal_bus = bus.get();
  core::Lifecycle::Options lifecycle_options;
  lifecycle_options.tor_control = config.tor_control;
  lifecycle_options.tor_cookie = config.tor_cookie.string();
  lifecycle_options.firewall_backend = config.firewall_backend;
  if (config.firewall_backend == core::firewall_backend_none)
    log::warning("the firewall is off (firewall_backend: none): no firewall program runs and no service gets "
                 "firewall rules; for plugin development only, never on Tails");
  if (!config.runtime_dir.empty()) lifecycle_options.firewall_record = config.runtime_dir / "firewall.json";
  lifecycle_options.package_wait = std::chrono::seconds(config.autostart_package_wait);
  // Applies the enabled services' rules now.
  core::Lifecycle lifecycle(manager, event.get(), bus.get(),
                            [signal_bus](const core::StateChange& change) {
                              daemon::emit_state_changed(signal_bus, change);
                            },
                            lifecycle_options);
  daemon::PolkitAuthorizer authorizer(bus.get(), polkit_timeout);
  daemon::BusServer server(bus.get(), manager, lifecycle, authorizer);
  int r = sd_bus_request_name(bus.get(), dbus::bus_name, 0);
  if (r == -EEXIST || r == -EALREADY)
    throw daemon::BusError(dbus::error::failed,
                           std::string("another process owns ") + dbus::bus_name + " already");
  daemon::check(r, std::string("cannot own the bus name ") + dbus::bus_name);
  log::info(std::string("serving ") + dbus::interface + " as " + dbus::bus_name + " with " +
                    std::to_string(manager.service_names().size()) + " services");

  daemon::check(sd_event_loop(event.get()), "the event loop failed");
  log::info("stopping");
  // Detach before the loop goes: the bus is flushed and closed first.
  sd_bus_detach_event(bus.get());
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else, so that every thread a library may start inherits
  // the mask: SIGTERM and SIGINT end the event loop, and SIGCHLD tells it
  // that a child (apt-get) ended. sd-event receives all three by signalfd.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  std::string config_file = core::default_config_file;
  po::options_description options("Options");
  options.add_options()
      ("config", po::value(&config_file)->value_name("FILE"),
       ("daemon configuration (default: " + std::string(core::default_config_file) + ")").c_str())
      ("help", "print this help and exit")
      ("version", "print the version and exit");
  po::variables_map arguments;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), arguments);
    po::notify(arguments);
  } catch (const po::error& e) {
    std::cerr << "tails-serverd: " << e.what() << "; see tails-serverd --help\n";
    return 2;
  }
  if (arguments.count("help")) {
    std::cout << "Usage: tails-serverd [--config FILE]\n\n"
                 "The Tails Server daemon: manages the service plugins and serves them on the system\n"
                 "bus as " << dbus::bus_name << ". Runs as root, normally as tails-serverd.service.\n"
                 "Set DBUS_SYSTEM_BUS_ADDRESS to use another bus.\n\n"
              << options;
    return 0;
  }
  if (arguments.count("version")) {
    std::cout << "tails-serverd " << TAILS_SERVER_VERSION << '\n';
    return 0;
  }

  try {
    core::DaemonConfig config = core::load_daemon_config(config_file);
    return serve(config);
  } catch (const std::exception& e) {
    log::error(e.what());
    return EXIT_FAILURE;
  }
}

// TailsService: the base class every service plugin subclasses.
//
// A service is mostly data. The constructor fills in the attributes below and
// the service's own options; the virtual methods have defaults that do the
// generic work, so a plugin overrides one only when its service is special.
#pragma once

#include <tails_server/host.h>
#include <tails_server/option.h>
#include <tails_server/version.h>
#include <tails_server/web_site.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tails_server {

// What the core knows of one service when it calls the plugin.
class TAILS_SERVER_EXPORT ServiceContext {
 public:
  virtual ~ServiceContext() = default;

  virtual Host& host() const = 0;
  // The canonical value of option `name` (standard or the plugin's own).
  // Throws OptionError if there is no such option.
  virtual std::string option(std::string_view name) const = 0;
  bool option_bool(std::string_view name) const { return option(name) == "true"; }
  std::int64_t option_int(std::string_view name) const { return std::stoll(option(name)); }

  // "<56 characters>.onion", or empty while the service has no onion key.
  virtual std::string onion_address() const = 0;
  // The addresses the service must listen on: {"127.0.0.1"}, or with
  // allow-lan {"0.0.0.0", "::"} (every IPv4 and every IPv6 address). A
  // program that takes a single address may use "::" where it binds
  // dual-stack (IPV6_V6ONLY off); see listens_on_lan().
  virtual std::vector<std::string> listen_addresses() const = 0;
  bool listens_on_lan() const { return listen_addresses().size() > 1; }

  // Since 2.3. From configure(): the service serves `site` with the shared
  // web server (web_site.h), on listen_addresses() and the "local-port"
  // option. The core writes the site into its composed nginx configuration
  // and checks it with `nginx -t`; throws HostError (naming what was wrong)
  // if a value cannot be written or nginx refuses it. The site is served
  // while the service is enabled. One site per service: a second call
  // replaces the first. (Appended last: a plugin built against 2.2 never
  // calls it.)
  virtual void declare_web_site(const WebSite& /*site*/) {
    throw HostError("this daemon cannot serve web sites (it predates SDK 2.3)");
  }
};

// One port of the onion service: clients connect to `virtual_port` at the
// onion address, and Tor forwards to `local_port` on loopback. The same two
// names as the standard options "virtual-port" and "local-port".
struct OnionPort {
  std::uint16_t virtual_port;
  std::uint16_t local_port;
};

// What a client needs to connect, as ordered (label, value) pairs, plus a
// short text on how to connect with the client application.
struct ConnectionInfo {
  std::vector<std::pair<std::string, std::string>> fields;
  std::string instructions;
};

// An action a service offers besides its options, e.g. Prosody's
// "add-account NAME". If `reads_secret`, the front end reads a secret (a
// password) from the user, never from the command line, and passes it along.
struct ServiceCommand {
  std::string name;
  std::string description;
  std::vector<std::string> arguments;  // names of the positional arguments
  bool reads_secret = false;
};

class TAILS_SERVER_EXPORT TailsService {
 public:
  TailsService() = default;
  virtual ~TailsService() = default;
  TailsService(const TailsService&) = delete;
  TailsService& operator=(const TailsService&) = delete;

  // Set by TAILS_SERVER_PLUGIN (plugin.h) after the constructor; never set
  // it yourself. An identifier: [a-z][a-z0-9-]{0,31}, e.g. "mumble".
  std::string name;

  // Required attributes.
  std::string description;         // one sentence
  std::string client_application;  // what clients run, e.g. "Mumble"
  std::string documentation;       // URL or path of the user documentation
  // The Debian packages apt must fetch. Empty (since 2.2) when the program
  // ships with Tails Server: the service then counts as installed.
  std::vector<std::string> packages;
  std::string systemd_service;     // unit name, e.g. "nginx.service"
  std::uint16_t default_local_port = 0;  // default of "local-port": what the service binds
  std::string icon_name;           // freedesktop icon name

  // Optional attributes.
  std::vector<std::string> persistent_paths;
  std::vector<OptionPtr> options;  // the service's own; the core adds the standard ones
  std::string name_in_gui;                 // defaults to name
  std::string client_application_in_gui;  // defaults to client_application
  std::uint16_t default_virtual_port = 0;  // default of "virtual-port"; 0: default_local_port
  std::vector<ServiceCommand> commands;
  // The core disables the unit file of `systemd_service` after installing
  // `packages` and before each start (many packages enable their unit), so
  // that it never starts at boot on its own: the core starts it, after the
  // firewall rules and only when the user enabled the service. Set false
  // only if the unit must stay enabled for something else.
  bool keep_unit_disabled = true;

  // Hooks around the work the core does itself (apt, systemd, Tor), which
  // is asynchronous so the daemon stays responsive. Each default does
  // nothing; override one only where the service needs more.
  //
  // A hook fails by throwing: HostError for work on the system, OptionError
  // for a value the service cannot use, std::exception for anything else.
  // what() reaches the user as it is, so it names the file, program or
  // option and never holds a secret. The core then stops the operation;
  // after configure() the old configuration stays (write_file is atomic).
  // Run the program's own config check in configure() (nginx -t, prosodyctl
  // check config) and throw with its output, after cutting any line that
  // may echo a secret from the file. A hook that crashes (a signal) puts the
  // plugin aside until `tails-server plugin retry`.

  // After the core installed `packages`: extra set-up such as a system user.
  virtual void install(ServiceContext&) {}
  // Writes the service's configuration from its options: every value through
  // an escaper of escape.h or a strict rule of its option. Called before
  // each start and after each option change.
  virtual void configure(ServiceContext&) {}
  // After configure(), before the core starts `systemd_service`.
  virtual void start(ServiceContext&) {}
  // After the core stopped `systemd_service`.
  virtual void stop(ServiceContext&) {}
  // Before the core removes the service's data, state and the packages it
  // installed: remove what only the plugin knows about.
  virtual void uninstall(ServiceContext&) {}

  // The ports published on the onion service. Default: virtual-port to
  // local-port.
  virtual std::vector<OnionPort> onion_ports(const ServiceContext& context) const {
    return {{static_cast<std::uint16_t>(context.option_int("virtual-port")),
             static_cast<std::uint16_t>(context.option_int("local-port"))}};
  }

  // Default: the onion address and port, and every secret option.
  virtual ConnectionInfo connection_info(const ServiceContext& context) const {
    ConnectionInfo info;
    std::string address = context.onion_address();
    info.fields.emplace_back("address", address.empty() ? "(no onion address yet)" : address);
    info.fields.emplace_back("port", context.option("virtual-port"));
    for (const auto& option : options)
      if (option->is_secret()) info.fields.emplace_back(option->name(), context.option(option->name()));
    info.instructions = "Connect with " + client_application + " through Tor.";
    return info;
  }
  // Runs one of `commands`. The core has checked the command name and the
  // number of arguments. Returns a message for the user; throws on failure.
  virtual std::string run_command(ServiceContext&, const std::string& command,
                                  const std::vector<std::string>& /*arguments*/,
                                  const std::string& /*secret*/) {
    throw HostError("service '" + name + "' has no command '" + command + "'");
  }

  // The same for the GUI, which may word it for people. Default: as above.
  virtual ConnectionInfo connection_info_in_gui(const ServiceContext& context) const {
    return connection_info(context);
  }

  // Since 2.3 (appended last; the daemon calls it only for plugins built
  // against 2.3 or later). The system account the service's program runs
  // as, if that program reaches other hosts only through Tor's SOCKS port
  // (Prosody's federation). The firewall then lets this account connect to
  // Tor's SOCKS port and refuses every other new connection it makes.
  // Default: none, no such rule.
  virtual std::string tor_only_account() const { return {}; }
};

}  // namespace tails_server

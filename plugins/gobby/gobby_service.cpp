// The Gobby collaborative editing service (infinoted, package infinoted).
//
// Facts this relies on are in docs/services.md#gobby: infinoted ships no
// unit, user or config; it does not drop privileges; its --create-certificate
// also starts the server; the config is a GKeyFile that keeps the password
// out of `ps`; a control character in the password breaks every login
// (SASLprep). So configure() creates a system user for it and writes its
// unit (gobby_unit.h).

#include "gobby_config.h"
#include "gobby_unit.h"

#include <tails_server/escape.h>
#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>
#include <tails_server/tls_certificate.h>

#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server_gobby {
namespace {

using namespace tails_server;

// The system user infinoted runs as, created by configure() if missing (on
// Tails /etc/passwd is amnesic: it is gone after a reboot).
constexpr const char* service_user = "tails-server-infinoted";
constexpr const char* service_group = "tails-server-infinoted";

constexpr const char* config_directory = "/etc/tails-server";
constexpr const char* config_file = "/etc/tails-server/infinoted.conf";
constexpr const char* data_directory = "/var/lib/tails-server-infinoted";
constexpr const char* tls_directory = "/var/lib/tails-server-infinoted/tls";
constexpr const char* key_file = "/var/lib/tails-server-infinoted/tls/infinoted.key";
constexpr const char* certificate_file = "/var/lib/tails-server-infinoted/tls/infinoted.crt";
constexpr const char* documents_directory = "/var/lib/tails-server-infinoted/documents";

constexpr int certificate_days = 3650;

StringRules password_rules() {
  StringRules rules;
  rules.min_length = 1;
  rules.max_length = 128;
  return rules;
}

// The certificate's fingerprint, or "(no certificate yet)".
std::string certificate_fingerprint(Host& host) {
  return tls::certificate_fingerprint(host, certificate_file).value_or("(no certificate yet)");
}

class GobbyService : public TailsService {
 public:
  GobbyService() {
    description = "Collaborative text editing with Gobby: write documents together in real time.";
    client_application = "Gobby";
    documentation = TAILS_SERVER_HELP_DIR "/gobby.html";
    packages = {"infinoted"};
    systemd_service = "tails-server-infinoted.service";
    default_local_port = 6523;
    icon_name = "gobby-0.5";
    persistent_paths = {data_directory};
    name_in_gui = "Gobby";
    client_application_in_gui = "Gobby";
    default_virtual_port = 6523;

    auto password = std::make_shared<SecretOption>(
        "password", "The password every user needs to connect to the server.", 20, password_rules());
    password->name_in_gui = "Password";
    options.push_back(password);
    auto autosave = std::make_shared<IntOption>(
        "autosave-interval", "How often changed documents are saved, in seconds.", 60, 1, 86400);
    autosave->name_in_gui = "Autosave interval (seconds)";
    options.push_back(autosave);
  }

  void configure(ServiceContext& context) override {
    Host& host = context.host();
    ensure_service_user(host);
    const FileSpec private_dir{service_user, service_group, 0700};
    host.make_directory(data_directory, private_dir);
    host.make_directory(tls_directory, private_dir);
    host.make_directory(documents_directory, private_dir);
    // Must stay traversable: the service user reads its config file in it.
    host.make_directory(config_directory, FileSpec{"root", "root", 0755});

    ensure_certificate(context);

    GobbySettings settings;
    settings.key_file = host.path(key_file).string();
    settings.certificate_file = host.path(certificate_file).string();
    settings.root_directory = host.path(documents_directory).string();
    // infinoted takes one address; on "::" it binds dual-stack (IPv4 too).
    settings.listen_address = context.listens_on_lan() ? "::" : context.listen_addresses().front();
    settings.port = static_cast<std::uint16_t>(context.option_int(standard_option::local_port));
    settings.password = context.option("password");
    settings.autosave_interval = context.option_int("autosave-interval");

    std::string text;
    try {
      text = infinoted_conf_text(settings);
    } catch (const escape::EscapeError& error) {
      throw HostError(std::string("cannot write the Gobby configuration: ") + error.what());
    }
    host.write_file(config_file, text, FileSpec{service_user, service_group, 0600});

    GobbyUnitSettings unit;
    unit.config_file = host.path(config_file).string();
    unit.data_directory = host.path(data_directory).string();
    unit.user = service_user;
    unit.group = service_group;
    try {
      text = infinoted_unit_text(unit);
    } catch (const std::invalid_argument& error) {
      throw HostError(std::string("cannot write the Gobby unit: ") + error.what());
    }
    // The daemon reloads systemd before it starts the unit.
    host.write_file(unit_file, text, FileSpec{"root", "root", 0644});
  }

  ConnectionInfo connection_info(const ServiceContext& context) const override {
    ConnectionInfo info;
    std::string address = context.onion_address();
    std::string port = context.option(standard_option::virtual_port);
    info.fields.emplace_back("address", address.empty() ? "(no onion address yet)" : address);
    info.fields.emplace_back("port", port);
    info.fields.emplace_back("password", context.option("password"));
    info.fields.emplace_back("tls-fingerprint", certificate_fingerprint(context.host()));
    std::ostringstream text;
    text << "Connect with Gobby through Tor:\n"
         << "1. Start Gobby through Tor: run \"torsocks gobby\" (on Tails, or with a Tor SOCKS "
            "proxy on 127.0.0.1:9050).\n"
         << "2. Choose Connect to Server and enter "
         << (address.empty() ? std::string("the address") : address) << ":" << port
         << ", then any user name and the password above.\n"
         << "3. Gobby asks about the self-signed certificate on the first connection: accept it "
            "only if its SHA-256 fingerprint equals the tls-fingerprint above.";
    info.instructions = text.str();
    return info;
  }

 private:
  // Creates the system user (and its group) infinoted runs as, unless it
  // exists. Its home is the data directory, which configure() creates.
  // Throws HostError if useradd fails.
  static void ensure_service_user(Host& host) {
    if (host.user_exists(service_user)) return;
    std::vector<std::string> argv = {"useradd", "--system", "--home-dir", data_directory,
                                     "--shell", "/usr/sbin/nologin", "--comment", "Tails Server Gobby (infinoted)"};
    // A group left behind without its user is reused, not an error.
    if (host.group_exists(service_group)) {
      argv.insert(argv.end(), {"--gid", service_group});
    } else {
      argv.emplace_back("--user-group");
    }
    argv.emplace_back(service_user);
    RunResult result = host.run(argv, RunOptions{});
    if (result.exit_code != 0)
      throw HostError("cannot create the system user " + std::string(service_user) + " (useradd exit status " +
                      std::to_string(result.exit_code) + "): " + result.output);
    host.log(LogLevel::Info, std::string("created the system user ") + service_user);
  }

  // Creates the key and certificate unless both exist. Never with
  // infinoted's --create-certificate, which would also start the server.
  void ensure_certificate(ServiceContext& context) {
    std::string address = context.onion_address();
    if (tls::ensure_self_signed(context.host(), key_file, certificate_file, service_user, service_group,
                                address.empty() ? "Tails Server Gobby" : address, certificate_days))
      context.host().log(LogLevel::Info, "created a new TLS certificate for the Gobby server");
  }
};

}  // namespace
}  // namespace tails_server_gobby

TAILS_SERVER_PLUGIN(tails_server_gobby::GobbyService, "gobby")

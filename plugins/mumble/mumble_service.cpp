// The Mumble voice chat service (murmurd, package mumble-server).
//
// Facts this relies on are in docs/services.md#mumble: the ini is read by
// QSettings (always quote, double a leading '@'; an unquoted ',' would leave
// the server without a password), keys are case-sensitive, and murmurd drops
// to `uname` when started as root. The package has only an LSB script, whose
// generated unit lies about murmurd being alive: configure() writes a native
// unit over it (mumble_unit.h).

#include "mumble_config.h"
#include "mumble_unit.h"

#include <tails_server/escape.h>
#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>
#include <tails_server/tls_certificate.h>

#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace tails_server_mumble {
namespace {

using namespace tails_server;

constexpr const char* service_user = "mumble-server";
constexpr const char* service_group = "mumble-server";

constexpr const char* ini_file = "/etc/mumble-server.ini";
constexpr const char* data_directory = "/var/lib/mumble-server";
constexpr const char* database_file = "/var/lib/mumble-server/mumble-server.sqlite";
constexpr const char* tls_directory = "/var/lib/mumble-server/tails-server";
constexpr const char* key_file = "/var/lib/mumble-server/tails-server/server.key";
constexpr const char* certificate_file = "/var/lib/mumble-server/tails-server/server.crt";
constexpr const char* log_directory = "/var/log/mumble-server";
constexpr const char* log_file = "/var/log/mumble-server/mumble-server.log";
constexpr const char* run_directory = "/run/mumble-server";
constexpr const char* pid_file = "/run/mumble-server/mumble-server.pid";

constexpr int certificate_days = 3650;
constexpr const char* no_certificate = "(no certificate yet)";

constexpr const char* default_welcome =
    "<br />Welcome to this Mumble server, hosted with <b>Tails Server</b>.<br />"
    "Please be kind to each other.<br />";

// The certificate's fingerprint, or "(no certificate yet)".
std::string certificate_fingerprint(Host& host) {
  return tls::certificate_fingerprint(host, certificate_file).value_or(no_certificate);
}

StringRules rules(std::size_t min_length, std::size_t max_length, bool allow_newlines) {
  StringRules r;
  r.min_length = min_length;
  r.max_length = max_length;
  r.allow_newlines = allow_newlines;
  return r;
}

class MumbleService : public TailsService {
 public:
  MumbleService() {
    description = "Voice chat with Mumble: low-latency group calls, encrypted end to end to the server.";
    client_application = "Mumble";
    documentation = TAILS_SERVER_HELP_DIR "/mumble.html";
    packages = {"mumble-server"};
    systemd_service = "mumble-server.service";
    default_local_port = 64738;
    icon_name = "mumble";
    persistent_paths = {data_directory};
    name_in_gui = "Mumble";
    client_application_in_gui = "Mumble";
    default_virtual_port = 64738;

    options.push_back(std::make_shared<SecretOption>(
        "server-password", "The password every user needs to join the server.", 20,
        rules(1, 128, false)));
    options.push_back(std::make_shared<StringOption>(
        "welcome-message", "The message users see when they join (HTML allowed).", default_welcome,
        rules(0, 5000, true)));
    options.push_back(std::make_shared<IntOption>(
        "max-users", "How many users may be connected at the same time.", 100, 1, 1000));
    options.push_back(std::make_shared<ReadOnlyOption>(
        "tls-fingerprint",
        "SHA-256 fingerprint of the server's TLS certificate: compare it with what the Mumble "
        "client shows on first connection.",
        [](const ServiceContext& context) { return certificate_fingerprint(context.host()); }));
    for (auto& option : options) {
      if (option->name() == "server-password") option->name_in_gui = "Server password";
      if (option->name() == "welcome-message") option->name_in_gui = "Welcome message";
      if (option->name() == "max-users") option->name_in_gui = "Maximum number of users";
      if (option->name() == "tls-fingerprint") option->name_in_gui = "Certificate fingerprint";
    }
  }

  void configure(ServiceContext& context) override {
    Host& host = context.host();
    const FileSpec service_dir{service_user, service_group, 0750};
    host.make_directory(data_directory, service_dir);
    host.make_directory(tls_directory, service_dir);
    host.make_directory(log_directory, FileSpec{service_user, "adm", 0750});
    host.make_directory(run_directory, FileSpec{service_user, "root", 0755});

    ensure_certificate(context);

    MumbleSettings settings;
    settings.database = host.path(database_file).string();
    settings.log_file = host.path(log_file).string();
    settings.pid_file = host.path(pid_file).string();
    settings.certificate_file = host.path(certificate_file).string();
    settings.key_file = host.path(key_file).string();
    settings.listen_addresses = context.listen_addresses();
    settings.port = static_cast<std::uint16_t>(context.option_int(standard_option::local_port));
    settings.server_password = context.option("server-password");
    settings.welcome_text = context.option("welcome-message");
    settings.max_users = context.option_int("max-users");
    settings.user = service_user;

    std::string text;
    try {
      text = mumble_ini_text(settings);
    } catch (const escape::EscapeError& error) {
      throw HostError(std::string("cannot write the Mumble configuration: ") + error.what());
    }
    host.write_file(ini_file, text, FileSpec{"root", service_group, 0640});
    ensure_superuser_password(host);

    MumbleUnitSettings unit;
    unit.ini_file = host.path(ini_file).string();
    unit.data_directory = host.path(data_directory).string();
    unit.log_directory = host.path(log_directory).string();
    unit.user = service_user;
    unit.group = service_group;
    try {
      text = mumble_unit_text(unit);
    } catch (const std::invalid_argument& error) {
      throw HostError(std::string("cannot write the Mumble unit: ") + error.what());
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
    info.fields.emplace_back("password", context.option("server-password"));
    info.fields.emplace_back("tls-fingerprint", certificate_fingerprint(context.host()));
    std::ostringstream text;
    text << "Connect with the Mumble client through Tor:\n"
         << "1. In Mumble, open Configure > Settings > Network, choose the proxy type SOCKS5, "
            "hostname 127.0.0.1, port 9050 (Tor Browser: 9150), and tick \"Force TCP mode\": "
            "onion services carry no UDP, so voice goes through the TCP connection.\n"
         << "2. Add a server with the address and port above, any user name, and the password.";
    if (!address.empty()) text << " Or open mumble://" << address << ":" << port << "/";
    text << "\n3. On the first connection Mumble warns about the self-signed certificate: accept it "
            "only if its SHA-256 fingerprint equals the tls-fingerprint above.";
    info.instructions = text.str();
    return info;
  }

 private:
  // On its first start (no database yet) murmurd makes up a password for the
  // SuperUser account and logs it: "Password for 'SuperUser' set to '…'" in the
  // journal. Create the database first with a random SuperUser password given
  // on stdin (-readsupw; murmurd then exits), so that it has none to log.
  // Nobody is told that password: Tails Server has no use for SuperUser.
  static void ensure_superuser_password(Host& host) {
    if (host.exists(database_file)) return;
    RunOptions options;
    options.input = host.random_password(32) + "\n";
    options.user = service_user;
    RunResult result = host.run({"murmurd", "-fg", "-ini", host.path(ini_file).string(), "-readsupw"}, options);
    if (result.exit_code != 0 || !host.exists(database_file))
      throw HostError("murmurd -readsupw could not create the Mumble database (exit status " +
                      std::to_string(result.exit_code) + "): " + result.output);
  }

  // Creates the key and certificate unless both exist.
  void ensure_certificate(ServiceContext& context) {
    std::string address = context.onion_address();
    if (tls::ensure_self_signed(context.host(), key_file, certificate_file, service_user, service_group,
                                address.empty() ? "Tails Server Mumble" : address, certificate_days))
      context.host().log(LogLevel::Info, "created a new TLS certificate for the Mumble server");
  }
};

}  // namespace
}  // namespace tails_server_mumble

TAILS_SERVER_PLUGIN(tails_server_mumble::MumbleService, "mumble")

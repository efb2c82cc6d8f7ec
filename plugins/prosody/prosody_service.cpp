// Prosody XMPP chat server, published as a Tor onion service.
//
// The plugin writes /etc/prosody/prosody.cfg.lua from scratch (not Debian's
// default, which includes conf.d and listens on every interface). That file
// is Lua that prosodyctl runs as root, so every string in it goes through
// escape::lua_string: an unescaped value would be code execution as root
// (docs/services.md#prosody).
//
// Accounts are managed with prosodyctl. Passwords go on standard input,
// never on the command line ("prosodyctl register" would show them in ps).
// "add-account" refuses an existing account; "set-password" changes the
// password of an existing one.
//
// The XMPP domain is the onion address; a multi-user chat component lives at
// rooms.<address> (Tor maps any subdomain of an onion address to it).
// Federation (option "federation", off by default) publishes the s2s port on
// the onion and lets Prosody reach other .onion servers, only through Tor's
// SOCKS port (mod_tails_onions, our copy of mod_onions that reads Tor's
// reply); our module mod_tails_federation refuses anything else with a log
// line and an error to the sender. Peers whose onion needs
// client authorization are added with "add-peer ADDRESS" (the key on stdin):
// the daemon gives the key to Tor (Host::add_onion_client_key, SDK 2.3).

#include "federation.h"

#include <tails_server/escape.h>
#include <tails_server/plugin.h>
#include <tails_server/tls_certificate.h>
#include <tails_server/standard_options.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace prosody_federation;
using tails_server::ConnectionInfo;
using tails_server::FileSpec;
using tails_server::HostError;
using tails_server::OnionPort;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::ServiceContext;
namespace escape = tails_server::escape;

constexpr std::string_view config_file = "/etc/prosody/prosody.cfg.lua";
constexpr std::string_view config_directory = "/etc/prosody";
constexpr std::string_view certificate_directory = "/etc/prosody/certs";
constexpr std::string_view data_directory = "/var/lib/prosody";
constexpr std::string_view log_directory = "/var/log/prosody";
constexpr std::string_view run_directory = "/run/prosody";

// Remote servers reach us at port 5269 of our onion: mod_tails_onions always
// connects to port 5269 of a remote onion.
constexpr std::uint16_t s2s_virtual_port = 5269;

constexpr std::size_t motd_max_length = 2000;
constexpr std::size_t password_max_length = 1023;

std::string path_text(const ServiceContext& context, std::string_view absolute) {
  return context.host().path(absolute).string();
}

// The XMPP domain: the onion address, or "localhost" while there is none.
std::string domain_of(const ServiceContext& context) {
  std::string onion = context.onion_address();
  if (onion.empty()) return "localhost";
  // Onion addresses are base32 (a-z, 2-7) plus ".onion"; refuse anything
  // else rather than put it into a command line or a certificate subject.
  for (char c : onion)
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7') || c == '.'))
      throw HostError("prosody: unexpected onion address '" + onion + "'");
  return onion;
}

// prosodyctl prints a banner about lua-unbound on every run; leave it out of
// messages shown to the user.
std::string clean_output(const std::string& output) {
  std::string out;
  bool in_banner = false;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string_view line(output.data() + start, end - start);
    start = end + 1;
    if (line.find("**************************") != std::string_view::npos) {
      in_banner = !in_banner;
      continue;
    }
    if (in_banner) continue;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    out += line;
    out += '\n';
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The first PEM block of `kind` ("PRIVATE KEY", "CERTIFICATE") in `text`.
std::string pem_block(const std::string& text, const std::string& kind) {
  const std::string begin = "-----BEGIN " + kind + "-----";
  const std::string end = "-----END " + kind + "-----";
  std::size_t from = text.find(begin);
  std::size_t to = from == std::string::npos ? std::string::npos : text.find(end, from);
  if (to == std::string::npos) return {};
  return text.substr(from, to + end.size() - from) + "\n";
}

// An XMPP account name (the local part of the JID) we accept: lower-case
// letters, digits, '.', '-' and '_', 1 to 64 characters, the first neither
// '-' nor '.'. Stricter than
// XMPP itself, so that names are unambiguous and safe in any command line.
void check_account_name(const std::string& name) {
  // A leading '-' or '.' would read as an option to prosodyctl.
  bool ok = !name.empty() && name.size() <= 64 && name.front() != '-' && name.front() != '.';
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
      ok = false;
  if (!ok)
    throw tails_server::OptionError("invalid account name '" + name +
                    "': use 1 to 64 characters among lower-case letters a-z, digits 0-9, '.', '-' "
                    "and '_', not starting with '-' or '.' (the part before the '@'; the server adds '@' "
                    "and its address)");
}

void check_password(const std::string& password) {
  if (password.empty()) throw tails_server::OptionError("the password is empty");
  if (password.size() > password_max_length)
    throw tails_server::OptionError("the password is too long: at most " + std::to_string(password_max_length) +
                    " bytes");
  for (unsigned char c : password)
    if (c < 0x20 || c == 0x7f)
      throw tails_server::OptionError("the password contains a control character (such as a tab or a line break)");
}

std::string lua_list(const std::vector<std::string>& items) {
  std::string out = "{ ";
  for (const auto& item : items) out += escape::lua_string(item) + "; ";
  return out + "}";
}

class ProsodyService : public tails_server::TailsService {
 public:
  ProsodyService() {
    description = "An XMPP (Jabber) chat server for instant messaging with your group.";
    client_application = "an XMPP client such as Pidgin or Gajim";
    documentation = TAILS_SERVER_HELP_DIR "/prosody.html";
    // prosody-modules brings mod_onions (we run our copy, mod_tails_onions).
    packages = {"prosody", "prosody-modules"};
    systemd_service = "prosody.service";
    default_local_port = 5222;
    default_virtual_port = 5222;
    icon_name = "internet-group-chat";
    persistent_paths = {std::string(data_directory)};
    name_in_gui = "XMPP chat (Prosody)";
    client_application_in_gui = "Pidgin or Gajim";

    tails_server::StringRules motd_rules;
    motd_rules.max_length = motd_max_length;
    motd_rules.allow_newlines = true;
    options.push_back(std::make_shared<tails_server::StringOption>(
        "motd",
        "Message of the day, sent to every user when they log in (Prosody removes blanks at its "
        "start and end and at the start of each line)",
        "Welcome! This chat server runs on Tails Server and is reachable only through Tor.",
        motd_rules));
    options.push_back(std::make_shared<tails_server::PortOption>(
        "s2s-port", "Local port for connections from other XMPP servers (federation through Tor)",
        5269, /*local=*/true));
    options.push_back(std::make_shared<tails_server::BoolOption>(
        std::string(federation_option),
        "Federation: let users chat with users of other onion XMPP servers (such as another Tails Server), "
        "only through Tor. Risk: the other servers' owners see who on this server talks to their users, "
        "when, and the presence and profile data your users share with them; a peer's onion address and "
        "key stay in this server's state; and anyone who knows this server's onion address (and, with "
        "client authorization, holds a key) can make it connect to them. Off: this server talks to no "
        "other server.",
        false));

    commands.push_back({"add-account", "Create an XMPP account on this server", {"name"}, true});
    commands.push_back(
        {"set-password", "Change the password of an existing XMPP account", {"name"}, true});
    commands.push_back({"remove-account", "Delete an XMPP account and its data", {"name"}, false});
    commands.push_back({"add-peer",
                        "Federate with another onion XMPP server that uses client authorization: give its "
                        "address, and on standard input the key its owner made with 'tails-server client "
                        "add prosody NAME'",
                        {"address"},
                        true});
    commands.push_back({"remove-peer", "Forget the client key of another server's onion", {"address"}, false});
    commands.push_back({"list-peers", "The other servers this server holds a client key for", {}, false});
  }

  // The s2s port is on the onion only with federation on.
  std::vector<OnionPort> onion_ports(const ServiceContext& context) const override {
    std::vector<OnionPort> ports{
        {static_cast<std::uint16_t>(context.option_int(tails_server::standard_option::virtual_port)),
         static_cast<std::uint16_t>(context.option_int(tails_server::standard_option::local_port))}};
    if (context.option_bool(federation_option))
      ports.push_back({s2s_virtual_port, static_cast<std::uint16_t>(context.option_int("s2s-port"))});
    return ports;
  }

  // Prosody reaches other hosts only through Tor's SOCKS port (the firewall
  // refuses the rest).
  std::string tor_only_account() const override { return "prosody"; }

  void configure(ServiceContext& context) override {
    auto& host = context.host();
    const std::string domain = domain_of(context);

    host.make_directory(config_directory, FileSpec{"root", "root", 0755});
    host.make_directory(certificate_directory, FileSpec{"root", "prosody", 0750});
    host.make_directory(data_directory, FileSpec{"prosody", "prosody", 0750});
    host.make_directory(log_directory, FileSpec{"prosody", "adm", 0750});
    // systemd makes it too (RuntimeDirectory=prosody); by hand it must exist.
    host.make_directory(run_directory, FileSpec{"prosody", "prosody", 0755});

    ensure_certificate(context, domain);
    host.write_file(guard_module_file, guard_module, FileSpec{"root", "root", 0644});
    host.write_file(onions_module_file, onions_module, FileSpec{"root", "root", 0644});

    host.write_file(config_file, render_config(context, domain), FileSpec{"root", "prosody", 0640});

    // Prosody's own checker. It reads (runs) the file as root, like prosody.
    RunResult check = host.run({"prosodyctl", "--config", path_text(context, config_file), "check", "config"},
                               RunOptions{});
    if (check.exit_code != 0)
      throw HostError("prosodyctl check config failed for " + path_text(context, config_file) + ":\n" +
                      clean_output(check.output));
  }

  // The whole configuration file.
  std::string render_config(const ServiceContext& context, const std::string& domain) const {
    using escape::lua_string;
    const bool federation = context.option_bool(federation_option);
    // "127.0.0.1:9050": the daemon checked it (a loopback IPv4 address).
    const std::string socks = context.host().tor_socks_address();
    const auto colon = socks.rfind(':');
    const std::string socks_host = socks.substr(0, colon);
    const std::string socks_port = colon == std::string::npos ? "" : socks.substr(colon + 1);
    if (colon == std::string::npos || socks_port.empty() || socks_port.size() > 5 ||
        socks_port.find_first_not_of("0123456789") != std::string::npos)
      throw HostError("prosody: unexpected Tor SOCKS address '" + socks + "' (expected HOST:PORT)");
    const std::string log_dir = path_text(context, log_directory);
    const std::string certificate = path_text(context, std::string(certificate_directory) + "/" + domain + ".crt");
    const std::string key = path_text(context, std::string(certificate_directory) + "/" + domain + ".key");

    std::string c;
    c += "-- Written by Tails Server from the options of the \"prosody\" service.\n";
    c += "-- Changes made here are overwritten. This file is Lua, run as root by prosodyctl.\n\n";
    c += "plugin_paths = " + lua_list({path_text(context, module_directory)}) + "\n";
    c += "pidfile = " + lua_string(path_text(context, std::string(run_directory) + "/prosody.pid")) + "\n";
    c += "data_path = " + lua_string(path_text(context, data_directory)) + "\n";
    // Warnings and errors only: who talks to whom is nobody's business.
    c += "log = { warn = " + lua_string(log_dir + "/prosody.log") +
         "; error = " + lua_string(log_dir + "/prosody.err") + "; }\n\n";

    c += "interfaces = " + lua_list(context.listen_addresses()) + "\n";
    c += "c2s_ports = { " + std::to_string(context.option_int(tails_server::standard_option::local_port)) + " }\n";
    c += "s2s_ports = { " + std::to_string(context.option_int("s2s-port")) + " }\n";
    c += "c2s_direct_tls_ports = { }\n\n";

    c += "admins = { }\n";
    // Not mod_version (it answers any client with the OS: "Linux"), nor mod_uptime
    // (when the server started) or mod_time (the server's clock): nothing about the
    // machine goes to clients (tests/e2e/test_leaks.py).
    c += "modules_enabled = " +
         lua_list({"roster", "saslauth", "tls", "dialback", "disco", "ping", "posix", "motd", "carbons", "pep",
                   "private", "blocklist", "vcard4", "vcard_legacy", "smacks", "csi_simple", "admin_shell"}) +
         "\n";
    c += "authentication = " + lua_string("internal_hashed") + "\n";
    c += "allow_registration = false\n";
    c += "c2s_require_encryption = true\n";
    c += "s2s_require_encryption = true\n";
    const std::string motd = context.option("motd");
    if (!motd.empty()) c += "motd_text = " + lua_string(motd) + "\n";
    // mod_tails_onions: server-to-server connections go through Tor's SOCKS
    // port (the daemon's tor_socks), to .onion servers only; and
    // mod_tails_federation refuses the others first. Port options belong in
    // the global section (prosodyctl check config says so).
    c += "onions_socks5_host = " + lua_string(socks_host) + "\n";
    c += "onions_socks5_port = " + socks_port + "\n";
    c += "tails_federation = " + std::string(federation ? "true" : "false") + "\n\n";

    const std::string ssl = "  ssl = { certificate = " + lua_string(certificate) + "; key = " + lua_string(key) + "; }\n";
    const std::string guard = federation ? lua_list({"tails_federation", "tails_onions"}) : lua_list({"tails_federation"});
    c += "VirtualHost " + lua_string(domain) + "\n";
    c += ssl;
    c += "  modules_enabled = " + guard + "\n\n";

    // Rooms: created by this server's users only; anyone (a peer's user too,
    // with federation) may join a room that is not made members-only.
    c += "Component " + lua_string(std::string(muc_prefix) + domain) + " " + lua_string("muc") + "\n";
    c += ssl;
    c += "  modules_enabled = " + guard + "\n";
    c += "  restrict_room_creation = " + lua_string("local") + "\n";
    c += "  muc_room_default_public = false\n";
    return c;
  }

  ConnectionInfo connection_info(const ServiceContext& context) const override {
    ConnectionInfo info;
    const std::string onion = context.onion_address();
    const std::string port = context.option(tails_server::standard_option::virtual_port);
    info.fields.emplace_back("address", onion.empty() ? "(no onion address yet)" : onion);
    info.fields.emplace_back("port", port);
    const std::string domain = onion.empty() ? "<onion address>" : onion;
    info.fields.emplace_back("account", "NAME@" + domain);
    info.fields.emplace_back("rooms", std::string(muc_prefix) + domain);
    const bool federation = context.option_bool(federation_option);
    info.fields.emplace_back("federation", federation ? "on" : "off");
    std::string fingerprint = certificate_fingerprint(context);
    if (!fingerprint.empty()) info.fields.emplace_back("tls-fingerprint", fingerprint);
    info.instructions =
        "Your XMPP client must connect through Tor: in Gajim, Dino or Profanity (or " + client_application +
        "), add the account NAME@" + domain +
        " (NAME and its password are those given to the add-account command). In the account's "
        "proxy settings, choose a SOCKS5 proxy at 127.0.0.1, port 9050 (Tor); connect to server " +
        domain + ", port " + port + ". The server's certificate is self-signed: accept it only if "
        "its SHA-256 fingerprint is the one shown here. Group chats are rooms at ROOM@" +
        std::string(muc_prefix) + domain + ".";
    if (federation)
      info.instructions +=
          " Federation is on: users here chat with users of other onion XMPP servers (user@<their "
          "address>.onion), through Tor. If this server uses client authorization, the owner of another "
          "server federates with it in two steps: here, 'tails-server client add prosody THEIR-NAME' makes "
          "a key; they run 'tails-server run prosody add-peer " + domain +
          "' and paste that key. And the same the other way round.";
    else
      info.instructions += " Federation with other servers is off (option 'federation').";
    return info;
  }

  std::string run_command(ServiceContext& context, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret) override {
    if (command == "add-peer" || command == "remove-peer" || command == "list-peers")
      return run_peer_command(context, command, arguments, secret);
    if (arguments.size() != 1) throw HostError(command + " takes one argument: the account name");
    const std::string& account = arguments[0];
    check_account_name(account);
    const std::string jid = account + "@" + domain_of(context);

    if (command == "add-account" || command == "set-password") {
      check_password(secret);
      const bool add = command == "add-account";
      RunOptions options;
      options.input = secret + "\n" + secret + "\n";  // prosodyctl asks twice
      options.timeout = std::chrono::seconds(60);
      RunResult result = prosodyctl(context, add ? "adduser" : "passwd", jid, options);
      const std::string output = clean_output(result.output);
      if (add && output.find("already exists") != std::string::npos)
        throw HostError("the account " + jid + " already exists; use set-password to change its password");
      if (!add && output.find("does not exist") != std::string::npos)
        throw HostError("there is no account " + jid + "; use add-account to create it");
      if (result.exit_code != 0)
        throw HostError("prosodyctl " + std::string(add ? "adduser" : "passwd") + " " + jid +
                        " failed (exit status " + std::to_string(result.exit_code) + "): " + output);
      return add ? "Created the account " + jid + "." : "Changed the password of " + jid + ".";
    }
    if (command == "remove-account") {
      RunOptions options;
      options.timeout = std::chrono::seconds(60);
      RunResult result = prosodyctl(context, "deluser", jid, options);
      const std::string output = clean_output(result.output);
      if (output.find("does not exist") != std::string::npos) throw HostError("there is no account " + jid);
      if (result.exit_code != 0)
        throw HostError("prosodyctl deluser " + jid + " failed (exit status " +
                        std::to_string(result.exit_code) + "): " + output);
      return "Removed the account " + jid + ".";
    }
    return TailsService::run_command(context, command, arguments, secret);
  }

 private:
  // Peers: the other servers' onions this server holds a client key for.
  std::string run_peer_command(ServiceContext& context, const std::string& command,
                               const std::vector<std::string>& arguments, const std::string& secret) {
    auto& host = context.host();
    if (command == "list-peers") {
      if (!arguments.empty()) throw HostError("list-peers takes no argument");
      auto peers = host.onion_client_key_addresses();
      if (peers.empty()) return "No peers: this server holds no client key for another server's onion.";
      std::string out = "Client keys held for:";
      for (const auto& peer : peers) out += "\n" + peer;
      return out;
    }
    if (arguments.size() != 1) throw HostError(command + " takes one argument: the other server's onion address");
    const std::string& address = arguments[0];
    check_peer_address(address);
    if (command == "remove-peer") {
      if (!host.remove_onion_client_key(address))
        throw HostError("there is no peer " + address + "; see list-peers");
      return "Removed the client key for " + address + ": this server can no longer reach it. " +
             close_connections(context, address);
    }
    host.add_onion_client_key(address, peer_key(address, secret));
    std::string message = "Tor now holds the client key for " + address + ".";
    if (!context.option_bool(federation_option))
      message += " Federation is off here: turn it on with 'tails-server set-option prosody federation true'.";
    return message;
  }

  // Tor keeps circuits that are open, and Prosody its server-to-server
  // streams: without the key no new connection is made, but one that is open
  // would go on. Close Prosody's streams to the peer and its rooms (admin
  // shell; `address` was checked: 56 base32 characters and ".onion").
  std::string close_connections(ServiceContext& context, const std::string& address) {
    auto& host = context.host();
    if (!host.exists(config_file)) return "Prosody is not configured: no connection to close.";
    std::string closed;
    for (const std::string& peer_host : {address, std::string(muc_prefix) + address}) {
      RunOptions options;
      options.timeout = std::chrono::seconds(30);
      RunResult result = host.run({"prosodyctl", "--config", path_text(context, config_file), "shell",
                                   "s2s:closeall(" + escape::lua_string(peer_host) + ")"},
                                  options);
      const std::string output = clean_output(result.output);
      if (output.find("Unable to connect") != std::string::npos)
        return "Prosody is not running: no connection to close.";
      if (output.find("Closed") != std::string::npos) closed += (closed.empty() ? "" : "; ") + peer_host + ": " + output;
      else if (result.exit_code != 0 && output.find("No sessions to close") == std::string::npos)
        host.log(tails_server::LogLevel::Warning, "could not close the connections to " + peer_host + ": " + output);
    }
    return closed.empty() ? "No connection to it was open." : "Closed the open connections: " + closed;
  }

  // prosodyctl VERB -- JID: after "--" the JID is never read as an option.
  RunResult prosodyctl(ServiceContext& context, const std::string& verb, const std::string& jid,
                       const RunOptions& options) {
    if (!context.host().exists(config_file))
      throw HostError("prosody is not configured yet: " + path_text(context, config_file) + " is missing");
    return context.host().run({"prosodyctl", "--config", path_text(context, config_file), verb, "--", jid}, options);
  }

  // A self-signed certificate for `domain`, valid 10 years, made once. The
  // key never touches the disk except in its final file (0640 root:prosody).
  void ensure_certificate(ServiceContext& context, const std::string& domain) {
    auto& host = context.host();
    const std::string base = std::string(certificate_directory) + "/" + domain;
    const std::string certificate = base + ".crt";
    const std::string key = base + ".key";
    if (host.exists(certificate) && host.exists(key)) return;

    RunResult generated =
        host.run({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"},
                 RunOptions{});
    const std::string key_pem = pem_block(generated.output, "PRIVATE KEY");
    if (generated.exit_code != 0 || key_pem.empty())
      throw HostError("openssl genpkey failed (exit status " + std::to_string(generated.exit_code) + ")");

    RunOptions with_key;
    with_key.input = key_pem;
    RunResult signed_certificate =
        host.run({"openssl", "req", "-new", "-x509", "-batch", "-key", "/dev/stdin", "-days", "3650", "-subj",
                  "/CN=" + domain, "-addext", "subjectAltName=DNS:" + domain + ",DNS:*." + domain},
                 with_key);
    const std::string certificate_pem = pem_block(signed_certificate.output, "CERTIFICATE");
    if (signed_certificate.exit_code != 0 || certificate_pem.empty())
      throw HostError("openssl req failed (exit status " + std::to_string(signed_certificate.exit_code) +
                      "): " + signed_certificate.output);

    host.write_file(key, key_pem, FileSpec{"root", "prosody", 0640});
    host.write_file(certificate, certificate_pem, FileSpec{"root", "prosody", 0644});
    host.log(tails_server::LogLevel::Info, "created a TLS certificate for " + domain);
  }

  std::string certificate_fingerprint(const ServiceContext& context) const {
    try {
      const std::string certificate = std::string(certificate_directory) + "/" + domain_of(context) + ".crt";
      return tails_server::tls::certificate_fingerprint(context.host(), certificate).value_or("");
    } catch (const std::exception& error) {
      context.host().log(tails_server::LogLevel::Warning,
                         std::string("cannot read the certificate for its fingerprint: ") + error.what());
      return {};
    }
  }
};

}  // namespace

TAILS_SERVER_PLUGIN(ProsodyService, "prosody")

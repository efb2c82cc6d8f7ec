// Remote administration over SSH, published as its own onion service.
//
// Our own sshd (tails-server-sshd.service, sshd_config.h) listens on
// loopback and lets one account, tails-server-admin, log in with the named
// admin keys only. Every key is forced to run ssh-admin-command
// (ssh_admin_command.cpp), which runs the tails-server CLI and nothing else;
// a polkit rule lets that account manage the services without a password
// prompt, since its key authenticated it. Facts this relies on are in
// docs/services.md#ssh.

#include "admin_keys.h"
#include "sshd_config.h"

#include <tails_server/escape.h>
#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#ifndef TAILS_SERVER_SSH_COMMAND
#error "TAILS_SERVER_SSH_COMMAND must name the installed ssh-admin-command"
#endif

namespace tails_server_ssh {
namespace {

using namespace tails_server;

// The account admins log in as, created by configure() if missing (on
// Tails /etc/passwd is amnesic). Its shell runs the forced command.
constexpr const char* admin_user = "tails-server-admin";

constexpr const char* config_directory = "/etc/tails-server";
constexpr const char* config_file = "/etc/tails-server/sshd_config";
constexpr const char* data_directory = "/var/lib/tails-server-sshd";
constexpr const char* host_key = "/var/lib/tails-server-sshd/ssh_host_ed25519_key";
constexpr const char* host_key_public = "/var/lib/tails-server-sshd/ssh_host_ed25519_key.pub";
constexpr const char* admin_list = "/var/lib/tails-server-sshd/admins";
constexpr const char* authorized_keys = "/var/lib/tails-server-sshd/authorized_keys";
constexpr const char* polkit_directory = "/etc/polkit-1/rules.d";
constexpr const char* polkit_rule = "/etc/polkit-1/rules.d/50-tails-server-ssh.rules";
// Debian's ssh.service and ssh.socket do not start while this file exists.
constexpr const char* system_sshd_off = "/etc/ssh/sshd_not_to_be_run";
constexpr const char* system_sshd_off_text = "Written by Tails Server: the ssh service runs its own sshd.\n";
// sshd's privilege separation directory (compiled in): the unit makes it
// too, but sshd -t in configure() needs it before the first start.
constexpr const char* privsep_directory = "/run/sshd";

constexpr std::size_t admin_list_max_bytes = 1 << 20;
constexpr std::size_t host_key_max_bytes = 4096;

std::string polkit_rule_text() {
  return std::string(
             "// Written by Tails Server (the ssh service): the account that SSH admins log in as, with a key\n"
             "// that authenticated them, manages Tails Server without a password prompt.\n"
             "polkit.addRule(function(action, subject) {\n"
             "  if (action.id == \"org.boum.tails.server.manage\" && subject.user == \"") +
         admin_user +
         "\") {\n"
         "    return polkit.Result.YES;\n"
         "  }\n"
         "});\n";
}

class SshService : public TailsService {
 public:
  SshService() {
    description = "Remote administration: run the tails-server command from another computer over SSH.";
    client_application = "OpenSSH (ssh)";
    documentation = TAILS_SERVER_HELP_DIR "/ssh.html";
    packages = {"openssh-server"};
    systemd_service = "tails-server-sshd.service";
    default_local_port = 2222;
    default_virtual_port = 22;
    icon_name = "utilities-terminal";
    persistent_paths = {data_directory};
    name_in_gui = "Remote administration (SSH)";
    client_application_in_gui = "ssh";

    commands.push_back({"add-admin", "Allow an SSH public key (read on standard input) to administrate this server",
                        {"name"}, true});
    commands.push_back({"remove-admin", "Remove an admin's SSH key", {"name"}, false});
    commands.push_back({"list-admins", "List the admins and their key fingerprints", {}, false});
  }

  void install(ServiceContext& context) override { keep_system_sshd_off(context.host()); }

  void configure(ServiceContext& context) override {
    Host& host = context.host();
    // Again before each start: on Tails /etc is amnesic, and Additional
    // Software installs openssh-server again (enabling ssh.service) at boot.
    keep_system_sshd_off(host);
    ensure_admin_user(host);
    host.make_directory(config_directory, FileSpec{"root", "root", 0755});
    ensure_data_directory(host);
    ensure_host_key(host);
    write_authorized_keys(host, read_admins(host));

    SshdSettings settings;
    settings.host_key = host.path(host_key).string();
    settings.authorized_keys = host.path(authorized_keys).string();
    settings.listen_addresses = context.listen_addresses();
    settings.port = static_cast<std::uint16_t>(context.option_int(standard_option::local_port));
    settings.admin_user = admin_user;
    std::string config, unit;
    try {
      config = sshd_config_text(settings);
      unit = sshd_unit_text(host.path(config_file).string());
    } catch (const escape::EscapeError& error) {
      throw HostError(std::string("cannot write the sshd configuration: ") + error.what());
    }
    host.write_file(config_file, config, FileSpec{"root", "root", 0644});
    host.make_directory(privsep_directory, FileSpec{"root", "root", 0755});
    RunResult check = host.run({"/usr/sbin/sshd", "-t", "-f", host.path(config_file).string()}, RunOptions{});
    if (check.exit_code != 0)
      throw HostError("sshd -t refused " + host.path(config_file).string() + ":\n" + check.output);
    // The daemon reloads systemd before it starts the unit.
    host.write_file(unit_file, unit, FileSpec{"root", "root", 0644});
    // polkitd owns its rules directory (0700) and reloads it by itself.
    host.make_directory(polkit_directory,
                        FileSpec{host.user_exists("polkitd") ? "polkitd" : "root", "root", 0700});
    host.write_file(polkit_rule, polkit_rule_text(), FileSpec{"root", "root", 0644});
  }

  void uninstall(ServiceContext& context) override {
    Host& host = context.host();
    host.remove_file(polkit_rule);
    host.remove_file(unit_file);
    host.remove_file(config_file);
    if (host.read_file(system_sshd_off, 4096) == std::optional<std::string>(system_sshd_off_text))
      host.remove_file(system_sshd_off);  // only ours: the owner's own stays
    if (host.user_exists(admin_user)) {
      RunResult result = host.run({"userdel", admin_user}, RunOptions{});
      if (result.exit_code != 0)
        host.log(LogLevel::Warning, std::string("cannot remove the account ") + admin_user + ": " + result.output);
    }
  }

  ConnectionInfo connection_info(const ServiceContext& context) const override {
    Host& host = context.host();
    ConnectionInfo info;
    const std::string onion = context.onion_address();
    const std::string address = onion.empty() ? "(no onion address yet)" : onion;
    const std::string port = context.option(standard_option::virtual_port);
    const std::string public_key = host_public_key(host);
    info.fields.emplace_back("address", address);
    info.fields.emplace_back("port", port);
    info.fields.emplace_back("user", admin_user);
    info.fields.emplace_back("host-key-fingerprint",
                             public_key.empty() ? "(no host key yet)" : fingerprint(host, public_key));
    const std::string known_host = port == "22" ? address : "[" + address + "]:" + port;
    if (!public_key.empty()) info.fields.emplace_back("known-hosts-line", known_host + " " + public_key);
    const std::string stanza = "Host tails-server\n"
                               "    HostName " + address + "\n"
                               "    Port " + port + "\n"
                               "    User " + admin_user + "\n"
                               "    ProxyCommand nc -X 5 -x 127.0.0.1:9050 %h %p\n";
    info.fields.emplace_back("ssh-config", stanza);
    info.instructions =
        "Give your SSH public key to the server's owner, who runs \"tails-server run ssh add-admin NAME\" with it "
        "on standard input. Add the ssh-config stanza to ~/.ssh/config (nc is netcat-openbsd; the ProxyCommand "
        "goes through Tor's SOCKS port) and the known-hosts line to ~/.ssh/known_hosts, or check that the host "
        "key fingerprint ssh shows on the first connection is the one above. Then run for example "
        "\"ssh tails-server tails-server list\": only the tails-server command runs, no shell.";
    return info;
  }

  std::string run_command(ServiceContext& context, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret) override {
    Host& host = context.host();
    if (command == "list-admins") {
      std::vector<Admin> admins = read_admins(host);
      if (admins.empty()) return "No admins yet: add one with \"tails-server run ssh add-admin NAME\".";
      std::string out;
      for (const auto& admin : admins) out += admin.name + "  " + key_fingerprint(host, admin.key) + "\n";
      out.pop_back();
      return out;
    }
    if (arguments.size() != 1) throw OptionError(command + " takes one argument: the admin's name");
    const std::string& admin_name = arguments[0];
    check_admin_name(admin_name);
    std::vector<Admin> admins = read_admins(host);
    auto same_name = [&](const Admin& admin) { return admin.name == admin_name; };
    if (command == "add-admin") {
      if (std::any_of(admins.begin(), admins.end(), same_name))
        throw OptionError("there is already an admin named " + admin_name + "; remove-admin it first");
      PublicKey key = parse_public_key(secret);
      const std::string key_print = key_fingerprint(host, key);  // ssh-keygen's own check of the key
      for (const auto& admin : admins)
        if (admin.key.blob == key.blob) throw OptionError("this key is already the key of admin " + admin.name);
      admins.push_back({admin_name, std::move(key)});
      ensure_data_directory(host);
      write_admins(host, admins);
      return "Added the admin " + admin_name + " (" + key_print + ").";
    }
    if (command == "remove-admin") {
      auto it = std::find_if(admins.begin(), admins.end(), same_name);
      if (it == admins.end()) throw OptionError("there is no admin named " + admin_name);
      admins.erase(it);
      write_admins(host, admins);
      // sshd checks keys only at login: a connection the admin still holds
      // (ssh -M) could open new sessions. Restarting the unit ends them all.
      RunResult restart = host.run({"systemctl", "try-restart", systemd_service}, RunOptions{});
      if (restart.exit_code != 0)
        host.log(LogLevel::Warning, "cannot restart " + systemd_service + ": " + restart.output);
      return "Removed the admin " + admin_name + ": their key no longer logs in, and every open SSH session "
             "was ended (the other admins log in again).";
    }
    return TailsService::run_command(context, command, arguments, secret);
  }

 private:
  // openssh-server enables ssh.service, which would listen on every
  // interface at the next boot; ours is tails-server-sshd.service. A file
  // the owner wrote is left as it is.
  static void keep_system_sshd_off(Host& host) {
    if (host.exists(system_sshd_off)) return;
    host.write_file(system_sshd_off, system_sshd_off_text, FileSpec{"root", "root", 0644});
  }

  static void ensure_data_directory(Host& host) {
    // Traversable: sshd reads authorized_keys as the admin account.
    host.make_directory(data_directory, FileSpec{"root", "root", 0755});
  }

  static std::vector<Admin> read_admins(Host& host) {
    std::optional<std::string> text = host.read_file(admin_list, admin_list_max_bytes);
    return text ? parse_admin_list(*text, admin_list) : std::vector<Admin>{};
  }

  static void write_admins(Host& host, const std::vector<Admin>& admins) {
    host.write_file(admin_list, admin_list_text(admins), FileSpec{"root", "root", 0600});
    write_authorized_keys(host, admins);
  }

  // Takes effect at once: sshd reads the file at each login.
  static void write_authorized_keys(Host& host, const std::vector<Admin>& admins) {
    std::string text;
    try {
      text = authorized_keys_text(admins, host.path(TAILS_SERVER_SSH_COMMAND).string());
    } catch (const escape::EscapeError& error) {
      throw HostError(std::string("cannot write the authorized keys: ") + error.what());
    }
    // sshd reads it as the admin account, so its group may read it and no one else. Before that
    // account exists (add-admin before the first start) nobody needs to.
    if (host.group_exists(admin_user))
      host.write_file(authorized_keys, text, FileSpec{"root", admin_user, 0640});
    else
      host.write_file(authorized_keys, text, FileSpec{"root", "root", 0600});
  }

  // "SHA256:... (ED25519)", from ssh-keygen, which refuses a key it cannot read.
  static std::string key_fingerprint(Host& host, const PublicKey& key) {
    RunOptions options;
    options.input = key.line() + "\n";
    RunResult result = host.run({"ssh-keygen", "-l", "-f", "-"}, options);
    // "256 SHA256:xxxx no comment (ED25519)"
    const std::size_t start = result.output.find("SHA256:");
    const std::size_t type = result.output.rfind(" (");
    if (result.exit_code != 0 || start == std::string::npos || type == std::string::npos || type < start)
      throw OptionError("ssh-keygen does not accept this " + key.type + " key");
    const std::size_t end = result.output.find(' ', start);
    std::string out = result.output.substr(start, end - start) + result.output.substr(type);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  static std::string fingerprint(Host& host, const std::string& public_key) {
    try {
      return key_fingerprint(host, parse_public_key(public_key));
    } catch (const std::exception& error) {
      host.log(LogLevel::Warning, std::string("cannot read the host key's fingerprint: ") + error.what());
      return "(unreadable host key)";
    }
  }

  // The host key's public line "ssh-ed25519 AAAA...", or "" if there is none.
  static std::string host_public_key(Host& host) {
    std::optional<std::string> text = host.read_file(host_key_public, host_key_max_bytes);
    if (!text) return {};
    try {
      return parse_public_key(*text).line();
    } catch (const std::exception&) {
      return {};
    }
  }

  // Generates the host key once, in the data directory, so that it persists
  // with the service. Its comment names no machine.
  static void ensure_host_key(Host& host) {
    if (!host.exists(host_key)) {
      host.remove_file(host_key_public);
      RunResult result = host.run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tails-server-ssh", "-f",
                                   host.path(host_key).string()},
                                  RunOptions{});
      if (result.exit_code != 0)
        throw HostError("ssh-keygen could not create the host key (exit status " +
                        std::to_string(result.exit_code) + "): " + result.output);
      host.log(LogLevel::Info, "created the SSH host key");
    }
    if (!host.exists(host_key_public)) {
      RunResult result = host.run({"ssh-keygen", "-y", "-f", host.path(host_key).string()}, RunOptions{});
      if (result.exit_code != 0) throw HostError("ssh-keygen could not read the host key: " + result.output);
      host.write_file(host_key_public, result.output, FileSpec{"root", "root", 0644});
    }
  }

  // The account admins log in as: a system account with no password ("*",
  // which sshd does not take for a locked account), its home the data
  // directory, /bin/sh as shell so that sshd can run the forced command.
  static void ensure_admin_user(Host& host) {
    if (host.user_exists(admin_user)) return check_admin_user(host);
    std::vector<std::string> argv = {"useradd",  "--system",     "--home-dir", data_directory, "--no-create-home",
                                     "--shell",  "/bin/sh",      "--password", "*",            "--comment",
                                     "Tails Server remote administration (SSH)"};
    if (host.group_exists(admin_user)) {
      argv.insert(argv.end(), {"--gid", admin_user});
    } else {
      argv.emplace_back("--user-group");
    }
    argv.emplace_back(admin_user);
    RunResult result = host.run(argv, RunOptions{});
    if (result.exit_code != 0)
      throw HostError(std::string("cannot create the account ") + admin_user + " (useradd exit status " +
                      std::to_string(result.exit_code) + "): " + result.output);
    host.log(LogLevel::Info, std::string("created the account ") + admin_user);
  }

  // An account of that name that ensure_admin_user did not make could be a
  // person's: the polkit rule and the admins' keys would then be theirs.
  static void check_admin_user(Host& host) {
    const std::vector<std::string> user = getent(host, "passwd");  // name:x:uid:gid:gecos:home:shell
    const std::vector<std::string> group = getent(host, "group");  // name:x:gid:members
    const bool ours = user.size() == 7 && group.size() == 4 && user[3] == group[2] && user[5] == data_directory &&
                      user[6] == "/bin/sh" && is_system_uid(user[2]);
    if (ours) return;
    std::string seen = user.size() == 7 ? "uid " + user[2] + ", home " + user[5] + ", shell " + user[6] : "unreadable";
    throw HostError(std::string("an account named ") + admin_user + " already exists (" + seen +
                    ") that Tails Server did not make; the ssh service needs its own system account of that name, "
                    "with home " + data_directory + ", shell /bin/sh and group " + admin_user +
                    ". Remove or rename that account, then try again.");
  }

  // 1 to 999, Debian's system accounts.
  static bool is_system_uid(const std::string& uid) {
    return !uid.empty() && uid.size() <= 3 && uid != "0" && uid[0] != '0' &&
           uid.find_first_not_of("0123456789") == std::string::npos;
  }

  static std::vector<std::string> getent(Host& host, const std::string& database) {
    RunResult result = host.run({"getent", database, admin_user}, RunOptions{});
    std::string line = result.exit_code == 0 ? result.output.substr(0, result.output.find('\n')) : "";
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t end; (end = line.find(':', start)) != std::string::npos; start = end + 1)
      fields.push_back(line.substr(start, end - start));
    if (!line.empty()) fields.push_back(line.substr(start));
    return fields;
  }
};

}  // namespace
}  // namespace tails_server_ssh

TAILS_SERVER_PLUGIN(tails_server_ssh::SshService, "ssh")

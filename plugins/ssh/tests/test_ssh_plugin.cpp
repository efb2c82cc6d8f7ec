// The ssh plugin through the real core: sshd_config checked with sshd -t,
// the admin commands with keys made by ssh-keygen, hostile names and keys.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "ssh_test_support.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ssh_test::read_text;

namespace {

std::string field(const tails_server::ConnectionInfo& info, const std::string& label) {
  for (const auto& [key, value] : info.fields)
    if (key == label) return value;
  return "(no field " + label + ")";
}

tails_server::test::ProgramResult sshd_check(const fs::path& config) {
  return tails_server::test::run_program({"/usr/sbin/sshd", "-t", "-f", config.string()}, "", 30s);
}

}  // namespace

TEST_CASE("the generated sshd_config passes sshd -t and allows nothing but the admin's keys") {
  REQUIRE_MESSAGE(::geteuid() == 0, "configure() creates the admin account");
  REQUIRE_MESSAGE(fs::exists("/usr/sbin/sshd"), "package openssh-server is not installed");
  ssh_test::Fixture f;
  f.manager().configure("ssh");

  const fs::path config = f.root() / "etc/tails-server/sshd_config";
  auto check = sshd_check(config);
  INFO("sshd -t:\n" << check.output);
  CHECK(check.exit_code == 0);
  CHECK(check.output.empty());  // no deprecated or unsupported keyword
  CHECK(ssh_test::mode_of(config) == 0644);

  const std::string text = read_text(config);
  for (const char* line :
       {"\nListenAddress 127.0.0.1:2222\n", "\nPasswordAuthentication no\n", "\nKbdInteractiveAuthentication no\n",
        "\nPermitRootLogin no\n", "\nAllowUsers tails-server-admin\n", "\nAuthenticationMethods publickey\n",
        "\nDisableForwarding yes\n", "\nAllowTcpForwarding no\n", "\nPermitTunnel no\n", "\nPermitTTY no\n",
        "\nPermitUserRC no\n", "\nX11Forwarding no\n", "\nAllowAgentForwarding no\n", "\nUsePAM no\n",
        "\nDebianBanner no\n", "\nStrictModes yes\n"}) {
    CAPTURE(line);
    CHECK(text.find(line) != std::string::npos);
  }
  CHECK(text.find("Subsystem") == std::string::npos);  // no sftp
  CHECK(text.find("Include") == std::string::npos);    // not /etc/ssh/sshd_config.d
  CHECK(text.find("\nHostKey " + (f.root() / "var/lib/tails-server-sshd/ssh_host_ed25519_key").string() + "\n") !=
        std::string::npos);
  CHECK(text.find("\nAuthorizedKeysFile " + (f.root() / "var/lib/tails-server-sshd/authorized_keys").string() +
                  "\n") != std::string::npos);

  // sshd -T: what sshd makes of the file, with its defaults.
  auto effective = tails_server::test::run_program({"/usr/sbin/sshd", "-T", "-f", config.string()}, "", 30s);
  CHECK(effective.output.find("\npasswordauthentication no\n") != std::string::npos);
  CHECK(effective.output.find("\nallowtcpforwarding no\n") != std::string::npos);
  CHECK(effective.output.find("\nallowstreamlocalforwarding no\n") != std::string::npos);
  CHECK(effective.output.find("\ndisableforwarding yes\n") != std::string::npos);
  CHECK(effective.output.find("\npermitopen none\n") != std::string::npos);

  // The host key: 0600, made once, kept by every configure().
  const fs::path key = f.root() / "var/lib/tails-server-sshd/ssh_host_ed25519_key";
  CHECK(ssh_test::mode_of(key) == 0600);
  CHECK(ssh_test::mode_of(f.root() / "var/lib/tails-server-sshd") == 0755);
  const std::string public_key = read_text(key.string() + ".pub");
  CHECK(public_key.rfind("ssh-ed25519 ", 0) == 0);
  CHECK(public_key.find("@") == std::string::npos);  // no user@hostname comment
  auto info = f.manager().connection_info("ssh");
  const std::string fingerprint = field(info, "host-key-fingerprint");
  CHECK(std::regex_match(fingerprint, std::regex("SHA256:[A-Za-z0-9+/]{43} \\(ED25519\\)")));
  f.manager().configure("ssh");
  CHECK(read_text(key.string() + ".pub") == public_key);
  CHECK(field(f.manager().connection_info("ssh"), "host-key-fingerprint") == fingerprint);

  // The account: a system account with /bin/sh, no password, home the data directory.
  const passwd* account = ::getpwnam(ssh_test::admin_user);
  REQUIRE(account != nullptr);
  CHECK(account->pw_uid < 1000);
  CHECK(std::string(account->pw_shell) == "/bin/sh");
  CHECK(std::string(account->pw_dir) == "/var/lib/tails-server-sshd");

  // The unit and the polkit rule.
  const std::string unit = read_text(f.root() / "etc/systemd/system/tails-server-sshd.service");
  CHECK(unit.find("\nExecStart=/usr/sbin/sshd -D -f " + config.string() + "\n") != std::string::npos);
  CHECK(unit.find("\nRuntimeDirectory=sshd\n") != std::string::npos);
  CHECK(unit.find("[Install]") == std::string::npos);
  const std::string rule = read_text(f.root() / "etc/polkit-1/rules.d/50-tails-server-ssh.rules");
  CHECK(rule.find("action.id == \"org.boum.tails.server.manage\" && subject.user == \"tails-server-admin\"") !=
        std::string::npos);

  // The connection info: an ssh_config stanza through Tor's SOCKS port.
  CHECK(field(info, "port") == "22");
  CHECK(field(info, "user") == "tails-server-admin");
  CHECK(field(info, "ssh-config").find("    ProxyCommand nc -X 5 -x 127.0.0.1:9050 %h %p\n") != std::string::npos);
  CHECK(field(info, "known-hosts-line").find(public_key.substr(0, public_key.find(' ', 13))) != std::string::npos);

  // With allow-lan: every address, IPv6 in brackets; still valid.
  f.manager().set_option("ssh", "allow-lan", "true");
  f.manager().configure("ssh");
  const std::string lan = read_text(config);
  CHECK(lan.find("\nListenAddress 0.0.0.0:2222\nListenAddress [::]:2222\n") != std::string::npos);
  CHECK(sshd_check(config).exit_code == 0);

  // install() keeps Debian's ssh.service from starting; uninstall() undoes everything of ours.
  f.manager().run_hook("ssh", tails_server::core::ServiceManager::Hook::Install);
  CHECK(fs::exists(f.root() / "etc/ssh/sshd_not_to_be_run"));
  f.manager().run_hook("ssh", tails_server::core::ServiceManager::Hook::Uninstall);
  CHECK_FALSE(fs::exists(f.root() / "etc/ssh/sshd_not_to_be_run"));
  CHECK_FALSE(fs::exists(f.root() / "etc/polkit-1/rules.d/50-tails-server-ssh.rules"));
  CHECK_FALSE(fs::exists(f.root() / "etc/systemd/system/tails-server-sshd.service"));
  CHECK(::getpwnam(ssh_test::admin_user) == nullptr);
}

TEST_CASE("add-admin takes one public key made by ssh-keygen and refuses anything else") {
  REQUIRE(::geteuid() == 0);
  ssh_test::Fixture f;
  const auto alice = ssh_test::make_key(f.root(), "alice");
  const auto bob = ssh_test::make_key(f.root(), "bob", "ecdsa");
  const auto carol = ssh_test::make_key(f.root(), "carol", "rsa");

  CHECK(f.run("list-admins", {}).find("No admins yet") != std::string::npos);
  const std::string added = f.run("add-admin", {"alice"}, alice.public_line);
  CHECK(added.find("Added the admin alice (SHA256:") != std::string::npos);
  CHECK(f.run("add-admin", {"bob"}, bob.public_line).find("(ECDSA)") != std::string::npos);
  CHECK(f.run("add-admin", {"carol-2"}, carol.public_line).find("(RSA)") != std::string::npos);

  const std::string blob = alice.public_line.substr(12, alice.public_line.find(' ', 12) - 12);
  const std::string private_text = read_text(alice.private_key);
  const std::vector<std::pair<std::string, std::string>> bad_keys = {
      {"empty", ""},
      {"garbage", "not a key at all"},
      {"private key", private_text},
      {"two lines", alice.public_line + bob.public_line},
      {"a key and a command line", alice.public_line + "id\n"},
      {"options prefix", "restrict,command=\"/bin/sh\" " + alice.public_line},
      {"options prefix", "command=\"/bin/sh\" " + alice.public_line},
      {"from= prefix", "from=\"*\" " + alice.public_line},
      {"type without key", "ssh-ed25519"},
      {"bad base64", "ssh-ed25519 AAAA$$$$"},
      {"type mismatch", "ssh-rsa " + blob},
      {"truncated key", "ssh-ed25519 " + blob.substr(0, 40)},
      {"carriage return inside", "ssh-ed25519 " + blob + "\rcomment"},
      {"NUL", std::string("ssh-ed25519 ") + blob + std::string(1, '\0')},
      {"very long", "ssh-ed25519 " + std::string(100000, 'A')},
      {"unknown type", "ssh-dss " + blob},
  };
  for (const auto& [why, key] : bad_keys) {
    CAPTURE(why);
    CHECK_THROWS_AS(f.run("add-admin", {"mallory"}, key), tails_server::core::ServiceError);
  }
  // A hostile comment is dropped, not written.
  const std::string hostile_comment = "ssh-ed25519 " + blob + " \"quoted\" #hash ,command=\"x\" " + std::string(500, 'c');
  CHECK_THROWS(f.run("add-admin", {"alice-again"}, hostile_comment));  // the same key twice
  const auto dave = ssh_test::make_key(f.root(), "dave");
  const std::string dave_blob = dave.public_line.substr(12, dave.public_line.find(' ', 12) - 12);
  f.run("add-admin", {"dave"}, "ssh-ed25519 " + dave_blob + " \"quoted\" #hash ,command=\"x\" " + std::string(500, 'c'));

  for (const std::string& name : std::vector<std::string>{"", "Alice", "1alice", "-alice", "al ice", "al\nice", "al\"ice", "al#ice",
                                 "al'ice", "al/ice", "al.ice", std::string(33, 'a'), "ünï"}) {
    CAPTURE(name);
    CHECK_THROWS_AS(f.run("add-admin", {name}, dave.public_line), tails_server::core::ServiceError);
    CHECK_THROWS_AS(f.run("remove-admin", {name}), tails_server::core::ServiceError);
  }
  CHECK_THROWS_WITH(f.run("add-admin", {"alice"}, dave.public_line), doctest::Contains("already an admin named"));

  const std::string list = f.run("list-admins", {});
  CHECK(std::regex_search(list, std::regex("^alice  SHA256:[A-Za-z0-9+/]{43} \\(ED25519\\)\n")));
  CHECK(list.find("\nbob  SHA256:") != std::string::npos);
  CHECK(list.find("\ncarol-2  SHA256:") != std::string::npos);
  CHECK(list.find("\ndave  SHA256:") != std::string::npos);
  CHECK(list.find("mallory") == std::string::npos);

  // The files: the list 0600, authorized_keys restricted and forced, no comment from the user.
  const fs::path data = f.root() / "var/lib/tails-server-sshd";
  CHECK(ssh_test::mode_of(data / "admins") == 0600);
  // Before the account exists no one needs to read it; after, its group reads it (sshd reads it as
  // the account) and other local users cannot.
  CHECK(ssh_test::mode_of(data / "authorized_keys") == (::getgrnam(ssh_test::admin_user) ? 0640u : 0600u));
  if (fs::exists("/usr/sbin/sshd")) {
    f.manager().configure("ssh");
    struct stat st {};
    REQUIRE(::stat((data / "authorized_keys").c_str(), &st) == 0);
    const struct group* admins = ::getgrnam(ssh_test::admin_user);
    REQUIRE(admins != nullptr);
    CHECK(st.st_uid == 0);
    CHECK(st.st_gid == admins->gr_gid);
    CHECK((st.st_mode & 07777) == 0640);
  }
  const std::string keys = read_text(data / "authorized_keys");
  const std::string command = (f.root() / std::string(TAILS_SERVER_SSH_COMMAND).substr(1)).string();
  CHECK(keys.find("\nrestrict,command=\"" + command + " alice\" ssh-ed25519 " + blob + " tails-server-admin:alice\n") !=
        std::string::npos);
  CHECK(keys.find("quoted") == std::string::npos);
  CHECK(keys.find("@elsewhere") == std::string::npos);
  // ssh-keygen reads every line of it as a key.
  auto listed = tails_server::test::run_program({"ssh-keygen", "-l", "-f", (data / "authorized_keys").string()}, "", 30s);
  CHECK(listed.exit_code == 0);
  CHECK(std::count(listed.output.begin(), listed.output.end(), '\n') == 4);

  CHECK(f.run("remove-admin", {"bob"}) .find("Removed the admin bob") != std::string::npos);
  CHECK_THROWS_WITH(f.run("remove-admin", {"bob"}), doctest::Contains("no admin named bob"));
  CHECK(read_text(data / "authorized_keys").find(" bob\"") == std::string::npos);
  CHECK(f.run("list-admins", {}).find("bob") == std::string::npos);

  // The sshd_config with these keys still passes sshd -t.
  f.manager().configure("ssh");
  CHECK(sshd_check(f.root() / "etc/tails-server/sshd_config").exit_code == 0);
}

TEST_CASE("the system's ssh.service stays off: configure writes sshd_not_to_be_run and an owner's own is kept") {
  REQUIRE_MESSAGE(::geteuid() == 0, "configure() creates the admin account");
  REQUIRE_MESSAGE(fs::exists("/usr/sbin/sshd"), "package openssh-server is not installed");
  using Hook = tails_server::core::ServiceManager::Hook;
  const fs::path off = "etc/ssh/sshd_not_to_be_run";
  {
    // On Tails /etc is amnesic: after a reboot only configure() runs (autostart), never install().
    ssh_test::Fixture f;
    f.manager().configure("ssh");
    REQUIRE(fs::exists(f.root() / off));
    CHECK(read_text(f.root() / off).find("Tails Server") != std::string::npos);
    f.manager().run_hook("ssh", Hook::Uninstall);
    CHECK_FALSE(fs::exists(f.root() / off));
  }
  {
    ssh_test::Fixture f;
    fs::create_directories(f.root() / "etc/ssh");
    { std::ofstream(f.root() / off) << "the owner's\n"; }
    f.manager().run_hook("ssh", Hook::Install);
    f.manager().configure("ssh");
    CHECK(read_text(f.root() / off) == "the owner's\n");
    f.manager().run_hook("ssh", Hook::Uninstall);
    CHECK(read_text(f.root() / off) == "the owner's\n");
  }
}

TEST_CASE("an account named tails-server-admin that Tails Server did not make is refused and not reused") {
  REQUIRE_MESSAGE(::geteuid() == 0, "the test makes the account");
  REQUIRE_MESSAGE(fs::exists("/usr/sbin/sshd"), "package openssh-server is not installed");
  if (::getpwnam(ssh_test::admin_user)) {
    MESSAGE("skipped: an account " << ssh_test::admin_user << " exists on this machine already");
    return;
  }
  ssh_test::Fixture f;  // deletes the account at its end, since it did not exist before
  // A person's account of that name: a home in /home and a login shell.
  auto made = tails_server::test::run_program(
      {"useradd", "--home-dir", (f.root() / "home/someone").string(), "--shell", "/bin/bash", ssh_test::admin_user},
      "", 30s);
  REQUIRE_MESSAGE(made.exit_code == 0, made.output);
  std::string refusal;
  try {
    f.manager().configure("ssh");
  } catch (const std::exception& error) {
    refusal = error.what();
  }
  CHECK(refusal.find("already exists (uid ") != std::string::npos);
  CHECK(refusal.find("home " + (f.root() / "home/someone").string() + ", shell /bin/bash") != std::string::npos);
  CHECK(refusal.find("Remove or rename that account") != std::string::npos);
  // Nothing that would let anyone in as that account was written.
  CHECK_FALSE(fs::exists(f.root() / "var/lib/tails-server-sshd/authorized_keys"));
  CHECK_FALSE(fs::exists(f.root() / "etc/polkit-1/rules.d"));
}

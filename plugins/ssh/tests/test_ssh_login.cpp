// sshd with the plugin's configuration on loopback, and real ssh logins: the
// admin's key runs the tails-server CLI and nothing else.
#include <doctest/doctest.h>

#include "ssh_test_support.h"

#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tails_server::test::ProgramResult;
using tails_server::test::run_program;

namespace {

// Installs one of the test builds of ssh-admin-command where the plugin's
// authorized_keys expects it (the system path, under the test root).
void install_forced_command(const fs::path& root, const char* build) {
  const fs::path target = root / std::string(TAILS_SERVER_SSH_COMMAND).substr(1);
  fs::create_directories(target.parent_path());
  fs::copy_file(build, target, fs::copy_options::overwrite_existing);
  fs::permissions(target, fs::perms(0755));
}

class Client {
 public:
  Client(fs::path root, std::uint16_t port) : root_(std::move(root)), port_(port) {}

  // ssh with only the options given here: no user config, no agent, the host key pinned.
  ProgramResult ssh(const fs::path& key, const std::vector<std::string>& extra,
                    const std::string& input = "") const {
    std::vector<std::string> argv = {"ssh", "-F", "/dev/null", "-i", key.string(), "-o", "IdentitiesOnly=yes",
                                     "-o", "IdentityAgent=none", "-o", "BatchMode=yes", "-o",
                                     "StrictHostKeyChecking=yes", "-o",
                                     "UserKnownHostsFile=" + (root_ / "known_hosts").string(), "-o",
                                     "ConnectTimeout=20", "-p", std::to_string(port_), "-l", ssh_test::admin_user};
    std::size_t i = 0;
    for (; i < extra.size() && extra[i] != "--"; ++i) argv.push_back(extra[i]);
    argv.push_back("127.0.0.1");
    for (++i; i < extra.size(); ++i) argv.push_back(extra[i]);
    return run_program(argv, input, 60s);
  }

 private:
  fs::path root_;
  std::uint16_t port_;
};

}  // namespace

TEST_CASE("an admin key logs in over ssh and runs the tails-server command and nothing else") {
  REQUIRE_MESSAGE(::geteuid() == 0, "sshd runs as root");
  REQUIRE_MESSAGE(fs::exists("/usr/sbin/sshd"), "package openssh-server is not installed");
  REQUIRE_MESSAGE(fs::exists("/usr/bin/ssh"), "package openssh-client is not installed");
  ssh_test::Fixture f;
  const auto alice = ssh_test::make_key(f.root(), "alice");
  const auto stranger = ssh_test::make_key(f.root(), "stranger");
  const std::uint16_t port = tails_server::test::free_port();
  f.manager().set_option("ssh", "local-port", std::to_string(port));
  f.manager().configure("ssh");
  f.run("add-admin", {"alice"}, alice.public_line);
  install_forced_command(f.root(), SSH_COMMAND_TEST_CLI);

  const fs::path data = f.root() / "var/lib/tails-server-sshd";
  {
    std::ofstream known(f.root() / "known_hosts");
    known << "[127.0.0.1]:" << port << " " << ssh_test::read_text(data / "ssh_host_ed25519_key.pub");
  }
  const fs::path config = f.root() / "etc/tails-server/sshd_config";
  tails_server::test::DaemonProcess sshd({"/usr/sbin/sshd", "-D", "-e", "-f", config.string()}, f.root() / "sshd.log");
  const bool listening = tails_server::test::wait_for_port(port, sshd, 30s);
  INFO("sshd log:\n" << sshd.log());
  REQUIRE(listening);
  CHECK(tails_server::test::listening_addresses(port) == std::set<std::string>{"127.0.0.1"});
  Client client(f.root(), port);

  SUBCASE("the admin runs the CLI") {
    auto result = client.ssh(alice.private_key, {"--", "tails-server", "--help"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("set-option") != std::string::npos);
  }
  SUBCASE("a login without a command gets the help text, not a shell") {
    auto result = client.ssh(alice.private_key, {"-T"}, "id\nexit 0\n");
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("Hello alice.") != std::string::npos);
    CHECK(result.output.find("uid=") == std::string::npos);
  }
  SUBCASE("a pty is refused") {
    auto result = client.ssh(alice.private_key, {"-tt", "--", "tails-server", "--help"});
    CHECK(result.output.find("PTY allocation request failed") != std::string::npos);
  }
  SUBCASE("other commands and shell syntax are refused") {
    for (const std::string command :
         {"bash", "id", "sh -c id", "tails-server list; id", "tails-server list && id", "tails-server $(id)",
          "tails-server `id`", "tails-server list | sh", "/bin/sh", "tails-server list > /tmp/x"}) {
      CAPTURE(command);
      auto result = client.ssh(alice.private_key, {"--", command});
      INFO(result.output);
      CHECK(result.exit_code == 126);
      CHECK(result.output.find("refused") != std::string::npos);
      CHECK(result.output.find("uid=") == std::string::npos);
    }
  }
  SUBCASE("the words reach the CLI exactly, quoted ones included") {
    install_forced_command(f.root(), SSH_COMMAND_TEST_ECHO);
    auto result =
        client.ssh(alice.private_key, {"--", "tails-server set-option prosody motd 'Hi $USER; `id` \"all\"'"});
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("set-option prosody motd Hi $USER; `id` \"all\"\n") != std::string::npos);
  }
  SUBCASE("an unknown key and passwords are refused") {
    auto result = client.ssh(stranger.private_key, {"--", "tails-server", "--help"});
    CHECK(result.exit_code == 255);
    CHECK(result.output.find("Permission denied (publickey)") != std::string::npos);
    result = client.ssh(alice.private_key, {"-o", "PreferredAuthentications=password,keyboard-interactive", "-o",
                                            "PasswordAuthentication=yes", "--", "tails-server", "--help"});
    CHECK(result.exit_code == 255);
    CHECK(result.output.find("Permission denied (publickey)") != std::string::npos);
    // Another user name, root included, with the admin's key.
    auto as_root = run_program({"ssh", "-F", "/dev/null", "-i", alice.private_key.string(), "-o", "BatchMode=yes",
                                "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o",
                                "UserKnownHostsFile=" + (f.root() / "known_hosts").string(), "-p",
                                std::to_string(port), "root@127.0.0.1", "id"},
                               "", 60s);
    CHECK(as_root.exit_code == 255);
  }
  SUBCASE("no forwarding of any kind") {
    // To sshd's own port, which certainly listens. -W opens the same kind of
    // channel (direct-tcpip) as -L and -D.
    auto result = client.ssh(alice.private_key, {"-W", "127.0.0.1:" + std::to_string(port)});
    INFO(result.output);
    CHECK(result.exit_code == 255);
    CHECK(result.output.find("stdio forwarding failed") != std::string::npos);
    result = client.ssh(alice.private_key, {"-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:" +
                                            std::to_string(port)});
    INFO(result.output);
    CHECK(result.exit_code == 255);
    CHECK(result.output.find("remote port forwarding failed") != std::string::npos);
    result = client.ssh(alice.private_key, {"-N", "-o", "ExitOnForwardFailure=yes", "-w", "any"});
    CHECK(result.exit_code == 255);
    CHECK(result.output.find("Tunnel forwarding failed") != std::string::npos);
    CHECK(sshd.log().find("refused local port forward") != std::string::npos);
  }
  SUBCASE("remove-admin locks the key out at once") {
    CHECK(client.ssh(alice.private_key, {"--", "tails-server", "--help"}).exit_code == 0);
    f.run("remove-admin", {"alice"});
    auto result = client.ssh(alice.private_key, {"--", "tails-server", "--help"});
    CHECK(result.exit_code == 255);
    CHECK(result.output.find("Permission denied (publickey)") != std::string::npos);
  }
  sshd.stop();
}

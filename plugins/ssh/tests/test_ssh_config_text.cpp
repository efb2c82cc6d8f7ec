// The text of sshd_config and authorized_keys: hostile paths, names and
// addresses are refused, never written (nothing in these files is quoted).
#include <doctest/doctest.h>

#include "admin_keys.h"
#include "sshd_config.h"

#include <tails_server/escape.h>

using tails_server::escape::EscapeError;
using namespace tails_server_ssh;

namespace {

SshdSettings good() {
  SshdSettings s;
  s.host_key = "/var/lib/tails-server-sshd/ssh_host_ed25519_key";
  s.authorized_keys = "/var/lib/tails-server-sshd/authorized_keys";
  s.listen_addresses = {"127.0.0.1"};
  s.admin_user = "tails-server-admin";
  return s;
}

const std::vector<std::string> hostile = {
    "/a b",         "/a\nPasswordAuthentication yes", "/a\"b",  "/a#b", "/a'b", "/a\\b", "/a%h", "/a$HOME",
    "/a\tb",        std::string("/a\0b", 4),          "",       "/ä",   "/a,b", "/a=b",  "/a*", "/a?"};

}  // namespace

TEST_CASE("sshd_config_text refuses hostile paths and names and addresses") {
  CHECK_NOTHROW(sshd_config_text(good()));
  for (const auto& value : hostile) {
    CAPTURE(value);
    SshdSettings s = good();
    s.host_key = value;
    CHECK_THROWS_AS(sshd_config_text(s), EscapeError);
    s = good();
    s.authorized_keys = value;
    CHECK_THROWS_AS(sshd_config_text(s), EscapeError);
    s = good();
    s.admin_user = value;
    CHECK_THROWS_AS(sshd_config_text(s), EscapeError);
    s = good();
    s.listen_addresses = {value};
    CHECK_THROWS_AS(sshd_config_text(s), EscapeError);
    CHECK_THROWS_AS(sshd_unit_text(value), EscapeError);
  }
  SshdSettings s = good();
  s.listen_addresses = {"127.0.0.1 0.0.0.0"};
  CHECK_THROWS_AS(sshd_config_text(s), EscapeError);
  s.listen_addresses = {"::1"};
  s.port = 2200;
  CHECK(sshd_config_text(s).find("\nListenAddress [::1]:2200\n") != std::string::npos);
}

TEST_CASE("authorized_keys_text refuses a hostile command path or admin name") {
  const PublicKey key = parse_public_key(
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICz124LXZKQ1y36Hpm+x1kYcm1lb1iLCdSWi+Z+2bOU+ alice@elsewhere\n");
  CHECK(key.line() == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICz124LXZKQ1y36Hpm+x1kYcm1lb1iLCdSWi+Z+2bOU+");
  CHECK(authorized_keys_text({{"alice", key}}, "/usr/libexec/tails-server/ssh-admin-command")
            .find("\nrestrict,command=\"/usr/libexec/tails-server/ssh-admin-command alice\" " + key.line() +
                  " tails-server-admin:alice\n") != std::string::npos);
  for (const auto& value : hostile) {
    CAPTURE(value);
    CHECK_THROWS(authorized_keys_text({{"alice", key}}, value));
    CHECK_THROWS(authorized_keys_text({{value, key}}, "/usr/libexec/tails-server/ssh-admin-command"));
  }
  CHECK_THROWS(authorized_keys_text({{"alice", key}}, "relative/path"));
}

TEST_CASE("the admin list file is read strictly") {
  const std::string line = "alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICz124LXZKQ1y36Hpm+x1kYcm1lb1iLCdSWi+Z+2bOU+\n";
  auto admins = parse_admin_list(line + "\n", "admins");
  REQUIRE(admins.size() == 1);
  CHECK(admins[0].name == "alice");
  CHECK(admin_list_text(admins) == line);
  CHECK_THROWS_WITH(parse_admin_list(line + "Bob ssh-ed25519 AAAA\n", "admins"), doctest::Contains("admins, line 2"));
  CHECK_THROWS(parse_admin_list("alice\n", "admins"));
  CHECK_THROWS(parse_admin_list("alice restrict " + line.substr(6), "admins"));
}

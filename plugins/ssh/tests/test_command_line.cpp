// The forced command's parser: what an SSH admin may ask for.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "command_line.h"

using tails_server_ssh::parse_admin_command;
using tails_server_ssh::split_command_line;
using Words = std::vector<std::string>;

TEST_CASE("a tails-server command line is split into its words") {
  auto line = parse_admin_command("tails-server list");
  REQUIRE(line.ok);
  CHECK(line.words == Words{"tails-server", "list"});
  line = parse_admin_command("  tails-server\tstatus   mumble ");
  REQUIRE(line.ok);
  CHECK(line.words == Words{"tails-server", "status", "mumble"});
  line = parse_admin_command("tails-server set-option nginx site-root /var/www/my_site-2.0");
  REQUIRE(line.ok);
  CHECK(line.words.back() == "/var/www/my_site-2.0");
  line = parse_admin_command("tails-server --json get-option mumble local-port=1,2:3@4%5+6");
  REQUIRE(line.ok);
  CHECK(line.words.back() == "local-port=1,2:3@4%5+6");
}

TEST_CASE("single quotes carry any printable text exactly") {
  auto line = parse_admin_command("tails-server set-option prosody motd 'Hello $USER; `id` | \"all\" & (more) <x> #'");
  REQUIRE(line.ok);
  CHECK(line.words == Words{"tails-server", "set-option", "prosody", "motd", "Hello $USER; `id` | \"all\" & (more) <x> #"});
  line = parse_admin_command("tails-server x 'a b'c'd e' '' 'Ünïcödé ☃'");
  REQUIRE(line.ok);
  CHECK(line.words == Words{"tails-server", "x", "a bcd e", "", "Ünïcödé ☃"});
  CHECK_FALSE(parse_admin_command("tails-server x 'open").ok);
  CHECK_FALSE(parse_admin_command("tails-server x 'line\nbreak'").ok);
  CHECK_FALSE(parse_admin_command("tails-server x 'tab\tinside'").ok);
}

TEST_CASE("anything but the tails-server command is refused") {
  for (const char* refused : {"bash", "sh -c id", "id", "/usr/bin/tails-server list", "tails-serverd",
                              "'tails-server '", "TAILS-SERVER list", "", "   "}) {
    CAPTURE(refused);
    auto line = parse_admin_command(refused);
    CHECK_FALSE(line.ok);
    CHECK(line.error.find("only the tails-server command") != std::string::npos);
  }
}

TEST_CASE("shell metacharacters refuse the whole line") {
  for (const char* refused :
       {"tails-server list; id", "tails-server list && id", "tails-server list | sh", "tails-server list & id",
        "tails-server `id`", "tails-server $(id)", "$(id)", "tails-server list > /etc/passwd",
        "tails-server list < /etc/shadow", "tails-server \"list\"", "tails-server list\nid",
        "tails-server list\rid", "tails-server l\\ist", "tails-server *", "tails-server list?", "tails-server ~",
        "tails-server {a,b}", "tails-server list #", "tails-server !", "tails-server Ünï"}) {
    CAPTURE(refused);
    auto line = parse_admin_command(refused);
    CHECK_FALSE(line.ok);
    CHECK_FALSE(line.error.empty());
  }
  CHECK(parse_admin_command("tails-server list; id").error.find("';'") != std::string::npos);
  CHECK(parse_admin_command("tails-server list\nid").error.find("line break") != std::string::npos);
}

TEST_CASE("a very long command line is refused") {
  std::string line = "tails-server " + std::string(tails_server_ssh::command_line_max_length, 'a');
  CHECK_FALSE(split_command_line(line).ok);
  CHECK(split_command_line(std::string(100, 'a')).ok);
}

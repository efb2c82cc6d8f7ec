// Tests of the Mumble plugin: the ini escaper, and the plugin's configuration
// run through the real core and a real murmurd, checked with a protocol probe.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "service_process.h"
#include "plugin_root.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <tails_server/escape.h>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>

namespace fs = std::filesystem;
using namespace tails_server;
using namespace std::chrono_literals;
using tails_server::escape::qsettings_ini;
using tails_server::test::DaemonProcess;
using tails_server::test::probe_value;

namespace {

const std::string probe_script = TAILS_SERVER_SOURCE_DIR "/tests/probes/mumble_probe.py";

std::string owner_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return "(missing)";
  const passwd* pw = ::getpwuid(st.st_uid);
  const group* gr = ::getgrgid(st.st_gid);
  return std::string(pw ? pw->pw_name : "?") + ":" + (gr ? gr->gr_name : "?");
}

unsigned mode_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// Runs the probe with the password on its standard input.
test::ProgramResult probe(std::uint16_t port, const std::string& user, const std::string& password) {
  return test::run_program({TAILS_SERVER_TEST_PYTHON, probe_script, "127.0.0.1", std::to_string(port),
                            user, "-"},
                           password, 30s);
}

std::string field(const ConnectionInfo& info, const std::string& label) {
  for (const auto& [key, value] : info.fields)
    if (key == label) return value;
  return "(no field " + label + ")";
}

// The service manager with the built plugins, on a temporary root.
struct Fixture : plugin_test::PluginRoot {
  Fixture() : PluginRoot("tails-server-mumble") {}
};

}  // namespace

TEST_CASE("qsettings_ini quotes every value and escapes what QSettings would interpret") {
  CHECK(qsettings_ini("") == R"~("")~");
  CHECK(qsettings_ini("plain") == R"~("plain")~");
  // An unquoted ',' makes a list (the value becomes ""): quoting keeps it.
  CHECK(qsettings_ini("a,b") == R"~("a,b")~");
  // An unquoted ';' starts a comment.
  CHECK(qsettings_ini("pa;ss") == R"~("pa;ss")~");
  CHECK(qsettings_ini("say \"hi\"") == R"~("say \"hi\"")~");
  CHECK(qsettings_ini("back\\slash") == R"~("back\\slash")~");
  CHECK(qsettings_ini("line1\nline2") == R"~("line1\nline2")~");
  CHECK(qsettings_ini("cr\rhere") == R"~("cr\rhere")~");
  CHECK(qsettings_ini("tab\there") == R"~("tab\there")~");
  // A leading '@' is read as a QVariant type even inside quotes: doubled.
  CHECK(qsettings_ini("@ByteArray(x)") == R"~("@@ByteArray(x)")~");
  CHECK(qsettings_ini("@") == R"~("@@")~");
  CHECK(qsettings_ini("a@b") == R"~("a@b")~");
  // Quoting keeps leading and trailing spaces.
  CHECK(qsettings_ini(" spaced ") == R"~(" spaced ")~");
  CHECK(qsettings_ini("a # hash") == R"~("a # hash")~");
  CHECK(qsettings_ini("Ünïcödé ☃") == "\"Ünïcödé ☃\"");
  CHECK(qsettings_ini("@Invalid(x),p;w\"d\\") == R"~("@@Invalid(x),p;w\"d\\")~");
  CHECK_THROWS_AS(qsettings_ini(std::string("a\x01" "b")), escape::EscapeError);
  CHECK_THROWS_AS(qsettings_ini(std::string("a\x7f")), escape::EscapeError);
  CHECK_THROWS_AS(qsettings_ini(std::string("nul\0byte", 8)), escape::EscapeError);
}

TEST_CASE("mumble: allow-lan makes murmurd bind every IPv4 and every IPv6 address") {
  REQUIRE_MESSAGE(::geteuid() == 0, "configure() chowns files to mumble-server");
  Fixture f;
  auto& tmp = f.tmp;
  auto& manager = f.manager;
  manager.set_option("mumble", "allow-lan", "true");
  manager.configure("mumble");
  auto read = [&] {
    std::ifstream in(tmp / "etc/mumble-server.ini");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  // murmurd splits `host` at white space (quoted, so no QSettings list).
  CHECK(read().find("host=\"0.0.0.0 ::\"\n") != std::string::npos);
  manager.set_option("mumble", "allow-lan", "false");
  manager.configure("mumble");
  CHECK(read().find("host=\"127.0.0.1\"\n") != std::string::npos);
}

TEST_CASE("murmurd configured by the mumble plugin accepts exactly the hostile password") {
  REQUIRE_MESSAGE(::geteuid() == 0, "this test starts murmurd as root (it drops to mumble-server)");
  REQUIRE_MESSAGE(fs::exists("/usr/sbin/murmurd"), "package mumble-server is not installed");

  Fixture f;
  auto& tmp = f.tmp;
  auto& manager = f.manager;

  const std::string password = "@Invalid(x),p;w\"d\\";
  const std::string welcome = "@Welcome, \"friends\"; <b>be kind</b>\nsecond line \\ with Ünïcödé ☃ ";
  const std::uint16_t port = test::free_port();

  REQUIRE(manager.set_option("mumble", "server-password", password) == password);
  REQUIRE(manager.set_option("mumble", "welcome-message", welcome) == welcome);
  REQUIRE(manager.set_option("mumble", "max-users", "7") == "7");
  REQUIRE(manager.set_option("mumble", "local-port", std::to_string(port)) == std::to_string(port));
  CHECK(manager.get_option("mumble", "tls-fingerprint") == "(no certificate yet)");

  manager.configure("mumble");

  const fs::path ini = tmp / "etc/mumble-server.ini";
  const fs::path key = tmp / "var/lib/mumble-server/tails-server/server.key";
  const fs::path cert = tmp / "var/lib/mumble-server/tails-server/server.crt";
  CHECK(owner_of(ini) == "root:mumble-server");
  CHECK(mode_of(ini) == 0640);
  CHECK(owner_of(key) == "mumble-server:mumble-server");
  CHECK(mode_of(key) == 0600);
  CHECK(owner_of(tmp / "var/lib/mumble-server") == "mumble-server:mumble-server");

  std::ifstream in(ini);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("serverpassword=\"@@Invalid(x),p;w\\\"d\\\\\"\n") != std::string::npos);
  CHECK(text.find("host=\"127.0.0.1\"\n") != std::string::npos);
  CHECK(text.find("sslCert=\"" + cert.string() + "\"\n") != std::string::npos);
  CHECK(text.find("sslKey=\"" + key.string() + "\"\n") != std::string::npos);
  CHECK(text.find("bonjour=\"false\"\n") != std::string::npos);
  CHECK(text.find("database=\"" + (tmp / "var/lib/mumble-server/mumble-server.sqlite").string()) !=
        std::string::npos);

  // The native unit that replaces the LSB script's generated one.
  const fs::path unit = tmp / "etc/systemd/system/mumble-server.service";
  CHECK(owner_of(unit) == "root:root");
  CHECK(mode_of(unit) == 0644);
  std::ifstream unit_in(unit);
  std::string unit_text((std::istreambuf_iterator<char>(unit_in)), std::istreambuf_iterator<char>());
  CHECK(unit_text.find("\nType=simple\n") != std::string::npos);
  CHECK(unit_text.find("\nExecStart=/usr/sbin/murmurd -fg -ini " + ini.string() + "\n") != std::string::npos);
  CHECK(unit_text.find("\nUser=mumble-server\nGroup=mumble-server\n") != std::string::npos);
  CHECK(unit_text.find("\nRestart=on-failure\n") != std::string::npos);
  CHECK(unit_text.find("\nReadWritePaths=" + (tmp / "var/lib/mumble-server").string() + " " +
                       (tmp / "var/log/mumble-server").string() + "\n") != std::string::npos);
  CHECK(unit_text.find("\nRemainAfterExit=") == std::string::npos);

  const std::string fingerprint = manager.get_option("mumble", "tls-fingerprint");
  CHECK(std::regex_match(fingerprint, std::regex("([0-9A-F]{2}:){31}[0-9A-F]{2}")));
  // Configuring again keeps the certificate (clients pinned it).
  manager.configure("mumble");
  CHECK(manager.get_option("mumble", "tls-fingerprint") == fingerprint);

  ConnectionInfo info = manager.connection_info("mumble");
  CHECK(field(info, "password") == password);
  CHECK(field(info, "tls-fingerprint") == fingerprint);
  CHECK(field(info, "port") == "64738");
  CHECK(info.instructions.find("Force TCP mode") != std::string::npos);
  CHECK(info.instructions.find("SOCKS5") != std::string::npos);
  CHECK(info.instructions.find("9050") != std::string::npos);

  DaemonProcess murmurd({"/usr/sbin/murmurd", "-fg", "-ini", ini.string()}, tmp / "murmurd.log");
  bool listening = test::wait_for_port(port, murmurd, 60s);
  INFO("murmurd output:\n" << murmurd.log());
  REQUIRE_MESSAGE(listening, "murmurd did not listen on port " << port);
  CHECK(test::listening_addresses(port) == std::set<std::string>{"127.0.0.1"});

  SUBCASE("the right password is accepted and the welcome text arrives byte for byte") {
    auto result = probe(port, "alice", password);
    INFO("probe output:\n" << result.output);
    CHECK(result.exit_code == 0);
    CHECK(probe_value(result.output, "OK") == "authenticated");
    auto hex = probe_value(result.output, "welcome_text_hex");
    REQUIRE(hex.has_value());
    CHECK(test::from_hex(*hex) == welcome);
    CHECK(probe_value(result.output, "fingerprint") == fingerprint);
    CHECK(probe_value(result.output, "max_users") == "7");
    // sendversion=false: the host's OS is not told to clients.
    CHECK(probe_value(result.output, "server_os") == "(none)");
  }

  SUBCASE("wrong passwords are rejected, even after many attempts from one address") {
    // Over an onion service every client comes from 127.0.0.1; murmurd's
    // autoban (10 connections in 120 s by default) must not lock people out.
    const std::vector<std::string> wrong = {
        "wrong", "@Invalid(x)", "", "@@Invalid(x),p;w\"d\\", "@Invalid(x),p;w\"d", "Invalid(x),p;w\"d\\",
        "@Invalid(x),p", "\"@Invalid(x),p;w\\\"d\\\\\"", "wrong again", "and again", "one more"};
    for (const auto& attempt : wrong) {
      CAPTURE(attempt);
      auto result = probe(port, "mallory", attempt);
      INFO("probe output:\n" << result.output);
      CHECK(result.exit_code == 2);
      CHECK(probe_value(result.output, "reject_reason") == "Invalid server password");
    }
    auto result = probe(port, "alice", password);
    INFO("probe output:\n" << result.output);
    CHECK(result.exit_code == 0);
    CHECK(probe_value(result.output, "OK") == "authenticated");
  }

  murmurd.stop();
  std::string log = murmurd.log();
  CHECK(log.find("invalid format") == std::string::npos);
  CHECK(log.find("Binding to address 127.0.0.1") != std::string::npos);
  CHECK(log.find("Announcing server via bonjour") == std::string::npos);
  // configure() created the database with a SuperUser password of its own, so murmurd's first
  // start made up none and logged none ("Password for 'SuperUser' set to '...'").
  CHECK(log.find("Password for 'SuperUser'") == std::string::npos);
  CHECK(log.find("Generating new tables") == std::string::npos);
}

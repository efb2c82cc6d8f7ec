// Tests of the Gobby plugin: the GKeyFile escaper, and the plugin's
// configuration run through the real core and a real infinoted, checked with
// an infinote protocol probe (STARTTLS + SASL PLAIN).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "service_process.h"
#include "temp_dir.h"

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
using tails_server::escape::gkeyfile_string;
using tails_server::test::DaemonProcess;
using tails_server::test::probe_value;

namespace {

const std::string probe_script = TAILS_SERVER_SOURCE_DIR "/tests/probes/infinote_probe.py";
// The plugin's service user, which configure() creates (see gobby_service.cpp).
constexpr const char* service_user = "tails-server-infinoted";
constexpr const char* service_group = "tails-server-infinoted";

// configure() creates the service user on this machine if it is missing:
// this removes it again at the end of the test if the test made it.
struct ServiceUserCleanup {
  bool existed = ::getpwnam(service_user) != nullptr;
  ServiceUserCleanup() = default;
  ServiceUserCleanup(const ServiceUserCleanup&) = delete;
  ServiceUserCleanup& operator=(const ServiceUserCleanup&) = delete;
  ~ServiceUserCleanup() {
    if (!existed && ::getpwnam(service_user)) test::run_program({"userdel", service_user}, "", 30s);
  }
};

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

}  // namespace

TEST_CASE("gkeyfile_string escapes what GKeyFile would interpret and nothing else") {
  CHECK(gkeyfile_string("") == "");
  CHECK(gkeyfile_string("plain") == "plain");
  // In a plain string key ',' ';' '#' '=' and '"' are literal.
  CHECK(gkeyfile_string("a,b") == "a,b");
  CHECK(gkeyfile_string("a;b") == "a;b");
  CHECK(gkeyfile_string("#not a comment") == "#not a comment");
  CHECK(gkeyfile_string("x=y") == "x=y");
  CHECK(gkeyfile_string("say \"hi\"") == "say \"hi\"");
  CHECK(gkeyfile_string("@at") == "@at");
  CHECK(gkeyfile_string("back\\slash") == "back\\\\slash");
  CHECK(gkeyfile_string("line1\nline2") == "line1\\nline2");
  CHECK(gkeyfile_string("cr\rhere") == "cr\\rhere");
  CHECK(gkeyfile_string("tab\there") == "tab\\there");
  // GKeyFile strips blanks after '=': a leading space is written \s.
  CHECK(gkeyfile_string(" lead") == "\\slead");
  CHECK(gkeyfile_string("  two") == "\\s two");
  CHECK(gkeyfile_string("inner space ") == "inner space ");
  CHECK(gkeyfile_string("\ttab first") == "\\ttab first");
  CHECK(gkeyfile_string("Ünïcödé ☃") == "Ünïcödé ☃");
  CHECK(gkeyfile_string(" p#w;d\\x=y\"q\" Ünï ") == "\\sp#w;d\\\\x=y\"q\" Ünï ");
  CHECK_THROWS_AS(gkeyfile_string(std::string("a\x01" "b")), escape::EscapeError);
  CHECK_THROWS_AS(gkeyfile_string(std::string("a\x7f")), escape::EscapeError);
  CHECK_THROWS_AS(gkeyfile_string(std::string("nul\0byte", 8)), escape::EscapeError);
  // A list item escapes the list separator ';'.
  CHECK(gkeyfile_string("note;text", true) == "note\\;text");
  CHECK(gkeyfile_string(" lead", true) == "\\slead");
}

TEST_CASE("gkeyfile_string list items escape only the list separator") {
  // Checked with GLib 2.74 (g_key_file_get_string_list): with the default
  // separator ';', "a\,b" makes the whole key unreadable ("Key file contains
  // key ... which has a value that cannot be interpreted"), while "a,b" reads
  // as the item "a,b". Only ';' may be escaped in a list item.
  CHECK(gkeyfile_string("a,b", true) == "a,b");
}

TEST_CASE("infinoted configured by the gobby plugin accepts exactly the hostile password") {
  REQUIRE_MESSAGE(::geteuid() == 0, "this test starts infinoted with setpriv as the service user");
  REQUIRE_MESSAGE(fs::exists("/usr/bin/infinoted"), "package infinoted is not installed");

  ServiceUserCleanup user_cleanup;
  test::TempDir tmp("tails-server-gobby");
  fs::create_directory(tmp / "etc");  // exists on every real system
  core::SystemHost host(tmp.path());
  core::DaemonConfig config;
  config.plugin_dirs = {TAILS_SERVER_PLUGIN_OUTPUT_DIR};
  config.root = tmp.path();
  config.state_dir = tmp / "state";
  core::ServiceManager manager(config, host);

  // Leading and trailing space, backslash, ';' '#' '=' '"' and UTF-8.
  const std::string password = " le\\ad;#=\"q\" Ünïcödé ☃ ";
  const std::uint16_t port = test::free_port();

  REQUIRE(manager.set_option("gobby", "password", password) == password);
  REQUIRE(manager.set_option("gobby", "autosave-interval", "5") == "5");
  REQUIRE(manager.set_option("gobby", "local-port", std::to_string(port)) == std::to_string(port));
  CHECK_THROWS(manager.set_option("gobby", "password", "tab\there"));
  CHECK_THROWS(manager.set_option("gobby", "autosave-interval", "0"));

  manager.configure("gobby");

  // The service user exists now (useradd --system), with its data directory as home.
  const passwd* account = ::getpwnam(service_user);
  REQUIRE(account != nullptr);
  CHECK(std::string(account->pw_dir) == "/var/lib/tails-server-infinoted");
  CHECK(std::string(account->pw_shell) == "/usr/sbin/nologin");
  CHECK(account->pw_uid < 1000);
  REQUIRE(::getgrnam(service_group) != nullptr);

  const fs::path conf = tmp / "etc/tails-server/infinoted.conf";
  const fs::path key = tmp / "var/lib/tails-server-infinoted/tls/infinoted.key";
  const fs::path cert = tmp / "var/lib/tails-server-infinoted/tls/infinoted.crt";
  const std::string user = std::string(service_user) + ":" + service_group;
  CHECK(owner_of(conf) == user);
  CHECK(mode_of(conf) == 0600);
  CHECK(owner_of(key) == user);
  CHECK(mode_of(key) == 0600);
  CHECK(owner_of(tmp / "var/lib/tails-server-infinoted/documents") == user);
  CHECK(mode_of(tmp / "etc/tails-server") == 0755);

  std::ifstream in(conf);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("password=\\sle\\\\ad;#=\"q\" Ünïcödé ☃ \n") != std::string::npos);
  CHECK(text.find("security-policy=require-tls\n") != std::string::npos);
  CHECK(text.find("listen-address=127.0.0.1\n") != std::string::npos);
  {
    // infinoted takes one address; "::" binds it dual-stack.
    manager.set_option("gobby", "allow-lan", "true");
    manager.configure("gobby");
    std::ifstream lan_in(conf);
    std::string lan((std::istreambuf_iterator<char>(lan_in)), std::istreambuf_iterator<char>());
    CHECK(lan.find("listen-address=::\n") != std::string::npos);
    manager.set_option("gobby", "allow-lan", "false");
    manager.configure("gobby");
  }
  CHECK(text.find("port=" + std::to_string(port) + "\n") != std::string::npos);
  CHECK(text.find("key-file=" + key.string() + "\n") != std::string::npos);
  CHECK(text.find("plugins=note-text;autosave\n") != std::string::npos);
  CHECK(text.find("[autosave]\ninterval=5\n") != std::string::npos);

  // The unit: the config file by path (the password never in argv), as the service user.
  const fs::path unit = tmp / "etc/systemd/system/tails-server-infinoted.service";
  CHECK(owner_of(unit) == "root:root");
  CHECK(mode_of(unit) == 0644);
  std::ifstream unit_in(unit);
  std::string unit_text((std::istreambuf_iterator<char>(unit_in)), std::istreambuf_iterator<char>());
  CHECK(unit_text.find("\nExecStart=/usr/bin/infinoted --config-file=" + conf.string() + "\n") != std::string::npos);
  CHECK(unit_text.find("\nUser=tails-server-infinoted\n") != std::string::npos);
  CHECK(unit_text.find("\nGroup=tails-server-infinoted\n") != std::string::npos);
  CHECK(unit_text.find("\nEnvironment=HOME=" + (tmp / "var/lib/tails-server-infinoted").string() + "\n") !=
        std::string::npos);
  CHECK(unit_text.find("\nRestart=on-failure\n") != std::string::npos);
  CHECK(unit_text.find("\nProtectSystem=strict\n") != std::string::npos);
  CHECK(unit_text.find("\nNoNewPrivileges=yes\n") != std::string::npos);
  // uname(2) refused, so that infinoted's stream header says from="localhost", not the host name.
  CHECK(unit_text.find("\nSystemCallFilter=~uname\nSystemCallErrorNumber=EPERM\n") != std::string::npos);
  CHECK(unit_text.find("password") == std::string::npos);

  ConnectionInfo info = manager.connection_info("gobby");
  const std::string fingerprint = field(info, "tls-fingerprint");
  CHECK(std::regex_match(fingerprint, std::regex("([0-9A-F]{2}:){31}[0-9A-F]{2}")));
  CHECK(field(info, "password") == password);
  CHECK(field(info, "port") == "6523");
  CHECK(info.instructions.find("torsocks gobby") != std::string::npos);
  // Configuring again keeps the certificate.
  manager.configure("gobby");
  CHECK(field(manager.connection_info("gobby"), "tls-fingerprint") == fingerprint);

  // infinoted caches DH parameters in $HOME/.infinoted: a writable HOME.
  const fs::path home = tmp / "home";
  fs::create_directory(home);
  REQUIRE(::chown(home.c_str(), ::getpwnam(service_user)->pw_uid, ::getgrnam(service_group)->gr_gid) == 0);

  DaemonProcess infinoted({"setpriv", std::string("--reuid=") + service_user,
                           std::string("--regid=") + service_group, "--clear-groups", "env",
                           "HOME=" + home.string(), "/usr/bin/infinoted",
                           "--config-file=" + conf.string()},
                          tmp / "infinoted.log");
  // The first start generates DH parameters: allow a minute.
  bool listening = test::wait_for_port(port, infinoted, 60s);
  INFO("infinoted output:\n" << infinoted.log());
  REQUIRE_MESSAGE(listening, "infinoted did not listen on port " << port);
  CHECK(test::listening_addresses(port) == std::set<std::string>{"127.0.0.1"});

  {
    auto result = probe(port, "alice", password);
    INFO("probe output:\n" << result.output);
    CHECK(result.exit_code == 0);
    CHECK(probe_value(result.output, "OK") == "authenticated");
    CHECK(probe_value(result.output, "fingerprint") == fingerprint);
  }

  const std::vector<std::string> wrong = {
      "wrong",
      "le\\ad;#=\"q\" Ünïcödé ☃ ",       // leading space lost (no \s)
      " le\\ad;#=\"q\" Ünïcödé ☃",       // trailing space lost
      " le\\\\ad;#=\"q\" Ünïcödé ☃ ",    // backslash not unescaped
      "\\sle\\\\ad;#=\"q\" Ünïcödé ☃ ",  // the escaped text itself
      " le\\ad",                         // cut at ';'
      " le\\ad;",                        // cut at '#'
  };
  for (const auto& attempt : wrong) {
    CAPTURE(attempt);
    auto result = probe(port, "mallory", attempt);
    INFO("probe output:\n" << result.output);
    CHECK(result.exit_code == 2);
    CHECK(probe_value(result.output, "failure").value_or("").rfind("not-authorized", 0) == 0);
  }

  infinoted.stop();
  std::string log = infinoted.log();
  CHECK(log.find("User alice logged in") != std::string::npos);
  CHECK(log.find("Loaded plugin \"autosave\"") != std::string::npos);
}

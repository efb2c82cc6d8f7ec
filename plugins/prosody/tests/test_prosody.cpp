// Tests of the prosody plugin with the real core, prosodyctl, prosody, lua5.4
// and an XMPP client probe. Run as root (prosody runs as the prosody user).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "daemon_process.h"
#include "plugin_root.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "plugins/plugin_loader.h"
#include "services/service_manager.h"

#include <tails_server/escape.h>

#include <algorithm>
#include <map>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::core::ErrorCode;
using tails_server::core::ServiceError;
using tails_server::core::SystemHost;
using tails_server::test::TempDir;
namespace escape = tails_server::escape;

namespace {

const std::string probe_script = std::string(TAILS_SERVER_SOURCE_DIR) + "/tests/probes/xmpp_probe.py";

// Evaluates a prosody config in a sandbox: every global it reads is an inert
// stub (so VirtualHost "x", Component "y" "muc", Include and any injected
// os.execute/io.open do nothing), and every assignment is recorded. Prints
// the value of the global `arg[2]`, which must be assigned exactly once.
const char* sandbox_lua = R"LUA(
local file, wanted = arg[1], arg[2]
local f = assert(io.open(file, "rb"))
local source = f:read("a")
f:close()
local stub
stub = setmetatable({}, {
  __call = function() return stub end,
  __index = function() return stub end,
  __concat = function() return "" end,
})
local assigned, count = {}, {}
local env = setmetatable({}, {
  __index = function() return stub end,
  __newindex = function(_, key, value)
    count[key] = (count[key] or 0) + 1
    assigned[key] = value
  end,
})
local chunk = assert(load(source, "=config", "t", env))
chunk()
if count[wanted] ~= 1 or type(assigned[wanted]) ~= "string" then
  io.stderr:write(wanted .. " assigned " .. tostring(count[wanted]) .. " times, type " ..
                  type(assigned[wanted]) .. "\n")
  os.exit(1)
end
io.write(assigned[wanted])
)LUA";

struct Fixture : plugin_test::PluginRoot {
  Fixture() : PluginRoot("tails-server-prosody") {}

  fs::path config_file() const { return tmp / "etc/prosody/prosody.cfg.lua"; }

  // The XMPP domain the plugin uses: the onion address, or localhost.
  std::string domain() const {
    for (const auto& [key, value] : manager.connection_info("prosody").fields)
      if (key == "address" && value.find(".onion") != std::string::npos) return value;
    return "localhost";
  }

  RunResult run(const std::vector<std::string>& argv, const std::string& input = {}) {
    RunOptions options;
    options.input = input;
    options.timeout = std::chrono::seconds(60);
    return host.run(argv, options);
  }

  // Runs the probe as alice; returns its exit status and output.
  RunResult probe(std::uint16_t port, const std::string& user, const std::string& password) {
    return run({"python3", probe_script, "127.0.0.1", std::to_string(port), domain(), user, "-"},
               password + "\n");
  }
};

std::string dump(const fs::path& file) {
  return "--- " + file.string() + ":\n" + plugin_test::read_file(file);
}

}  // namespace

TEST_CASE("lua_string escapes quotes and backslashes and control characters exactly") {
  CHECK(escape::lua_string("") == "\"\"");
  CHECK(escape::lua_string("plain text") == "\"plain text\"");
  CHECK(escape::lua_string("say \"hi\"") == R"("say \"hi\"")");
  CHECK(escape::lua_string(R"(C:\dir)") == R"("C:\\dir")");
  CHECK(escape::lua_string("a\nb") == R"("a\nb")");
  CHECK(escape::lua_string("a\rb") == R"("a\rb")");
  CHECK(escape::lua_string(std::string("a\0b", 3)) == R"("a\000b")");
  // Always three digits, so that a following digit is not read into it.
  CHECK(escape::lua_string("\x01" "2") == R"("\0012")");
  CHECK(escape::lua_string("\t") == R"("\009")");
  CHECK(escape::lua_string("\x1f\x7f") == R"("\031\127")");
  CHECK(escape::lua_string("]] [[ ]=] '") == "\"]] [[ ]=] '\"");
  CHECK(escape::lua_string("\xc3\xa9\xe2\x98\x83") == "\"\xc3\xa9\xe2\x98\x83\"");  // é☃ unchanged
}

TEST_CASE("lua_string: lua5.4 reads back every byte exactly") {
  TempDir tmp("tails-server-lua-escape");
  SystemHost host;  // real root: only runs lua5.4 on a file in tmp
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  all += "\\\"\n\r\\n\"\"]]" "\x01" "23";
  const fs::path script = tmp / "roundtrip.lua";
  plugin_test::write_file(script, "io.write(" + escape::lua_string(all) + ")\n");
  RunResult result = host.run({"lua5.4", script.string()}, RunOptions{});
  REQUIRE(result.exit_code == 0);
  CHECK(result.output == all);
}

TEST_CASE("prosody: the plugin declares its unit and packages and ports and checks the motd") {
  Fixture f;
  auto names = f.manager.service_names();
  REQUIRE(std::find(names.begin(), names.end(), "prosody") != names.end());
  auto info = f.manager.info("prosody");
  CHECK(info.systemd_service == "prosody.service");
  CHECK(info.local_port == 5222);
  CHECK(info.virtual_port == 5222);
  CHECK(std::find(info.packages.begin(), info.packages.end(), "prosody-modules") != info.packages.end());
  CHECK(info.persistent_paths == std::vector<std::string>{"/var/lib/prosody"});
  CHECK(f.manager.get_option("prosody", "s2s-port") == "5269");
  // motd: up to 2000 bytes, newlines allowed, other control characters not.
  CHECK(f.manager.set_option("prosody", "motd", "a\nb") == "a\nb");
  CHECK_THROWS_AS(f.manager.set_option("prosody", "motd", std::string(2001, 'x')), ServiceError);
  CHECK_THROWS_AS(f.manager.set_option("prosody", "motd", "a\rb"), ServiceError);
  CHECK_THROWS_AS(f.manager.set_option("prosody", "motd", std::string("a\0b", 3)), ServiceError);
}

TEST_CASE("prosody: add-account refuses bad names and passwords with a clear error") {
  Fixture f;
  for (const std::string& bad : std::vector<std::string>{"a b", "x@y", "Alice", "", "al/ice", "al\"ice",
                                                         std::string(65, 'a'), "-h", "--help", ".x"}) {
    CAPTURE(bad);
    try {
      f.manager.run_command("prosody", "add-account", {bad}, "good password");
      FAIL("accepted the account name");
    } catch (const ServiceError& error) {
      CHECK(error.code() == ErrorCode::InvalidValue);
      CHECK(std::string(error.what()).find("invalid account name") != std::string::npos);
      CHECK(std::string(error.what()).find("lower-case letters") != std::string::npos);
    }
  }
  for (const std::string& bad : {std::string("two\nlines"), std::string("tab\there"), std::string(1024, 'p')}) {
    try {
      f.manager.run_command("prosody", "add-account", {"alice"}, bad);
      FAIL("accepted the password");
    } catch (const ServiceError& error) {
      CHECK(error.code() == ErrorCode::InvalidValue);
      CHECK(std::string(error.what()).find("password") != std::string::npos);
      // The password itself is never echoed.
      CHECK(std::string(error.what()).find(bad) == std::string::npos);
    }
  }
  // Nothing was run: no config was written.
  CHECK_FALSE(fs::exists(f.config_file()));
}

TEST_CASE("prosody: a hostile MOTD stays a string and clients log in and get it") {
  Fixture f;
  const std::string t = f.tmp.path().string();
  // Each line tries another way out of a Lua string: closing the quote,
  // a long bracket, a backslash before the quote, a comment.
  const std::string motd =
      "Welcome \"friends\" to the 'Tails' chat \\ ]] [[ ]=] \\065 \\n literal\n"
      "\"] ..os.execute(\"touch " + t + "/PWNED\").. [[\"\n"
      "\"); io.open(\"" + t + "/PWNED2\",\"w\") --\n"
      "\\\" .. os.execute('touch " + t + "/PWNED3') .. \\\"\n"
      "<b>&amp; not markup</b> ${x} %1 \xc3\xbc" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 \xe2\x98\x83 end";
  const std::uint16_t c2s = plugin_test::free_port();
  std::uint16_t s2s = plugin_test::free_port();
  while (s2s == c2s) s2s = plugin_test::free_port();
  REQUIRE(f.manager.set_option("prosody", "motd", motd) == motd);
  f.manager.set_option("prosody", "local-port", std::to_string(c2s));
  f.manager.set_option("prosody", "s2s-port", std::to_string(s2s));

  const fs::path cfg = f.config_file();
  bool configured = false;
  try {
    f.manager.configure("prosody");  // also runs prosodyctl check config, as root
    configured = true;
  } catch (const ServiceError& error) {
    if (fs::exists(cfg)) MESSAGE(dump(cfg));
    FAIL_CHECK(std::string(error.what()));
  }
  // Whatever happened, the config's Lua must not have run injected code.
  CHECK_FALSE(fs::exists(f.tmp / "PWNED"));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED2"));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED3"));
  REQUIRE(configured);
  REQUIRE(fs::exists(cfg));
  INFO(dump(cfg));

  auto cfg_info = plugin_test::file_info(cfg);
  CHECK(cfg_info.mode == 0640);
  CHECK(cfg_info.owner == "root");
  CHECK(cfg_info.group == "prosody");
  const std::string domain = f.domain();
  const fs::path key = f.tmp / ("etc/prosody/certs/" + domain + ".key");
  const fs::path crt = f.tmp / ("etc/prosody/certs/" + domain + ".crt");
  REQUIRE(fs::exists(key));
  REQUIRE(fs::exists(crt));
  auto key_info = plugin_test::file_info(key);
  CHECK(key_info.mode == 0640);
  CHECK(key_info.owner == "root");
  CHECK(key_info.group == "prosody");

  // The config as prosodyctl (root) reads it: valid, and nothing ran.
  RunResult check = f.run({"prosodyctl", "--config", cfg.string(), "check", "config"});
  INFO(check.output);
  CHECK(check.exit_code == 0);
  CHECK(check.output.find("All checks passed") != std::string::npos);
  CHECK_FALSE(fs::exists(f.tmp / "PWNED"));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED2"));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED3"));

  // The value means exactly what was given, byte for byte.
  const fs::path sandbox = f.tmp / "sandbox.lua";
  plugin_test::write_file(sandbox, sandbox_lua);
  RunResult evaluated = f.run({"lua5.4", sandbox.string(), cfg.string(), "motd_text"});
  CHECK(evaluated.exit_code == 0);
  CHECK(evaluated.output == motd);
  evaluated = f.run({"lua5.4", sandbox.string(), cfg.string(), "data_path"});
  CHECK(evaluated.output == (f.tmp / "var/lib/prosody").string());

  // The certificate names the domain.
  RunResult subject = f.run({"openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName", "-in", crt.string()});
  CHECK(subject.output.find("CN = " + domain) != std::string::npos);
  CHECK(subject.output.find("DNS:" + domain) != std::string::npos);

  // The real server, as the prosody user, on the test ports.
  plugin_test::Daemon prosody({"prosody", "-F", "--config", cfg.string()}, f.tmp / "prosody.out", "prosody");
  const fs::path err_log = f.tmp / "var/log/prosody/prosody.err";
  INFO(dump(f.tmp / "prosody.out"));
  INFO(dump(err_log));
  REQUIRE(plugin_test::wait_for_port(prosody, c2s));
  REQUIRE(plugin_test::wait_for_port(prosody, s2s));
  // Only on 127.0.0.1 (listen_addresses), not on the rest of loopback.
  CHECK_FALSE(plugin_test::port_accepts("127.0.0.2", c2s));
  CHECK_FALSE(plugin_test::port_accepts("127.0.0.2", s2s));
  CHECK(plugin_test::wait_for_file(f.tmp / "run/prosody/prosody.pid"));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED"));

  const std::string password = " p@ss \"w0rd\" \\ back\\slash 'q' $x; --]] {}: ";
  const std::string created = f.manager.run_command("prosody", "add-account", {"alice"}, password);
  CHECK(created.find("alice@" + domain) != std::string::npos);
  CHECK(created.find(password) == std::string::npos);

  RunResult login = f.probe(c2s, "alice", password);
  CHECK(login.exit_code == 0);
  CHECK(login.output == motd);

  RunResult wrong = f.probe(c2s, "alice", password + "x");
  CHECK(wrong.exit_code == 2);
  RunResult nobody = f.probe(c2s, "bob", password);
  CHECK(nobody.exit_code == 2);

  // An existing account is refused, clearly; set-password changes it.
  try {
    f.manager.run_command("prosody", "add-account", {"alice"}, "another password");
    FAIL("add-account accepted an existing account");
  } catch (const ServiceError& error) {
    CHECK(std::string(error.what()).find("already exists") != std::string::npos);
  }
  CHECK(f.probe(c2s, "alice", password).exit_code == 0);
  f.manager.run_command("prosody", "set-password", {"alice"}, "new \"secret\"");
  CHECK(f.probe(c2s, "alice", "new \"secret\"").exit_code == 0);
  CHECK(f.probe(c2s, "alice", password).exit_code == 2);
  CHECK_THROWS_AS(f.manager.run_command("prosody", "set-password", {"bob"}, "pw"), ServiceError);

  f.manager.run_command("prosody", "remove-account", {"alice"}, "");
  CHECK(f.probe(c2s, "alice", "new \"secret\"").exit_code == 2);
  CHECK_THROWS_AS(f.manager.run_command("prosody", "remove-account", {"alice"}, ""), ServiceError);

  // mod_onions (prosody-modules) loads on the host when it is installed.
  if (fs::exists("/usr/lib/prosody/modules/mod_onions/mod_onions.lua"))
    CHECK(plugin_test::read_file(err_log).find("Unable to load module") == std::string::npos);
  else
    MESSAGE("prosody-modules is not installed: mod_onions not checked");

  CHECK(prosody.running());
  prosody.stop();
  CHECK_FALSE(plugin_test::port_accepts("127.0.0.1", c2s));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED"));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED2"));
  CHECK_FALSE(fs::exists(f.tmp / "PWNED3"));
}

TEST_CASE("prosody: connection info gives the port and the account form and the Tor proxy") {
  Fixture f;
  f.manager.set_option("prosody", "s2s-port", "47001");
  auto info = f.manager.connection_info("prosody");
  bool has_port = false, has_account = false;
  for (const auto& [key, value] : info.fields) {
    if (key == "port") has_port = value == "5222";
    if (key == "account") has_account = value.rfind("NAME@", 0) == 0;
  }
  CHECK(has_port);
  CHECK(has_account);
  CHECK(info.instructions.find("SOCKS5") != std::string::npos);
  CHECK(info.instructions.find("9050") != std::string::npos);
}

namespace {

// A ServiceContext with an onion address, for what the core's own context
// cannot show yet (it has no onion keys in tests).
class OnionContext : public tails_server::ServiceContext {
 public:
  OnionContext(tails_server::Host& host, std::map<std::string, std::string> options)
      : host_(host), options_(std::move(options)) {}
  tails_server::Host& host() const override { return host_; }
  std::string option(std::string_view name) const override {
    auto found = options_.find(std::string(name));
    if (found == options_.end()) throw tails_server::OptionError("no option " + std::string(name));
    return found->second;
  }
  std::string onion_address() const override { return onion; }
  void set(const std::string& name, const std::string& value) { options_[name] = value; }
  std::vector<std::string> listen_addresses() const override { return {"127.0.0.1"}; }

  std::string onion = "tailstestonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxd.onion";

 private:
  tails_server::Host& host_;
  std::map<std::string, std::string> options_;
};

}  // namespace

TEST_CASE("prosody: with an onion address the domain and the onion ports and the connection info follow it") {
  TempDir tmp("tails-server-prosody-onion");
  SystemHost host(tmp.path());
  tails_server::core::PluginLoader loader;
  std::shared_ptr<tails_server::TailsService> service;
  for (const auto& record : loader.load({TAILS_SERVER_PLUGIN_OUTPUT_DIR}))
    if (record.name == "prosody" && record.service) service = record.service;
  REQUIRE(service);

  OnionContext context(host, {{"virtual-port", "5222"}, {"local-port", "47123"}, {"s2s-port", "47124"},
                              {"motd", "hello"}, {"federation", "false"}});
  // Without federation, the s2s port is not on the onion.
  auto ports = service->onion_ports(context);
  REQUIRE(ports.size() == 1);
  CHECK(ports[0].local_port == 47123);
  context.set("federation", "true");
  ports = service->onion_ports(context);
  REQUIRE(ports.size() == 2);
  CHECK(ports[0].virtual_port == 5222);
  CHECK(ports[0].local_port == 47123);
  CHECK(ports[1].virtual_port == 5269);  // mod_tails_onions always dials port 5269 of a remote onion
  CHECK(ports[1].local_port == 47124);

  service->configure(context);
  const std::string cfg = plugin_test::read_file(tmp / "etc/prosody/prosody.cfg.lua");
  INFO(cfg);
  CHECK(cfg.find("VirtualHost \"" + context.onion + "\"\n") != std::string::npos);
  // The rooms component is a subdomain of the onion, under the same certificate.
  CHECK(cfg.find("Component \"rooms." + context.onion + "\" \"muc\"\n") != std::string::npos);
  CHECK(cfg.find("c2s_ports = { 47123 }") != std::string::npos);
  CHECK(cfg.find("s2s_ports = { 47124 }") != std::string::npos);
  CHECK(cfg.find("interfaces = { \"127.0.0.1\"; }") != std::string::npos);
  CHECK(cfg.find("modules_enabled = { \"tails_federation\"; \"tails_onions\"; }") != std::string::npos);
  CHECK(cfg.find("allow_registration = false") != std::string::npos);
  CHECK(cfg.find("Include") == std::string::npos);  // not Debian's conf.d
  const fs::path crt = tmp / ("etc/prosody/certs/" + context.onion + ".crt");
  RunResult subject =
      host.run({"openssl", "x509", "-noout", "-subject", "-ext", "subjectAltName", "-in", crt.string()}, RunOptions{});
  CHECK(subject.output.find("CN = " + context.onion) != std::string::npos);
  CHECK(subject.output.find("DNS:" + context.onion) != std::string::npos);
  CHECK(subject.output.find("DNS:*." + context.onion) != std::string::npos);

  // A second configure keeps the certificate.
  const std::string before = plugin_test::read_file(crt);
  service->configure(context);
  CHECK(plugin_test::read_file(crt) == before);

  auto info = service->connection_info(context);
  std::map<std::string, std::string> fields(info.fields.begin(), info.fields.end());
  CHECK(fields["address"] == context.onion);
  CHECK(fields["port"] == "5222");
  CHECK(fields["account"] == "NAME@" + context.onion);
  CHECK(fields["tls-fingerprint"].size() == 95);  // SHA-256 as 32 hex pairs with colons
  CHECK(info.instructions.find("SOCKS5 proxy at 127.0.0.1, port 9050") != std::string::npos);

  // A malformed onion address never reaches a command line or the config.
  context.onion = "bad\"; os.execute('x').onion";
  CHECK_THROWS_AS(service->configure(context), tails_server::HostError);
}

TEST_CASE("prosody: allow-lan listens on every IPv4 and every IPv6 address") {
  Fixture f;
  f.manager.set_option("prosody", "allow-lan", "true");
  f.manager.configure("prosody");
  const std::string cfg = plugin_test::read_file(f.config_file());
  INFO(cfg);
  CHECK(cfg.find("interfaces = { \"0.0.0.0\"; \"::\"; }\n") != std::string::npos);
  f.manager.set_option("prosody", "allow-lan", "false");
  f.manager.configure("prosody");
  CHECK(plugin_test::read_file(f.config_file()).find("interfaces = { \"127.0.0.1\"; }\n") != std::string::npos);
}

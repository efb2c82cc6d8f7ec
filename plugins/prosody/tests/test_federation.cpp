// Federation of the prosody plugin with the real core, prosodyctl, prosody
// and the XMPP probe: off by default, refusals with a reason, the daemon's
// SOCKS port, the rooms component, and peers' client keys (add-peer).
// Run as root (prosody runs as the prosody user). Two servers federating
// through a real Tor network: tests/e2e/test_federation.py.
#include <doctest/doctest.h>

#include "daemon_process.h"
#include "plugin_root.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::core::DaemonConfig;
using tails_server::core::ServiceError;
using tails_server::core::ServiceManager;

namespace {

const std::string probe_script = std::string(TAILS_SERVER_SOURCE_DIR) + "/tests/probes/xmpp_probe.py";
// RFC 8032 test 1's onion (docs/tor.md#test-vector) and a client key.
const std::string peer = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid.onion";
const std::string peer_key = "R6BPP6WD4HWKC6ZKMAPXSHEMXN4GCFSO5YXST6NQJXIIWEPT3RTQ";

struct Fixture : plugin_test::PluginRoot {
  // Not Tails' 9050: the config must come from the daemon.
  Fixture() : PluginRoot("tails-server-prosody-fed", [](DaemonConfig& c) { c.tor_socks_port = 19050; }) {}
  std::string domain = manager.ensure_onion_key("prosody");

  std::string config_text() { return plugin_test::read_file(tmp / "etc/prosody/prosody.cfg.lua"); }

  // Logs in as `user` and sends a chat message to `to`; returns the probe's
  // status (3: an error came back, its text on stdout) and output.
  RunResult send(std::uint16_t port, const std::string& user, const std::string& password, const std::string& to) {
    RunOptions options;
    options.input = password + "\n";
    options.timeout = std::chrono::seconds(60);
    return host.run({"python3", probe_script, "--send-to", to, "--wait", "8", "127.0.0.1", std::to_string(port),
                     domain, user, "-"},
                    options);
  }

  std::string error_text(const ServiceError& error) { return error.what(); }
  std::string command_error(const std::string& command, const std::vector<std::string>& arguments,
                            const std::string& secret) {
    try {
      manager.run_command("prosody", command, arguments, secret);
    } catch (const ServiceError& error) {
      return error.what();
    }
    return "(no error)";
  }
};

std::map<std::string, std::string> fields_of(const tails_server::ConnectionInfo& info) {
  return {info.fields.begin(), info.fields.end()};
}

}  // namespace

TEST_CASE("prosody: federation is off by default and the SOCKS port and the rooms come from the daemon") {
  Fixture f;
  CHECK(f.manager.get_option("prosody", "federation") == "false");
  CHECK(f.manager.onion_ports("prosody").size() == 1);  // no s2s on the onion
  f.manager.configure("prosody");
  std::string cfg = f.config_text();
  INFO(cfg);
  CHECK(cfg.find("onions_socks5_host = \"127.0.0.1\"\n") != std::string::npos);
  CHECK(cfg.find("onions_socks5_port = 19050\n") != std::string::npos);
  CHECK(cfg.find("9050\n") == cfg.find("19050\n") + 1);  // Tails' 9050 is nowhere else
  CHECK(cfg.find("tails_federation = false\n") != std::string::npos);
  CHECK(cfg.find("onions\"") == std::string::npos);  // no onions module loaded: nothing goes out
  CHECK(cfg.find("Component \"rooms." + f.domain + "\" \"muc\"\n") != std::string::npos);
  CHECK(fs::exists(f.tmp / "usr/local/lib/tails-server/prosody-modules/mod_tails_federation.lua"));
  auto info = f.manager.connection_info("prosody");
  CHECK(fields_of(info)["rooms"] == "rooms." + f.domain);
  CHECK(fields_of(info)["federation"] == "off");
  CHECK(info.instructions.find("must connect through Tor") != std::string::npos);
  CHECK(info.instructions.find("add-peer") == std::string::npos);

  f.manager.set_option("prosody", "federation", "true");
  CHECK(f.manager.onion_ports("prosody").size() == 2);
  f.manager.configure("prosody");
  cfg = f.config_text();
  CHECK(cfg.find("tails_federation = true\n") != std::string::npos);
  // Our copy of mod_onions, never upstream's (which ignores Tor's SOCKS reply).
  CHECK(cfg.find("modules_enabled = { \"tails_federation\"; \"tails_onions\"; }\n") != std::string::npos);
  CHECK(cfg.find("\"onions\"") == std::string::npos);
  CHECK(plugin_test::read_file(f.tmp / "usr/local/lib/tails-server/prosody-modules/mod_tails_onions.lua")
            .find("local code = byte(data, 2);") != std::string::npos);
  info = f.manager.connection_info("prosody");
  CHECK(fields_of(info)["federation"] == "on");
  CHECK(info.instructions.find("tails-server run prosody add-peer " + f.domain) != std::string::npos);
  CHECK(info.instructions.find("tails-server client add prosody") != std::string::npos);

  // The firewall restricts prosody's account (the plugin is SDK 2.3).
  CHECK(f.manager.tor_only_account("prosody") == "prosody");
}

TEST_CASE("prosody: a stanza for another server is refused with a reason and a log line") {
  Fixture f;
  const std::uint16_t c2s = plugin_test::free_port();
  std::uint16_t s2s = plugin_test::free_port();
  while (s2s == c2s) s2s = plugin_test::free_port();
  f.manager.set_option("prosody", "local-port", std::to_string(c2s));
  f.manager.set_option("prosody", "s2s-port", std::to_string(s2s));
  f.manager.configure("prosody");
  f.manager.run_command("prosody", "add-account", {"alice"}, "alice's password");
  const fs::path log = f.tmp / "var/log/prosody/prosody.log";
  const std::string cfg = (f.tmp / "etc/prosody/prosody.cfg.lua").string();

  {
    plugin_test::Daemon prosody({"prosody", "-F", "--config", cfg}, f.tmp / "prosody.out", "prosody");
    INFO(plugin_test::read_file(f.tmp / "prosody.out"));
    REQUIRE(plugin_test::wait_for_port(prosody, c2s));
    // Off: even an onion server is refused, and alice is told why.
    RunResult sent = f.send(c2s, "alice", "alice's password", "bob@" + peer);
    INFO(sent.output);
    CHECK(sent.exit_code == 3);
    CHECK(sent.output.find("remote-server-not-found: federation with other servers is off") != std::string::npos);
    CHECK(plugin_test::read_file(log).find("Refused to send a stanza from " + f.domain + " to " + peer +
                                           ": federation with other servers is off") != std::string::npos);
    prosody.stop();
  }

  f.manager.set_option("prosody", "federation", "true");
  f.manager.configure("prosody");
  plugin_test::Daemon prosody({"prosody", "-F", "--config", cfg}, f.tmp / "prosody.out", "prosody");
  INFO(plugin_test::read_file(f.tmp / "prosody.out"));
  INFO(plugin_test::read_file(f.tmp / "var/log/prosody/prosody.err"));
  REQUIRE(plugin_test::wait_for_port(prosody, c2s));
  REQUIRE(plugin_test::wait_for_port(prosody, s2s));
  // On: a server that is not an onion is refused, never looked up or dialled.
  for (const std::string& host :
       std::vector<std::string>{"example.org", "rooms.example.org", "x" + peer.substr(1, 55) + ".com"}) {
    RunResult sent = f.send(c2s, "alice", "alice's password", "bob@" + host);
    INFO(host << ": " << sent.output);
    CHECK(sent.exit_code == 3);
    CHECK(sent.output.find("remote-server-not-found: " + host + " is not an onion address") != std::string::npos);
    CHECK(plugin_test::read_file(log).find("to " + host + ": " + host + " is not an onion address") !=
          std::string::npos);
  }
  // An onion server while Tor's SOCKS port (19050 here) is closed: alice is
  // told at once (upstream mod_onions kept the stanza queued for ever).
  RunResult no_tor = f.send(c2s, "alice", "alice's password", "bob@" + peer);
  INFO(no_tor.output);
  CHECK(no_tor.exit_code == 3);
  CHECK(no_tor.output.find("remote-server-not-found: Server-to-server connection failed: Tor's SOCKS port at "
                           "127.0.0.1:19050 closed the connection") != std::string::npos);
  CHECK(plugin_test::read_file(log).find("Connection from " + f.domain + " to " + peer + " failed: Tor's SOCKS") !=
        std::string::npos);
  // remove-peer closes Prosody's open streams to the peer through its admin
  // shell (here none is open; the shell answered, so Prosody was reached).
  f.manager.run_command("prosody", "add-peer", {peer}, peer_key);
  const std::string removed = f.manager.run_command("prosody", "remove-peer", {peer}, "");
  CHECK(removed.find("No connection to it was open.") != std::string::npos);
  CHECK(prosody.running());
  prosody.stop();
}

TEST_CASE("prosody: add-peer keeps a peer's key in 0600 state for Tor and list-peers and remove-peer follow") {
  Fixture f;
  int changes = 0;
  f.manager.on_onion_client_keys_changed([&] { ++changes; });
  CHECK(f.manager.run_command("prosody", "list-peers", {}, "").find("No peers") != std::string::npos);

  const std::string added = f.manager.run_command("prosody", "add-peer", {peer}, peer_key + "\n");
  CHECK(added.find("Tor now holds the client key for " + peer) != std::string::npos);
  CHECK(added.find("Federation is off here") != std::string::npos);
  CHECK(added.find(peer_key) == std::string::npos);
  CHECK(changes == 1);
  CHECK(f.manager.run_command("prosody", "list-peers", {}, "").find(peer) != std::string::npos);
  auto credentials = f.manager.onion_client_credentials();
  REQUIRE(credentials.size() == 1);
  CHECK(credentials.begin()->first == peer.substr(0, 56));
  CHECK(credentials.begin()->second.size() == 44);  // base64 for ONION_CLIENT_AUTH_ADD

  // The key lies only in the service's state file, 0600.
  const fs::path state = f.tmp / "state/prosody.state.json";
  struct stat st {};
  REQUIRE(::stat(state.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(plugin_test::read_file(state).find(peer_key) != std::string::npos);

  // Read again by a new daemon (as after a reboot with persistence).
  {
    ServiceManager again(f.config, f.host);
    CHECK(again.onion_client_credentials() == credentials);
  }

  // The line of an .auth_private file is accepted for its own address only.
  CHECK_NOTHROW(f.manager.run_command("prosody", "add-peer", {peer},
                                      peer.substr(0, 56) + ":descriptor:x25519:" + peer_key + "\n"));
  std::string other = "a" + peer.substr(1);  // another checksum
  std::string message = f.command_error("add-peer", {peer}, other.substr(0, 56) + ":descriptor:x25519:" + peer_key);
  CHECK(message.find("not for " + peer) != std::string::npos);

  // Addresses: exactly 56 lower-case base32 characters, a valid checksum, ".onion".
  for (const std::string& bad : std::vector<std::string>{"example.org", peer.substr(0, 56), "x" + peer,
                                 "25NJQAMCWEFLPVKL73J4SZAHHIHOC4XT3KTCGJNPAINGR5YHKENL5SID.onion",
                                 other /* checksum */, peer + "\n", "-" + peer.substr(1)}) {
    message = f.command_error("add-peer", {bad}, peer_key);
    INFO(bad << ": " << message);
    CHECK(message.find("onion address") != std::string::npos);
    CHECK(message.find(peer_key) == std::string::npos);
  }
  // Keys: strictly 52 base32 characters, never quoted back.
  for (const std::string& bad : std::vector<std::string>{"not a key", peer_key.substr(1), peer_key + "A", peer_key + " x",
                                 std::string(52, 'A') /* all zero */, "", " \n"}) {
    message = f.command_error("add-peer", {peer}, bad);
    INFO(message);
    CHECK((message.find("52 base32 characters") != std::string::npos ||
           message.find("needs a secret") != std::string::npos ||
           message.find("no client key given") != std::string::npos));
    if (bad.size() > 20) CHECK(message.find(bad.substr(0, 20)) == std::string::npos);
  }

  CHECK(f.manager.run_command("prosody", "remove-peer", {peer}, "").find("Removed") != std::string::npos);
  CHECK(f.manager.onion_client_credentials().empty());
  CHECK(plugin_test::read_file(state).find(peer_key) == std::string::npos);
  CHECK(f.command_error("remove-peer", {peer}, "").find("there is no peer " + peer) != std::string::npos);
  f.manager.on_onion_client_keys_changed(nullptr);
}

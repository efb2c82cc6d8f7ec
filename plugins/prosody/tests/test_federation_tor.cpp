// Two prosody services federating through a private Tor network
// (tests/tor-network/tornet on 127.0.0.1), with the daemon's own pieces: each
// server's ServiceManager (its onion key, the plugin's config, its clients and
// peers), the OnionPublisher adding both onions with client authorization on
// the network's service tor, and another giving the peers' keys to the
// network's client tor, whose SOCKS port both Prosodies use (tor_socks). The
// real prosody, and the XMPP probe as alice. No tails-serverd, no systemd
// (two whole Tails Servers: tests/e2e/test_federation.py). Also: the error
// naming the missing client key (Tor's SOCKS reply 0xF4), B's server stopped
// and back, B's server silent with a stream open (the stream is closed and
// the message bounces), and a restart of the service tor (both onions
// published again).
// TORNET_INFO_LOG=1 gives tor's info logs; TAILS_SERVER_FED_KEEP=DIR keeps
// the network's directory and Prosody's logs there.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "daemon_process.h"
#include "temp_dir.h"

#include "../../../tests/tor/loop.h"
#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"
#include "tor/onion_publisher.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace tails_server::core;
using namespace std::chrono_literals;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::test::TempDir;

namespace {

const std::string tornet = std::string(TAILS_SERVER_SOURCE_DIR) + "/tests/tor-network/tornet";
const std::string probe_script = std::string(TAILS_SERVER_SOURCE_DIR) + "/tests/probes/xmpp_probe.py";

// tornet's DIR/env as a map.
std::map<std::string, std::string> read_env(const fs::path& file) {
  std::map<std::string, std::string> env;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq != std::string::npos && line.find('\'') == std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// Host::run gives programs a minimal environment: pass TORNET_INFO_LOG on.
std::vector<std::string> tornet_environment() {
  if (const char* info = std::getenv("TORNET_INFO_LOG")) return {std::string("TORNET_INFO_LOG=") + info};
  return {};
}

struct Server {
  TempDir tmp;
  SystemHost host;
  DaemonConfig config;
  std::unique_ptr<ServiceManager> manager;
  std::string domain;
  std::uint16_t c2s = 0, s2s = 0;
  std::unique_ptr<plugin_test::Daemon> prosody;

  Server(const std::string& name, std::uint16_t socks) : tmp("tails-server-fed-" + name), host(tmp.path()) {
    config.plugin_dirs = {TAILS_SERVER_PLUGIN_OUTPUT_DIR};
    config.root = tmp.path();
    config.state_dir = tmp / "state";
    config.tor_socks_port = socks;
    manager = std::make_unique<ServiceManager>(config, host);
    domain = manager->ensure_onion_key("prosody");
    c2s = plugin_test::free_port();
    do s2s = plugin_test::free_port(); while (s2s == c2s);
    manager->set_option("prosody", "local-port", std::to_string(c2s));
    manager->set_option("prosody", "s2s-port", std::to_string(s2s));
    manager->set_option("prosody", "federation", "true");
    manager->configure("prosody");
    manager->run_command("prosody", "add-account", {name}, name + "'s password");
  }
  void start() {
    prosody = std::make_unique<plugin_test::Daemon>(
        std::vector<std::string>{"prosody", "-F", "--config", (tmp / "etc/prosody/prosody.cfg.lua").string()},
        tmp / "prosody.out", "prosody");
    REQUIRE(plugin_test::wait_for_port(*prosody, c2s));
    REQUIRE(plugin_test::wait_for_port(*prosody, s2s));
  }
  OnionSpec spec() const {
    std::vector<OnionPort> ports;
    for (const auto& port : manager->onion_ports("prosody"))
      ports.push_back({port.virtual_port, "127.0.0.1:" + std::to_string(port.local_port)});
    return {manager->onion_key_blob("prosody"), ports, manager->client_public_keys("prosody"), domain.substr(0, 56)};
  }
  // alice (or bob) sends to `to`; returns the probe's answer text ("" if none).
  RunResult send(const std::string& user, const std::string& to, int wait = 150) {
    RunOptions options;
    options.input = user + "'s password\n";
    options.timeout = std::chrono::seconds(200);
    return host.run({"python3", probe_script, "--timeout", "180", "--send-to", to, "--wait", std::to_string(wait), "127.0.0.1",
                     std::to_string(c2s), domain, user, "-"},
                    options);
  }
  // With TAILS_SERVER_FED_KEEP=DIR, Prosody's logs are kept in DIR-<first letters of the domain>.
  ~Server() {
    if (const char* keep = std::getenv("TAILS_SERVER_FED_KEEP"))
      SystemHost("/").run({"cp", "-a", (tmp / "var/log/prosody").string(), keep + ("-" + domain.substr(0, 6))},
                          RunOptions{});
  }
  std::string log() { return plugin_test::read_file(tmp / "var/log/prosody/prosody.log"); }
};

}  // namespace

TEST_CASE("prosody: two servers federate through a private Tor network with client authorization") {
  if (::geteuid() != 0) {
    MESSAGE("needs root (prosody runs as its own user)");
    return;
  }
  TempDir net("tails-server-fed-tornet");
  const fs::path dir = net / "tn";
  const std::string base = std::to_string(36000 + (::getpid() % 50) * 60);
  RunResult started = SystemHost("/").run({"python3", tornet, "start", dir.string(), "--base-port", base,
                                            "--client", "--service-tor", "--timeout", "150"},
                                           RunOptions{{}, {}, tornet_environment(), std::chrono::seconds(200)});
  INFO(started.output);
  REQUIRE(started.exit_code == 0);
  struct Stop {
    fs::path dir;
    ~Stop() {
      SystemHost("/").run({"python3", tornet, "stop", dir.string()}, RunOptions{});
      if (const char* keep = std::getenv("TAILS_SERVER_FED_KEEP"))
        SystemHost("/").run({"cp", "-a", dir.string(), keep}, RunOptions{});
    }
  } stop{dir};
  auto env = read_env(dir / "env");
  const auto socks = static_cast<std::uint16_t>(std::stoi(env.at("SOCKS_PORT")));

  Server a("alice", socks), b("bob", socks);
  // Each makes a key for the other (tails-server client add prosody server-X).
  auto key_for_b = a.manager->add_client("prosody", "server-b");
  auto key_for_a = b.manager->add_client("prosody", "server-a");
  a.start();
  b.start();

  auto loop = tails_server::test::new_event_loop();
  OnionPublisher services(loop.get(), {"127.0.0.1:" + env.at("SERVICE_CONTROL_PORT"), env.at("SERVICE_COOKIE")},
                          nullptr, nullptr);
  OnionPublisher client(loop.get(), {"127.0.0.1:" + env.at("CLIENT_CONTROL_PORT"), env.at("CLIENT_COOKIE")},
                        nullptr, nullptr);
  services.start();
  client.start();
  services.set("a", a.spec());
  services.set("b", b.spec());
  REQUIRE(tails_server::test::run_until(loop.get(), [&] {
    auto sa = services.status("a"), sb = services.status("b");
    return sa && sb && sa->state == OnionState::Published && sb->state == OnionState::Published;
  }, 120s));

  // Before the keys: alice's message to B fails, and says so.
  RunResult before = a.send("alice", "nobody@" + b.domain);
  INFO(before.output);
  CHECK(before.exit_code == 3);
  CHECK(before.output.find("remote-server-not-found") != std::string::npos);
  // Tor's SOCKS reply 0xF4 (ExtendedErrors), in words: B needs a client key.
  CHECK(before.output.find(b.domain + " requires a client key: ask its owner for one (tails-server client add "
                           "prosody NAME on their server) and add it here with tails-server run prosody add-peer " +
                           b.domain) != std::string::npos);
  CHECK(a.log().find("failed: " + b.domain + " requires a client key") != std::string::npos);

  // add-peer on both sides; the daemon's publisher gives the keys to tor.
  b.manager->run_command("prosody", "add-peer", {a.domain}, key_for_b.private_key_base32);
  a.manager->run_command("prosody", "add-peer", {b.domain}, key_for_a.private_key_base32);
  auto credentials = a.manager->onion_client_credentials();
  for (const auto& [address, key] : b.manager->onion_client_credentials()) credentials[address] = key;
  client.set_client_auth(credentials);
  tails_server::test::run_for(loop.get(), 1s);

  // A user that does not exist on B answers with an error from B itself:
  // the message went to B and the answer came back, through Tor both ways.
  RunResult after = a.send("alice", "nobody@" + b.domain);
  INFO(after.output);
  CHECK(after.exit_code == 3);
  CHECK(after.output.find("service-unavailable") != std::string::npos);
  RunResult back = b.send("bob", "nobody@" + a.domain);
  INFO(back.output);
  CHECK(back.output.find("service-unavailable") != std::string::npos);

  // B's server stops while alice sends: she gets an error at once, nothing
  // is kept (README); once B is back, her next message goes through.
  b.prosody->stop();
  RunResult offline = a.send("alice", "nobody3@" + b.domain);
  INFO(offline.output);
  CHECK(offline.output.find("remote-server-not-found") != std::string::npos);
  b.start();
  RunResult online = a.send("alice", "nobody4@" + b.domain);
  INFO(online.output);
  CHECK(online.output.find("service-unavailable") != std::string::npos);

  // B's server stops answering with A's stream to it open, as when B's tor
  // restarts and the circuit under the stream dies but no relay says so yet:
  // after 15 s of quiet mod_tails_onions pings B with alice's next message;
  // with no answer in 30 s it closes the stream and her message comes back
  // saying so (it used to vanish). Once B answers again, her next one goes.
  // First with B answering: the ping is answered and the stream stays.
  std::this_thread::sleep_for(20s);
  RunResult pinged = a.send("alice", "nobody8@" + b.domain);
  INFO(pinged.output);
  CHECK(pinged.output.find("service-unavailable") != std::string::npos);
  std::this_thread::sleep_for(35s);  // past the answer timeout, and quiet again
  REQUIRE(::kill(b.prosody->pid(), SIGSTOP) == 0);
  RunResult frozen = a.send("alice", "nobody6@" + b.domain, 90);
  ::kill(b.prosody->pid(), SIGCONT);
  INFO(frozen.output);
  CHECK(frozen.output.find("remote-server-not-found: Server-to-server connection failed: " + b.domain +
                           " did not answer for 30 s through Tor") != std::string::npos);
  // Only the silent stream was closed.
  const std::string a_log = a.log();
  const auto closing = a_log.find("Closing the stream");
  CHECK(closing != std::string::npos);
  CHECK(a_log.find("Closing the stream", closing + 1) == std::string::npos);
  RunResult thawed = a.send("alice", "nobody7@" + b.domain);
  INFO(thawed.output);
  CHECK(thawed.output.find("service-unavailable") != std::string::npos);

  // The tor that publishes both onions restarts: the publisher publishes them
  // again, and A's next messages reach B without anyone doing anything.
  RunResult restarted =
      SystemHost("/").run({"python3", tornet, "restart-service-tor", dir.string(), "--timeout", "150"},
                          RunOptions{{}, {}, tornet_environment(), std::chrono::seconds(200)});
  INFO(restarted.output);
  REQUIRE(restarted.exit_code == 0);
  tails_server::test::run_for(loop.get(), 2s);
  REQUIRE(tails_server::test::run_until(loop.get(), [&] {
    auto sa = services.status("a"), sb = services.status("b");
    return sa && sb && sa->state == OnionState::Published && sb->state == OnionState::Published;
  }, 150s));
  std::string attempts;
  bool recovered = false;
  const auto restart_deadline = std::chrono::steady_clock::now() + 300s;
  for (int i = 0; !recovered && std::chrono::steady_clock::now() < restart_deadline; ++i) {
    const auto sent_at = std::chrono::steady_clock::now();
    RunResult sent = a.send("alice", "nobody5-" + std::to_string(i) + "@" + b.domain, 90);
    const auto took = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - sent_at);
    attempts += std::to_string(took.count()) + " s: " + sent.output + "\n";
    recovered = sent.output.find("service-unavailable") != std::string::npos;
    if (!recovered) std::this_thread::sleep_for(5s);
  }
  INFO(attempts);
  MESSAGE("after the restart of the service tor: " << attempts);
  CHECK(recovered);

  // remove-peer on A: the key leaves tor and the open streams close.
  const std::string removed = a.manager->run_command("prosody", "remove-peer", {b.domain}, "");
  CHECK(removed.find("Closed the open connections") != std::string::npos);
  client.set_client_auth(b.manager->onion_client_credentials());
  tails_server::test::run_for(loop.get(), 1s);
  // B still holds A's key, so B may reach A; A's own way to B is gone.
  SystemHost("/").run({"python3", tornet, "control", dir.string(), "client", "SIGNAL", "NEWNYM"}, RunOptions{});
  RunResult removed_send = a.send("alice", "nobody2@" + b.domain);
  INFO(removed_send.output);
  INFO(a.log().substr(a.log().size() > 4000 ? a.log().size() - 4000 : 0));
  CHECK(removed_send.output.find("remote-server-not-found") != std::string::npos);
}

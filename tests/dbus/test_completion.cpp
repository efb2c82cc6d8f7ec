// The bash completion of tails-server (data/completion/tails-server), run by
// bash itself on sample command lines, with the real daemon on a private bus
// answering for the service, option and command names.
#include "bus_harness.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

using namespace tails_server::test;

namespace {

constexpr const char* complete_script = R"(
source /usr/share/bash-completion/bash_completion
source "$COMPLETION"
COMP_LINE=$LINE
COMP_POINT=${#LINE}
read -ra COMP_WORDS <<<"$LINE"
[[ $LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_tails_server
printf '%s\n' "${COMPREPLY[@]}"
)";

// What completing `line` (the cursor at its end) offers, one candidate each.
std::vector<std::string> complete(BusHarness& bus, const std::string& line) {
  std::string cli_dir = std::filesystem::path(TAILS_SERVER_CLI).parent_path();
  RunResult result = run({"/bin/bash", "-c", complete_script},
                         {"DBUS_SYSTEM_BUS_ADDRESS=" + bus.bus_address(), "PATH=" + cli_dir + ":/usr/bin:/bin",
                          "COMPLETION=" TAILS_SERVER_SOURCE_DIR "/data/completion/tails-server", "LINE=" + line},
                         "", bus.dir().path());
  INFO("completing '" << line << "': exit " << result.exit_code << ", stderr: " << result.err);
  CHECK(result.exit_code == 0);
  std::vector<std::string> words;
  std::istringstream in(result.out);
  for (std::string word; std::getline(in, word);)
    if (!word.empty()) words.push_back(word);
  std::sort(words.begin(), words.end());
  return words;
}

bool has(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace

TEST_CASE("bash completes the verbs and the flags of tails-server") {
  BusHarness bus;
  auto verbs = complete(bus, "tails-server ");
  for (const char* verb : {"list", "install", "enable", "set-option", "client", "connection-info", "import-key"})
    CHECK(has(verbs, verb));
  CHECK(complete(bus, "tails-server st") == std::vector<std::string>{"status"});
  CHECK(complete(bus, "tails-server --j") == std::vector<std::string>{"--json"});
  CHECK(complete(bus, "tails-server list --a") == std::vector<std::string>{"--all"});
  CHECK(complete(bus, "tails-server connection-info mumble --") ==
        std::vector<std::string>{"--dark-terminal", "--json", "--qr"});
  CHECK(complete(bus, "tails-server client ") == std::vector<std::string>{"add", "list", "remove"});
}

TEST_CASE("bash completes the services options and commands the daemon has loaded") {
  BusHarness bus;
  bus.start_daemon();
  CHECK(complete(bus, "tails-server enable ") == std::vector<std::string>{"chat", "dokuwiki", "gobby", "icecast", "mumble", "nginx", "prosody", "ssh"});
  CHECK(complete(bus, "tails-server status m") == std::vector<std::string>{"mumble"});
  CHECK(complete(bus, "tails-server --json client add ") ==
        std::vector<std::string>{"chat", "dokuwiki", "gobby", "icecast", "mumble", "nginx", "prosody", "ssh"});

  auto options = complete(bus, "tails-server set-option mumble ");
  for (const char* option : {"server-password", "welcome-message", "max-users", "virtual-port", "local-port",
                             "persistence", "autostart", "allow-localhost", "allow-lan", "client-authorization"})
    CHECK(has(options, option));
  CHECK(complete(bus, "tails-server get-option prosody mo") == std::vector<std::string>{"motd"});
  CHECK(complete(bus, "tails-server run prosody ") ==
        std::vector<std::string>{"add-account", "add-peer", "list-peers", "remove-account", "remove-peer",
                                 "set-password"});
  CHECK(complete(bus, "tails-server run prosody add-account ").empty());
}

TEST_CASE("bash completion offers nothing and returns at once when the daemon is not there") {
  BusHarness bus;  // no daemon on the bus
  auto start = std::chrono::steady_clock::now();
  CHECK(complete(bus, "tails-server enable ").empty());
  CHECK(complete(bus, "tails-server set-option mumble ").empty());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(has(complete(bus, "tails-server "), "enable"));
}

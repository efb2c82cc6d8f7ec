#include "crashed_plugins.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

namespace tails_server::cli {

using namespace tails_server::client;

std::string crashed_plugin_message(DaemonClient& client, const std::string& service) {
  for (const auto& p : client.list_plugins())
    if (p.state == "crashed" && p.name == service) return p.message;
  return {};
}

std::string explain_stop(const std::string& service) {
  for (int attempt = 0; attempt < 40; ++attempt) {
    try {
      DaemonClient client;
      std::vector<PluginSummary> crashed;
      for (const auto& p : client.list_plugins())
        if (p.state == "crashed") crashed.push_back(p);
      auto named = std::find_if(crashed.begin(), crashed.end(), [&](const auto& p) { return p.name == service; });
      if (named != crashed.end()) crashed = {*named};
      std::string text = "tails-serverd stopped during the call; it was restarted";
      for (const auto& p : crashed)
        text += " and put aside " + (p.name.empty() ? p.file : "the plugin " + p.name) + ": " + p.message;
      return text + (crashed.empty() ? ". See journalctl -u tails-serverd" : "");
    } catch (const ClientError&) {
      usleep(250 * 1000);
    }
  }
  return "tails-serverd stopped during the call and is not back; see journalctl -u tails-serverd";
}

}  // namespace tails_server::cli

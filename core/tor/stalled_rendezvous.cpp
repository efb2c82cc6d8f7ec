#include "tor/stalled_rendezvous.h"

#include <sstream>

namespace tails_server::core {

std::vector<std::string> StalledRendezvous::update(const std::string& circuit_status,
                                                   const std::set<std::string>& peers, Clock::time_point now,
                                                   std::chrono::seconds limit) {
  std::map<std::string, Clock::time_point> still;
  std::vector<std::string> stalled;
  std::istringstream lines(circuit_status);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string id, word;
    words >> id;
    bool rend = false, waiting = false, peer = false;
    while (words >> word) {
      if (word == "PURPOSE=HS_CLIENT_REND") rend = true;
      if (word == "HS_STATE=HSCR_ESTABLISHED_WAITING") waiting = true;
      if (word.rfind("REND_QUERY=", 0) == 0) peer = peers.count(word.substr(11)) > 0;
    }
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos || !rend || !waiting || !peer)
      continue;
    auto seen = waiting_since_.find(id);
    const Clock::time_point since = seen == waiting_since_.end() ? now : seen->second;
    still[id] = since;
    if (now - since >= limit) stalled.push_back(id);
  }
  waiting_since_ = std::move(still);
  return stalled;
}

}  // namespace tails_server::core

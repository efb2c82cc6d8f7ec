// Rendezvous circuits to a peer's onion that stall. After the peer's tor
// restarted, an introduction point may still acknowledge an INTRODUCE1 for
// it (the old introduction circuit is not torn down yet); the RENDEZVOUS2
// then never comes, and tor attaches every new stream for that onion to the
// same waiting circuit for minutes. Found with GETINFO circuit-status
// (PURPOSE=HS_CLIENT_REND HS_STATE=HSCR_ESTABLISHED_WAITING); the caller
// closes them, and tor's next attempt uses a new descriptor.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace tails_server::core {

class StalledRendezvous {
 public:
  using Clock = std::chrono::steady_clock;

  // circuit_status: GETINFO circuit-status's value. peers: onion service ids
  // (56 characters). Returns the ids of the circuits that have waited for a
  // peer's answer in every call since at least `limit` ago.
  std::vector<std::string> update(const std::string& circuit_status, const std::set<std::string>& peers,
                                  Clock::time_point now, std::chrono::seconds limit);

 private:
  std::map<std::string, Clock::time_point> waiting_since_;  // circuit id → first seen waiting
};

}  // namespace tails_server::core

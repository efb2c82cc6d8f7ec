// Which rendezvous circuits the publisher closes (tor/stalled_rendezvous.h).
#include "tor/stalled_rendezvous.h"

#include <doctest/doctest.h>

using namespace tails_server::core;
using namespace std::chrono_literals;

namespace {

const std::string peer(56, 'a');
const std::string other(56, 'b');

std::string circuit(const std::string& id, const std::string& purpose, const std::string& state,
                    const std::string& query) {
  return id + " BUILT $AA~r1,$BB~r2,$CC~r3 BUILD_FLAGS=IS_INTERNAL,NEED_CAPACITY PURPOSE=" + purpose +
         " HS_STATE=" + state + " REND_QUERY=" + query + " TIME_CREATED=2026-12-06T12:26:22.000000";
}

}  // namespace

TEST_CASE("Only a peer's rendezvous circuit that waits in every look for the limit is stalled") {
  StalledRendezvous stalled;
  const auto t0 = StalledRendezvous::Clock::now();
  const std::string status = circuit("75", "HS_CLIENT_REND", "HSCR_ESTABLISHED_WAITING", peer) + "\n" +
                             circuit("76", "HS_CLIENT_REND", "HSCR_JOINED", peer) + "\n" +
                             circuit("77", "HS_CLIENT_REND", "HSCR_ESTABLISHED_WAITING", other) + "\n" +
                             circuit("78", "HS_CLIENT_INTRO", "HSCI_INTRO_SENT", peer) + "\n" +
                             "79 BUILT $AA~r1 PURPOSE=GENERAL TIME_CREATED=2026-12-06T12:00:00.000000\n" +
                             "garbage line\n";
  CHECK(stalled.update(status, {peer}, t0, 40s).empty());
  CHECK(stalled.update(status, {peer}, t0 + 39s, 40s).empty());
  CHECK(stalled.update(status, {peer}, t0 + 40s, 40s) == std::vector<std::string>{"75"});
  // Gone in between (joined, or closed): it starts over.
  CHECK(stalled.update(circuit("75", "HS_CLIENT_REND", "HSCR_JOINED", peer), {peer}, t0 + 50s, 40s).empty());
  CHECK(stalled.update(status, {peer}, t0 + 60s, 40s).empty());
  CHECK(stalled.update(status, {peer}, t0 + 100s, 40s) == std::vector<std::string>{"75"});
  // Not a peer (the user's own browsing, say): never.
  CHECK(stalled.update(status, {}, t0 + 200s, 0s).empty());
}

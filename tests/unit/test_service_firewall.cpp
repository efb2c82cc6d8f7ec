// ServiceFirewall's backends as the programs it runs: fake iptables and nft
// programs that only write down how they were called.
#include "firewall/service_firewall.h"

#include "host/system_host.h"
#include "services/service_manager.h"
#include "sample_fixture.h"
#include "temp_dir.h"

#include <doctest/doctest.h>
#include <systemd/sd-event.h>

#include <fstream>
#include <sstream>

using namespace tails_server::core;
using tails_server::test::TempDir;

namespace {

struct Fixture : tails_server::test::SampleFixture {
  ServiceManager manager{config(), host};

  Fixture() {
    std::filesystem::create_directories(tmp / "bin");
    for (const char* name : {"iptables-save", "ip6tables-save", "iptables-restore", "ip6tables-restore", "nft"}) {
      auto program = tmp / "bin" / name;
      std::ofstream(program) << "#!/bin/sh\necho \"" << name << " $*\" >>" << (tmp / "calls").string() << "\n";
      std::filesystem::permissions(program, std::filesystem::perms(0755));
    }
  }
  ServiceFirewall::Options options(const std::string& backend) const {
    ServiceFirewall::Options options;
    options.backend = backend;
    options.program_dir = tmp / "bin";
    return options;
  }
  std::string calls() const {
    std::ifstream in(tmp / "calls");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

}  // namespace

TEST_CASE("The firewall backend none runs no firewall program and watches nothing") {
  Fixture f;
  sd_event* event = nullptr;
  REQUIRE(sd_event_new(&event) >= 0);
  {
    ServiceFirewall firewall(f.manager, event, f.options("none"));
    CHECK_FALSE(firewall.active());
    CHECK_FALSE(firewall.notified());
    firewall.reconcile();
    firewall.starting("sample");
    CHECK(firewall.wanted().size() == 1);  // a service wants rules: none are written
    firewall.started("sample");
    firewall.sync();
    CHECK_FALSE(firewall.restore_if_changed());
    firewall.starting("sample-two");
    firewall.abandon("sample-two");
    // Nothing was left for the loop to do (no timer, no netlink).
    CHECK(sd_event_run(event, 0) == 0);
  }
  sd_event_unref(event);
  CHECK(f.calls().empty());
}

TEST_CASE("The firewall backend iptables runs its programs from the program directory") {
  // The contrast to the case above: the fake programs do see the calls.
  Fixture f;
  ServiceFirewall firewall(f.manager, nullptr, f.options("iptables"));
  CHECK(firewall.active());
  try {
    firewall.starting("sample");
  } catch (const FirewallError&) {
    // the fakes' empty output may not satisfy it: what ran is what counts
  }
  CHECK(f.calls().find("iptables-save") != std::string::npos);
}

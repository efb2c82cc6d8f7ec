// firewall-tool: drives core/firewall's Firewall from the kernel test
// (kernel-test), inside a network namespace. Never run it on the host.
//
//   firewall-tool BACKEND apply [SERVICE:PORT[,PORT...][:lan][:localhost][:toronly=USER@HOST/PORT]]...
//   firewall-tool BACKEND remove | hooks | absent
//
// apply with no service is what the daemon's start-up reconcile does when no
// service is enabled (it removes everything of ours). Exit status: 0 yes/ok,
// 1 no, 2 error (the message on stderr). BACKEND: iptables, nftables, or
// iptables-legacy (the iptables backend through iptables-legacy-restore).
#include "firewall/firewall.h"

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace tails_server::core;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: firewall-tool iptables|nftables apply|remove|hooks|absent [SERVICE:PORTS[:lan][:localhost]]...\n";
    return 2;
  }
  try {
    Firewall::Options options;
    std::string backend = argv[1];
    if (backend == "iptables-legacy") {  // the same backend through the legacy programs
      backend = "iptables";
      options.iptables_restore = "iptables-legacy-restore";
      options.ip6tables_restore = "ip6tables-legacy-restore";
      options.iptables_save = "iptables-legacy-save";
      options.ip6tables_save = "ip6tables-legacy-save";
    }
    options.backend = parse_firewall_backend(backend);
    if (const char* user = std::getenv("FIREWALL_TOR_USER")) options.tor_user = user;
    Firewall firewall(options);
    std::string verb = argv[2];
    if (verb == "apply") {
      std::vector<FirewallService> services;
      for (int i = 3; i < argc; ++i) {
        std::stringstream spec(argv[i]);
        std::string part;
        FirewallService service;
        std::getline(spec, service.name, ':');
        std::getline(spec, part, ':');
        std::stringstream ports(part);
        for (std::string port; std::getline(ports, port, ',');)
          service.ports.push_back(static_cast<std::uint16_t>(std::stoul(port)));
        while (std::getline(spec, part, ':')) {
          if (part == "lan") service.allow_lan = true;
          else if (part == "localhost") service.allow_localhost = true;
          else if (part.rfind("toronly=", 0) == 0) {  // toronly=USER@HOST/PORT
            auto at = part.find('@'), slash = part.find('/');
            service.tor_only_user = part.substr(8, at - 8);
            service.tor_socks_host = part.substr(at + 1, slash - at - 1);
            service.tor_socks_port = static_cast<std::uint16_t>(std::stoul(part.substr(slash + 1)));
          }
          else throw std::runtime_error("unknown flag " + part);
        }
        services.push_back(service);
      }
      if (services.empty()) firewall.remove_all();  // as ServiceFirewall::sync() does
      else firewall.apply(services);
      return 0;
    }
    if (verb == "remove") return firewall.remove_all(), 0;
    if (verb == "hooks") return firewall.hooks_present() ? 0 : 1;
    if (verb == "absent") return firewall.absent() ? 0 : 1;
    std::cerr << "firewall-tool: unknown verb " << verb << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "firewall-tool: " << error.what() << "\n";
    return 2;
  }
}

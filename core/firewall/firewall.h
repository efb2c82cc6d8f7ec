// The daemon's firewall rules. Tails drops INPUT and filters loopback
// OUTPUT by user, so an enabled service needs rules of its own.
//
// Our rules live in two chains of our own, TAILS-SERVER-IN and
// TAILS-SERVER-OUT, in IPv4 and IPv6, jumped to from the top of INPUT and
// OUTPUT (exactly once each). For each enabled service and each of its local
// ports P they hold only:
//   OUT: -o lo -p tcp --dport P -m owner --uid-owner <tor user> -j ACCEPT
//   OUT: -o lo -p tcp --dport P -j ACCEPT          if allow-localhost
//   IN:  ! -i lo -p tcp --dport P -j ACCEPT        if allow-lan
// and first of all, for a service whose program may reach other hosts only
// through Tor (TailsService::tor_only_account, Prosody's federation), with its
// account U:
//   OUT: -d <socks host> -o lo -p tcp --dport <socks port> -m owner --uid-owner U -j ACCEPT   (IPv4)
//   OUT: -m owner --uid-owner U -m conntrack --ctstate NEW -j REJECT        (IPv4 and IPv6)
// so that U opens no connection but to Tor's SOCKS port (its replies on
// connections Tor made to it are not NEW).
//
// Backends: "iptables" (iptables-restore --noflush and ip6tables-restore
// --noflush, one transaction per family) or "nftables" (nft -f, one
// transaction for both families, on the tables ip filter and ip6 filter).
// Programs run with an argument vector only, never a shell. Each call is
// synchronous (a few milliseconds).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::core {

inline constexpr const char* firewall_in_chain = "TAILS-SERVER-IN";
inline constexpr const char* firewall_out_chain = "TAILS-SERVER-OUT";

// What one enabled service needs.
struct FirewallService {
  std::string name;
  std::vector<std::uint16_t> ports;  // its local ports
  bool allow_localhost = false;
  bool allow_lan = false;
  // The account that may connect only to Tor's SOCKS port, or "".
  std::string tor_only_user{};
  std::string tor_socks_host{};  // a loopback IPv4 address (daemon config tor_socks)
  std::uint16_t tor_socks_port = 0;
};

enum class FirewallBackend { Iptables, Nftables };
enum class IpFamily { V4, V6 };

// A program failed or its output made no sense. The message names the
// program and quotes its output.
class FirewallError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "iptables" or "nftables"; throws FirewallError otherwise.
FirewallBackend parse_firewall_backend(const std::string& name);

// ---- pure parts, exposed for the tests ---------------------------------

// Our hooks and chains as found in one family's table.
struct FirewallHooks {
  bool table = false;         // the filter table exists (nftables: may be missing)
  bool input_chain = false;   // nftables: the INPUT base chain exists
  bool output_chain = false;  // nftables: the OUTPUT base chain exists
  bool in_chain = false;      // TAILS-SERVER-IN exists
  bool out_chain = false;     // TAILS-SERVER-OUT exists
  int input_jumps = 0;        // rules in INPUT that jump to TAILS-SERVER-IN
  int output_jumps = 0;
  bool input_first = false;   // INPUT's first rule is our jump
  bool output_first = false;
  std::vector<std::uint64_t> input_jump_handles;   // nftables rule handles
  std::vector<std::uint64_t> output_jump_handles;
  // The destination port of each rule in our chains, in order (0 for a rule
  // without one): what they let through, to compare with what we wrote.
  std::vector<int> in_ports;
  std::vector<int> out_ports;
  // The chains exist and each is jumped to exactly once, from the top.
  bool complete() const {
    return in_chain && out_chain && input_jumps == 1 && output_jumps == 1 && input_first && output_first;
  }
  // Nothing of ours is there.
  bool absent() const { return !in_chain && !out_chain && input_jumps == 0 && output_jumps == 0; }
};

// Reads `iptables-save -t filter` output.
FirewallHooks parse_iptables_save(const std::string& text);
// Reads `nft -a list ruleset ip|ip6` output (the table named filter).
FirewallHooks parse_nft_ruleset(const std::string& text);

// The sources allow-lan accepts: the local network only. IPv4: RFC 1918
// and link-local 169.254.0.0/16; IPv6: link-local fe80::/10 and unique local
// fc00::/7. Not 100.64.0.0/10: that is carrier-grade NAT space, where the
// other hosts are the ISP's other customers, not the local network. A global
// IPv6 address or a public IPv4 address never reaches a service without Tor.
const std::vector<std::string>& lan_sources(IpFamily family);

// The rules of our two chains for one family, as iptables rule
// specifications ("-A TAILS-SERVER-OUT -o lo -p tcp -m tcp --dport 64738 -m
// owner --uid-owner debian-tor -j ACCEPT"); allow-lan gives one rule per LAN
// source.
std::vector<std::string> iptables_chain_rules(const std::vector<FirewallService>& services,
                                              const std::string& tor_user, IpFamily family);
// The iptables-restore --noflush input that makes one family match
// `services`, given what is there now: declares (and so empties) our
// chains, fills them, and leaves exactly one jump at the top of INPUT and
// OUTPUT.
std::string iptables_apply_script(const std::vector<FirewallService>& services, const std::string& tor_user,
                                  IpFamily family, const FirewallHooks& current);
// The iptables-restore --noflush input that removes our jumps and chains
// ("" if there is nothing of ours).
std::string iptables_remove_script(const FirewallHooks& current);
// The same for nft -f, one family ("ip" or "ip6") at a time; the caller
// concatenates both into one transaction.
std::string nft_apply_script(const std::vector<FirewallService>& services, const std::string& tor_user,
                             IpFamily family, const FirewallHooks& current);
std::string nft_remove_script(IpFamily family, const FirewallHooks& current);

// ---- the firewall ------------------------------------------------------

class Firewall {
 public:
  struct Options {
    FirewallBackend backend = FirewallBackend::Iptables;
    std::string tor_user = "debian-tor";
    // Program names (looked up in PATH, then /usr/sbin and /sbin).
    std::string iptables_restore = "iptables-restore";
    std::string ip6tables_restore = "ip6tables-restore";
    std::string iptables_save = "iptables-save";
    std::string ip6tables_save = "ip6tables-save";
    std::string nft = "nft";
  };

  explicit Firewall(Options options);

  // Makes the kernel match exactly `services` (IPv4 and IPv6): our chains
  // exist, hold only their rules (replaced atomically per family with
  // iptables, across both with nftables), and are jumped to once from the
  // top of INPUT and OUTPUT. Throws FirewallError.
  void apply(const std::vector<FirewallService>& services);
  // Removes our jumps and chains (IPv4 and IPv6). No-op if none is there.
  void remove_all();
  // Our chains and jumps are all in place (false after a reload of the
  // base ruleset wiped them).
  bool hooks_present();
  // Our chains and jumps are in place and hold exactly the rules apply()
  // writes for `services` (compared by destination port, rule by rule): a
  // rule someone else added or removed there makes it false.
  bool matches(const std::vector<FirewallService>& services);
  // Nothing of ours is in the kernel.
  bool absent();
  // The kernel reports changes of this backend's rules on netlink
  // (NFNLGRP_NFTABLES): true for nftables and iptables-nft, false for
  // iptables-legacy, whose changes only a periodic check can notice.
  bool kernel_notifies();

  const Options& options() const { return options_; }

 private:
  FirewallHooks read(IpFamily family);
  Options options_;
};

// Runs `argv` (no shell) with `input` on its stdin; returns its stdout and
// stderr together. Throws FirewallError naming the program and quoting its
// output if it cannot start, is killed or exits non-zero.
std::string run_firewall_program(const std::vector<std::string>& argv, const std::string& input = {});

}  // namespace tails_server::core

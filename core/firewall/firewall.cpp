#include "firewall/firewall.h"

#include "util/run_program.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace tails_server::core {

namespace {

// iptables-restore waits up to 5 s for the xtables lock (-w 5); nothing
// else takes long. A hung program must not hang the daemon.
constexpr std::chrono::seconds kFirewallProgramTimeout{30};

const char* family_name(IpFamily family) { return family == IpFamily::V4 ? "ip" : "ip6"; }

// User names go into restore scripts and nft scripts: allow only what a
// Debian user name can hold, so nothing can be injected.
void check_user(const std::string& user, const char* what = "tor user") {
  bool ok = !user.empty() && user.size() <= 32;
  for (char c : user)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) ok = false;
  if (!ok) throw FirewallError(std::string("invalid ") + what + " name for the firewall rules: '" + user + "'");
}

// The SOCKS host goes into scripts too: a dotted-quad IPv4 address only.
void check_ipv4(const std::string& address) {
  int dots = 0;
  bool ok = !address.empty() && address.size() <= 15;
  for (char c : address) {
    if (c == '.') ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c))) ok = false;
  }
  if (!ok || dots != 3) throw FirewallError("invalid Tor SOCKS address for the firewall rules: '" + address + "'");
}

// Whether `service` gets the tor-only rules; checks what goes into them.
bool tor_only(const FirewallService& service) {
  if (service.tor_only_user.empty()) return false;
  check_user(service.tor_only_user, "tor-only account");
  check_ipv4(service.tor_socks_host);
  if (service.tor_socks_port == 0) throw FirewallError("no Tor SOCKS port for the tor-only account of " + service.name);
  return true;
}

std::string trim(const std::string& s) {
  auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  auto end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

std::string quote_output(const std::string& output) {
  std::string text = trim(output);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.empty() ? "(no output)" : "\"" + text + "\"";
}

// Finds `name` in the system directories first (the daemon runs as root
// with whatever PATH systemd gave it), then in PATH.
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/sbin:/usr/bin:/sbin:/bin";
  if (const char* env = std::getenv("PATH")) path += std::string(":") + env;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw FirewallError(name + " is not installed (not found in " + path + ")");
}

}  // namespace

FirewallBackend parse_firewall_backend(const std::string& name) {
  if (name == "iptables") return FirewallBackend::Iptables;
  if (name == "nftables") return FirewallBackend::Nftables;
  throw FirewallError("unknown firewall backend '" + name + "' (iptables or nftables)");
}

// ---- parsing -------------------------------------------------------------

// The number after `key` in a rule's text (" --dport 8080 "), or 0.
static int port_after(const std::string& rule, const std::string& key) {
  auto at = rule.find(key);
  return at == std::string::npos ? 0 : std::atoi(rule.c_str() + at + key.size());
}

FirewallHooks parse_iptables_save(const std::string& text) {
  FirewallHooks hooks;
  std::stringstream lines(text);
  std::string line;
  bool in_filter = false;
  int input_rules = 0, output_rules = 0;
  const std::string in_jump = std::string("-A INPUT -j ") + firewall_in_chain;
  const std::string out_jump = std::string("-A OUTPUT -j ") + firewall_out_chain;
  const std::string in_rule = std::string("-A ") + firewall_in_chain + " ";
  const std::string out_rule = std::string("-A ") + firewall_out_chain + " ";
  while (std::getline(lines, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '*') {
      in_filter = line == "*filter";
      if (in_filter) hooks.table = true;
      continue;
    }
    if (!in_filter) continue;
    if (line[0] == ':') {
      auto name = line.substr(1, line.find(' ') - 1);
      if (name == firewall_in_chain) hooks.in_chain = true;
      if (name == firewall_out_chain) hooks.out_chain = true;
      if (name == "INPUT") hooks.input_chain = true;
      if (name == "OUTPUT") hooks.output_chain = true;
      continue;
    }
    if (line.rfind(in_rule, 0) == 0) {
      hooks.in_ports.push_back(port_after(line, " --dport "));
    } else if (line.rfind(out_rule, 0) == 0) {
      hooks.out_ports.push_back(port_after(line, " --dport "));
    } else if (line.rfind("-A INPUT ", 0) == 0) {
      if (line == in_jump) {
        ++hooks.input_jumps;
        if (input_rules == 0) hooks.input_first = true;
      }
      ++input_rules;
    } else if (line.rfind("-A OUTPUT ", 0) == 0) {
      if (line == out_jump) {
        ++hooks.output_jumps;
        if (output_rules == 0) hooks.output_first = true;
      }
      ++output_rules;
    }
  }
  return hooks;
}

FirewallHooks parse_nft_ruleset(const std::string& text) {
  FirewallHooks hooks;
  std::stringstream lines(text);
  std::string line;
  int depth = 0;
  bool in_table = false;
  std::string chain;  // the chain we are in, inside our table
  int rules = 0;
  while (std::getline(lines, line)) {
    std::string body = trim(line);
    std::uint64_t handle = 0;
    if (auto mark = body.find(" # handle "); mark != std::string::npos) {
      handle = std::strtoull(body.c_str() + mark + 10, nullptr, 10);
      body = trim(body.substr(0, mark));
    } else if (auto comment = body.find('#'); comment == 0) {
      continue;
    }
    int opens = 0, closes = 0;
    for (char c : body) opens += c == '{', closes += c == '}';
    if (depth == 0 && body.rfind("table ", 0) == 0) {
      std::stringstream words(body);
      std::string keyword, family, name;
      words >> keyword >> family >> name;
      in_table = name == "filter";
      if (in_table) hooks.table = true;
    } else if (in_table && depth == 1 && body.rfind("chain ", 0) == 0) {
      std::stringstream words(body);
      std::string keyword;
      words >> keyword >> chain;
      rules = 0;
      if (chain == firewall_in_chain) hooks.in_chain = true;
      if (chain == firewall_out_chain) hooks.out_chain = true;
      if (chain == "INPUT") hooks.input_chain = true;
      if (chain == "OUTPUT") hooks.output_chain = true;
    } else if (in_table && depth == 2 && !body.empty() && body != "}" && body.rfind("type ", 0) != 0 &&
               body.rfind("policy ", 0) != 0) {
      if (chain == firewall_in_chain) {
        hooks.in_ports.push_back(port_after(body, " dport "));
      } else if (chain == firewall_out_chain) {
        hooks.out_ports.push_back(port_after(body, " dport "));
      } else if (chain == "INPUT") {
        if (body == std::string("jump ") + firewall_in_chain) {
          ++hooks.input_jumps;
          hooks.input_jump_handles.push_back(handle);
          if (rules == 0) hooks.input_first = true;
        }
        ++rules;
      } else if (chain == "OUTPUT") {
        if (body == std::string("jump ") + firewall_out_chain) {
          ++hooks.output_jumps;
          hooks.output_jump_handles.push_back(handle);
          if (rules == 0) hooks.output_first = true;
        }
        ++rules;
      }
    }
    depth += opens - closes;
    if (depth <= 0) {
      depth = 0;
      in_table = false;
    }
  }
  return hooks;
}

// ---- generation ------------------------------------------------------------

const std::vector<std::string>& lan_sources(IpFamily family) {
  static const std::vector<std::string> v4 = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"};
  static const std::vector<std::string> v6 = {"fe80::/10", "fc00::/7"};
  return family == IpFamily::V4 ? v4 : v6;
}

std::vector<std::string> iptables_chain_rules(const std::vector<FirewallService>& services,
                                              const std::string& tor_user, IpFamily family) {
  check_user(tor_user);
  std::vector<std::string> rules;
  const std::string out = std::string("-A ") + firewall_out_chain + " -o lo -p tcp -m tcp --dport ";
  const std::string in = std::string("-A ") + firewall_in_chain + " -s ";
  // First, so that no later ACCEPT (allow-localhost) lets a tor-only account out.
  for (const auto& service : services) {
    if (!tor_only(service)) continue;
    const std::string owner = " -m owner --uid-owner " + service.tor_only_user;
    if (family == IpFamily::V4)
      rules.push_back(std::string("-A ") + firewall_out_chain + " -d " + service.tor_socks_host +
                      "/32 -o lo -p tcp -m tcp --dport " + std::to_string(service.tor_socks_port) + owner +
                      " -j ACCEPT");
    rules.push_back(std::string("-A ") + firewall_out_chain + owner + " -m conntrack --ctstate NEW -j REJECT");
  }
  for (const auto& service : services)
    for (auto port : service.ports) {
      auto p = std::to_string(port);
      rules.push_back(out + p + " -m owner --uid-owner " + tor_user + " -j ACCEPT");
      if (service.allow_localhost) rules.push_back(out + p + " -j ACCEPT");
      if (service.allow_lan)
        for (const auto& source : lan_sources(family))
          rules.push_back(in + source + " ! -i lo -p tcp -m tcp --dport " + p + " -j ACCEPT");
    }
  return rules;
}

std::string iptables_apply_script(const std::vector<FirewallService>& services, const std::string& tor_user,
                                  IpFamily family, const FirewallHooks& current) {
  std::string script = "*filter\n";
  // With --noflush, declaring a user chain creates it, or empties it if it
  // exists: the chain's new contents replace the old ones in this transaction.
  script += std::string(":") + firewall_in_chain + " - [0:0]\n";
  script += std::string(":") + firewall_out_chain + " - [0:0]\n";
  for (const auto& rule : iptables_chain_rules(services, tor_user, family)) script += rule + "\n";
  auto hook = [&](const char* builtin, const char* ours, int jumps, bool first) {
    if (jumps == 1 && first) return;
    for (int i = 0; i < jumps; ++i) script += std::string("-D ") + builtin + " -j " + ours + "\n";
    script += std::string("-I ") + builtin + " 1 -j " + ours + "\n";
  };
  hook("INPUT", firewall_in_chain, current.input_jumps, current.input_first);
  hook("OUTPUT", firewall_out_chain, current.output_jumps, current.output_first);
  script += "COMMIT\n";
  return script;
}

std::string iptables_remove_script(const FirewallHooks& current) {
  if (current.absent()) return {};
  std::string script = "*filter\n";
  for (int i = 0; i < current.input_jumps; ++i) script += std::string("-D INPUT -j ") + firewall_in_chain + "\n";
  for (int i = 0; i < current.output_jumps; ++i) script += std::string("-D OUTPUT -j ") + firewall_out_chain + "\n";
  for (const char* chain : {firewall_in_chain, firewall_out_chain}) {
    bool exists = chain == firewall_in_chain ? current.in_chain : current.out_chain;
    if (exists) script += std::string("-F ") + chain + "\n-X " + chain + "\n";
  }
  script += "COMMIT\n";
  return script;
}

std::string nft_apply_script(const std::vector<FirewallService>& services, const std::string& tor_user,
                             IpFamily family, const FirewallHooks& current) {
  check_user(tor_user);
  const std::string table = std::string(family_name(family)) + " filter";
  std::string script = "add table " + table + "\n";
  if (!current.input_chain)
    script += "add chain " + table + " INPUT { type filter hook input priority filter; policy accept; }\n";
  if (!current.output_chain)
    script += "add chain " + table + " OUTPUT { type filter hook output priority filter; policy accept; }\n";
  for (const char* chain : {firewall_in_chain, firewall_out_chain}) {
    script += "add chain " + table + " " + chain + "\n";
    script += "flush chain " + table + " " + chain + "\n";
  }
  const std::string out = "add rule " + table + " " + firewall_out_chain + " oifname \"lo\" tcp dport ";
  const std::string in = "add rule " + table + " " + firewall_in_chain + " iifname != \"lo\" " +
                         family_name(family) + " saddr ";
  // First, so that no later accept (allow-localhost) lets a tor-only account out.
  for (const auto& service : services) {
    if (!tor_only(service)) continue;
    const std::string rule = "add rule " + table + " " + firewall_out_chain + " ";
    const std::string owner = "meta skuid \"" + service.tor_only_user + "\" ";
    if (family == IpFamily::V4)
      script += rule + "oifname \"lo\" ip daddr " + service.tor_socks_host + " tcp dport " +
                std::to_string(service.tor_socks_port) + " " + owner + "accept\n";
    script += rule + owner + "ct state new reject\n";
  }
  for (const auto& service : services)
    for (auto port : service.ports) {
      auto p = std::to_string(port);
      script += out + p + " meta skuid \"" + tor_user + "\" accept\n";
      if (service.allow_localhost) script += out + p + " accept\n";
      if (service.allow_lan)
        for (const auto& source : lan_sources(family)) script += in + source + " tcp dport " + p + " accept\n";
    }
  auto hook = [&](const char* builtin, const char* ours, const std::vector<std::uint64_t>& handles, bool first) {
    if (handles.size() == 1 && first) return;
    for (auto handle : handles)
      script += "delete rule " + table + " " + builtin + " handle " + std::to_string(handle) + "\n";
    script += "insert rule " + table + " " + builtin + " jump " + ours + "\n";
  };
  hook("INPUT", firewall_in_chain, current.input_jump_handles, current.input_first);
  hook("OUTPUT", firewall_out_chain, current.output_jump_handles, current.output_first);
  return script;
}

std::string nft_remove_script(IpFamily family, const FirewallHooks& current) {
  if (current.absent()) return {};
  const std::string table = std::string(family_name(family)) + " filter";
  std::string script;
  for (auto handle : current.input_jump_handles)
    script += "delete rule " + table + " INPUT handle " + std::to_string(handle) + "\n";
  for (auto handle : current.output_jump_handles)
    script += "delete rule " + table + " OUTPUT handle " + std::to_string(handle) + "\n";
  if (current.in_chain)
    script += "flush chain " + table + " " + firewall_in_chain + "\ndelete chain " + table + " " + firewall_in_chain + "\n";
  if (current.out_chain)
    script +=
        "flush chain " + table + " " + firewall_out_chain + "\ndelete chain " + table + " " + firewall_out_chain + "\n";
  return script;
}

// ---- running programs -----------------------------------------------------

std::string run_firewall_program(const std::vector<std::string>& argv, const std::string& input) {
  const std::string& name = argv.at(0);
  ProgramRun run{argv, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}, input, std::nullopt,
                 kFirewallProgramTimeout};
  run.argv[0] = find_program(name);
  ProgramResult result;
  try {
    result = run_program(run);
  } catch (const RunError& error) {
    throw FirewallError(error.what());
  }
  if (result.exit_code > 128)
    throw FirewallError(name + " was killed by signal " + std::to_string(result.exit_code - 128) +
                        "; its output: " + quote_output(result.output));
  if (result.exit_code != 0) {
    std::string message = name + " failed (exit status " + std::to_string(result.exit_code) +
                          "): " + quote_output(result.output);
    if (!input.empty()) message += "; its input was:\n" + input;
    throw FirewallError(message);
  }
  return std::move(result.output);
}

// ---- the firewall ------------------------------------------------------------

Firewall::Firewall(Options options) : options_(std::move(options)) { check_user(options_.tor_user); }

FirewallHooks Firewall::read(IpFamily family) {
  if (options_.backend == FirewallBackend::Nftables)
    return parse_nft_ruleset(run_firewall_program({options_.nft, "-a", "list", "ruleset", family_name(family)}));
  const auto& save = family == IpFamily::V4 ? options_.iptables_save : options_.ip6tables_save;
  return parse_iptables_save(run_firewall_program({save, "-t", "filter"}));
}

void Firewall::apply(const std::vector<FirewallService>& services) {
  // A reload of the base ruleset may come between reading and restoring, so
  // that a -D of ours finds nothing and the transaction fails (changing
  // nothing): read again and retry once.
  for (int attempt = 0;; ++attempt) {
    try {
      if (options_.backend == FirewallBackend::Nftables) {
        std::string script = nft_apply_script(services, options_.tor_user, IpFamily::V4, read(IpFamily::V4)) +
                             nft_apply_script(services, options_.tor_user, IpFamily::V6, read(IpFamily::V6));
        run_firewall_program({options_.nft, "-f", "-"}, script);
      } else {
        for (auto family : {IpFamily::V4, IpFamily::V6}) {
          const auto& restore = family == IpFamily::V4 ? options_.iptables_restore : options_.ip6tables_restore;
          run_firewall_program({restore, "-w", "5", "--noflush"},
                               iptables_apply_script(services, options_.tor_user, family, read(family)));
        }
      }
      return;
    } catch (const FirewallError&) {
      if (attempt >= 1) throw;
    }
  }
}

void Firewall::remove_all() {
  for (int attempt = 0;; ++attempt) {
    try {
      if (options_.backend == FirewallBackend::Nftables) {
        std::string script = nft_remove_script(IpFamily::V4, read(IpFamily::V4)) +
                             nft_remove_script(IpFamily::V6, read(IpFamily::V6));
        if (!script.empty()) run_firewall_program({options_.nft, "-f", "-"}, script);
      } else {
        for (auto family : {IpFamily::V4, IpFamily::V6}) {
          const auto& restore = family == IpFamily::V4 ? options_.iptables_restore : options_.ip6tables_restore;
          std::string script = iptables_remove_script(read(family));
          if (!script.empty()) run_firewall_program({restore, "-w", "5", "--noflush"}, script);
        }
      }
      return;
    } catch (const FirewallError&) {
      if (attempt >= 1) throw;
    }
  }
}

bool Firewall::hooks_present() { return read(IpFamily::V4).complete() && read(IpFamily::V6).complete(); }

bool Firewall::matches(const std::vector<FirewallService>& services) {
  for (auto family : {IpFamily::V4, IpFamily::V6}) {
    std::vector<int> in, out;
    for (const auto& service : services) {
      if (!tor_only(service)) continue;
      if (family == IpFamily::V4) out.push_back(service.tor_socks_port);
      out.push_back(0);
    }
    for (const auto& service : services)
      for (auto port : service.ports) {
        out.push_back(port);
        if (service.allow_localhost) out.push_back(port);
        if (service.allow_lan) in.insert(in.end(), lan_sources(family).size(), port);
      }
    auto hooks = read(family);
    if (!hooks.complete() || hooks.in_ports != in || hooks.out_ports != out) return false;
  }
  return true;
}

bool Firewall::absent() { return read(IpFamily::V4).absent() && read(IpFamily::V6).absent(); }

bool Firewall::kernel_notifies() {
  if (options_.backend == FirewallBackend::Nftables) return true;
  try {
    return run_firewall_program({options_.iptables_save, "--version"}).find("nf_tables") != std::string::npos;
  } catch (const FirewallError&) {
    return false;
  }
}

}  // namespace tails_server::core

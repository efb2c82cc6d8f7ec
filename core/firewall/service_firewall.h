// The firewall rules the services need, kept in the kernel by the daemon.
//
// What is wanted follows the services' recorded state: every service marked
// enabled gets its full rules (tor's user, allow-localhost, allow-lan);
// a service being enabled gets the rules for tor's user and allow-localhost
// only (its LAN rule comes once it listens, see started()). An enabled
// service whose plugin was put aside after a crash keeps the rules it had
// (rules_record.h). Nothing else: with no service enabled, none of our
// chains exists.
//
// A reload of Tails' firewall (NetworkManager hooks run iptables-restore of
// the whole table) wipes our chains. The watch notices it without polling
// where the kernel tells (nf_tables: NETLINK_NETFILTER group
// NFNLGRP_NFTABLES, a message for every change of any table), and by a
// cheap check on a timer otherwise (iptables-legacy sends nothing): both end
// in restore_if_changed(), which also undoes a rule someone else added to
// our chains.
#pragma once

#include "firewall/firewall.h"

#include <systemd/sd-event.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tails_server::core {

class ServiceManager;

class ServiceFirewall {
 public:
  struct Options {
    // "iptables" or "nftables". "none" (firewall_backend: none, for plugin
    // development) or "" (tests): no firewall program ever runs, nothing is
    // watched, and every call is a no-op.
    std::string backend;
    std::string tor_user = "debian-tor";
    // Watch for a wiped ruleset (needs `event`).
    bool watch = true;
    // How often the timer checks; 0: 5 s when the kernel cannot tell us
    // (iptables-legacy), 60 s as a safety net otherwise.
    std::chrono::milliseconds check_interval{0};
    // The record of the rules applied (rules_record.h); "": none is kept.
    std::filesystem::path record;
    // Tests: the directory of the firewall programs (iptables-save, nft, …);
    // "": found as Firewall::Options says.
    std::filesystem::path program_dir{};
  };

  // Throws FirewallError for an unknown backend or a bad user name.
  ServiceFirewall(ServiceManager& manager, sd_event* event, Options options);
  ~ServiceFirewall();
  ServiceFirewall(const ServiceFirewall&) = delete;
  ServiceFirewall& operator=(const ServiceFirewall&) = delete;

  bool active() const { return firewall_.has_value(); }

  // The rules wanted now.
  std::vector<FirewallService> wanted() const;
  // Makes the kernel match wanted(). Throws FirewallError.
  void sync();
  // At daemon start: sync(), errors logged (a crash must never leave a LAN
  // rule of a disabled service behind, and an enabled one gets its rules).
  void reconcile() noexcept;

  // The enable flow: before the unit starts, tor's user may reach the ports
  // (and local users, with allow-localhost). Throws FirewallError.
  void starting(const std::string& service);
  // Once the ports listen and the service is marked enabled: its full rules
  // (the LAN rule). Throws FirewallError.
  void started(const std::string& service);
  // The enable failed: back to the rules of the recorded state, errors
  // logged.
  void abandon(const std::string& service) noexcept;

  // If rules are wanted and the kernel's differ (our hooks missing after a
  // firewall reload, a rule added to or removed from our chains), applies
  // them again. Returns true if
  // it did. Errors logged.
  bool restore_if_changed() noexcept;

  // The watch: whether the kernel's nf_tables notifications are followed.
  bool notified() const { return netlink_fd_ >= 0; }

 private:
  FirewallService rules_of(const std::string& service, bool lan) const;
  void start_watch();
  void schedule_check(std::chrono::microseconds delay);
  static int on_netlink(sd_event_source* source, int fd, uint32_t revents, void* data);
  static int on_timer(sd_event_source* source, uint64_t usec, void* data);
  static int on_debounce(sd_event_source* source, uint64_t usec, void* data);

  ServiceManager& manager_;
  sd_event* event_;
  Options options_;
  std::optional<Firewall> firewall_;
  std::set<std::string> starting_;
  std::map<std::string, FirewallService> recorded_;  // as last applied, by service
  int netlink_fd_ = -1;
  sd_event_source* netlink_source_ = nullptr;
  sd_event_source* timer_source_ = nullptr;
  sd_event_source* debounce_source_ = nullptr;
  std::chrono::microseconds interval_{0};
};

}  // namespace tails_server::core

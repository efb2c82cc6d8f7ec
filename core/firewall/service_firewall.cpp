#include "firewall/service_firewall.h"

#include "config/daemon_config.h"
#include "firewall/rules_record.h"
#include "util/log.h"

#include "services/service_manager.h"

#include <tails_server/standard_options.h>

#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace tails_server::core {

namespace {

constexpr std::chrono::microseconds debounce{std::chrono::milliseconds(300)};

std::uint64_t now_usec(sd_event* event) {
  std::uint64_t now = 0;
  sd_event_now(event, CLOCK_MONOTONIC, &now);
  return now;
}

}  // namespace

ServiceFirewall::ServiceFirewall(ServiceManager& manager, sd_event* event, Options options)
    : manager_(manager), event_(event), options_(std::move(options)) {
  if (options_.backend.empty() || options_.backend == firewall_backend_none) return;
  Firewall::Options firewall;
  firewall.backend = parse_firewall_backend(options_.backend);
  firewall.tor_user = options_.tor_user;
  if (!options_.program_dir.empty())
    for (auto* program : {&firewall.iptables_restore, &firewall.ip6tables_restore, &firewall.iptables_save,
                          &firewall.ip6tables_save, &firewall.nft})
      *program = (options_.program_dir / *program).string();
  firewall_.emplace(firewall);
  if (!options_.record.empty()) recorded_ = load_firewall_record(options_.record);
  if (options_.watch && event_) start_watch();
}

ServiceFirewall::~ServiceFirewall() {
  sd_event_source_disable_unref(netlink_source_);
  sd_event_source_disable_unref(timer_source_);
  sd_event_source_disable_unref(debounce_source_);
  if (netlink_fd_ >= 0) ::close(netlink_fd_);
}

FirewallService ServiceFirewall::rules_of(const std::string& service, bool lan) const {
  FirewallService rules;
  rules.name = service;
  rules.ports = manager_.local_ports(service);
  rules.allow_localhost = manager_.get_option(service, standard_option::allow_localhost) == "true";
  rules.allow_lan = lan && manager_.get_option(service, standard_option::allow_lan) == "true";
  rules.tor_only_user = manager_.tor_only_account(service);
  if (!rules.tor_only_user.empty()) {
    rules.tor_socks_host = manager_.tor_socks_host();
    rules.tor_socks_port = manager_.tor_socks_port();
  }
  return rules;
}

std::vector<FirewallService> ServiceFirewall::wanted() const {
  std::vector<FirewallService> services;
  for (const auto& name : manager_.service_names()) {
    bool starting = starting_.count(name) > 0;
    bool enabled = false;
    try {
      enabled = manager_.enabled(name);
    } catch (const std::exception&) {
      // an unreadable state: not enabled as far as we know
    }
    if (enabled || starting) services.push_back(rules_of(name, enabled && !starting));
  }
  // Their plugin's code never runs again until a retry: its last rules stay.
  for (const auto& crashed : manager_.crashed_services())
    if (auto rules = recorded_.find(crashed.name); crashed.enabled && rules != recorded_.end())
      services.push_back(rules->second);
  return services;
}

void ServiceFirewall::sync() {
  if (!firewall_) return;
  auto services = wanted();
  if (services.empty())
    firewall_->remove_all();
  else
    firewall_->apply(services);
  if (options_.record.empty()) return;
  recorded_.clear();
  for (const auto& service : services) recorded_[service.name] = service;
  save_firewall_record(options_.record, services);
}

void ServiceFirewall::reconcile() noexcept {
  try {
    sync();
  } catch (const std::exception& error) {
    log::error(std::string("cannot set up the firewall rules of the enabled services: ") + error.what());
  }
}

void ServiceFirewall::starting(const std::string& service) {
  starting_.insert(service);
  sync();
}

void ServiceFirewall::started(const std::string& service) {
  starting_.erase(service);
  sync();
}

void ServiceFirewall::abandon(const std::string& service) noexcept {
  if (!starting_.erase(service)) return;
  try {
    sync();
  } catch (const std::exception& error) {
    log::error("cannot remove the firewall rules of " + service + ": " + error.what());
  }
}

bool ServiceFirewall::restore_if_changed() noexcept {
  if (!firewall_) return false;
  try {
    auto services = wanted();
    // Nothing wanted: nothing to check (no program runs every few seconds).
    if (services.empty() || firewall_->matches(services)) return false;
    log::warning("the firewall rules of the services are gone or changed (a reload of the firewall?); "
                "applying them again");
    sync();
    return true;
  } catch (const std::exception& error) {
    log::error(std::string("cannot restore the firewall rules of the services: ") + error.what());
    return false;
  }
}

void ServiceFirewall::start_watch() {
  bool notifies = firewall_->kernel_notifies();
  if (notifies) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd >= 0) {
      sockaddr_nl address{};
      address.nl_family = AF_NETLINK;
      int group = NFNLGRP_NFTABLES;
      if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
          ::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) == 0 &&
          sd_event_add_io(event_, &netlink_source_, fd, EPOLLIN, on_netlink, this) >= 0) {
        netlink_fd_ = fd;
      } else {
        log::warning("cannot follow nf_tables notifications; checking the firewall rules every 5 s instead");
        ::close(fd);
      }
    }
  }
  interval_ = options_.check_interval.count() > 0
                  ? std::chrono::duration_cast<std::chrono::microseconds>(options_.check_interval)
                  : std::chrono::microseconds(netlink_fd_ >= 0 ? std::chrono::seconds(60) : std::chrono::seconds(5));
  if (sd_event_add_time(event_, &timer_source_, CLOCK_MONOTONIC, now_usec(event_) + interval_.count(), 0, on_timer,
                        this) < 0)
    log::warning("cannot start the firewall check timer");
}

void ServiceFirewall::schedule_check(std::chrono::microseconds delay) {
  if (debounce_source_) {
    int enabled = SD_EVENT_OFF;
    sd_event_source_get_enabled(debounce_source_, &enabled);
    if (enabled != SD_EVENT_OFF) return;  // a check is coming already
    sd_event_source_set_time(debounce_source_, now_usec(event_) + delay.count());
    sd_event_source_set_enabled(debounce_source_, SD_EVENT_ONESHOT);
    return;
  }
  sd_event_add_time(event_, &debounce_source_, CLOCK_MONOTONIC, now_usec(event_) + delay.count(), 0, on_debounce,
                    this);
}

int ServiceFirewall::on_netlink(sd_event_source*, int fd, uint32_t, void* data) {
  auto* self = static_cast<ServiceFirewall*>(data);
  char buffer[8192];
  for (;;) {
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) continue;  // overrun: something changed, check anyway
    if (n <= 0) break;
  }
  // A ruleset reload sends many messages: check once after they settled.
  self->schedule_check(debounce);
  return 0;
}

int ServiceFirewall::on_debounce(sd_event_source*, uint64_t, void* data) {
  static_cast<ServiceFirewall*>(data)->restore_if_changed();
  return 0;
}

int ServiceFirewall::on_timer(sd_event_source* source, uint64_t usec, void* data) {
  auto* self = static_cast<ServiceFirewall*>(data);
  self->restore_if_changed();
  sd_event_source_set_time(source, usec + self->interval_.count());
  sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
  return 0;
}

}  // namespace tails_server::core

#include "firewall/rules_record.h"

#include "util/log.h"
#include "util/no_follow.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tails_server::core {

namespace {

using nlohmann::json;
constexpr std::size_t kMaxRecord = 1 << 20;

}  // namespace

std::map<std::string, FirewallService> load_firewall_record(const std::filesystem::path& file) {
  std::map<std::string, FirewallService> services;
  try {
    auto text = no_follow::read_small_file(file, kMaxRecord);
    if (!text) return services;
    for (const auto& item : json::parse(*text)) {
      FirewallService service;
      service.name = item.at("name").get<std::string>();
      for (const auto& port : item.at("ports")) {
        auto number = port.get<std::int64_t>();  // throws for anything but a number
        if (!port.is_number_integer() || number < 1 || number > 65535)
          throw std::runtime_error("a port of " + service.name + " is not a whole number from 1 to 65535");
        service.ports.push_back(static_cast<std::uint16_t>(number));
      }
      service.allow_localhost = item.at("allow_localhost").get<bool>();
      service.allow_lan = item.at("allow_lan").get<bool>();
      if (item.contains("tor_only_user")) {  // since the tor-only rules
        service.tor_only_user = item.at("tor_only_user").get<std::string>();
        service.tor_socks_host = item.at("tor_socks_host").get<std::string>();
        auto port = item.at("tor_socks_port").get<std::int64_t>();
        if (port < 0 || port > 65535) throw std::runtime_error("the Tor SOCKS port of " + service.name + " is not a port");
        service.tor_socks_port = static_cast<std::uint16_t>(port);
      }
      services[service.name] = std::move(service);
    }
  } catch (const std::exception& error) {
    log::error("ignoring the record of the firewall rules " + file.string() + ": " + error.what());
    services.clear();
  }
  return services;
}

void save_firewall_record(const std::filesystem::path& file, const std::vector<FirewallService>& services) {
  json list = json::array();
  for (const auto& service : services)
    list.push_back({{"name", service.name},
                    {"ports", service.ports},
                    {"allow_localhost", service.allow_localhost},
                    {"allow_lan", service.allow_lan},
                    {"tor_only_user", service.tor_only_user},
                    {"tor_socks_host", service.tor_socks_host},
                    {"tor_socks_port", service.tor_socks_port}});
  std::string text = list.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
  Fd dir = no_follow::open_path(file.parent_path(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::string name = file.filename().string();
  std::string temporary = name + ".new";
  Fd out = dir ? Fd(::openat(dir.get(), temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600))
               : Fd();
  bool written = out && ::write(out.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (!written || ::renameat(dir.get(), temporary.c_str(), dir.get(), name.c_str()) != 0)
    log::error("cannot save the record of the firewall rules " + file.string() + ": " + std::strerror(errno));
}

}  // namespace tails_server::core

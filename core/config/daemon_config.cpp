#include "config/daemon_config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <set>
#include <cstring>
#include <sstream>

namespace tails_server::core {

namespace {

std::string where(const std::filesystem::path& file, const YAML::Node& node) {
  const auto& mark = node.Mark();
  if (mark.is_null()) return file.string();
  return file.string() + ":" + std::to_string(mark.line + 1);
}

std::string scalar(const std::filesystem::path& file, const std::string& key, const YAML::Node& node) {
  if (!node.IsScalar())
    throw ConfigError(where(file, node) + ": '" + key + "' must be a single value");
  return node.as<std::string>();
}

std::filesystem::path absolute_path(const std::filesystem::path& file, const std::string& key,
                                    const YAML::Node& node) {
  std::filesystem::path p = scalar(file, key, node);
  if (!p.is_absolute())
    throw ConfigError(where(file, node) + ": '" + key + "' must be an absolute path, got '" + p.string() + "'");
  return p;
}

}  // namespace

void parse_tor_socks(const std::string& text, std::string& host, std::uint16_t& port) {
  const std::string accepted = "; accepted: a loopback IPv4 address and a port, such as 127.0.0.1:9050";
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw ConfigError("'tor_socks' has no port: '" + text + "'" + accepted);
  std::string address = text.substr(0, colon), port_text = text.substr(colon + 1);
  int parts = 0;
  unsigned first = 0;
  std::size_t at = 0;
  bool ok = !address.empty();
  while (ok && at <= address.size()) {
    auto dot = address.find('.', at);
    if (dot == std::string::npos) dot = address.size();
    unsigned value = 0;
    auto [end, error] = std::from_chars(address.data() + at, address.data() + dot, value);
    if (error != std::errc() || end != address.data() + dot || dot == at || dot - at > 3 || value > 255) ok = false;
    if (parts == 0) first = value;
    ++parts;
    at = dot + 1;
  }
  if (!ok || parts != 4 || first != 127)
    throw ConfigError("'tor_socks' address '" + address + "' is not a loopback IPv4 address" + accepted);
  unsigned number = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), number);
  if (error != std::errc() || end != port_text.data() + port_text.size() || number < 1 || number > 65535)
    throw ConfigError("'tor_socks' port '" + port_text + "' is not a port from 1 to 65535" + accepted);
  host = address;
  port = static_cast<std::uint16_t>(number);
}

DaemonConfig load_daemon_config(const std::filesystem::path& file) {
  DaemonConfig config;
  std::error_code error;
  if (std::filesystem::exists(file, error)) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(file.string());
    } catch (const YAML::Exception& e) {
      throw ConfigError(file.string() + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (!root.IsNull() && !root.IsMap())
      throw ConfigError(file.string() + ": expected a mapping of settings");
    for (const auto& item : root) {
      std::string key = item.first.as<std::string>();
      const YAML::Node& value = item.second;
      if (key == "plugin_dirs") {
        if (!value.IsSequence()) throw ConfigError(where(file, value) + ": 'plugin_dirs' must be a list of paths");
        config.plugin_dirs.clear();
        for (const auto& dir : value) config.plugin_dirs.push_back(absolute_path(file, key, dir));
      } else if (key == "root") {
        config.root = absolute_path(file, key, value);
      } else if (key == "state_dir") {
        config.state_dir = absolute_path(file, key, value);
      } else if (key == "runtime_dir") {
        config.runtime_dir = absolute_path(file, key, value);
      } else if (key == "tor_control") {
        config.tor_control = scalar(file, key, value);
      } else if (key == "tor_cookie") {
        config.tor_cookie = absolute_path(file, key, value);
      } else if (key == "tor_socks") {
        try {
          parse_tor_socks(scalar(file, key, value), config.tor_socks_host, config.tor_socks_port);
        } catch (const ConfigError& bad) {
          throw ConfigError(where(file, value) + ": " + bad.what());
        }
      } else if (key == "persistence_root") {
        config.persistence_root = absolute_path(file, key, value);
      } else if (key == "firewall_backend") {
        config.firewall_backend = scalar(file, key, value);
        if (config.firewall_backend != "iptables" && config.firewall_backend != "nftables" &&
            config.firewall_backend != firewall_backend_none)
          throw ConfigError(where(file, value) + ": 'firewall_backend' must be iptables, nftables or none, got '" +
                            config.firewall_backend + "'");
      } else if (key == "autostart_package_wait") {
        std::string text = scalar(file, key, value);
        unsigned seconds = 0;
        auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (error != std::errc() || end != text.data() + text.size() || seconds > 86400)
          throw ConfigError(where(file, value) + ": 'autostart_package_wait' must be a number of seconds from 0 "
                            "to 86400, got '" + text + "'");
        config.autostart_package_wait = seconds;
      } else {
        throw ConfigError(where(file, item.first) + ": unknown setting '" + key +
                          "'; known: plugin_dirs, root, state_dir, runtime_dir, tor_control, tor_cookie, "
                          "tor_socks, persistence_root, firewall_backend, autostart_package_wait");
      }
    }
  }
  if (const char* runtime = std::getenv(runtime_directory_variable);
      config.runtime_dir.empty() && runtime && *runtime && !std::strchr(runtime, ':'))
    config.runtime_dir = runtime;
  if (const char* extra = std::getenv(plugin_path_variable); extra && *extra) {
    std::stringstream dirs(extra);
    std::string dir;
    while (std::getline(dirs, dir, ':'))
      if (!dir.empty()) config.plugin_dirs.emplace_back(dir);
  }
  return config;
}

}  // namespace tails_server::core

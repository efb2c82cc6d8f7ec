#include "config.h"

#include <arpa/inet.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "text.h"

namespace tails_server::chat {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxTitleBytes = 200;
constexpr std::size_t kMaxMotdBytes = 2000;
constexpr std::size_t kMaxListen = 8;

std::string found(const json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

int integer_in(const json& object, const char* key, int low, int high, int fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number_integer() || it->get<long long>() < low || it->get<long long>() > high) {
    throw ConfigError("\"" + std::string(key) + "\" must be an integer from " + std::to_string(low) + " to " +
                      std::to_string(high) + ", found " + found(*it));
  }
  return static_cast<int>(it->get<long long>());
}

std::string text_in(const json& object, const char* key, std::size_t max_bytes, std::string_view allowed_controls,
                    const std::string& fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  const std::string what =
      "\"" + std::string(key) + "\" must be a string of at most " + std::to_string(max_bytes) + " bytes of UTF-8" +
      (allowed_controls.empty() ? " without control characters" : " without control characters but newlines");
  if (!it->is_string()) throw ConfigError(what + ", found " + found(*it));
  const auto& text = it->get_ref<const std::string&>();
  if (text.size() > max_bytes) throw ConfigError(what + ", found " + std::to_string(text.size()) + " bytes");
  if (!is_valid_utf8(text)) throw ConfigError(what + ", found invalid UTF-8");
  if (has_control_chars(text, allowed_controls)) throw ConfigError(what + ", found a control character");
  return text;
}

// Loopback, or with allow-lan every address ("0.0.0.0", "::"): what the
// daemon gives; its firewall decides who reaches the port.
bool is_listen_address(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127 || v4.s_addr == htonl(INADDR_ANY);
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6);
  return false;
}

std::vector<ListenAddress> listen_in(const json& object) {
  auto it = object.find("listen");
  const std::string what = "\"listen\" must be a list of 1 to " + std::to_string(kMaxListen) +
                           " objects {\"address\": a loopback IP address, 0.0.0.0 or ::, \"port\": 1 to 65535}";
  if (it == object.end()) throw ConfigError(what + ", found nothing");
  if (!it->is_array() || it->empty() || it->size() > kMaxListen) throw ConfigError(what + ", found " + found(*it));
  std::vector<ListenAddress> result;
  for (const auto& entry : *it) {
    if (!entry.is_object()) throw ConfigError(what + ", found " + found(entry));
    for (const auto& [key, value] : entry.items()) {
      if (key != "address" && key != "port") throw ConfigError(what + ", found the unknown key \"" + key + "\"");
    }
    auto address = entry.find("address");
    auto port = entry.find("port");
    if (address == entry.end() || !address->is_string() || !is_listen_address(address->get<std::string>())) {
      throw ConfigError(what + ", found " + found(entry));
    }
    if (port == entry.end() || !port->is_number_integer() || port->get<long long>() < 1 ||
        port->get<long long>() > 65535) {
      throw ConfigError(what + ", found " + found(entry));
    }
    result.push_back({address->get<std::string>(), static_cast<std::uint16_t>(port->get<long long>())});
  }
  return result;
}

}  // namespace

Config parse_config(const std::string& json_text) {
  json object;
  try {
    object = json::parse(json_text);
  } catch (const json::parse_error& error) {
    throw ConfigError(std::string("not valid JSON: ") + error.what());
  }
  if (!object.is_object()) throw ConfigError("must be a JSON object, found " + found(object));
  static const std::set<std::string> kKeys = {
      "listen", "title", "motd", "max_users", "history", "max_message_bytes", "rate_per_minute", "rate_burst"};
  for (const auto& [key, value] : object.items()) {
    if (kKeys.count(key) == 0) {
      throw ConfigError("unknown key \"" + key +
                        "\" (known: listen, title, motd, max_users, history, max_message_bytes, rate_per_minute, "
                        "rate_burst)");
    }
  }
  Config config;
  config.listen = listen_in(object);
  config.title = text_in(object, "title", kMaxTitleBytes, {}, config.title);
  config.motd = text_in(object, "motd", kMaxMotdBytes, "\n", config.motd);
  config.max_users = integer_in(object, "max_users", 1, 1000, config.max_users);
  config.history = integer_in(object, "history", 0, 500, config.history);
  config.max_message_bytes = integer_in(object, "max_message_bytes", 1, 65536, config.max_message_bytes);
  config.rate_per_minute = integer_in(object, "rate_per_minute", 1, 60000, config.rate_per_minute);
  config.rate_burst = integer_in(object, "rate_burst", 1, 10000, config.rate_burst);
  return config;
}

Config load_config(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConfigError("config " + path + ": cannot be read");
  std::ostringstream contents;
  contents << file.rdbuf();
  if (contents.str().size() > 1 << 20) throw ConfigError("config " + path + ": larger than 1 MiB");
  try {
    return parse_config(contents.str());
  } catch (const ConfigError& error) {
    throw ConfigError("config " + path + ": " + error.what());
  }
}

}  // namespace tails_server::chat

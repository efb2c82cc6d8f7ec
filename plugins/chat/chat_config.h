// The files the chat plugin writes: the server's JSON configuration and its
// systemd unit. Their contract with the server is plugins/chat/server/PROTOCOL.md.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tails_server_chat {

struct ChatSettings {
  std::vector<std::pair<std::string, std::uint16_t>> listen;  // address, port
  std::string title;
  std::string motd;
  int max_users = 20;
  int history = 0;
};

// The JSON the server reads (--config). nlohmann::json writes every string,
// so any value is quoted as JSON means it. Throws std::invalid_argument for
// text that is not UTF-8.
std::string chat_config_text(const ChatSettings& settings);

struct ChatUnitSettings {
  std::string program;      // the server, e.g. /usr/libexec/tails-server/tails-server-chat
  std::string config_file;  // as the unit sees it
};

// The unit: a dynamic user, nothing writable, nothing kept. Throws
// escape::EscapeError for a path systemd_word refuses.
std::string chat_unit_text(const ChatUnitSettings& settings);

}  // namespace tails_server_chat

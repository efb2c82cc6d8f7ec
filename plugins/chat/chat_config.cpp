#include "chat_config.h"

#include <tails_server/escape.h>
#include <tails_server/systemd_unit.h>

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace tails_server_chat {

using tails_server::escape::systemd_word;

std::string chat_config_text(const ChatSettings& s) {
  nlohmann::json listen = nlohmann::json::array();
  for (const auto& [address, port] : s.listen) listen.push_back({{"address", address}, {"port", port}});
  nlohmann::json config = {{"listen", listen},       {"title", s.title},     {"motd", s.motd},
                           {"max_users", s.max_users}, {"history", s.history}};
  try {
    return config.dump(2) + "\n";
  } catch (const nlohmann::json::type_error&) {
    throw std::invalid_argument("the chat's title or message of the day is not UTF-8 text");
  }
}

std::string chat_unit_text(const ChatUnitSettings& s) {
  std::string out;
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "[Unit]\n";
  out += "Description=Ephemeral chat room (Tails Server)\n";
  out += "After=network.target\n";
  out += "\n[Service]\n";
  out += "Type=simple\n";
  out += "ExecStart=" + systemd_word(s.program) + " --config " + systemd_word(s.config_file) + "\n";
  // A user that exists only while the unit runs, which owns no file.
  out += "DynamicUser=yes\n";
  // kill -9 or a crash: back with an empty room.
  out += "Restart=on-failure\n";
  out += "RestartSec=1\n";
  out += "UMask=0077\n";
  // Nothing of a conversation may reach a disk: no core dump, no swap of
  // executable pages written at run time, no writable path at all.
  out += "LimitCORE=0\n";
  out += "MemorySwapMax=0\n";
  out += "MemoryDenyWriteExecute=yes\n";
  // A guest who makes it hold too much kills this unit only (Restart empties the room).
  out += "MemoryMax=512M\n";
  out += "ProtectProc=invisible\n";
  out += "ProcSubset=pid\n";
  out += "PrivateUsers=yes\n";
  out += tails_server::systemd::unit_hardening({});
  // No [Install] section: tails-serverd starts and stops the unit.
  return out;
}

}  // namespace tails_server_chat

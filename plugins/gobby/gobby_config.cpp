#include "gobby_config.h"

#include <tails_server/escape.h>

namespace tails_server_gobby {

std::string infinoted_conf_text(const GobbySettings& s) {
  using tails_server::escape::gkeyfile_string;
  std::string out;
  auto line = [&out](const char* key, const std::string& raw_value) {
    out += key;
    out += '=';
    out += raw_value;
    out += '\n';
  };
  out += "# Written by Tails Server; changes here are overwritten.\n";
  out += "[infinoted]\n";
  line("key-file", gkeyfile_string(s.key_file));
  line("certificate-file", gkeyfile_string(s.certificate_file));
  line("security-policy", "require-tls");
  line("port", std::to_string(s.port));
  line("listen-address", gkeyfile_string(s.listen_address));
  line("root-directory", gkeyfile_string(s.root_directory));
  // A list: ';' separates the items.
  line("plugins", "note-text;autosave");
  line("password", gkeyfile_string(s.password));
  out += "\n[autosave]\n";
  line("interval", std::to_string(s.autosave_interval));
  return out;
}

}  // namespace tails_server_gobby

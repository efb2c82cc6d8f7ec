// The admins of the ssh service: names, their public keys, the list file the
// plugin keeps (0600) and the authorized_keys file sshd reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tails_server_ssh {

// An admin's name: [a-z][a-z0-9-]{0,31}. Throws tails_server::OptionError.
void check_admin_name(std::string_view name);

// One public key, as "TYPE BASE64": no options, no comment.
struct PublicKey {
  std::string type;
  std::string blob;  // base64
  std::string line() const { return type + " " + blob; }
};

// The key in `text`: exactly one line "TYPE BASE64 [COMMENT]" (one final
// line break allowed) of a key type sshd accepts, the blob valid base64
// naming the same type. The comment is dropped. Refuses, with
// tails_server::OptionError, a private key, an options prefix
// ("restrict,command=... ssh-ed25519 ..."), several lines, control
// characters and anything else.
PublicKey parse_public_key(std::string_view text);

struct Admin {
  std::string name;
  PublicKey key;
};

// The list file: one "NAME TYPE BASE64" line per admin. Throws
// tails_server::HostError naming `file` for a line that does not parse.
std::vector<Admin> parse_admin_list(std::string_view text, std::string_view file);
std::string admin_list_text(const std::vector<Admin>& admins);

// sshd's authorized_keys: each key restricted (no forwarding, no pty, no
// ~/.ssh/rc) and forced to run `command NAME`. `command` must be an absolute
// path of [A-Za-z0-9/._+-] (tails_server::escape::systemd_word's rule), so
// that it needs no quoting inside command="...". Throws
// tails_server::escape::EscapeError otherwise.
std::string authorized_keys_text(const std::vector<Admin>& admins, std::string_view command);

}  // namespace tails_server_ssh

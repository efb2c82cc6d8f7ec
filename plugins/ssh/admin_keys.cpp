#include "admin_keys.h"

#include <tails_server/escape.h>
#include <tails_server/host.h>
#include <tails_server/option.h>

#include <algorithm>
#include <array>
#include <optional>

namespace tails_server_ssh {
namespace {

using tails_server::OptionError;

// The key types of OpenSSH 9.2 that a client generates (no certificates:
// they would need a CA the server trusts).
constexpr std::array<std::string_view, 7> key_types = {
    "ssh-ed25519",        "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "ssh-rsa",            "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com"};

constexpr std::size_t max_blob_length = 4096;  // an RSA 16384-bit key is about 2800

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    int value;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '+') value = 62;
    else if (c == '/') value = 63;
    else if (c == '=' && i + 2 >= text.size()) { ++padding; continue; }
    else return std::nullopt;
    if (padding) return std::nullopt;  // data after '='
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

// The first string of an SSH wire-format key blob: its type.
std::optional<std::string> blob_type(const std::string& blob) {
  if (blob.size() < 4) return std::nullopt;
  const std::size_t length = (static_cast<unsigned char>(blob[0]) << 24) | (static_cast<unsigned char>(blob[1]) << 16) |
                             (static_cast<unsigned char>(blob[2]) << 8) | static_cast<unsigned char>(blob[3]);
  if (length > 64 || blob.size() < 4 + length) return std::nullopt;
  return blob.substr(4, length);
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    std::size_t end = line.find_first_of(" \t", i);
    if (end == std::string_view::npos) end = line.size();
    fields.push_back(line.substr(i, end - i));
    i = end;
  }
  return fields;
}

}  // namespace

void check_admin_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 32 && name.front() >= 'a' && name.front() <= 'z';
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok)
    throw OptionError("invalid admin name: use 1 to 32 characters among lower-case letters a-z, digits 0-9 and "
                      "'-', starting with a letter");
}

PublicKey parse_public_key(std::string_view text) {
  const std::string accepted =
      "give exactly one public key line, as in ~/.ssh/id_ed25519.pub: \"ssh-ed25519 AAAA... comment\" (types: "
      "ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa and their security-key forms), without options";
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.size() > max_blob_length + 1024) throw OptionError("the public key is too long; " + accepted);
  for (unsigned char c : text) {
    if (c == '\n') throw OptionError("the public key has more than one line; " + accepted);
    if ((c < 0x20 && c != '\t') || c == 0x7f) throw OptionError("the public key contains a control character; " + accepted);
  }
  if (text.find("PRIVATE KEY") != std::string_view::npos)
    throw OptionError("this is a private key: never give it away; " + accepted);
  const std::vector<std::string_view> fields = split_fields(text);
  if (fields.size() < 2) throw OptionError("this is not a public key; " + accepted);
  if (std::find(key_types.begin(), key_types.end(), fields[0]) == key_types.end())
    throw OptionError("the line does not start with a key type (options such as restrict or command= are not "
                      "accepted); " + accepted);
  if (fields[1].size() > max_blob_length) throw OptionError("the public key is too long; " + accepted);
  const std::optional<std::string> blob = base64_decode(fields[1]);
  const std::optional<std::string> type = blob ? blob_type(*blob) : std::nullopt;
  if (!type || *type != fields[0])
    throw OptionError("the key data is not a valid " + std::string(fields[0]) + " key; " + accepted);
  return PublicKey{std::string(fields[0]), std::string(fields[1])};
}

std::vector<Admin> parse_admin_list(std::string_view text, std::string_view file) {
  std::vector<Admin> admins;
  std::size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    if (line.empty()) continue;
    try {
      const std::size_t space = line.find(' ');
      if (space == std::string_view::npos) throw OptionError("no key");
      check_admin_name(line.substr(0, space));
      admins.push_back({std::string(line.substr(0, space)), parse_public_key(line.substr(space + 1))});
    } catch (const OptionError& error) {
      throw tails_server::HostError(std::string(file) + ", line " + std::to_string(number) +
                                    ": not an admin entry (" + error.what() + ")");
    }
  }
  return admins;
}

std::string admin_list_text(const std::vector<Admin>& admins) {
  std::string out;
  for (const auto& admin : admins) out += admin.name + " " + admin.key.line() + "\n";
  return out;
}

std::string authorized_keys_text(const std::vector<Admin>& admins, std::string_view command) {
  const std::string path = tails_server::escape::systemd_word(command);
  if (path.front() != '/') throw tails_server::escape::EscapeError("the forced command must be an absolute path");
  std::string out = "# Written by Tails Server from the admins of the ssh service; changes here are overwritten.\n";
  for (const auto& admin : admins) {
    check_admin_name(admin.name);
    out += "restrict,command=\"" + path + " " + admin.name + "\" " + admin.key.line() + " tails-server-admin:" +
           admin.name + "\n";
  }
  return out;
}

}  // namespace tails_server_ssh

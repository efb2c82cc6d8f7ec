#include "command_line.h"

#include <cstdio>

namespace tails_server_ssh {
namespace {

bool is_plain(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '/' || c == ':' || c == '=' || c == '@' || c == '%' || c == '+' || c == ',' || c == '-';
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::string describe(unsigned char c) {
  if (c == '\n') return "a line break";
  if (is_control(c)) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "the control character 0x%02X", c);
    return buffer;
  }
  return std::string("'") + static_cast<char>(c) + "'";
}

CommandLine refuse(std::string why) {
  CommandLine out;
  out.error = std::move(why);
  return out;
}

}  // namespace

CommandLine split_command_line(std::string_view line) {
  if (line.size() > command_line_max_length)
    return refuse("the command is longer than " + std::to_string(command_line_max_length) + " bytes");
  CommandLine out;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == ' ' || c == '\t') {
      if (in_word) out.words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      const std::size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return refuse("a single quote is not closed");
      for (std::size_t j = i + 1; j < end; ++j)
        if (is_control(static_cast<unsigned char>(line[j])))
          return refuse("the command contains " + describe(static_cast<unsigned char>(line[j])));
      word.append(line.substr(i + 1, end - i - 1));
      in_word = true;
      i = end;
    } else if (is_plain(c)) {
      word += static_cast<char>(c);
      in_word = true;
    } else if (c >= 0x80) {
      return refuse("put text that is not ASCII in single quotes");
    } else {
      return refuse("the command contains " + describe(c) +
                    ": no shell runs it, so only letters, digits, _ . / : = @ % + , - and single-quoted "
                    "text are allowed");
    }
  }
  if (in_word) out.words.push_back(std::move(word));
  out.ok = true;
  return out;
}

CommandLine parse_admin_command(std::string_view line) {
  CommandLine out = split_command_line(line);
  if (!out.ok) return out;
  if (out.words.empty() || out.words.front() != "tails-server")
    return refuse("only the tails-server command may run here, e.g. \"tails-server list\"");
  return out;
}

}  // namespace tails_server_ssh

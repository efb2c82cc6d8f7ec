// Escapers for the config formats of the services we run. Every value a
// plugin writes into a config file goes through one of these. The rules come
// from experiments with the real programs; what each program does with an
// unescaped value is in docs/services.md#escapers of the Tails Server
// sources.
//
// Each returns the complete token to write after "key=" (with its quotes,
// where the format has them) and throws EscapeError for a value the format
// cannot carry.
#pragma once

#include <tails_server/version.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tails_server::escape {

class TAILS_SERVER_EXPORT EscapeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {
inline bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }
[[noreturn]] inline void refuse(std::string_view format, unsigned char c) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%.*s cannot hold the control character 0x%02X",
                static_cast<int>(format.size()), format.data(), c);
  throw EscapeError(buffer);
}
}  // namespace detail

// A value for murmurd's QSettings ini: always quoted (an unquoted ',' makes
// the value empty, ';' starts a comment); '\' '"' LF CR TAB escaped; a
// leading '@' doubled (QSettings reads "@Type(...)" even inside quotes).
// Other control characters are refused.
inline std::string mumble_ini(std::string_view value) {
  std::string out = "\"";
  if (!value.empty() && value.front() == '@') out += '@';
  for (unsigned char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (detail::is_control(c)) detail::refuse("a Mumble ini value", c);
        out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// A Lua string literal for prosody.cfg.lua. The config is Lua run as root by
// prosodyctl, so nothing may end the string early: '\' '"' escaped, control
// characters as \ddd. UTF-8 passes through.
inline std::string lua_string(std::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default:
        if (detail::is_control(c)) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\%03u", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// A GKeyFile string value (infinoted.conf): '\' LF CR TAB escaped, a leading
// space as \s (GKeyFile strips leading blanks). If `list_item`, the list
// separator ';' is escaped too (an escaped ',' makes GLib refuse the key). Other control characters are refused.
inline std::string gkeyfile_string(std::string_view value, bool list_item = false) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case ' ': out += i == 0 ? "\\s" : " "; break;
      case ';':
        out += list_item ? "\\;" : ";";
        break;
      default:
        if (detail::is_control(c)) detail::refuse("a GKeyFile value", c);
        out += static_cast<char>(c);
    }
  }
  return out;
}

// The variable nginx_string() uses for a literal '$' (nginx 1.22 has no '\$').
// Put nginx_dollar_definition() once in the http context that uses it.
inline constexpr std::string_view nginx_dollar_variable = "tails_server_dollar";
inline std::string nginx_dollar_definition() {
  return "geo $" + std::string(nginx_dollar_variable) + " { default \"$\"; }\n";
}

// A double-quoted nginx string. '\' and '"' are escaped. In a directive that
// expands variables (`expands_variables`), '$' always starts one, so a literal
// '$' becomes ${tails_server_dollar}; elsewhere '$' is literal. Control
// characters are refused.
inline std::string nginx_string(std::string_view value, bool expands_variables) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '$':
        if (expands_variables)
          out += "${" + std::string(nginx_dollar_variable) + "}";
        else
          out += '$';
        break;
      default:
        if (detail::is_control(c)) detail::refuse("an nginx string", c);
        out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace tails_server::escape

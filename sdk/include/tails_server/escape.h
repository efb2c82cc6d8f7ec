// Escapers named after config formats. Every value a plugin writes into a
// config file goes through one of these, or through a strict rule of its
// option (option.h: StringRules). The rules come from experiments with the
// real programs; what each program does with an unescaped value is in
// docs/services.md#escapers of the Tails Server sources.
//
// Each returns the complete token to write after "key=" (with its quotes,
// where the format has them) and throws EscapeError for a value the format
// cannot carry.
//
// A format with no quoting at all (a word in a systemd unit, a line of a
// password file): never alter the value, refuse it. unquoted() does that;
// give its option a StringRules that refuses the same characters, so the
// user hears of it when setting the value rather than at configure().
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

// A value for a Qt QSettings ini file (murmurd's): always quoted (an unquoted ',' makes
// the value empty, ';' starts a comment); '\' '"' LF CR TAB escaped; a
// leading '@' doubled (QSettings reads "@Type(...)" even inside quotes).
// Other control characters are refused.
inline std::string qsettings_ini(std::string_view value) {
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
        if (detail::is_control(c)) detail::refuse("a QSettings ini value", c);
        out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// `value` unchanged, for a format that has no quoting: throws EscapeError,
// naming `format` and the character, if it is empty or holds a control
// character or one of `forbidden` (the format's separators, e.g. " \t:#").
inline std::string unquoted(std::string_view value, std::string_view format, std::string_view forbidden) {
  if (value.empty()) throw EscapeError(std::string(format) + " cannot hold an empty value");
  for (unsigned char c : value) {
    if (detail::is_control(c)) detail::refuse(format, c);
    if (forbidden.find(static_cast<char>(c)) != std::string_view::npos)
      throw EscapeError(std::string(format) + " cannot hold '" + static_cast<char>(c) + "'");
  }
  return std::string(value);
}

// A word of a systemd unit file, e.g. a path in ExecStart= or
// ReadWritePaths=: systemd reads '%' '$' '\\' quotes and spaces in its own
// ways, so only [A-Za-z0-9/._+-] is taken, unchanged; anything else throws.
inline std::string systemd_word(std::string_view value) {
  bool ok = !value.empty();
  for (char c : value)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
                c == '_' || c == '+' || c == '-');
  if (!ok)
    throw EscapeError("a systemd unit word takes only letters, digits and '/._+-', not '" + std::string(value) + "'");
  return std::string(value);
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

// Text for an XML 1.0 element or attribute value (icecast.xml, read with
// libxml2): '&' '<' '>' '"' '\'' as entities, TAB LF CR as character
// references (a literal CR would become LF, and attribute values turn
// white space into spaces). XML 1.0 cannot hold the other control
// characters at all, not even as references: they are refused, and so is
// 0x7F. No quotes are added: write the result between tags or quotes.
inline std::string xml_text(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (detail::is_control(c)) detail::refuse("XML text", c);
        out += static_cast<char>(c);
    }
  }
  return out;
}

// A single-quoted PHP string literal (since 2.3), for PHP config files
// (DokuWiki's conf/local.php): backslash and single quote are escaped,
// nothing else is special between single quotes ("$x", "?>" and "\n" stay literal text).
// Control characters are refused, so that the file stays one value a line.
inline std::string php_string(std::string_view value) {
  std::string out = "'";
  for (unsigned char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    else if (detail::is_control(c)) detail::refuse("a PHP string", c);
    out += static_cast<char>(c);
  }
  return out + "'";
}

}  // namespace tails_server::escape

// Inline definitions for option.h. The SDK is header-only so that plugins
// never link against core symbols.
#pragma once

#include <tails_server/host.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace tails_server {

namespace detail {

// Printable form of a refused value: control characters as \xNN, cut at 60.
inline std::string quote_for_error(std::string_view value) {
  std::string out = "'";
  std::size_t shown = 0;
  for (unsigned char c : value) {
    if (++shown > 60) {
      out += "...";
      break;
    }
    if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

inline std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates).
inline bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t extra;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; }
    else return false;
    if (i + extra >= text.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      unsigned char d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace detail

inline void TailsServiceOption::reject(std::string_view input, std::string_view why) const {
  std::string message = "invalid value ";
  message += is_secret() ? std::string("(hidden)") : detail::quote_for_error(input);
  message += " for option '" + name_ + "'";
  if (!why.empty()) {
    message += ": ";
    message += why;
  }
  message += "; accepted: " + accepted();
  throw OptionError(message);
}

inline std::string BoolOption::parse(std::string_view input) const {
  if (input == "true" || input == "false") return std::string(input);
  reject(input);
}

inline std::string IntOption::accepted() const {
  return "a whole number from " + std::to_string(min_) + " to " + std::to_string(max_);
}

inline std::string TailsServiceOption::type_name() const {
  switch (kind()) {
    case OptionKind::Boolean: return "boolean";
    case OptionKind::Integer: return "integer";
    case OptionKind::Port: return "port";
    case OptionKind::String: return "string";
    case OptionKind::Enum: return "enum";
    case OptionKind::Secret: return "secret";
    case OptionKind::ReadOnly: return "read-only";
  }
  return "unknown";
}

inline std::string IntOption::parse(std::string_view input) const {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(input.data(), input.data() + input.size(), value);
  if (input.empty() || error != std::errc() || end != input.data() + input.size())
    reject(input, "not a whole number");
  if (value < min_ || value > max_) reject(input, "out of range");
  return std::to_string(value);
}

inline std::string StringOption::accepted() const {
  std::string text = "text of " + std::to_string(rules_.min_length) + " to " +
                     std::to_string(rules_.max_length) + " bytes of UTF-8";
  if (!rules_.allowed.empty())
    text += " made of " + (rules_.allowed_description.empty() ? "the characters '" + rules_.allowed + "'"
                                                              : rules_.allowed_description);
  text += rules_.allow_newlines ? ", no control characters except line breaks"
                                : ", no control characters or line breaks";
  if (!rules_.forbidden.empty()) text += ", none of '" + rules_.forbidden + "'";
  if (!rules_.check_accepts.empty()) text += ", " + rules_.check_accepts;
  return text;
}

inline std::string StringOption::parse(std::string_view input) const {
  if (input.size() < rules_.min_length) reject(input, "too short");
  if (input.size() > rules_.max_length) reject(input, "too long");
  if (!detail::is_valid_utf8(input)) reject(input, "not valid UTF-8");
  for (unsigned char c : input) {
    if (c == '\n' && rules_.allow_newlines) continue;
    if (c < 0x20 || c == 0x7f) reject(input, "contains a control character");
    if (rules_.forbidden.find(static_cast<char>(c)) != std::string::npos)
      reject(input, std::string("contains '") + static_cast<char>(c) + "'");
    if (!rules_.allowed.empty() && rules_.allowed.find(static_cast<char>(c)) == std::string::npos)
      reject(input, "contains a character that is not accepted");
  }
  if (rules_.check) {
    std::string why = rules_.check(input);
    if (!why.empty()) reject(input, why);
  }
  return std::string(input);
}

inline std::string EnumOption::accepted() const { return "one of: " + detail::join(choices_, ", "); }

inline std::string EnumOption::parse(std::string_view input) const {
  if (std::find(choices_.begin(), choices_.end(), input) == choices_.end()) reject(input);
  return std::string(input);
}

inline std::string SecretOption::parse(std::string_view input) const {
  for (unsigned char c : input)
    if (c < 0x20 || c == 0x7f) reject(input, "contains a control character");
  return StringOption::parse(input);
}

inline std::string SecretOption::default_value(Host& host) const {
  return host.random_password(generated_length_);
}

inline std::string ReadOnlyOption::parse(std::string_view input) const {
  reject(input, "this value is computed and cannot be set");
}

}  // namespace tails_server

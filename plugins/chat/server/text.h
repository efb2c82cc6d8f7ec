// Checks and escapes of the texts guests and the configuration send: UTF-8, control characters, names, HTML.
#pragma once

#include <string>
#include <string_view>

namespace tails_server::chat {

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view text);

// True when `text` holds a control character (C0, DEL or C1) other than those in `allowed`.
bool has_control_chars(std::string_view text, std::string_view allowed = {});

// Why a name is refused, or kOk.
enum class NameCheck { kOk, kEmpty, kTooLong, kBadText, kSpaces };

// Name rules: 1..32 bytes of UTF-8, no control character, no leading or trailing space.
NameCheck check_name(std::string_view name);

// The key under which names are unique: ASCII letters folded to lower case.
std::string name_key(std::string_view name);

// Escapes & < > " ' for HTML text and attribute values.
std::string escape_html(std::string_view text);

}  // namespace tails_server::chat

// Fuzzes option parsing, for every option type, and every escaper. The first
// bytes choose the option type and its rules; the rest is the value. Checks:
// parse() refuses with OptionError or returns a canonical value that parses
// to itself; each escaper refuses with EscapeError exactly the control
// characters its format cannot carry, and otherwise writes a token with no
// raw line break whose decoding (the format's rules, docs/services.md) is
// the value again. Built with libFuzzer under clang; otherwise main()
// replays the files named on the command line.
#include <tails_server/escape.h>
#include <tails_server/option.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

using namespace tails_server;

namespace {

[[noreturn]] void fail(const char* what, std::string_view value, std::string_view token = {}) {
  std::fprintf(stderr, "%s\nvalue: %.*s\ntoken: %.*s\n", what, static_cast<int>(value.size()), value.data(),
               static_cast<int>(token.size()), token.data());
  std::abort();
}

bool has_control(std::string_view value, std::string_view carried) {
  for (unsigned char c : value)
    if ((c < 0x20 || c == 0x7f) && carried.find(static_cast<char>(c)) == std::string_view::npos) return true;
  return false;
}

// Reads the backslash escapes of `body` as the format does: each of `simple`
// ("n\n" maps \n to LF); with `octal`, \ddd as Lua writes it.
std::string unescape(std::string_view body, std::string_view simple, bool octal, std::string_view value) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\') {
      out += body[i];
      continue;
    }
    if (++i == body.size()) fail("a token ends in a lone backslash", value, body);
    char c = body[i];
    if (octal && c >= '0' && c <= '9') {
      if (i + 2 >= body.size() || body[i + 1] < '0' || body[i + 1] > '9' || body[i + 2] < '0' || body[i + 2] > '9')
        fail("a short \\ddd escape", value, body);
      out += static_cast<char>(std::stoi(std::string(body.substr(i, 3))));
      i += 2;
      continue;
    }
    std::size_t at = simple.find(c);
    if (at == std::string_view::npos || at % 2) fail("an escape the format does not read", value, body);
    out += simple[at + 1];
  }
  return out;
}

// A double-quoted token: the body, with no unescaped '"' inside.
std::string_view quoted_body(std::string_view token, std::string_view value) {
  if (token.size() < 2 || token.front() != '"' || token.back() != '"') fail("a token is not quoted", value, token);
  std::string_view body = token.substr(1, token.size() - 2);
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\') ++i;
    else if (body[i] == '"') fail("an unescaped quote ends the token early", value, token);
  }
  return body;
}

void no_line_break(std::string_view token, std::string_view value) {
  if (token.find_first_of("\r\n") != std::string_view::npos) fail("a raw line break in a token", value, token);
}

template <class Escape>
bool escaped(Escape escape, std::string_view value, std::string_view carried, std::string& token) {
  try {
    token = escape();
  } catch (const escape::EscapeError&) {
    if (!has_control(value, carried)) fail("refused a value the format can carry", value);
    return false;
  }
  if (has_control(value, carried)) fail("accepted a control character the format cannot carry", value, token);
  no_line_break(token, value);
  return true;
}

void check_escapers(std::string_view value) {
  std::string token;
  if (escaped([&] { return escape::qsettings_ini(value); }, value, "\n\r\t", token)) {
    std::string decoded = unescape(quoted_body(token, value), "\\\\\"\"n\nr\rt\t", false, value);
    if (!decoded.empty() && decoded.front() == '@') {
      if (decoded.size() < 2 || decoded[1] != '@') fail("a leading '@' is not doubled", value, token);
      decoded.erase(0, 1);
    }
    if (decoded != value) fail("qsettings_ini does not decode to the value", value, token);
  }
  static const std::string every_control = [] {
    std::string all;
    for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
    return all + '\x7f';
  }();
  if (escaped([&] { return escape::lua_string(value); }, value, every_control, token)) {
    for (unsigned char c : token)
      if (c < 0x20 || c == 0x7f) fail("a raw control character in a Lua string", value, token);
    if (unescape(quoted_body(token, value), "\\\\\"\"n\nr\r", true, value) != value)
      fail("lua_string does not decode to the value", value, token);
  }
  for (bool list_item : {false, true}) {
    if (!escaped([&] { return escape::gkeyfile_string(value, list_item); }, value, "\n\r\t", token)) continue;
    if (!token.empty() && token.front() == ' ') fail("a GKeyFile value starts with a blank", value, token);
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '\\') ++i;
      else if (list_item && token[i] == ';') fail("an unescaped ';' in a GKeyFile list item", value, token);
    }
    if (unescape(token, "\\\\n\nr\rt\ts ;;", false, value) != value)
      fail("gkeyfile_string does not decode to the value", value, token);
  }
  for (bool expands : {false, true}) {
    if (!escaped([&] { return escape::nginx_string(value, expands); }, value, "", token)) continue;
    std::string body = unescape(quoted_body(token, value), "\\\\\"\"", false, value);
    if (expands) {
      const std::string variable = "${" + std::string(escape::nginx_dollar_variable) + "}";
      std::string decoded;
      for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] != '$') {
          decoded += body[i];
        } else if (body.compare(i, variable.size(), variable) == 0) {
          decoded += '$';
          i += variable.size() - 1;
        } else {
          fail("a '$' nginx would expand", value, token);
        }
      }
      body = decoded;
    }
    if (body != value) fail("nginx_string does not decode to the value", value, token);
  }
  if (escaped([&] { return escape::xml_text(value); }, value, "\t\n\r", token)) {
    static const std::pair<std::string_view, char> entities[] = {
        {"amp", '&'}, {"lt", '<'},   {"gt", '>'},    {"quot", '"'},
        {"apos", '\''}, {"#9", '\t'}, {"#10", '\n'}, {"#13", '\r'}};
    std::string decoded;
    for (std::size_t i = 0; i < token.size(); ++i) {
      char c = token[i];
      if (c == '<' || c == '>' || c == '"' || c == '\'' || c == '\t')
        fail("a raw markup character in XML text", value, token);
      if (c != '&') {
        decoded += c;
        continue;
      }
      std::size_t end = token.find(';', i);
      if (end == std::string::npos) fail("an '&' without ';' in XML text", value, token);
      std::string_view name = std::string_view(token).substr(i + 1, end - i - 1);
      bool known = false;
      for (const auto& [entity, character] : entities)
        if (name == entity) decoded += character, known = true;
      if (!known) fail("an entity XML text does not write", value, token);
      i = end;
    }
    if (decoded != value) fail("xml_text does not decode to the value", value, token);
  }
}

// One option of the type and rules that `rules` (2 bytes) chooses.
std::unique_ptr<TailsServiceOption> make_option(const std::uint8_t* rules) {
  StringRules string_rules;
  string_rules.min_length = rules[1] % 4;
  string_rules.max_length = 4 + rules[1] % 64;
  string_rules.allow_newlines = rules[1] & 0x40;
  if (rules[1] & 0x80) string_rules.forbidden = ":;#";
  switch (rules[0] % 8) {
    case 0: return std::make_unique<BoolOption>("flag", "a flag", rules[1] & 1);
    case 1: return std::make_unique<IntOption>("count", "a count", 1, -static_cast<int>(rules[1]), rules[1] * 1000);
    case 2: return std::make_unique<PortOption>("port", "a port", 64738, rules[1] & 1);
    case 3: return std::make_unique<StringOption>("text", "a text", "", string_rules);
    case 4:
      string_rules.allowed = "abcdefghijklmnopqrstuvwxyz0123456789-_";
      string_rules.allowed_description = "a-z, 0-9, '-' and '_'";
      return std::make_unique<StringOption>("name", "a name", "x", string_rules);
    case 5:
      return std::make_unique<EnumOption>("mode", "a mode", std::vector<std::string>{"open", "closed", "Mixed Case"},
                                          "open");
    case 6: return std::make_unique<SecretOption>("password", "a password", 16, string_rules);
    default: return std::make_unique<StringOption>("motd", "a message", "", StringRules{0, 4096, true, "", "", ""});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view value(reinterpret_cast<const char*>(data + 2), size - 2);
  auto option = make_option(data);
  try {
    std::string canonical = option->parse(value);
    std::string again;
    try {
      again = option->parse(canonical);
    } catch (const OptionError& error) {
      fail("a canonical value is refused by its own option", canonical, error.what());
    }
    if (again != canonical) fail("a canonical value is not its own canonical form", canonical, again);
    check_escapers(canonical);
  } catch (const OptionError& error) {
    if (std::string_view(error.what()).find(option->name()) == std::string_view::npos)
      fail("an option's refusal does not name the option", value, error.what());
  }
  check_escapers(value);
  return 0;
}

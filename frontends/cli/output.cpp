#include "output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace tails_server::cli {
namespace {

bool looks_like_another_type(const std::string& value) {
  if (value.empty()) return true;
  std::string lower = value;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})
    if (lower == word) return true;
  if (lower == ".inf" || lower == "-.inf" || lower == "+.inf" || lower == ".nan") return true;
  // Anything number-like: digits with signs, dots, exponents, 0x/0o, '_'.
  bool has_digit = std::any_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
  bool number_chars = std::all_of(value.begin(), value.end(), [](unsigned char c) {
    return std::isxdigit(c) || c == '-' || c == '+' || c == '.' || c == '_' || c == 'x' || c == 'o';
  });
  return has_digit && number_chars;
}

void emit(YAML::Emitter& out, const Document& node) {
  switch (node.type()) {
    case Document::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, value] : node.items()) {
        out << YAML::Key << key << YAML::Value;
        emit(out, value);
      }
      out << YAML::EndMap;
      break;
    case Document::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& value : node) emit(out, value);
      out << YAML::EndSeq;
      break;
    case Document::value_t::string: {
      const auto& value = node.get_ref<const std::string&>();
      if (looks_like_another_type(value)) out << YAML::DoubleQuoted;
      out << value;
      break;
    }
    case Document::value_t::boolean: out << node.get<bool>(); break;
    case Document::value_t::number_integer: out << node.get<std::int64_t>(); break;
    case Document::value_t::number_unsigned: out << node.get<std::uint64_t>(); break;
    case Document::value_t::number_float: out << node.get<double>(); break;
    default: out << YAML::Null; break;
  }
}

}  // namespace

void print(std::ostream& out, const Document& document, Format format) {
  if (format == Format::Json) {
    out << document.dump(2) << '\n';
    return;
  }
  YAML::Emitter emitter;
  emitter.SetNullFormat(YAML::LowerNull);
  emitter.SetBoolFormat(YAML::TrueFalseBool);
  emitter.SetBoolFormat(YAML::LowerCase);
  emit(emitter, document);
  out << emitter.c_str() << '\n';
}

}  // namespace tails_server::cli

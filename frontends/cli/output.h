// Printing a command's result as YAML (the default) or JSON (--json).
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>

namespace tails_server::cli {

using Document = nlohmann::ordered_json;

enum class Format { Yaml, Json };

// Writes `document` to `out`, keys in insertion order, ending with a newline.
// In YAML, strings that another parser would read as a boolean, a number or
// null are quoted.
void print(std::ostream& out, const Document& document, Format format);

}  // namespace tails_server::cli

// Random guest names from a built-in word list: "adjective-animal", e.g. "quiet-otter".
#pragma once

#include <functional>
#include <string>

namespace tails_server::chat {

// A random name for which `taken` is false. After many collisions a number is appended ("quiet-otter-7").
std::string random_name(const std::function<bool(const std::string&)>& taken);

}  // namespace tails_server::chat

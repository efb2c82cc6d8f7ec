// The verbs of tails-server: what each takes (arguments and flags) and does.
#pragma once

#include "output.h"

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::cli {

// What the command line asked for, after the verb.
struct Invocation {
  std::vector<std::string> args;
  bool all = false;
  bool details = false;
  bool yes = false;
  bool qr = false;
  bool dark_terminal = false;
  Format format = Format::Yaml;
};

struct Verb {
  const char* name;
  const char* usage;
  const char* summary;
  std::size_t min_args;
  std::size_t max_args;  // SIZE_MAX: any number
  std::function<void(const Invocation&)> run;
  // The flags it takes besides --json ("all", "details", ...); any other is a
  // usage error.
  std::vector<std::string> flags = {};
};

// A command line that does not fit its verb: exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const std::vector<Verb>& verbs();

}  // namespace tails_server::cli

// Fuzzes the state-file loader (cereal JSON, every version) with arbitrary
// bytes: it either refuses them with an exception or returns a state that
// the current format writes and reads back unchanged. Built with libFuzzer
// under clang; otherwise main() replays the files named on the command line.
#include "state/state_store.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

using namespace tails_server::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ServiceState state;
  try {
    state = parse_state(text);
  } catch (const std::exception&) {
    return 0;  // refused, as StateStore::load does (it keeps the file aside)
  }
  const std::string written = format_state(state);
  ServiceState again;
  try {
    again = parse_state(written);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "a state written by format_state does not read back: %s\n%s", error.what(),
                 written.c_str());
    std::abort();
  }
  if (!(again == state)) {
    std::fprintf(stderr, "a state changed on its way through a file:\n%s", written.c_str());
    std::abort();
  }
  return 0;
}

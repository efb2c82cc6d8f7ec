// Fuzzes the ELF check the plugin loader runs before dlopen (libelf reading
// headers, our bounds arithmetic) with arbitrary bytes. Built with libFuzzer
// under clang; otherwise main() below replays the seed corpus.
#include "plugins/elf_check.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto problem = tails_server::core::elf_problem_in_memory(data, size);
  if (problem && problem->text.empty()) __builtin_trap();  // every refusal says why
  return 0;
}

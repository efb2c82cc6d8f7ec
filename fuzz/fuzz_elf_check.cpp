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

#ifndef TAILS_SERVER_LIBFUZZER
// Without libFuzzer: run every file named on the command line once.
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("replayed %d inputs\n", argc - 1);
  return 0;
}
#endif

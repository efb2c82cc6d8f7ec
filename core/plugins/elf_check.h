// Whether a file is a whole ELF shared object for this machine, read with
// elfutils' libelf before dlopen ever sees it: dlopen maps a truncated file
// and the process dies of SIGBUS when it touches a page past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tails_server::core {

struct ElfProblem {
  enum class Kind {
    NotElf,        // no ELF header at all: some other file
    NotShared,     // an ELF file, but an executable or object file, not ET_DYN
    OtherMachine,  // a shared object for another class, byte order or machine
    Damaged,       // cut short or inconsistent: something lies past the end
  };
  Kind kind;
  // What was found against what was expected, e.g. "segment 2 ends at byte
  // 14336, the file has 4096 bytes".
  std::string text;
};

// Checks the open regular file `fd` of `size` bytes: the ELF header (class,
// byte order, machine, ET_DYN), that the program headers, every PT_LOAD
// segment and the section header table and sections lie inside the file.
// Reads with pread; never maps the file. nullopt when it is fine.
std::optional<ElfProblem> elf_problem(int fd, std::uint64_t size);

// The same check of a file's bytes in memory (for the fuzz target).
std::optional<ElfProblem> elf_problem_in_memory(const void* data, std::size_t size);

}  // namespace tails_server::core

// The ELF check before dlopen: libelf reads the headers (either class, either
// byte order); this file only compares what they say with the file's size.
#include "plugins/elf_check.h"

#include <elf.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

namespace tails_server::core {

namespace {

struct ElfEnd {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfPtr = std::unique_ptr<Elf, ElfEnd>;

constexpr unsigned char kClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
constexpr unsigned char kByteOrder =
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
#if defined(__x86_64__)
constexpr GElf_Half kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr GElf_Half kMachine = EM_AARCH64;
#elif defined(__i386__)
constexpr GElf_Half kMachine = EM_386;
#elif defined(__arm__)
constexpr GElf_Half kMachine = EM_ARM;
#elif defined(__riscv)
constexpr GElf_Half kMachine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr GElf_Half kMachine = EM_PPC64;
#elif defined(__s390x__)
constexpr GElf_Half kMachine = EM_S390;
#elif defined(__mips__)
constexpr GElf_Half kMachine = EM_MIPS;
#else
#error "elf_check.cpp: add this machine's EM_ value"
#endif

std::string machine_name(GElf_Half machine) {
  switch (machine) {
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "AArch64";
    case EM_386: return "i386";
    case EM_ARM: return "ARM";
    case EM_RISCV: return "RISC-V";
    case EM_PPC64: return "PowerPC64";
    case EM_S390: return "S/390";
    case EM_MIPS: return "MIPS";
  }
  return "machine " + std::to_string(machine);
}

std::string class_name(unsigned char elf_class) {
  if (elf_class == ELFCLASS32) return "ELFCLASS32 (32-bit)";
  if (elf_class == ELFCLASS64) return "ELFCLASS64 (64-bit)";
  return "class " + std::to_string(elf_class);
}

std::string byte_order_name(unsigned char order) {
  if (order == ELFDATA2LSB) return "little-endian";
  if (order == ELFDATA2MSB) return "big-endian";
  return "byte order " + std::to_string(order);
}

std::string type_name(GElf_Half type) {
  switch (type) {
    case ET_EXEC: return "an executable (ET_EXEC)";
    case ET_REL: return "an object file (ET_REL)";
    case ET_CORE: return "a core dump (ET_CORE)";
  }
  return "ELF type " + std::to_string(type);
}

std::string bytes(std::uint64_t size) { return std::to_string(size) + (size == 1 ? " byte" : " bytes"); }

ElfProblem damaged(std::string text) { return {ElfProblem::Kind::Damaged, std::move(text)}; }

// A problem if `what`, `count` entries of `entry_size` bytes from `offset`,
// ends past `size`.
std::optional<ElfProblem> past_end(const std::string& what, std::uint64_t offset, std::uint64_t count,
                                   std::uint64_t entry_size, std::uint64_t size) {
  std::uint64_t length = 0, end = 0;
  if (__builtin_mul_overflow(count, entry_size, &length) || __builtin_add_overflow(offset, length, &end))
    return damaged(what + " would end past byte 2^64, the file has " + bytes(size));
  if (end > size) return damaged(what + " ends at byte " + std::to_string(end) + ", the file has " + bytes(size));
  return std::nullopt;
}

std::string libelf_error() { return elf_errmsg(-1) ? elf_errmsg(-1) : "unknown libelf error"; }

// libelf pretends a table that does not fit in the file has no entries, so
// the counts and offsets come from the ELF header itself; libelf only reads
// the extended count (PN_XNUM, e_shnum 0) from section header 0.
std::optional<ElfProblem> check_program_headers(Elf* elf, const GElf_Ehdr& header, std::uint64_t size) {
  std::size_t count = header.e_phnum;
  if (count == PN_XNUM && elf_getphdrnum(elf, &count) != 0)
    return damaged("its extended program header count cannot be read: " + libelf_error());
  if (count == 0) return damaged("it has no program headers; a shared object has them");
  std::size_t entry = gelf_fsize(elf, ELF_T_PHDR, 1, EV_CURRENT);
  if (header.e_phentsize != entry)
    return damaged("its program headers are " + bytes(header.e_phentsize) + " each, " + bytes(entry) +
                   " were expected");
  if (auto problem = past_end("the program header table", header.e_phoff, count, entry, size)) return problem;
  std::size_t loads = 0;
  for (std::size_t i = 0; i < count; ++i) {
    GElf_Phdr segment{};
    if (!gelf_getphdr(elf, static_cast<int>(i), &segment))
      return damaged("program header " + std::to_string(i) + " cannot be read: " + libelf_error());
    if (segment.p_type != PT_LOAD) continue;
    ++loads;
    if (auto problem = past_end("segment " + std::to_string(i), segment.p_offset, 1, segment.p_filesz, size))
      return problem;
  }
  if (loads == 0) return damaged("it has no loadable (PT_LOAD) segment");
  return std::nullopt;
}

std::optional<ElfProblem> check_sections(Elf* elf, const GElf_Ehdr& header, std::uint64_t size) {
  if (header.e_shoff == 0) return std::nullopt;  // section headers are optional at run time
  std::size_t entry = gelf_fsize(elf, ELF_T_SHDR, 1, EV_CURRENT);
  if (header.e_shentsize != entry)
    return damaged("its section headers are " + bytes(header.e_shentsize) + " each, " + bytes(entry) +
                   " were expected");
  std::size_t count = header.e_shnum;
  if (count == 0) {
    if (auto problem = past_end("section header 0", header.e_shoff, 1, entry, size)) return problem;
    if (elf_getshdrnum(elf, &count) != 0 || count == 0)
      return damaged("the section header table at byte " + std::to_string(header.e_shoff) +
                     " does not fit in the file of " + bytes(size));
  }
  if (auto problem = past_end("the section header table", header.e_shoff, count, entry, size)) return problem;
  for (std::size_t i = 1; i < count; ++i) {
    GElf_Shdr section{};
    Elf_Scn* scn = elf_getscn(elf, i);
    if (!scn || !gelf_getshdr(scn, &section))
      return damaged("section header " + std::to_string(i) + " cannot be read: " + libelf_error());
    if (section.sh_type == SHT_NOBITS) continue;
    if (auto problem = past_end("section " + std::to_string(i), section.sh_offset, 1, section.sh_size, size))
      return problem;
  }
  return std::nullopt;
}

// `ident`: the file's first min(size, EI_NIDENT) bytes; `elf` read from the
// same file, or null if libelf refused it.
std::optional<ElfProblem> check(Elf* elf, const unsigned char* ident, std::uint64_t size) {
  if (size < SELFMAG || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    if (size < SELFMAG)
      return ElfProblem{ElfProblem::Kind::NotElf, "file too short: " + bytes(size) +
                                                      ", an ELF file starts with the 4 bytes \\x7fELF"};
    return ElfProblem{ElfProblem::Kind::NotElf, "invalid ELF header: it does not start with \\x7fELF"};
  }
  std::uint64_t header_size = size >= EI_NIDENT && ident[EI_CLASS] == ELFCLASS32 ? sizeof(Elf32_Ehdr)
                                                                                   : sizeof(Elf64_Ehdr);
  if (size < header_size)
    return damaged("the ELF header ends at byte " + std::to_string(header_size) + ", the file has " + bytes(size));
  if (ident[EI_CLASS] != kClass)
    return ElfProblem{ElfProblem::Kind::OtherMachine,
                      "it is " + class_name(ident[EI_CLASS]) + ", this machine needs " + class_name(kClass)};
  if (ident[EI_DATA] != kByteOrder)
    return ElfProblem{ElfProblem::Kind::OtherMachine, "it is " + byte_order_name(ident[EI_DATA]) +
                                                          ", this machine needs " + byte_order_name(kByteOrder)};
  GElf_Ehdr header{};
  if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &header))
    return damaged("its ELF header cannot be read: " + libelf_error());
  if (header.e_type != ET_DYN)
    return ElfProblem{ElfProblem::Kind::NotShared, "it is " + type_name(header.e_type) +
                                                       ", a shared object (ET_DYN) was expected"};
  if (header.e_machine != kMachine)
    return ElfProblem{ElfProblem::Kind::OtherMachine, "it is built for " + machine_name(header.e_machine) +
                                                          ", this machine needs " + machine_name(kMachine)};
  if (auto problem = check_program_headers(elf, header, size)) return problem;
  return check_sections(elf, header, size);
}

void init_libelf() {
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  (void)ready;
}

}  // namespace

std::optional<ElfProblem> elf_problem(int fd, std::uint64_t size) {
  init_libelf();
  std::array<unsigned char, EI_NIDENT> ident{};
  std::size_t wanted = size < ident.size() ? static_cast<std::size_t>(size) : ident.size();
  ssize_t got = ::pread(fd, ident.data(), wanted, 0);
  if (got < 0 || static_cast<std::size_t>(got) != wanted)
    return damaged("its first " + bytes(wanted) + " cannot be read");
  ElfPtr elf(size >= SELFMAG ? elf_begin(fd, ELF_C_READ, nullptr) : nullptr);
  return check(elf.get(), ident.data(), size);
}

std::optional<ElfProblem> elf_problem_in_memory(const void* data, std::size_t size) {
  init_libelf();
  // libelf may convert the image in place; it works on a copy.
  std::vector<char> image(size);
  if (size > 0) std::memcpy(image.data(), data, size);
  std::array<unsigned char, EI_NIDENT> ident{};
  if (size > 0) std::memcpy(ident.data(), image.data(), size < ident.size() ? size : ident.size());
  ElfPtr elf(size >= SELFMAG ? elf_memory(image.data(), image.size()) : nullptr);
  return check(elf.get(), ident.data(), size);
}

}  // namespace tails_server::core

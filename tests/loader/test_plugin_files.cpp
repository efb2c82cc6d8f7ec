// What never reaches dlopen: files cut short or inconsistent (the ELF
// check), links, directories and other entries that are no regular file,
// and plugins in a directory others could change. Each appears as a record
// with its state and a message; none is skipped silently.
#include "loader_test_support.h"

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

namespace {

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  fs::permissions(file, fs::perms(0644));
  return file;
}

const PluginRecord& record_of(const PluginLoader& loader, const std::string& file_name) {
  for (const auto& record : loader.records())
    if (record.file.filename() == file_name) return record;
  FAIL("no record for " << file_name);
  throw std::logic_error("unreachable");
}

// good.so's bytes with `edit` applied to its ELF header and program headers.
template <class Edit>
std::string patched_good(Edit edit) {
  std::string bytes = read_bytes(kFixtureDir / "good.so");
  REQUIRE(bytes.size() > sizeof(Elf64_Ehdr));
  auto* header = reinterpret_cast<Elf64_Ehdr*>(bytes.data());
  REQUIRE(header->e_phoff + header->e_phnum * sizeof(Elf64_Phdr) <= bytes.size());
  auto* segments = reinterpret_cast<Elf64_Phdr*>(bytes.data() + header->e_phoff);
  edit(*header, segments, bytes.size());
  return bytes;
}

}  // namespace

TEST_CASE("a plugin cut short never reaches dlopen and is refused as corrupt naming what lies past the end") {
  std::string good = read_bytes(kFixtureDir / "good.so");
  REQUIRE(good.size() > 8192);
  TempDir dir("tails-server-loader-test");
  const std::vector<std::pair<std::string, std::size_t>> cuts = {
      {"cut-64.so", 64}, {"cut-4096.so", 4096}, {"cut-half.so", good.size() / 2}, {"cut-1.so", good.size() - 1}};
  for (const auto& [name, size] : cuts) write_bytes(dir / name, good.substr(0, size));
  PluginLoader loader;
  loader.load({dir.path()});
  REQUIRE(loader.records().size() == cuts.size());
  for (const auto& [name, size] : cuts) {
    const PluginRecord& record = record_of(loader, name);
    check_refused(record, PluginState::Corrupt,
                  {"Corrupt plugin", "ends at byte ", "the file has " + std::to_string(size) + " bytes",
                   "a whole shared object was expected", "dpkg -S '" + record.file.string() + "'"});
    CHECK_FALSE(is_resident(record.file));
  }
  // What each cut leaves past the end (readelf -lS good.so).
  CHECK(contains(record_of(loader, "cut-64.so").message, "the program header table ends at byte"));
  CHECK(contains(record_of(loader, "cut-4096.so").message, "segment 0 ends at byte"));
  CHECK(contains(record_of(loader, "cut-1.so").message,
                 "the section header table ends at byte " + std::to_string(good.size())));
}

TEST_CASE("a segment pointing past the end of the file is refused as corrupt naming the segment") {
  TempDir dir("tails-server-loader-test");
  std::uint64_t end = 0, size = 0;
  std::string bytes = patched_good([&](Elf64_Ehdr& header, Elf64_Phdr* segments, std::size_t file_size) {
    for (int i = header.e_phnum - 1; i >= 0; --i)
      if (segments[i].p_type == PT_LOAD) {
        segments[i].p_offset = file_size - 16;
        segments[i].p_filesz = 4096;
        segments[i].p_memsz = std::max<std::uint64_t>(segments[i].p_memsz, 4096);
        end = file_size - 16 + 4096;
        size = file_size;
        return;
      }
  });
  write_bytes(dir / "past-the-end.so", bytes);
  PluginLoader loader;
  loader.load({dir.path()});
  REQUIRE(loader.records().size() == 1);
  check_refused(loader.records()[0], PluginState::Corrupt,
                {"ends at byte " + std::to_string(end) + ", the file has " + std::to_string(size) + " bytes"});
}

TEST_CASE("a shared object for another machine or an executable is refused before dlopen") {
  TempDir dir("tails-server-loader-test");
  write_bytes(dir / "aarch64.so", patched_good([](Elf64_Ehdr& header, Elf64_Phdr*, std::size_t) {
                header.e_machine = header.e_machine == EM_AARCH64 ? EM_X86_64 : EM_AARCH64;
              }));
  write_bytes(dir / "executable.so",
              patched_good([](Elf64_Ehdr& header, Elf64_Phdr*, std::size_t) { header.e_type = ET_EXEC; }));
  PluginLoader loader;
  loader.load({dir.path()});
  check_refused(record_of(loader, "aarch64.so"), PluginState::LoadFailed,
                {"it is built for ", ", this machine needs ", "Install the plugin built for this machine"});
  check_refused(record_of(loader, "executable.so"), PluginState::NotAPlugin,
                {"an executable (ET_EXEC)", "a shared object (ET_DYN) was expected"});
}

TEST_CASE("links and directories and FIFOs named .so are listed as unreadable and never followed or opened") {
  TempDir dir("tails-server-loader-test");
  copy_fixture("good.so", dir.path());
  fs::create_symlink("itself.so", dir / "itself.so");
  fs::create_symlink(dir / "missing.so", dir / "dangling.so");
  fs::create_symlink(dir / "good.so", dir / "link-to-good.so");
  fs::create_directory(dir / "directory.so");
  REQUIRE(::mkfifo((dir / "fifo.so").c_str(), 0644) == 0);
  PluginLoader loader;
  loader.load({dir.path()});
  CHECK(loader.records().size() == 6);
  check_refused(record_of(loader, "itself.so"), PluginState::Unreadable,
                {"a symbolic link that loops (it points to 'itself.so')", "links are never followed"});
  check_refused(record_of(loader, "dangling.so"), PluginState::Unreadable,
                {"a dangling symbolic link: its target '" + (dir / "missing.so").string() + "' does not exist"});
  check_refused(record_of(loader, "link-to-good.so"), PluginState::Unreadable,
                {"a symbolic link to '" + (dir / "good.so").string() + "'", "Put the plugin file itself here"});
  check_refused(record_of(loader, "directory.so"), PluginState::Unreadable, {"it is a directory, not a file"});
  check_refused(record_of(loader, "fifo.so"), PluginState::Unreadable, {"it is a FIFO, not a file"});
  CHECK(record_of(loader, "good.so").state == PluginState::Loaded);
}

TEST_CASE("plugins in a directory that group or others can write are refused naming the directory") {
  TempDir dir("tails-server-loader-test");
  copy_fixture("good.so", dir.path());
  fs::permissions(dir.path(), fs::perms(0777));
  PluginLoader loader;
  loader.load({dir.path()});
  REQUIRE(loader.records().size() == 1);
  check_refused(loader.records()[0], PluginState::Insecure,
                {"its directory '" + dir.path().string() + "' is writable by group or others (mode 0777)",
                 "chmod go-w '" + dir.path().string() + "'"});
  CHECK_FALSE(is_resident(loader.records()[0].file));
}

TEST_CASE("plugins in a directory owned by another user are refused naming the directory") {
  if (geteuid() != 0) {
    MESSAGE("skipped: only root can give a directory to another user");
    return;
  }
  TempDir dir("tails-server-loader-test");
  copy_fixture("good.so", dir.path());
  REQUIRE(chown(dir.path().c_str(), 65534, 65534) == 0);
  PluginLoader loader;
  loader.load({dir.path()});
  REQUIRE(loader.records().size() == 1);
  check_refused(loader.records()[0], PluginState::Insecure,
                {"its directory '" + dir.path().string() + "' is owned by uid 65534", "root (uid 0)"});
}

// Crash records. Before any plugin code runs (dlopen with its initializers,
// the factory, every hook) the daemon writes which plugin file and which
// step is under way; after the step it clears the record. A daemon that
// finds a record at start knows its predecessor died there: it puts that
// plugin aside ("crashed") and serves the others. A plugin stays aside until
// its file changes (another inode, size or modification time: a new package
// version) or an administrator runs `tails-server plugin retry NAME`.
//
// Both files live in the runtime directory, /run/tails-server (systemd's
// RuntimeDirectory= with RuntimeDirectoryPreserve=yes): they survive the
// daemon's death and its restarts, and a reboot clears them, so a bad plugin
// costs at most one crash per boot (docs/plugins.md#when-a-plugin-crashes).
#pragma once

#include "util/fd.h"

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tails_server::core {

// What tells one version of a plugin file from the next.
struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  static FileIdentity of(const struct stat& st);
  bool operator==(const FileIdentity&) const = default;
};

struct Crash {
  std::filesystem::path file;
  std::string name;  // the plugin's name; empty if it died before its info struct was read
  std::string step;  // "load" (dlopen), "create" (the factory), "install", "configure", ...
  FileIdentity identity;
  std::string noticed;  // when the next daemon found the record, UTC, "2024-05-01 12:00:00 UTC"
};

class Quarantine {
 public:
  // Keeps its records in `directory` (made 0700 if missing). An empty path,
  // or a directory that is unsafe or cannot be made, keeps none: plugin
  // code then runs unrecorded (a daemon run by hand, most tests); the reason
  // is logged. A record a dead daemon left becomes a crash, logged at error
  // level.
  explicit Quarantine(const std::filesystem::path& directory = {});
  Quarantine(const Quarantine&) = delete;
  Quarantine& operator=(const Quarantine&) = delete;

  bool recording() const { return static_cast<bool>(step_file_); }

  // The crash of this version of `file`, if it is put aside. The crash of an
  // earlier version is forgotten (logged).
  std::optional<Crash> find(const std::filesystem::path& file, const FileIdentity& identity);

  // Records that `step` of the plugin in `file` is under way until the Step
  // goes. A step inside another (a hook reading an option) keeps the outer
  // record.
  class Step {
   public:
    explicit Step(Quarantine* owner) : owner_(owner) {}
    Step(Step&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Step& operator=(Step&&) = delete;
    ~Step();

   private:
    Quarantine* owner_;
  };
  [[nodiscard]] Step begin(const std::filesystem::path& file, const FileIdentity& identity,
                           std::string_view name, std::string_view step);

  // Forgets the crash of the plugin named `plugin`, or of the file `plugin`
  // (its path or its file name). Returns it; nullopt if none matched.
  std::optional<Crash> forget(std::string_view plugin);

  const std::vector<Crash>& crashes() const { return crashes_; }

 private:
  void recover();
  void save();

  Fd directory_;
  Fd step_file_;
  int depth_ = 0;
  std::vector<Crash> crashes_;
};

}  // namespace tails_server::core

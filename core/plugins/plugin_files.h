// The "*.so" entries of a plugin directory, each opened once without
// following a link. The loader checks that descriptor (fstat, the ELF
// check) and dlopens the same one as /proc/self/fd/N, so the file it checked
// is the file it loads.
#pragma once

#include "plugins/plugin_state.h"
#include "util/fd.h"

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <vector>

namespace tails_server::core {

struct PluginFile {
  std::filesystem::path path;
  Fd fd;  // O_RDONLY | O_NOFOLLOW, a regular file; invalid when refused
  struct stat st {};
  std::optional<Refusal> refusal;  // why it cannot be loaded, if it cannot
};

// Every entry of `directory` named "*.so", sorted by name, opened or
// refused: a symbolic link (looping, dangling or not), a directory or other
// non-regular file, a file that cannot be opened (Unreadable); a file, or a
// directory, that someone other than root or the daemon's user could change
// (Insecure). A missing directory has no entries.
std::vector<PluginFile> open_plugin_files(const std::filesystem::path& directory);

}  // namespace tails_server::core

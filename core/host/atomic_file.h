// Atomic replacement of a file: no reader ever sees a half-written file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace tails_server::core {

// Writes `content` to a temporary file beside `file`, applies `mode` and, if
// given (not -1), the owner and group, fsyncs it, renames it over `file` and
// fsyncs the directory. On failure the temporary file is removed, `file` is
// unchanged, and std::system_error names the file and the step that failed.
void write_file_atomically(const std::filesystem::path& file, std::string_view content, mode_t mode,
                           uid_t uid = static_cast<uid_t>(-1), gid_t gid = static_cast<gid_t>(-1));

// The same for `name` in the open directory `dir` (`file` names it in
// messages). The temporary file is created exclusively, without following a
// link; a link at `name` is replaced, never written through.
void write_file_atomically_at(int dir, const std::string& name, std::string_view content, mode_t mode, uid_t uid,
                              gid_t gid, const std::filesystem::path& file);

}  // namespace tails_server::core

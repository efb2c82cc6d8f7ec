// File operations that follow no symbolic link, for trees the daemon does not
// own alone (the Persistent Storage, a service's own directories). Each works
// relative to an open directory, so a path swapped for a link mid-way is
// never followed. Failures throw FileError naming the path and the reason.
#pragma once

#include "util/fd.h"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/stat.h>

namespace tails_server::core {

class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace no_follow {

// Throws FileError "WHAT PATH: strerror(error)".
[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int error);

// Opens `path` (absolute) refusing any symbolic link on the way, including
// the last component. An invalid Fd with errno set on failure.
Fd open_path(const std::filesystem::path& path, int flags);

// Opens the directory `path` (absolute) one component at a time from "/",
// following no symbolic link. With `create`, makes the missing components
// (root:root 0755); without, an invalid Fd with errno ENOENT if one is
// missing. Throws FileError naming a link or a non-directory on the way.
Fd open_tree(const std::filesystem::path& path, bool create);

// open_path for a directory; throws FileError if it cannot.
Fd open_dir(const std::filesystem::path& path);

// openat(dir, name) without following a link at `name`; invalid Fd and errno on failure.
Fd open_at(int dir, const std::string& name, int flags);

// What lies at dir/name, not followed; false if nothing.
bool stat_at(int dir, const std::string& name, struct stat& st);
bool exists_at(int dir, const std::string& name);

void sync_fd(int fd, const std::filesystem::path& shown);

// Makes dir/name a directory of root with `mode` (creates it if missing);
// refuses anything else there, a symbolic link above all.
Fd make_dir_at(int dir, const std::string& name, mode_t mode, const std::filesystem::path& shown);

// Removes dir/name and everything below it, following no link and crossing
// no mount point. Nothing there is fine.
void remove_at(int dir, const std::string& name, const std::filesystem::path& shown);

// Removes what lies in the directory `dir`, keeping the directory.
void empty_dir(int dir, const std::filesystem::path& shown);

// Copies src_dir/src_name to dst_dir/dst_name (which must not exist): a tree
// of directories, regular files and symbolic links (copied as links, never
// followed), with owners, modes (files lose their set-user-ID and
// set-group-ID bits) and times; everything fsynced. Sockets are
// skipped (services recreate them); anything else is refused.
void copy_at(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
             const std::filesystem::path& shown);

// The one reader of files the daemon did not write alone (a service's own
// directories, the Persistent Storage): the content of the regular file
// dir/name, opened without following a link and without blocking, so a FIFO
// never hangs the daemon and a link to /dev/zero is never read. nullopt if
// nothing is there. Throws FileError naming `shown` if it is a link, a FIFO,
// a device or anything but a regular file, or larger than `max_bytes`
// (nothing beyond max_bytes + 1 bytes is read).
std::optional<std::string> read_small_file(int dir, const std::string& name, std::size_t max_bytes,
                                           const std::filesystem::path& shown);
// The same for the absolute `path`, its directories opened from "/" without
// following a link (open_tree).
std::optional<std::string> read_small_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace no_follow
}  // namespace tails_server::core

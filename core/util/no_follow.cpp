#include "util/no_follow.h"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <vector>

namespace tails_server::core::no_follow {

namespace fs = std::filesystem;

void fail(const std::string& what, const fs::path& path, int error) {
  throw FileError(what + " " + path.string() + ": " + std::strerror(error));
}

namespace {

std::vector<std::string> names_in(int dir, const fs::path& shown) {
  DIR* listing = ::fdopendir(::dup(dir));
  if (!listing) fail("cannot list", shown, errno);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(listing)) {
    std::string n = entry->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(listing);
  return names;
}

void copy_attributes(int fd, const struct stat& st, const fs::path& shown) {
  if (::fchown(fd, st.st_uid, st.st_gid) != 0) fail("cannot set the owner of", shown, errno);
  if (::fchmod(fd, st.st_mode & 07777) != 0) fail("cannot set the mode of", shown, errno);
  timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(fd, times);
}

void copy_contents(int from, int to, const fs::path& source) {
  for (;;) {
    ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, 1 << 24, 0);
    if (n == 0) return;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      fail("cannot copy", source, errno);
    break;  // fall back to read/write
  }
  std::vector<char> buffer(1 << 20);
  for (;;) {
    ssize_t got = ::read(from, buffer.data(), buffer.size());
    if (got == 0) return;
    if (got < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", source, errno);
    }
    for (ssize_t done = 0; done < got;) {
      ssize_t put = ::write(to, buffer.data() + done, static_cast<std::size_t>(got - done));
      if (put < 0) {
        if (errno == EINTR) continue;
        fail("cannot write the copy of", source, errno);
      }
      done += put;
    }
  }
}

}  // namespace

Fd open_path(const fs::path& path, int flags) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
  return Fd(static_cast<int>(fd));
}

Fd open_tree(const fs::path& path, bool create) {
  if (!path.is_absolute()) throw FileError("not an absolute path: " + path.string());
  Fd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) fail("cannot open", "/", errno);
  fs::path walked = "/";
  for (const auto& part : path.relative_path()) {
    std::string name = part.string();
    if (name.empty() || name == ".") continue;
    walked /= part;
    if (name == "..") throw FileError("refusing " + path.string() + ": '..' in the path");
    Fd next = open_at(dir.get(), name, O_RDONLY | O_DIRECTORY);
    if (!next && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create", walked, errno);
      next = open_at(dir.get(), name, O_RDONLY | O_DIRECTORY);
      if (next && ::fchmod(next.get(), 0755) != 0) fail("cannot set the mode of", walked, errno);
    }
    if (!next) {
      if (errno == ENOENT) return Fd();
      if (errno == ELOOP || errno == ENOTDIR)
        throw FileError("refusing " + path.string() + ": " + walked.string() +
                        " is a symbolic link or not a directory (links are never followed here)");
      fail("cannot open", walked, errno);
    }
    dir = std::move(next);
  }
  return dir;
}

Fd open_dir(const fs::path& path) {
  Fd fd = open_path(path, O_RDONLY | O_DIRECTORY);
  if (!fd) {
    int error = errno;
    if (error == ELOOP || error == ENOTDIR)
      throw FileError("refusing " + path.string() +
                             ": a symbolic link is on the way, or it is not a directory (links are never followed under the persistence root)");
    fail("cannot open the directory", path, error);
  }
  return fd;
}

Fd open_at(int dir, const std::string& name, int flags) {
  return Fd(::openat(dir, name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW));
}

bool stat_at(int dir, const std::string& name, struct stat& st) {
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
  if (errno == ENOENT) return false;
  throw FileError("cannot inspect " + name + ": " + std::strerror(errno));
}

bool exists_at(int dir, const std::string& name) {
  struct stat st;
  return stat_at(dir, name, st);
}

void sync_fd(int fd, const fs::path& what) {
  if (::fsync(fd) != 0) fail("cannot fsync", what, errno);
}

Fd make_dir_at(int dir, const std::string& name, mode_t mode, const fs::path& shown) {
  if (::mkdirat(dir, name.c_str(), mode) != 0 && errno != EEXIST) fail("cannot create", shown, errno);
  Fd fd = open_at(dir, name, O_RDONLY | O_DIRECTORY);
  if (!fd) {
    if (errno == ELOOP || errno == ENOTDIR)
      throw FileError("refusing " + shown.string() + ": it is not a directory (a symbolic link?)");
    fail("cannot open", shown, errno);
  }
  if (::fchown(fd.get(), 0, 0) != 0) fail("cannot set the owner of", shown, errno);
  if (::fchmod(fd.get(), mode) != 0) fail("cannot set the mode of", shown, errno);
  return fd;
}

void remove_at(int dir, const std::string& name, const fs::path& shown) {
  struct stat st;
  if (!stat_at(dir, name, st)) return;
  if (S_ISDIR(st.st_mode)) {
    {
      Fd child = open_at(dir, name, O_RDONLY | O_DIRECTORY);
      if (!child) fail("cannot open", shown, errno);
      struct stat inside;
      if (::fstat(child.get(), &inside) != 0 || inside.st_dev != st.st_dev || inside.st_ino != st.st_ino)
        throw FileError("refusing to remove " + shown.string() + ": it changed while being removed");
      for (const auto& n : names_in(child.get(), shown)) remove_at(child.get(), n, shown / n);
    }
    if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) fail("cannot remove", shown, errno);
  } else if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
    fail("cannot remove", shown, errno);
  }
}

void empty_dir(int dir, const fs::path& shown) {
  for (const auto& n : names_in(dir, shown)) remove_at(dir, n, shown / n);
}

void copy_at(int src_dir, const std::string& src_name, int dst_dir, const std::string& dst_name,
             const fs::path& shown) {
  struct stat st;
  if (!stat_at(src_dir, src_name, st)) throw FileError("cannot copy " + shown.string() + ": it vanished");
  if (S_ISDIR(st.st_mode)) {
    Fd from = open_at(src_dir, src_name, O_RDONLY | O_DIRECTORY);
    if (!from) fail("cannot open", shown, errno);
    if (::mkdirat(dst_dir, dst_name.c_str(), 0700) != 0) fail("cannot create the copy of", shown, errno);
    Fd to = open_at(dst_dir, dst_name, O_RDONLY | O_DIRECTORY);
    if (!to) fail("cannot open the copy of", shown, errno);
    for (const auto& n : names_in(from.get(), shown)) copy_at(from.get(), n, to.get(), n, shown / n);
    copy_attributes(to.get(), st, shown);
    sync_fd(to.get(), shown);
  } else if (S_ISREG(st.st_mode)) {
    Fd from = open_at(src_dir, src_name, O_RDONLY);
    if (!from) fail("cannot read", shown, errno);
    Fd to(::openat(dst_dir, dst_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!to) fail("cannot create the copy of", shown, errno);
    copy_contents(from.get(), to.get(), shown);
    // A set-user-ID or set-group-ID program planted on the Persistent
    // Storage must not become one on the running system: the bits go.
    struct stat plain = st;
    plain.st_mode &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
    copy_attributes(to.get(), plain, shown);
    sync_fd(to.get(), shown);
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(src_dir, src_name.c_str(), target.data(), target.size());
    if (n < 0) fail("cannot read the link", shown, errno);
    target.resize(static_cast<std::size_t>(n));
    if (::symlinkat(target.c_str(), dst_dir, dst_name.c_str()) != 0) fail("cannot copy the link", shown, errno);
    ::fchownat(dst_dir, dst_name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  } else if (S_ISSOCK(st.st_mode)) {
    return;
  } else {
    throw FileError("cannot copy " + shown.string() +
                           ": not a regular file, directory or symbolic link (a device or a FIFO)");
  }
}

std::optional<std::string> read_small_file(int dir, const std::string& name, std::size_t max_bytes,
                                           const fs::path& shown) {
  Fd fd = open_at(dir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP)
      throw FileError("refusing " + shown.string() + ": it is a symbolic link (links are never followed here)");
    fail("cannot open", shown, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail("cannot inspect", shown, errno);
  if (!S_ISREG(st.st_mode))
    throw FileError("refusing " + shown.string() + ": not a regular file (a FIFO, a device or a directory)");
  // Read straight into the string, first sized for the whole cap (up to
  // 64 KiB), so a small secret (an onion key) is never copied on the way.
  std::string content(std::min<std::size_t>(max_bytes + 1, 65536), '\0');
  std::size_t size = 0;
  while (size <= max_bytes) {
    if (size == content.size()) content.resize(std::min(max_bytes + 1, 2 * content.size()));
    ssize_t n = ::read(fd.get(), content.data() + size, content.size() - size);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", shown, errno);
    }
    size += static_cast<std::size_t>(n);
  }
  content.resize(size);
  if (content.size() > max_bytes)
    throw FileError("refusing " + shown.string() + ": larger than " + std::to_string(max_bytes) +
                    " bytes, more than such a file ever holds");
  return content;
}

std::optional<std::string> read_small_file(const fs::path& path, std::size_t max_bytes) {
  Fd dir = open_tree(path.parent_path(), false);
  if (!dir) return std::nullopt;
  return read_small_file(dir.get(), path.filename().string(), max_bytes, path);
}

}  // namespace tails_server::core::no_follow

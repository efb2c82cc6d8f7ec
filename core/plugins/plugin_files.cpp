// Opening the "*.so" entries of a plugin directory: the directory itself is
// opened once, and each entry relative to it without following a link.
#include "plugins/plugin_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace tails_server::core {

namespace {

namespace fs = std::filesystem;

std::string quote_path(const fs::path& file) { return "'" + file.string() + "'"; }

std::string octal_mode(mode_t mode) {
  std::array<char, 8> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return buffer.data();
}

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Refuses `st` (of the plugin `file`, or of its directory `where`) if
// someone other than root or the daemon's user could change it.
std::optional<Refusal> check_owner_and_mode(const fs::path& file, const struct stat& st, const fs::path& where) {
  std::string subject = where.empty() ? "it" : "its directory " + quote_path(where);
  const fs::path& fix = where.empty() ? file : where;
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return Refusal{PluginState::Insecure, "Insecure plugin " + quote_path(file) + ": " + subject +
                                              " is writable by group or others (mode " + octal_mode(st.st_mode) +
                                              "); it must not be: chmod go-w " + quote_path(fix)};
  uid_t self = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != self) {
    std::string allowed = self == 0 ? "root (uid 0)"
                                    : "root (uid 0) or the daemon's user (uid " + std::to_string(self) + ")";
    return Refusal{PluginState::Insecure, "Insecure plugin " + quote_path(file) + ": " + subject +
                                              " is owned by uid " + std::to_string(st.st_uid) +
                                              "; it must be owned by " + allowed + ": chown root " + quote_path(fix)};
  }
  return std::nullopt;
}

// Why the "*.so" entry `name`, a symbolic link, is refused: what it points to.
Refusal link_refusal(int dir, const std::string& name, const fs::path& path) {
  std::array<char, 4096> target{};
  ssize_t length = ::readlinkat(dir, name.c_str(), target.data(), target.size() - 1);
  std::string to = length >= 0 ? std::string(target.data(), static_cast<std::size_t>(length)) : "?";
  struct stat st {};
  std::string what;
  if (::fstatat(dir, name.c_str(), &st, 0) == 0)
    what = "a symbolic link to " + quote_path(to);
  else if (errno == ELOOP)
    what = "a symbolic link that loops (it points to " + quote_path(to) + ")";
  else if (errno == ENOENT)
    what = "a dangling symbolic link: its target " + quote_path(to) + " does not exist";
  else
    what = "a symbolic link to " + quote_path(to) + ", which cannot be read (" + std::strerror(errno) + ")";
  return Refusal{PluginState::Unreadable,
                 "Unreadable plugin " + quote_path(path) + ": it is " + what +
                     "; plugins must be regular files, links are never followed. Put the plugin file itself "
                     "here, or remove the link."};
}

// The "*.so" names in `dir`, sorted.
std::vector<std::string> candidate_names(int dir) {
  std::vector<std::string> names;
  int copy = ::fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return names;
  DIR* stream = ::fdopendir(copy);
  if (!stream) {
    ::close(copy);
    return names;
  }
  while (const dirent* entry = ::readdir(stream))
    if (fs::path(entry->d_name).extension() == ".so") names.emplace_back(entry->d_name);
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

PluginFile open_entry(int dir, const std::string& name, const fs::path& path) {
  PluginFile file;
  file.path = path;
  Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    int error = errno;
    if (error == ELOOP) file.refusal = link_refusal(dir, name, path);
    else
      file.refusal = Refusal{PluginState::Unreadable, "Unreadable plugin " + quote_path(path) +
                                                          ": it cannot be opened: " + std::strerror(error) + "."};
    return file;
  }
  if (::fstat(fd.get(), &file.st) != 0) {
    file.refusal = Refusal{PluginState::Unreadable,
                           "Unreadable plugin " + quote_path(path) + ": " + std::strerror(errno) + "."};
    return file;
  }
  if (!S_ISREG(file.st.st_mode)) {
    file.refusal = Refusal{PluginState::Unreadable, "Unreadable plugin " + quote_path(path) + ": it is " +
                                                        kind_of(file.st.st_mode) +
                                                        ", not a file; only plugin files belong here."};
    return file;
  }
  file.refusal = check_owner_and_mode(path, file.st, {});
  if (!file.refusal) file.fd = std::move(fd);
  return file;
}

}  // namespace

std::vector<PluginFile> open_plugin_files(const fs::path& directory) {
  std::vector<PluginFile> files;
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return files;
  struct stat st {};
  if (::fstat(dir.get(), &st) != 0) return files;
  for (const std::string& name : candidate_names(dir.get())) {
    fs::path path = directory / name;
    if (auto refusal = check_owner_and_mode(path, st, directory)) {
      PluginFile file;
      file.path = path;
      file.refusal = std::move(refusal);
      files.push_back(std::move(file));
      continue;
    }
    files.push_back(open_entry(dir.get(), name, path));
  }
  return files;
}

}  // namespace tails_server::core

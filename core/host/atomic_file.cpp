#include "host/atomic_file.h"

#include "util/fd.h"

#include <cerrno>
#include <cstdio>
#include <sys/random.h>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace tails_server::core {

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& file, int error) {
  throw std::system_error(error, std::generic_category(), what + " " + file.string());
}

}  // namespace

void write_file_atomically_at(int dir, const std::string& name, std::string_view content, mode_t mode, uid_t uid,
                              gid_t gid, const std::filesystem::path& file) {
  // A fresh name, created exclusively and never through a link.
  std::string temp;
  Fd fd;
  for (int attempt = 0; attempt < 16 && !fd; ++attempt) {
    unsigned char random[6];
    if (::getrandom(random, sizeof random, 0) != sizeof random) fail("cannot make a temporary name for", file, errno);
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x%02x%02x", random[0], random[1], random[2], random[3],
                  random[4], random[5]);
    temp = "." + name + ".tmp-" + suffix;
    fd = Fd(::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd && errno != EEXIST) break;
  }
  if (!fd) fail("cannot create a temporary file for", file, errno);
  auto cleanup_and_fail = [&](const std::string& what) {
    int error = errno;
    ::unlinkat(dir, temp.c_str(), 0);
    fail(what, file, error);
  };
  if (::fchmod(fd.get(), mode) != 0) cleanup_and_fail("cannot set the mode of");
  if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) && ::fchown(fd.get(), uid, gid) != 0)
    cleanup_and_fail("cannot set the owner of");
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t written = ::write(fd.get(), data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      cleanup_and_fail("cannot write");
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
  if (::fsync(fd.get()) != 0) cleanup_and_fail("cannot fsync");
  if (::close(fd.release()) != 0) cleanup_and_fail("cannot close");
  // rename replaces whatever is at `name`, a link included, without following it.
  if (::renameat(dir, temp.c_str(), dir, name.c_str()) != 0) cleanup_and_fail("cannot rename into place");
  ::fsync(dir);
}

void write_file_atomically(const std::filesystem::path& file, std::string_view content, mode_t mode,
                           uid_t uid, gid_t gid) {
  std::filesystem::path directory = file.parent_path().empty() ? "." : file.parent_path();
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) fail("cannot open the directory of", file, errno);
  write_file_atomically_at(dir.get(), file.filename().string(), content, mode, uid, gid, file);
}

}  // namespace tails_server::core

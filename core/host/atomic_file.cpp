#include "host/atomic_file.h"

#include "util/fd.h"

#include <cerrno>
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

void write_file_atomically(const std::filesystem::path& file, std::string_view content, mode_t mode,
                           uid_t uid, gid_t gid) {
  std::filesystem::path directory = file.parent_path().empty() ? "." : file.parent_path();
  std::string temp = (directory / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) fail("cannot create a temporary file for", file, errno);
  auto cleanup_and_fail = [&](const std::string& what) {
    int error = errno;
    ::unlink(temp.c_str());
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
  if (::rename(temp.c_str(), file.c_str()) != 0) cleanup_and_fail("cannot rename into place");
  Fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
}

}  // namespace tails_server::core

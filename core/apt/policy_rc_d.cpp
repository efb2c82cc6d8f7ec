#include "apt/policy_rc_d.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <system_error>

namespace tails_server::core {

namespace {

// Reads `path` into `content`. Returns false when it cannot be read (absent).
bool read_file(const std::filesystem::path& path, std::string& content) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  content = buffer.str();
  return true;
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::system_category(), what);
}

}  // namespace

std::string policy_rc_d_script() {
  return "#!/bin/sh\n" + std::string(policy_rc_d_marker) +
         "\n# It forbids package scripts to start daemons; tails-serverd removes it when apt is done.\n"
         "exit 101\n";
}

bool is_our_policy_rc_d(std::string_view content) {
  return content.find(policy_rc_d_marker) != std::string_view::npos;
}

bool remove_leftover_policy_rc_d(const std::filesystem::path& path) {
  std::string content;
  if (!read_file(path, content) || !is_our_policy_rc_d(content)) return false;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove " + path.string());
  return true;
}

PolicyRcDGuard::PolicyRcDGuard(std::filesystem::path path) : path_(std::move(path)) {
  remove_leftover_policy_rc_d(path_);
  // Write a temporary file, then link it into place: link() fails if a file
  // appeared meanwhile, and no one ever sees a half-written script.
  std::string temporary = path_.string() + ".tails-serverd-XXXXXX";
  int fd = ::mkstemp(temporary.data());
  if (fd < 0) throw_errno("cannot create a temporary file next to " + path_.string());
  std::string script = policy_rc_d_script();
  bool written = ::write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size()) &&
                 ::fchmod(fd, 0755) == 0 && ::fsync(fd) == 0;
  int error = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    errno = error;
    throw_errno("cannot write " + temporary);
  }
  if (::link(temporary.c_str(), path_.c_str()) == 0) {
    installed_ = true;
  } else if (errno != EEXIST) {
    error = errno;
    ::unlink(temporary.c_str());
    errno = error;
    throw_errno("cannot create " + path_.string());
  }
  ::unlink(temporary.c_str());
}

PolicyRcDGuard::~PolicyRcDGuard() {
  if (!installed_) return;
  std::string content;
  if (read_file(path_, content) && is_our_policy_rc_d(content)) ::unlink(path_.c_str());
}

}  // namespace tails_server::core

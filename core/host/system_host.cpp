#include "host/system_host.h"
#include "util/log.h"

#include "host/atomic_file.h"
#include "util/no_follow.h"
#include "util/run_program.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <system_error>

namespace tails_server::core {

namespace {

struct Account {
  uid_t uid;
  gid_t gid;  // primary group
  std::string home;
};

std::optional<Account> find_user(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return std::nullopt;
  return Account{found->pw_uid, found->pw_gid, found->pw_dir ? found->pw_dir : "/"};
}

std::optional<gid_t> find_group(const std::string& name) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return std::nullopt;
  return found->gr_gid;
}

Account lookup_user(const std::string& name) {
  if (auto account = find_user(name)) return *account;
  throw HostError("user '" + name + "' does not exist (is the service's package installed?)");
}

gid_t lookup_group(const std::string& name) {
  if (auto gid = find_group(name)) return *gid;
  throw HostError("group '" + name + "' does not exist (is the service's package installed?)");
}

std::string errno_text(int error) { return std::system_category().message(error); }

// The parent directory of `path`, opened (and its missing directories made
// root:root 0755) without following any symbolic link: a service's account
// may own directories on the way and plant links there.
Fd open_parent(const std::filesystem::path& path, bool create) {
  try {
    return no_follow::open_tree(path.parent_path(), create);
  } catch (const FileError& error) {
    throw HostError(error.what());
  }
}

}  // namespace

std::string random_bytes(std::size_t count) {
  std::string out(count, '\0');
  std::size_t done = 0;
  while (done < count) {
    ssize_t got = ::getrandom(out.data() + done, count - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw HostError("getrandom failed: " + errno_text(errno));
    }
    done += static_cast<std::size_t>(got);
  }
  return out;
}

SystemHost::SystemHost(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path SystemHost::path(std::string_view absolute) const {
  const std::string shown = "'" + std::string(absolute) + "'";
  while (absolute.size() > 1 && absolute.back() == '/') absolute.remove_suffix(1);  // "/srv/site/" is a directory
  const std::filesystem::path p(absolute);
  if (!p.is_absolute() || !p.has_filename())
    throw HostError("not a system path: " + shown + "; expected an absolute path such as /etc/x.conf");
  for (const auto& part : p.relative_path())
    if (part == "." || part == ".." || part.empty())
      throw HostError("not a system path: " + shown + " has a '.' or '..' part");
  if (root_.empty() || root_ == "/") return p;
  // The one mistake this catches: a path already passed through path().
  const auto [end, unused] = std::mismatch(root_.begin(), root_.end(), p.begin(), p.end());
  if (end == root_.end())
    throw HostError("not a system path: " + shown + " already lies under the host's root " + root_.string() +
                    "; give the system path (e.g. /etc/x.conf) and the host roots it");
  return root_ / p.relative_path();
}

void SystemHost::write_file(std::string_view system_path, std::string_view content, const FileSpec& spec) {
  const std::filesystem::path file = path(system_path);
  uid_t uid = lookup_user(spec.owner).uid;
  gid_t gid = lookup_group(spec.group);
  Fd dir = open_parent(file, true);
  try {
    write_file_atomically_at(dir.get(), file.filename().string(), content, spec.mode, uid, gid, file);
  } catch (const std::system_error& error) {
    throw HostError(error.what());
  }
}

void SystemHost::make_directory(std::string_view system_path, const FileSpec& spec) {
  const std::filesystem::path directory = path(system_path);
  uid_t uid = lookup_user(spec.owner).uid;
  gid_t gid = lookup_group(spec.group);
  Fd parent = open_parent(directory, true);
  std::string name = directory.filename().string();
  if (::mkdirat(parent.get(), name.c_str(), spec.mode) != 0 && errno != EEXIST)
    throw HostError("cannot create directory " + directory.string() + ": " + errno_text(errno));
  // Owner and mode are set on what was opened, never on what a link points to.
  Fd dir(::openat(parent.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) {
    if (errno == ELOOP || errno == ENOTDIR)
      throw HostError("refusing " + directory.string() +
                      ": it is a symbolic link or not a directory (links are never followed here)");
    throw HostError("cannot open directory " + directory.string() + ": " + errno_text(errno));
  }
  if (::fchown(dir.get(), uid, gid) != 0 || ::fchmod(dir.get(), spec.mode) != 0)
    throw HostError("cannot set owner or mode of " + directory.string() + ": " + errno_text(errno));
}

void SystemHost::remove_file(std::string_view system_path) {
  const std::filesystem::path file = path(system_path);
  Fd dir = open_parent(file, false);
  if (!dir) return;  // its directory is missing: so is the file
  if (::unlinkat(dir.get(), file.filename().c_str(), 0) != 0 && errno != ENOENT)
    throw HostError("cannot remove " + file.string() + ": " + errno_text(errno));
}

std::optional<std::string> SystemHost::read_file(std::string_view system_path, std::size_t max_bytes) {
  try {
    return no_follow::read_small_file(path(system_path), max_bytes);
  } catch (const FileError& error) {
    throw HostError(error.what());
  }
}

bool SystemHost::exists(std::string_view system_path) const {
  // Only a look: a link on the way (on Tails, ~/Persistent is one) is followed.
  struct stat st {};
  return ::fstatat(AT_FDCWD, path(system_path).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool SystemHost::user_exists(std::string_view user) const { return find_user(std::string(user)).has_value(); }

bool SystemHost::group_exists(std::string_view group) const { return find_group(std::string(group)).has_value(); }

RunResult SystemHost::run(const std::vector<std::string>& argv, const RunOptions& options) {
  if (argv.empty()) throw HostError("run: empty command");
  std::optional<Account> account;
  if (!options.user.empty()) account = lookup_user(options.user);

  std::vector<std::string> environment = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                          "LANG=C.UTF-8"};
  environment.push_back("HOME=" + (account ? account->home : std::string("/root")));
  for (const auto& entry : options.environment) environment.push_back(entry);
  ProgramRun program{argv, std::move(environment), options.input, std::nullopt, options.timeout};
  if (account) program.as = Credentials{options.user, account->uid, account->gid};
  try {
    ProgramResult result = run_program(program);
    return RunResult{result.exit_code, std::move(result.output)};
  } catch (const RunError& error) {
    throw HostError(error.what());
  }
}

std::string SystemHost::random_password(std::size_t length) {
  static constexpr std::string_view alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  // Rejection sampling keeps every character equally likely.
  constexpr unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  while (out.size() < length) {
    for (unsigned char byte : random_bytes(length * 2)) {
      if (byte >= limit) continue;
      out += alphabet[byte % alphabet.size()];
      if (out.size() == length) break;
    }
  }
  return out;
}

void SystemHost::log(LogLevel level, std::string_view message) {
  switch (level) {
    case LogLevel::Error: return log::error(message);
    case LogLevel::Warning: return log::warning(message);
    case LogLevel::Info: return log::info(message);
    case LogLevel::Debug: return log::debug(message);
  }
}

}  // namespace tails_server::core

#include "persistence/persistence.h"

#include "host/atomic_file.h"
#include "state/state_store.h"
#include "util/no_follow.h"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <linux/openat2.h>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <cstdio>
#include <unistd.h>
#include <utility>

namespace tails_server::core {

namespace {

namespace fs = std::filesystem;
using namespace no_follow;

constexpr const char* new_suffix = ".tails-server-new";
constexpr const char* old_suffix = ".tails-server-old";
// A journal holds one word ("to-persistent", "to-amnesic").
constexpr std::size_t journal_limit = 64;

// Bind-mounts `source` at `target`, both opened with no symbolic link on
// the way. 0, or an errno (ELOOP / ENOTDIR for a link or a non-directory).
int bind_no_symlinks(const char* source, const char* target, bool* source_bad) {
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int from = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, source, &how, sizeof how));
  if (from < 0) {
    *source_bad = true;
    return errno;
  }
  int to = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, target, &how, sizeof how));
  if (to < 0) {
    int error = errno;
    ::close(from);
    return error;
  }
  struct stat a, b;
  int error = 0;
  if (::fstat(from, &a) == 0 && ::fstat(to, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    error = 0;  // already mounted
  } else {
    char from_link[64], to_link[64];
    std::snprintf(from_link, sizeof from_link, "/proc/self/fd/%d", from);
    std::snprintf(to_link, sizeof to_link, "/proc/self/fd/%d", to);
    if (::mount(from_link, to_link, nullptr, MS_BIND, nullptr) != 0) error = errno;
  }
  ::close(from);
  ::close(to);
  return error;
}

int unmount_all(const char* target) {
  for (int i = 0; i < 16; ++i) {
    if (::umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return 0;
    return errno;
  }
  return 0;
}

bool same_namespace_as_init() {
  struct stat self, init;
  if (::stat("/proc/self/ns/mnt", &self) != 0 || ::stat("/proc/1/ns/mnt", &init) != 0) return true;
  return self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

// Runs `op` (which returns 0 or an errno) in PID 1's mount namespace, in a
// child process, if `init` and the daemon's namespace is another one.
template <class Op>
int in_mount_namespace(bool init, Op op) {
  if (!init || same_namespace_as_init()) return op();
  int ns = ::open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (ns < 0) return errno;
  pid_t child = ::fork();
  if (child < 0) {
    int error = errno;
    ::close(ns);
    return error;
  }
  if (child == 0) {
    if (::setns(ns, CLONE_NEWNS) != 0 || ::chdir("/") != 0) ::_exit(120);
    int r = op();
    ::_exit(r > 119 ? 119 : r);
  }
  ::close(ns);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status)) return EINTR;
  if (WEXITSTATUS(status) == 120) return EPERM;
  return WEXITSTATUS(status);
}

}  // namespace

Persistence::Persistence(fs::path persistence_root, fs::path state_dir, Options options)
    : persistence_root_(std::move(persistence_root)), state_dir_(std::move(state_dir)), options_(std::move(options)) {}

Persistence::Persistence(fs::path persistence_root, fs::path state_dir)
    : Persistence(std::move(persistence_root), std::move(state_dir), Options{}) {}

fs::path Persistence::tree() const { return persistence_root_ / "tails-server"; }
fs::path Persistence::base(const std::string& service) const { return tree() / service; }
fs::path Persistence::journal(const std::string& service) const { return tree() / (service + ".journal"); }

bool Persistence::persistent(const std::string& service) const {
  struct stat st;
  return ::lstat((base(service) / "state.json").c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool Persistence::available() const {
  struct stat st;
  return ::lstat(persistence_root_.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Persistence::escape_path(const std::string& path) {
  std::string out;
  std::size_t start = path.find_first_not_of('/');
  for (std::size_t i = start == std::string::npos ? path.size() : start; i < path.size(); ++i) {
    char c = path[i];
    if (c == '/') out += "%2F";
    else if (c == '%') out += "%25";
    else out += c;
  }
  if (out.empty() || out == "." || out == "..") out = "%root";
  return out;
}

fs::path Persistence::amnesic(const std::string& path) const {
  return options_.root / fs::path(path).relative_path();
}

void Persistence::step(const std::string& name) const {
  if (options_.before_step) options_.before_step(name);
}

void Persistence::unmount(const std::string& path) {
  if (!options_.mount) return;
  auto target = amnesic(path);
  std::string t = target.string();
  int error = in_mount_namespace(options_.init_mount_namespace, [&t] { return unmount_all(t.c_str()); });
  // The daemon's own namespace may hold a copy of the mount that the
  // unmount did not reach.
  if (error == 0 && options_.init_mount_namespace) error = unmount_all(t.c_str());
  if (error != 0) fail("cannot unmount", target, error);
}

void Persistence::mount_data(const std::string& service, const std::string& path) {
  if (!options_.mount) return;
  auto source = base(service) / "data" / escape_path(path);
  auto target = amnesic(path);
  // After a reboot the amnesic path may not exist yet (the package makes it
  // only when installed, the plugin when configuring): make the mount point.
  if (!fs::exists(fs::symlink_status(target))) {
    std::error_code ignored;
    fs::create_directories(target, ignored);
  }
  std::string from = source.string(), to = target.string();
  bool source_bad = false;
  int error = in_mount_namespace(options_.init_mount_namespace,
                                 [&] { return bind_no_symlinks(from.c_str(), to.c_str(), &source_bad); });
  // And in the daemon's own namespace, for the commands it runs there (a
  // no-op if the mount propagated).
  if (error == 0 && options_.init_mount_namespace) error = bind_no_symlinks(from.c_str(), to.c_str(), &source_bad);
  if (error == 0) return;
  const auto& bad = source_bad ? source : target;
  if (error == ELOOP || error == ENOTDIR)
    throw PersistenceError("refusing to mount " + source.string() + " at " + target.string() + ": " +
                           bad.string() + " is a symbolic link, has one on the way, or is not a directory");
  throw PersistenceError("cannot bind-mount " + source.string() + " at " + target.string() + ": " +
                         std::strerror(error));
}

void Persistence::restore_mounts(const std::string& service, const std::vector<std::string>& paths) {
  if (!persistent(service)) return;
  for (const auto& path : paths) mount_data(service, path);
}

void Persistence::migrate(const std::string& service, const char* direction, const char* untouched,
                          const char* done_where, const std::function<void()>& copy_and_commit,
                          const std::function<void()>& roll_back, const std::function<void()>& finish) {
  const std::string what = std::string("turning persistence ") + direction + " for " + service + " failed: ";
  try {
    copy_and_commit();
  } catch (const Crash&) {
    throw;
  } catch (const std::exception& error) {
    std::string why = error.what();
    try {
      roll_back();
    } catch (const std::exception& again) {
      throw PersistenceError(what + why + "; the roll-back failed too (" + again.what() + "); " + untouched +
                             " is untouched and the next start of the daemon retries");
    }
    throw PersistenceError(what + why + "; rolled back, nothing was changed");
  }
  try {
    finish();
  } catch (const Crash&) {
    throw;
  } catch (const std::exception& error) {
    throw PersistenceError("the data of " + service + " is " + done_where + ", but " + error.what() +
                           "; the next start of the daemon finishes the move");
  }
}

void Persistence::turn_on(const std::string& service, const std::vector<std::string>& paths) {
  recover(service, paths);  // never start over an unfinished migration
  if (persistent(service)) return restore_mounts(service, paths);
  if (!available())
    throw PersistenceError("the Persistent Storage is not unlocked (" + persistence_root_.string() +
                           " is not a directory); unlock it, then turn persistence on");
  auto state_file = state_dir_ / (service + ".state.json");
  if (!fs::exists(fs::symlink_status(state_file)))
    throw PersistenceError("cannot turn persistence on for " + service + ": it has no state file " +
                           state_file.string());
  Fd root = open_dir(persistence_root_);
  Fd tree_fd = make_dir_at(root.get(), "tails-server", 0700, tree());
  sync_fd(root.get(), persistence_root_);
  remove_at(tree_fd.get(), service, base(service));  // a leftover of an interrupted, rolled-back try
  write_file_atomically(journal(service), "to-persistent\n", 0600);
  auto copy_and_commit = [&] {
    Fd base_fd = make_dir_at(tree_fd.get(), service, 0700, base(service));
    Fd data_fd = make_dir_at(base_fd.get(), "data", 0700, base(service) / "data");
    step("copy-data");
    for (const auto& path : paths) {
      auto source = amnesic(path);
      auto name = escape_path(path);
      Fd parent = open_dir(source.parent_path());
      std::string leaf = source.filename().string();
      struct stat st;
      if (!stat_at(parent.get(), leaf, st)) {
        if (::mkdirat(parent.get(), leaf.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create", source, errno);
        stat_at(parent.get(), leaf, st);
      }
      if (!S_ISDIR(st.st_mode))
        throw PersistenceError("refusing " + source.string() + ": not a directory (a symbolic link?)");
      copy_at(parent.get(), leaf, data_fd.get(), name + new_suffix, source);
      if (::renameat(data_fd.get(), (name + new_suffix).c_str(), data_fd.get(), name.c_str()) != 0)
        fail("cannot rename into place the copy of", source, errno);
    }
    sync_fd(data_fd.get(), base(service) / "data");
    step("copy-state");
    Fd state_fd = open_dir(state_dir_);
    if (exists_at(state_fd.get(), service)) {
      copy_at(state_fd.get(), service, base_fd.get(), std::string("state") + new_suffix, state_dir_ / service);
      if (::renameat(base_fd.get(), (std::string("state") + new_suffix).c_str(), base_fd.get(), "state") != 0)
        fail("cannot rename into place", base(service) / "state", errno);
    } else {
      make_dir_at(base_fd.get(), "state", 0700, base(service) / "state");
    }
    copy_at(state_fd.get(), service + ".state.json", base_fd.get(), std::string("state.json") + new_suffix,
            state_file);
    sync_fd(base_fd.get(), base(service));
    step("commit");
    if (::renameat(base_fd.get(), (std::string("state.json") + new_suffix).c_str(), base_fd.get(), "state.json") != 0)
      fail("cannot rename into place", base(service) / "state.json", errno);
    sync_fd(base_fd.get(), base(service));
  };
  migrate(service, "on", "the original data", "on the Persistent Storage", copy_and_commit,
          [&] { roll_back_on(service, paths); }, [&] { finish_on(service, paths); });
}

void Persistence::roll_back_on(const std::string& service, const std::vector<std::string>&) {
  Fd tree_fd = open_dir(tree());
  remove_at(tree_fd.get(), service, base(service));
  sync_fd(tree_fd.get(), tree());
  if (::unlinkat(tree_fd.get(), (service + ".journal").c_str(), 0) != 0 && errno != ENOENT)
    fail("cannot remove", journal(service), errno);
}

void Persistence::finish_on(const std::string& service, const std::vector<std::string>& paths) {
  step("remove-sources");
  for (const auto& path : paths) {
    unmount(path);  // never empty the persistent copy through a mount
    auto target = amnesic(path);
    Fd dir = open_path(target, O_RDONLY | O_DIRECTORY);
    if (!dir) {
      if (errno != ENOENT) fail("cannot open", target, errno);
      if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) fail("cannot create", target, errno);
      continue;
    }
    empty_dir(dir.get(), target);
  }
  {
    Fd state_fd = open_dir(state_dir_);
    remove_at(state_fd.get(), service, state_dir_ / service);
    remove_at(state_fd.get(), service + ".state.json", state_dir_ / (service + ".state.json"));
    sync_fd(state_fd.get(), state_dir_);
  }
  step("mount");
  for (const auto& path : paths) mount_data(service, path);
  Fd tree_fd = open_dir(tree());
  if (::unlinkat(tree_fd.get(), (service + ".journal").c_str(), 0) != 0 && errno != ENOENT)
    fail("cannot remove", journal(service), errno);
  sync_fd(tree_fd.get(), tree());
}

void Persistence::turn_off(const std::string& service, const std::vector<std::string>& paths) {
  recover(service, paths);  // never start over an unfinished migration
  if (!persistent(service)) return;
  Fd tree_fd = open_dir(tree());
  write_file_atomically(journal(service), "to-amnesic\n", 0600);
  auto copy_and_commit = [&] {
    Fd base_fd = open_dir(base(service));
    Fd data_fd = open_dir(base(service) / "data");
    step("copy-data");
    for (const auto& path : paths) {
      auto target = amnesic(path);
      auto name = escape_path(path);
      Fd parent = open_dir(target.parent_path());
      std::string fresh = target.filename().string() + new_suffix;
      remove_at(parent.get(), fresh, target.parent_path() / fresh);
      struct stat st;
      if (stat_at(data_fd.get(), name, st)) {
        if (!S_ISDIR(st.st_mode))
          throw PersistenceError("refusing " + (base(service) / "data" / name).string() +
                                 ": not a directory (a symbolic link planted on the Persistent Storage?)");
        copy_at(data_fd.get(), name, parent.get(), fresh, base(service) / "data" / name);
      } else if (::mkdirat(parent.get(), fresh.c_str(), 0755) != 0) {
        fail("cannot create", target.parent_path() / fresh, errno);
      }
      sync_fd(parent.get(), target.parent_path());
    }
    step("copy-state");
    fs::create_directories(state_dir_);
    Fd state_fd = open_dir(state_dir_);
    std::string fresh_dir = service + new_suffix;
    std::string fresh_file = service + ".state.json" + new_suffix;
    remove_at(state_fd.get(), fresh_dir, state_dir_ / fresh_dir);
    remove_at(state_fd.get(), fresh_file, state_dir_ / fresh_file);
    struct stat st;
    if (stat_at(base_fd.get(), "state", st) && !S_ISDIR(st.st_mode))
      throw PersistenceError("refusing " + (base(service) / "state").string() + ": not a directory");
    if (exists_at(base_fd.get(), "state"))
      copy_at(base_fd.get(), "state", state_fd.get(), fresh_dir, base(service) / "state");
    copy_at(base_fd.get(), "state.json", state_fd.get(), fresh_file, base(service) / "state.json");
    sync_fd(state_fd.get(), state_dir_);
    step("commit");
    if (::renameat(base_fd.get(), "state.json", base_fd.get(), "state.json.off") != 0)
      fail("cannot rename", base(service) / "state.json", errno);
    sync_fd(base_fd.get(), base(service));
  };
  migrate(service, "off", "the persistent data", "back in the amnesic system", copy_and_commit,
          [&] { roll_back_off(service, paths); }, [&] { finish_off(service, paths); });
}

void Persistence::roll_back_off(const std::string& service, const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    auto target = amnesic(path);
    Fd parent = open_path(target.parent_path(), O_RDONLY | O_DIRECTORY);
    if (!parent) continue;
    std::string fresh = target.filename().string() + new_suffix;
    remove_at(parent.get(), fresh, target.parent_path() / fresh);
  }
  if (Fd state_fd = open_path(state_dir_, O_RDONLY | O_DIRECTORY)) {
    remove_at(state_fd.get(), service + new_suffix, state_dir_ / (service + new_suffix));
    remove_at(state_fd.get(), service + ".state.json" + new_suffix,
              state_dir_ / (service + ".state.json" + new_suffix));
  }
  Fd tree_fd = open_dir(tree());
  if (::unlinkat(tree_fd.get(), (service + ".journal").c_str(), 0) != 0 && errno != ENOENT)
    fail("cannot remove", journal(service), errno);
  sync_fd(tree_fd.get(), tree());
}

bool Persistence::amnesic_copies_complete(const std::string& service, const std::vector<std::string>& paths) const {
  Fd state_fd = open_path(state_dir_, O_RDONLY | O_DIRECTORY);
  Fd base_fd = open_path(base(service), O_RDONLY | O_DIRECTORY);
  if (!state_fd || !base_fd) return false;
  // The state file, not yet or already renamed into place, must be the
  // copy of the persistent one (not one an amnesic install wrote since).
  auto committed = read_small_file(base_fd.get(), "state.json.off", StateStore::max_file_size,
                                   base(service) / "state.json.off");
  std::string file = service + ".state.json";
  auto copy = read_small_file(state_fd.get(), file + new_suffix, StateStore::max_file_size, state_dir_ / file);
  if (!copy) copy = read_small_file(state_fd.get(), file, StateStore::max_file_size, state_dir_ / file);
  if (!committed || copy != committed) return false;
  if (exists_at(base_fd.get(), "state") && !exists_at(state_fd.get(), service + new_suffix) &&
      !exists_at(state_fd.get(), service))
    return false;
  for (const auto& path : paths) {
    auto target = amnesic(path);
    Fd parent = open_path(target.parent_path(), O_RDONLY | O_DIRECTORY);
    std::string leaf = target.filename().string();
    if (!parent || (!exists_at(parent.get(), leaf + new_suffix) && !exists_at(parent.get(), leaf))) return false;
  }
  return true;
}

void Persistence::finish_off(const std::string& service, const std::vector<std::string>& paths) {
  if (!amnesic_copies_complete(service, paths))
    throw PersistenceError("refusing to finish moving " + service + " out of the Persistent Storage: not every "
                           "amnesic copy is there, and the persistent copy is never deleted without them");
  step("unmount");
  for (const auto& path : paths) unmount(path);
  step("swap-data");
  for (const auto& path : paths) {
    auto target = amnesic(path);
    Fd parent = open_dir(target.parent_path());
    std::string leaf = target.filename().string();
    std::string fresh = leaf + new_suffix;
    std::string old = leaf + old_suffix;
    if (!exists_at(parent.get(), fresh)) continue;  // done before
    remove_at(parent.get(), old, target.parent_path() / old);
    if (exists_at(parent.get(), leaf) && ::renameat(parent.get(), leaf.c_str(), parent.get(), old.c_str()) != 0) {
      if (errno != EBUSY) fail("cannot rename", target, errno);
      // Still a mount point in some namespace: move the copy's entries
      // into it one by one instead (each replaces its older namesake).
      Fd into = open_at(parent.get(), leaf, O_RDONLY | O_DIRECTORY);
      Fd from = open_at(parent.get(), fresh, O_RDONLY | O_DIRECTORY);
      if (!into || !from) fail("cannot open", target, errno);
      DIR* listing = ::fdopendir(::dup(from.get()));
      if (!listing) fail("cannot list", target.parent_path() / fresh, errno);
      std::vector<std::string> names;
      while (dirent* entry = ::readdir(listing)) {
        std::string n = entry->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
      ::closedir(listing);
      for (const auto& n : names) {
        remove_at(into.get(), n, target / n);
        if (::renameat(from.get(), n.c_str(), into.get(), n.c_str()) != 0) fail("cannot move into place", target / n, errno);
      }
      sync_fd(into.get(), target);
      remove_at(parent.get(), fresh, target.parent_path() / fresh);
      sync_fd(parent.get(), target.parent_path());
      continue;
    }
    if (::renameat(parent.get(), fresh.c_str(), parent.get(), leaf.c_str()) != 0)
      fail("cannot rename into place", target, errno);
    sync_fd(parent.get(), target.parent_path());
    remove_at(parent.get(), old, target.parent_path() / old);
  }
  {
    Fd state_fd = open_dir(state_dir_);
    if (exists_at(state_fd.get(), service + new_suffix)) {
      remove_at(state_fd.get(), service, state_dir_ / service);
      if (::renameat(state_fd.get(), (service + new_suffix).c_str(), state_fd.get(), service.c_str()) != 0)
        fail("cannot rename into place", state_dir_ / service, errno);
    }
    std::string file = service + ".state.json";
    if (exists_at(state_fd.get(), file + new_suffix) &&
        ::renameat(state_fd.get(), (file + new_suffix).c_str(), state_fd.get(), file.c_str()) != 0)
      fail("cannot rename into place", state_dir_ / file, errno);
    sync_fd(state_fd.get(), state_dir_);
  }
  step("remove-persistent");
  Fd tree_fd = open_dir(tree());
  remove_at(tree_fd.get(), service, base(service));
  if (::unlinkat(tree_fd.get(), (service + ".journal").c_str(), 0) != 0 && errno != ENOENT)
    fail("cannot remove", journal(service), errno);
  sync_fd(tree_fd.get(), tree());
}

void Persistence::remove(const std::string& service, const std::vector<std::string>& paths) {
  for (const auto& path : paths) unmount(path);
  Fd tree_fd = open_path(tree(), O_RDONLY | O_DIRECTORY);
  if (!tree_fd) return;
  remove_at(tree_fd.get(), service, base(service));
  remove_at(tree_fd.get(), service + ".journal", journal(service));
  sync_fd(tree_fd.get(), tree());
}

std::string Persistence::recover(const std::string& service, const std::vector<std::string>& paths) {
  Fd tree_fd = open_path(tree(), O_RDONLY | O_DIRECTORY);
  if (!tree_fd) return {};
  if (!exists_at(tree_fd.get(), service + ".journal")) return {};
  std::string direction =
      read_small_file(tree_fd.get(), service + ".journal", journal_limit, journal(service)).value_or("");
  bool committed_on = persistent(service);
  if (direction.rfind("to-persistent", 0) == 0) {
    if (committed_on) {
      finish_on(service, paths);
      return "finished moving " + service + " to the Persistent Storage (interrupted before)";
    }
    roll_back_on(service, paths);
    return "rolled back an interrupted move of " + service + " to the Persistent Storage";
  }
  if (direction.rfind("to-amnesic", 0) == 0) {
    if (committed_on) {
      roll_back_off(service, paths);
      return "rolled back an interrupted move of " + service + " out of the Persistent Storage";
    }
    if (!amnesic_copies_complete(service, paths)) {
      // The amnesic copies lived in RAM and a reboot took them: the
      // persistent copy is all there is, so the commit is undone.
      Fd base_fd = open_dir(base(service));
      if (::renameat(base_fd.get(), "state.json.off", base_fd.get(), "state.json") != 0)
        fail("cannot restore", base(service) / "state.json", errno);
      sync_fd(base_fd.get(), base(service));
      roll_back_off(service, paths);
      return "rolled back an interrupted move of " + service +
             " out of the Persistent Storage: its amnesic copies were gone (a reboot?), so the persistent "
             "copy was kept";
    }
    finish_off(service, paths);
    return "finished moving " + service + " out of the Persistent Storage (interrupted before)";
  }
  throw PersistenceError("unreadable migration journal " + journal(service).string() + " (\"" + direction +
                         "\"); remove it once the data of " + service + " is checked");
}

}  // namespace tails_server::core

// Per-service persistence: a service's data, its state (the options file)
// and its onion key on the Persistent Storage, and the moves between there
// and the amnesic system.
//
// Layout, everything root-owned, directories 0700:
//   <persistence_root>/tails-server/                 the tree, 0700
//   <persistence_root>/tails-server/<service>/       one per service with persistence on
//       state.json     the options file (StateStore: the service is persistent iff it exists)
//       state/         the former <state_dir>/<service>/ (onion key, ...)
//       data/<name>/   one per persistent path, bind-mounted at the path;
//                      <name> is the path with '/' and '%' escaped as %2F, %25
//   <persistence_root>/tails-server/<service>.journal  while a migration runs
//
// A migration copies (never moves) into temporary names on the target file
// system, fsyncs, renames into place, then commits by one atomic rename of
// the state file; only after the commit are the sources removed. A failure
// before the commit removes the copies (the sources are untouched); a
// journal found at the next start (recover()) finishes a committed migration
// or rolls back one that was not committed. The persistent copy is deleted
// only once every amnesic copy is checked to be there: after a reboot (the
// amnesic copies were in RAM) a committed turn-off is undone instead.
//
// Nothing under the persistence root is ever followed through a symbolic
// link: paths there are opened with openat2(RESOLVE_NO_SYMLINKS), copies
// walk trees with O_NOFOLLOW and copy links as links, and bind mounts go
// through O_PATH descriptors (/proc/self/fd/N).
#pragma once

#include "util/no_follow.h"

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::core {

// A migration or mount failed; what() names the path and the reason, and
// whether the migration was rolled back.
using PersistenceError = FileError;

class Persistence {
 public:
  struct Options {
    // System root the persistent paths lie under ("/" except in tests).
    std::filesystem::path root = "/";
    // Bind-mount the data at the persistent paths (false: tests that run
    // without a private mount namespace; the data is then only moved).
    bool mount = true;
    // Mount and unmount in the mount namespace of PID 1 (the daemon's unit
    // may have a namespace of its own, e.g. PrivateTmp=, whose mounts the
    // services would not see). Off in tests that run in a private namespace.
    bool init_mount_namespace = false;
    // Test hook, called before each step with its name ("copy-data",
    // "copy-state", "commit", "remove-sources", "mount", "unmount",
    // "swap-data", "remove-persistent"). An exception it throws acts as a
    // failure at that step; an exception of type Crash acts as the daemon
    // being killed there: nothing is rolled back and the journal stays.
    std::function<void(const std::string& step)> before_step;
  };
  struct Crash {};

  // `persistence_root`: /live/persistence/TailsData_unlocked. `state_dir`:
  // the amnesic state directory (<state_dir>/<service>.state.json and
  // <state_dir>/<service>/).
  Persistence(std::filesystem::path persistence_root, std::filesystem::path state_dir, Options options);
  Persistence(std::filesystem::path persistence_root, std::filesystem::path state_dir);

  // <persistence_root>/tails-server
  std::filesystem::path tree() const;
  // <persistence_root>/tails-server/<service>
  std::filesystem::path base(const std::string& service) const;
  // Whether the service's state lies on the persistent volume.
  bool persistent(const std::string& service) const;
  // Whether the persistent volume is there (the persistence root is a directory).
  bool available() const;

  // Moves the service's data, state directory and state file to the
  // persistent volume and bind-mounts the data back at `paths` (absolute,
  // e.g. "/var/lib/mumble-server"). The state file must exist. Throws
  // PersistenceError after rolling back.
  void turn_on(const std::string& service, const std::vector<std::string>& paths);
  // The reverse: everything back to the amnesic locations, the mounts
  // removed, nothing of the service left under tree().
  void turn_off(const std::string& service, const std::vector<std::string>& paths);
  // Bind-mounts the persistent data at `paths` unless already mounted.
  void restore_mounts(const std::string& service, const std::vector<std::string>& paths);
  // Removes the mounts and everything of the service under tree() (uninstall).
  void remove(const std::string& service, const std::vector<std::string>& paths);

  // Finishes or rolls back a migration of `service` that a killed daemon
  // left. Returns a description of what was done, or "" if there was no
  // journal. Throws PersistenceError if it cannot.
  std::string recover(const std::string& service, const std::vector<std::string>& paths);

  // "var%2Fwww%2Fhtml" for "/var/www/html".
  static std::string escape_path(const std::string& path);

 private:
  void step(const std::string& name) const;
  std::filesystem::path amnesic(const std::string& path) const;
  std::filesystem::path journal(const std::string& service) const;
  // Runs a migration's copy up to its commit; a failure there is rolled
  // back (a Crash is not: the journal stays), and after the commit `finish`
  // removes the sources. Errors name the service and what was kept.
  void migrate(const std::string& service, const char* direction, const char* untouched, const char* done_where,
               const std::function<void()>& copy_and_commit, const std::function<void()>& roll_back,
               const std::function<void()>& finish);
  void roll_back_on(const std::string& service, const std::vector<std::string>& paths);
  void finish_on(const std::string& service, const std::vector<std::string>& paths);
  void roll_back_off(const std::string& service, const std::vector<std::string>& paths);
  void finish_off(const std::string& service, const std::vector<std::string>& paths);
  // After the commit of a turn-off: whether every amnesic copy (data, state
  // directory, the state file equal to the persistent one) is there, fresh
  // or already renamed into place.
  bool amnesic_copies_complete(const std::string& service, const std::vector<std::string>& paths) const;
  void mount_data(const std::string& service, const std::string& path);
  void unmount(const std::string& path);

  std::filesystem::path persistence_root_;
  std::filesystem::path state_dir_;
  Options options_;
};

}  // namespace tails_server::core

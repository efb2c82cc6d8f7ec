// Installs and purges Debian packages with apt-get, on the daemon's sd-event
// loop: apt runs as a child process, its progress (APT::Status-Fd) and
// output arrive through pipes watched by the loop, so the daemon keeps
// serving D-Bus meanwhile. One operation at a time.
//
// The daemon must block SIGCHLD (sigprocmask) at start, before it creates
// any thread: sd-event watches the children through it. install() and purge()
// throw otherwise.
//
// While apt runs, a temporary policy-rc.d forbids package scripts to start
// daemons (policy_rc_d.h); packages are installed with
// --no-install-recommends; dpkg keeps existing configuration files.
#pragma once

#include "apt/apt_status.h"

#include <systemd/sd-event.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::core {

// An operation that could not start: another one runs (Busy), or the request
// is invalid (InvalidRequest). The daemon maps these to D-Bus errors.
class AptError : public std::runtime_error {
 public:
  AptError(AptErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  AptErrorKind kind() const { return kind_; }

 private:
  AptErrorKind kind_;
};

enum class AptOperation { Install, Purge };

// How an operation ended. Lists hold package names as dpkg knows them.
struct AptResult {
  AptOperation operation = AptOperation::Install;
  std::string requester;               // who asked, e.g. the service "prosody"
  std::vector<std::string> requested;  // the packages asked for

  // Install: the requested packages this call installed. Only these are the
  // caller's to record (and to purge at uninstall). Empty on failure.
  std::vector<std::string> installed;
  // Install: requested packages that were on the system before (never ours).
  std::vector<std::string> already_installed;
  // Install: other packages this call installed as dependencies. apt marks
  // them automatically installed. Empty on failure.
  std::vector<std::string> dependencies;
  // Purge: the packages removed. Install failure: the packages this call had
  // installed and purged again (the roll-back).
  std::vector<std::string> removed;
  // Install failure: packages left half-installed or half-configured even
  // after the roll-back (the error says so too).
  std::vector<std::string> left_broken;

  AptErrorKind error_kind = AptErrorKind::None;
  std::string error;  // a sentence naming the packages and quoting apt; empty on success
  AptDiagnosis diagnosis;  // apt's own error lines (E:, pmerror, lock)
  std::string output;      // the end of apt's output (stdout and stderr), for the log

  bool ok() const { return error_kind == AptErrorKind::None; }
};

struct AptRequestOptions {
  std::string requester;      // named in the busy error: "busy: installing X for <requester>"
  bool update_first = false;  // run `apt-get update` before installing (never done otherwise)
};

class AptInstaller {
 public:
  struct Options {
    std::string apt_get = "apt-get";
    std::string dpkg_query = "dpkg-query";
    std::filesystem::path policy_rc_d = "/usr/sbin/policy-rc.d";
    // How long apt waits for dpkg's lock held by another program (DPkg::Lock::Timeout).
    std::chrono::seconds lock_timeout{10};
    // Extra arguments for every apt-get run, before the package names
    // (e.g. {"-o", "Dir::Etc::sourcelist=..."}).
    std::vector<std::string> apt_arguments;
    // How much of apt's output AptResult::output keeps (its end).
    std::size_t output_limit = 64 * 1024;
  };

  using ProgressHandler = std::function<void(const AptProgress&)>;
  using DoneHandler = std::function<void(const AptResult&)>;

  // Runs on `event`, which must outlive the installer. Removes a policy-rc.d
  // that a crashed daemon left (recognised by its marker).
  explicit AptInstaller(sd_event* event);
  AptInstaller(sd_event* event, Options options);
  // Interrupts a running operation: SIGTERM to apt's process group, SIGKILL
  // after 10 s, then removes our policy-rc.d. on_done is not called. (dpkg
  // may then need `dpkg --configure -a`; the next operation's error says so.)
  ~AptInstaller();
  AptInstaller(const AptInstaller&) = delete;
  AptInstaller& operator=(const AptInstaller&) = delete;

  // Starts installing `packages`; returns at once. Packages already on the
  // system are not passed to apt and come back in already_installed. Runs
  //   apt-get install -y -q --no-install-recommends -o APT::Status-Fd=3
  //     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
  //     -o DPkg::Lock::Timeout=N PACKAGES
  // with DEBIAN_FRONTEND=noninteractive and LC_ALL=C, no shell. on_progress
  // is called for each progress line; on_done exactly once, later, from the
  // event loop, also on failure. On failure nothing counts as installed: what
  // this call installed is purged again (AptResult::removed).
  // Throws AptError: Busy while an operation runs ("busy: installing X for
  // Y"), InvalidRequest for an empty list or a name that is not a package
  // name; std::logic_error if SIGCHLD is not blocked.
  void install(const std::vector<std::string>& packages, ProgressHandler on_progress, DoneHandler on_done,
               const AptRequestOptions& options = {});

  // Starts purging `packages` (apt-get purge), the ones on the system; those
  // that are not are skipped. Same callbacks and errors as install().
  void purge(const std::vector<std::string>& packages, ProgressHandler on_progress, DoneHandler on_done,
             const AptRequestOptions& options = {});

  // Whether an operation runs.
  bool busy() const;
  // "installing X for Y" while busy, else "".
  std::string current_operation() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tails_server::core

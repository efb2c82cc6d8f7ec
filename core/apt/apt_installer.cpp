#include "apt/apt_installer.h"
#include "util/log.h"

#include "apt/child_process.h"
#include "apt/policy_rc_d.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace tails_server::core {

namespace {

using Statuses = std::map<std::string, std::string>;

bool sigchld_blocked() {
  sigset_t current;
  sigemptyset(&current);
  pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, SIGCHLD) == 1;
}

std::vector<std::string> apt_environment() {
  return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          "HOME=/root",
          "LANG=C",
          "LC_ALL=C",  // apt's messages in English: they are parsed
          "DEBIAN_FRONTEND=noninteractive",
          "APT_LISTCHANGES_FRONTEND=none",
          "APT_LISTBUGS_FRONTEND=none"};
}

// Calls a caller's handler; an exception must not cross the C event loop.
template <typename Handler, typename Value>
void call_safely(const Handler& handler, const Value& value) {
  if (!handler) return;
  try {
    handler(value);
  } catch (const std::exception& e) {
    log::error(std::string("apt: a handler failed: ") + e.what());
  } catch (...) {
    log::error("apt: a handler failed");
  }
}

}  // namespace

struct AptInstaller::Impl {
  sd_event* event;
  Options options;

  // The running operation, if any.
  struct Operation {
    AptResult result;
    bool update_first = false;
    ProgressHandler on_progress;
    DoneHandler on_done;
    std::unique_ptr<PolicyRcDGuard> policy;
    Statuses before;
    std::vector<std::string> to_apt;        // what apt is asked to install or purge
    std::vector<std::string> new_packages;  // install failure: what this call had installed
    std::optional<AptFailure> failure;      // install failure, before the roll-back
  };
  std::optional<Operation> operation;

  // The running child and what it said (declared after `operation`: it goes first).
  AptDiagnosis diagnosis;
  std::string output;       // this run's output, bounded
  std::string query_output;  // dpkg-query's listing
  std::unique_ptr<ChildProcess> child;
  sd_event_source* finish_source = nullptr;

  Impl(sd_event* e, Options o) : event(e), options(std::move(o)) {}
  ~Impl() {
    child.reset();
    sd_event_source_disable_unref(finish_source);
  }

  std::string describe() const {
    if (!operation) return {};
    const auto& r = operation->result;
    std::string text = (r.operation == AptOperation::Install ? "installing " : "purging ") + join_names(r.requested);
    if (!r.requester.empty()) text += " for " + r.requester;
    return text;
  }

  void start(AptOperation kind, const std::vector<std::string>& packages, ProgressHandler on_progress,
             DoneHandler on_done, const AptRequestOptions& request) {
    if (operation) throw AptError(AptErrorKind::Busy, "busy: " + describe());
    if (packages.empty()) throw AptError(AptErrorKind::InvalidRequest, "no package given");
    for (const auto& package : packages)
      if (!valid_package_name(package))
        throw AptError(AptErrorKind::InvalidRequest, "'" + package + "' is not a Debian package name");
    if (!sigchld_blocked())
      throw std::logic_error("apt: SIGCHLD must be blocked (sigprocmask) before running apt on the event loop");

    operation.emplace();
    auto& op = *operation;
    op.result.operation = kind;
    op.result.requester = request.requester;
    for (const auto& package : packages)
      if (std::find(op.result.requested.begin(), op.result.requested.end(), package) == op.result.requested.end())
        op.result.requested.push_back(package);
    op.update_first = request.update_first;
    op.on_progress = std::move(on_progress);
    op.on_done = std::move(on_done);
    try {
      op.policy = std::make_unique<PolicyRcDGuard>(options.policy_rc_d);
    } catch (const std::exception& e) {
      return fail(AptErrorKind::Failed, std::string("cannot forbid package scripts to start daemons: ") + e.what());
    }
    query([this](const Statuses& statuses) { after_query_before(statuses); });
  }

  // Ends the operation with `kind` and `message`, from a later loop iteration.
  void fail(AptErrorKind kind, const std::string& message) {
    operation->result.error_kind = kind;
    operation->result.error = message;
    finish_later();
  }

  void finish_later() {
    int r = sd_event_add_defer(event, &finish_source, [](sd_event_source* source, void* data) {
      sd_event_source_set_enabled(source, SD_EVENT_OFF);
      static_cast<Impl*>(data)->finish();
      return 0;
    }, this);
    if (r < 0) finish();
  }

  // Removes our policy-rc.d, frees the installer, then tells the caller (who
  // may start the next operation from on_done).
  void finish() {
    finish_source = sd_event_source_disable_unref(finish_source);
    Operation op = std::move(*operation);
    operation.reset();
    op.policy.reset();
    call_safely(op.on_done, op.result);
  }

  void progress(const AptProgress& report) {
    if (operation) call_safely(operation->on_progress, report);
  }

  void keep_output(std::string_view line) {
    output.append(line).push_back('\n');
    if (output.size() > 2 * options.output_limit) {
      auto cut = output.find('\n', output.size() - options.output_limit);
      output.erase(0, cut == std::string::npos ? output.size() - options.output_limit : cut + 1);
    }
  }

  void append_run_output(const std::string& header) {
    auto& all = operation->result.output;
    all += "$ " + header + "\n" + output;
    if (all.size() > options.output_limit) all.erase(0, all.size() - options.output_limit);
  }

  // Runs dpkg-query for the statuses of all packages dpkg knows.
  void query(std::function<void(const Statuses&)> then) {
    query_output.clear();
    std::vector<std::string> argv = {options.dpkg_query, "-W", "-f=${Package}\t${Status}\n"};
    try {
      child = std::make_unique<ChildProcess>(
          event, argv, apt_environment(),
          [this](std::string_view line) { query_output.append(line).push_back('\n'); }, nullptr,
          [this, then = std::move(then)](int status) {
            auto done = std::move(child);  // freed when this handler returns
            auto statuses = parse_dpkg_query(query_output);
            if (status != 0 && statuses.empty())
              return fail(AptErrorKind::Failed, "cannot read dpkg's database: " + options.dpkg_query +
                                                    " failed with status " + std::to_string(status) + ": " +
                                                    query_output.substr(0, 2000));
            then(statuses);
          });
    } catch (const std::exception& e) {
      fail(AptErrorKind::Failed, std::string("cannot read dpkg's database: ") + e.what());
    }
  }

  // Runs apt-get `verb` on `packages`; `stage` is the stage of dpkg's progress.
  void run_apt(const std::string& verb, const std::vector<std::string>& packages, AptStage stage,
               std::function<void(int status)> then) {
    std::vector<std::string> argv = {options.apt_get, verb, "-y", "-q"};
    if (verb == "install") argv.push_back("--no-install-recommends");
    for (std::string option : {std::string("APT::Status-Fd=3"),
                               "DPkg::Lock::Timeout=" + std::to_string(options.lock_timeout.count()),
                               std::string("Dpkg::Use-Pty=0")}) {
      argv.push_back("-o");
      argv.push_back(option);
    }
    if (verb == "install") {
      for (const char* option : {"Dpkg::Options::=--force-confdef", "Dpkg::Options::=--force-confold"}) {
        argv.push_back("-o");
        argv.push_back(option);
      }
    }
    argv.insert(argv.end(), options.apt_arguments.begin(), options.apt_arguments.end());
    argv.insert(argv.end(), packages.begin(), packages.end());
    std::string header = "apt-get " + verb + " " + join_names(packages);

    diagnosis = {};
    output.clear();
    try {
      child = std::make_unique<ChildProcess>(
          event, argv, apt_environment(),
          [this](std::string_view line) {
            keep_output(line);
            note_apt_output_line(diagnosis, line);
          },
          [this, stage](std::string_view line) {
            auto status = parse_apt_status_line(line);
            if (!status) return;
            note_apt_status_line(diagnosis, *status);
            if (auto report = to_progress(*status, stage)) progress(*report);
          },
          [this, header, then = std::move(then)](int status) {
            auto done = std::move(child);
            append_run_output(header);
            then(status);
          });
    } catch (const std::exception& e) {
      fail(AptErrorKind::Failed, "cannot run apt-get: " + std::string(e.what()));
    }
  }

  void after_query_before(const Statuses& statuses) {
    auto& op = *operation;
    op.before = statuses;
    for (const auto& package : op.result.requested) {
      std::string status = dpkg_status_of(statuses, package);
      if (op.result.operation == AptOperation::Install) {
        if (dpkg_present(status)) op.result.already_installed.push_back(package);
        else op.to_apt.push_back(package);
      } else if (!status.empty() && status.find("not-installed") == std::string::npos) {
        op.to_apt.push_back(package);  // installed, broken or with configuration files left
      }
    }
    if (op.to_apt.empty()) return finish_later();  // nothing to do

    if (op.result.operation == AptOperation::Purge) {
      progress({AptStage::Remove, 0, "", "Purging " + join_names(op.to_apt)});
      return run_apt("purge", op.to_apt, AptStage::Remove, [this](int status) { after_purge(status); });
    }
    if (op.update_first) {
      progress({AptStage::Download, 0, "", "Updating the package lists"});
      return run_apt("update", {}, AptStage::Download, [this](int status) {
        if (status != 0) {
          auto failure = explain_apt_failure("update", {}, diagnosis, status);
          operation->result.diagnosis = diagnosis;
          return fail(failure.kind == AptErrorKind::Locked ? failure.kind : AptErrorKind::Failed,
                      "cannot update the package lists before installing " + join_names(operation->to_apt) +
                          ": " + failure.message);
        }
        run_install();
      });
    }
    run_install();
  }

  void run_install() {
    progress({AptStage::Install, 0, "", "Installing " + join_names(operation->to_apt)});
    run_apt("install", operation->to_apt, AptStage::Install, [this](int status) { after_install(status); });
  }

  // Packages present now that were not before this operation.
  std::vector<std::string> new_packages(const Statuses& now) const {
    std::vector<std::string> added;
    for (const auto& [name, status] : now) {
      if (!dpkg_present(status)) continue;
      auto before = operation->before.find(name);
      if (before == operation->before.end() || !dpkg_present(before->second)) added.push_back(name);
    }
    return added;
  }

  void after_install(int status) {
    auto& op = *operation;
    op.result.diagnosis = diagnosis;
    if (status != 0) op.failure = explain_apt_failure("install", op.to_apt, diagnosis, status);
    query([this](const Statuses& now) {
      auto& op = *operation;
      auto added = new_packages(now);
      if (!op.failure) {
        for (const auto& package : added) {
          bool requested = std::any_of(op.to_apt.begin(), op.to_apt.end(), [&](const std::string& p) {
            return p.substr(0, p.find(':')) == package;
          });
          (requested ? op.result.installed : op.result.dependencies).push_back(package);
        }
        std::vector<std::string> missing;
        for (const auto& package : op.to_apt)
          if (!dpkg_installed_ok(dpkg_status_of(now, package))) missing.push_back(package);
        if (missing.empty()) {
          progress({AptStage::Install, 100, "", "Installed " + join_names(op.to_apt)});
          return finish_later();
        }
        // apt succeeded, yet dpkg does not list a requested package as
        // installed (a virtual package, say): roll back all the same.
        op.result.installed.clear();
        op.result.dependencies.clear();
        op.failure = AptFailure{AptErrorKind::Failed,
                                "apt-get install " + join_names(op.to_apt) + " succeeded but dpkg does not list " +
                                    join_names(missing) + " as installed"};
      }
      op.new_packages = added;
      if (added.empty())
        return fail(op.failure->kind, op.failure->kind == AptErrorKind::Failed
                                          ? op.failure->message + "; nothing was installed"
                                          : op.failure->message);
      progress({AptStage::Remove, 0, "", "Rolling back: purging " + join_names(added)});
      run_apt("purge", added, AptStage::Remove, [this](int purge_status) {
        AptDiagnosis purge_diagnosis = diagnosis;
        query([this, purge_status, purge_diagnosis](const Statuses& after) {
          after_rollback(purge_status, purge_diagnosis, after);
        });
      });
    });
  }

  void after_rollback(int purge_status, const AptDiagnosis& purge_diagnosis, const Statuses& after) {
    auto& op = *operation;
    std::vector<std::string> half, still;
    for (const auto& package : op.new_packages) {
      std::string status = dpkg_status_of(after, package);
      if (dpkg_present(status)) {
        still.push_back(package + " (" + status + ")");
        op.result.left_broken.push_back(package);
      } else {
        op.result.removed.push_back(package);
      }
    }
    // Which of them were half-installed before the roll-back, as apt left them.
    for (const auto& [package, error] : op.result.diagnosis.package_errors) half.push_back(package);
    std::string message = op.failure->message;
    if (!half.empty()) message += "; " + join_names(half) + (half.size() == 1 ? " was" : " were") + " left half-installed";
    if (still.empty()) {
      message += "; rolled back: purged " + join_names(op.result.removed) + ", so nothing was installed";
    } else {
      auto purge_failure = explain_apt_failure("purge", op.new_packages, purge_diagnosis, purge_status);
      message += "; the roll-back failed, still on the system: " + join_names(still);
      if (purge_status != 0) message += " (" + purge_failure.message + ")";
    }
    fail(op.failure->kind, message);
  }

  void after_purge(int status) {
    auto& op = *operation;
    op.result.diagnosis = diagnosis;
    std::optional<AptFailure> failure;
    if (status != 0) failure = explain_apt_failure("purge", op.to_apt, diagnosis, status);
    query([this, failure](const Statuses& now) {
      auto& op = *operation;
      std::vector<std::string> left;
      for (const auto& package : op.to_apt) {
        std::string status = dpkg_status_of(now, package);
        if (status.empty() || status.find("not-installed") != std::string::npos) op.result.removed.push_back(package);
        else left.push_back(package);
      }
      if (failure) return fail(failure->kind, failure->message);
      if (!left.empty())
        return fail(AptErrorKind::Failed, "apt-get purge succeeded but dpkg still lists " + join_names(left));
      progress({AptStage::Remove, 100, "", "Purged " + join_names(op.to_apt)});
      finish_later();
    });
  }
};

AptInstaller::AptInstaller(sd_event* event) : AptInstaller(event, Options{}) {}

AptInstaller::AptInstaller(sd_event* event, Options options)
    : impl_(std::make_unique<Impl>(event, std::move(options))) {
  try {
    if (remove_leftover_policy_rc_d(impl_->options.policy_rc_d))
      log::warning("apt: removed " + impl_->options.policy_rc_d.string() + " left by an earlier run");
  } catch (const std::exception& e) {
    log::error(std::string("apt: ") + e.what());
  }
}

AptInstaller::~AptInstaller() = default;

void AptInstaller::install(const std::vector<std::string>& packages, ProgressHandler on_progress, DoneHandler on_done,
                           const AptRequestOptions& options) {
  impl_->start(AptOperation::Install, packages, std::move(on_progress), std::move(on_done), options);
}

void AptInstaller::purge(const std::vector<std::string>& packages, ProgressHandler on_progress, DoneHandler on_done,
                         const AptRequestOptions& options) {
  impl_->start(AptOperation::Purge, packages, std::move(on_progress), std::move(on_done), options);
}

bool AptInstaller::busy() const { return impl_->operation.has_value(); }

std::string AptInstaller::current_operation() const { return impl_->describe(); }

}  // namespace tails_server::core

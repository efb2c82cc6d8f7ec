// Pure functions over the text apt and dpkg print: the APT::Status-Fd
// protocol, apt's error lines, dpkg-query's listing and the sentences the
// daemon shows when apt fails. No I/O: unit tests feed them real captures.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tails_server::core {

// What apt is doing when it reports progress.
enum class AptStage { Download, Install, Remove };

// "download", "install" or "remove".
std::string_view to_string(AptStage stage);

// One progress report for the caller (the daemon turns it into a D-Bus signal).
struct AptProgress {
  AptStage stage = AptStage::Install;
  int percent = 0;      // 0 to 100 within the stage
  std::string package;  // empty while downloading (apt numbers the files) and for dpkg itself
  std::string message;  // apt's own words, e.g. "Unpacking prosody (amd64)"
};

// The kinds of APT::Status-Fd line.
enum class AptStatusKind {
  Download,  // dlstatus:<item>:<percent>:<message>
  Package,   // pmstatus:<package>:<percent>:<message>
  Error,     // pmerror:<package>:<percent>:<message>
  ConfFile,  // pmconffile:<conffile>:<percent>:<message>
};

struct AptStatusLine {
  AptStatusKind kind = AptStatusKind::Package;
  std::string subject;  // the package, the download item number or the conffile
  double percent = 0;   // as apt printed it, clamped to 0..100
  std::string message;  // everything after the percent, colons included
};

// Parses one line of APT::Status-Fd output (with or without its newline).
// Package names may hold a colon ("libc6:i386"): the percent is the first
// field after the kind that is a number. Returns nullopt for other kinds of
// line (media-change, ...) and for malformed lines.
std::optional<AptStatusLine> parse_apt_status_line(std::string_view line);

// The progress report for a status line of a run at `stage` (Install or
// Remove for dpkg's lines; downloads are always Download). Returns nullopt
// for error lines, which are failures and not progress. The pseudo-package
// "dpkg-exec" becomes an empty package.
std::optional<AptProgress> to_progress(const AptStatusLine& line, AptStage stage);

// What apt said went wrong, collected line by line while it runs.
struct AptDiagnosis {
  std::vector<std::string> errors;       // apt's "E: " lines without the prefix, in order, no repeats
  std::vector<std::string> unavailable;  // packages apt cannot find or has no candidate for
  std::vector<std::pair<std::string, std::string>> package_errors;  // pmerror: package, dpkg's message
  std::string lock_message;  // "Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7 (apt-get)"
  std::string lock_file;     // "/var/lib/dpkg/lock-frontend"
  bool locked = false;       // apt could not get one of its or dpkg's locks
};

// Adds one line of apt-get's output (stdout and stderr) to `diagnosis`.
void note_apt_output_line(AptDiagnosis& diagnosis, std::string_view line);

// Adds one status line (pmerror lines matter) to `diagnosis`.
void note_apt_status_line(AptDiagnosis& diagnosis, const AptStatusLine& line);

// Why an apt operation failed, for callers that react differently.
enum class AptErrorKind {
  None,
  Busy,            // another operation of ours runs
  InvalidRequest,  // not a package name, or an empty list
  NotAvailable,    // apt's sources do not offer the package
  Locked,          // another program holds apt's or dpkg's lock
  Failed,          // apt or a package's script failed
};

// "busy", "invalid-request", ...
std::string_view to_string(AptErrorKind kind);

struct AptFailure {
  AptErrorKind kind = AptErrorKind::Failed;
  std::string message;
};

// "It is held by process 7 (apt-get)": who holds a POSIX lock on `file`
// now, from `proc`/locks; "" if nobody (or it cannot be told).
std::string lock_holder(const std::string& file, const std::filesystem::path& proc = "/proc");

// The failure of `apt-get <verb> <packages>` that ended with `exit_status`
// (negative: killed by signal -exit_status), as a sentence that names the
// packages and quotes apt: a missing package gives "package X is not
// available from the configured apt sources", a held lock names the lock and
// its holder, a failing script quotes dpkg's message.
AptFailure explain_apt_failure(std::string_view verb, const std::vector<std::string>& packages,
                               const AptDiagnosis& diagnosis, int exit_status);

// Whether `name` is a Debian package name (optionally with ":arch"): lower
// case letters, digits, '+', '-' and '.', starting with a letter or digit.
// Anything else (an option such as "-o", a glob, a version) is refused.
bool valid_package_name(std::string_view name);

// Package name -> dpkg status ("install ok installed") from the output of
// `dpkg-query -W -f='${Package}\t${Status}\n'`. Lines without a tab are
// skipped. With several architectures of one package, a present one wins.
std::map<std::string, std::string> parse_dpkg_query(std::string_view output);

// Whether a dpkg status says that the package's files are (at least partly)
// on the system: anything but "not-installed" and "config-files".
bool dpkg_present(std::string_view status);

// Whether a dpkg status says the package is fully installed and configured.
bool dpkg_installed_ok(std::string_view status);

// Whether a dpkg status says the package is half-installed, unpacked but not
// configured, half-configured or waiting for triggers.
bool dpkg_broken(std::string_view status);

// The status of `package` ("foo" or "foo:arch") in a parse_dpkg_query map,
// or "" when dpkg does not know it.
std::string dpkg_status_of(const std::map<std::string, std::string>& statuses, const std::string& package);

// "a, b and c".
std::string join_names(const std::vector<std::string>& names);

}  // namespace tails_server::core

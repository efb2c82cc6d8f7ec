#include "apt/apt_status.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace tails_server::core {

namespace {

// More than this many distinct E: lines adds nothing to a message.
constexpr std::size_t max_errors = 20;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                           text.front() == '\n'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

std::optional<double> parse_number(std::string_view field) {
  if (field.empty()) return std::nullopt;
  double value = 0;
  auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (error != std::errc() || end != field.data() + field.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

void add_unique(std::vector<std::string>& list, std::string value, std::size_t limit = max_errors) {
  if (list.size() >= limit || std::find(list.begin(), list.end(), value) != list.end()) return;
  list.push_back(std::move(value));
}

// The text between `open` and `close` after `prefix` in `line`, e.g. the
// package in "Unable to locate package X".
std::optional<std::string> after(std::string_view line, std::string_view prefix) {
  auto at = line.find(prefix);
  if (at == std::string_view::npos) return std::nullopt;
  return std::string(trim(line.substr(at + prefix.size())));
}

// "Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 7 (apt-get)..."
// -> lock file and the sentence without the trailing dots.
void note_lock_line(AptDiagnosis& diagnosis, std::string_view line) {
  auto at = line.find("Could not get lock ");
  if (at == std::string_view::npos) return;
  std::string_view sentence = trim(line.substr(at));
  while (!sentence.empty() && sentence.back() == '.') sentence.remove_suffix(1);
  diagnosis.locked = true;
  // The held-by form is the most useful: keep it over "- open (11: ...)".
  if (diagnosis.lock_message.empty() || sentence.find("held by") != std::string_view::npos)
    diagnosis.lock_message = std::string(sentence);
  std::string_view file = sentence.substr(std::string_view("Could not get lock ").size());
  auto end = file.find_first_of(" \t");
  file = file.substr(0, end);
  while (!file.empty() && (file.back() == '.' || file.back() == ',')) file.remove_suffix(1);
  diagnosis.lock_file = std::string(file);
}

}  // namespace

std::string_view to_string(AptStage stage) {
  switch (stage) {
    case AptStage::Download: return "download";
    case AptStage::Install: return "install";
    case AptStage::Remove: return "remove";
  }
  return "unknown";
}

std::string_view to_string(AptErrorKind kind) {
  switch (kind) {
    case AptErrorKind::None: return "none";
    case AptErrorKind::Busy: return "busy";
    case AptErrorKind::InvalidRequest: return "invalid-request";
    case AptErrorKind::NotAvailable: return "not-available";
    case AptErrorKind::Locked: return "locked";
    case AptErrorKind::Failed: return "failed";
  }
  return "unknown";
}

std::optional<AptStatusLine> parse_apt_status_line(std::string_view line) {
  line = trim(line);
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view kind = line.substr(0, colon);
  AptStatusLine parsed;
  if (kind == "dlstatus") parsed.kind = AptStatusKind::Download;
  else if (kind == "pmstatus") parsed.kind = AptStatusKind::Package;
  else if (kind == "pmerror") parsed.kind = AptStatusKind::Error;
  else if (kind == "pmconffile") parsed.kind = AptStatusKind::ConfFile;
  else return std::nullopt;

  // subject[:more subject]:percent:message
  std::string_view rest = line.substr(colon + 1);
  std::size_t field_start = 0;
  while (true) {
    auto next = rest.find(':', field_start);
    if (next == std::string_view::npos) return std::nullopt;
    if (field_start > 0) {
      // Fields before this one are the subject; is this one the percent?
      if (auto percent = parse_number(rest.substr(field_start, next - field_start))) {
        parsed.subject = std::string(rest.substr(0, field_start - 1));
        parsed.percent = std::clamp(*percent, 0.0, 100.0);
        parsed.message = std::string(rest.substr(next + 1));
        return parsed;
      }
    }
    field_start = next + 1;
  }
}

std::optional<AptProgress> to_progress(const AptStatusLine& line, AptStage stage) {
  AptProgress progress;
  progress.percent = static_cast<int>(std::floor(line.percent));
  progress.message = line.message;
  switch (line.kind) {
    case AptStatusKind::Download:
      progress.stage = AptStage::Download;
      break;
    case AptStatusKind::Package:
      progress.stage = stage;
      if (line.subject != "dpkg-exec") progress.package = line.subject;
      break;
    case AptStatusKind::ConfFile:
      progress.stage = stage;
      progress.message = "keeping the current version of configuration file " + line.subject;
      break;
    case AptStatusKind::Error:
      return std::nullopt;
  }
  return progress;
}

void note_apt_output_line(AptDiagnosis& diagnosis, std::string_view line) {
  line = trim(line);
  if (line.empty()) return;
  note_lock_line(diagnosis, line);
  if (!starts_with(line, "E: ")) return;
  std::string_view error = trim(line.substr(3));
  add_unique(diagnosis.errors, std::string(error));
  if (auto package = after(error, "Unable to locate package ")) add_unique(diagnosis.unavailable, *package);
  // E: Package 'x' has no installation candidate
  if (starts_with(error, "Package '") && error.find("' has no installation candidate") != std::string_view::npos) {
    std::string_view name = error.substr(9);
    add_unique(diagnosis.unavailable, std::string(name.substr(0, name.find('\''))));
  }
  if (error.find("Unable to acquire the dpkg frontend lock") != std::string_view::npos ||
      error.find("Unable to lock the administration directory") != std::string_view::npos ||
      error.find("Unable to lock directory") != std::string_view::npos) {
    diagnosis.locked = true;
    if (diagnosis.lock_file.empty()) {
      auto open = error.find('(');
      auto close = error.find(')', open);
      if (open != std::string_view::npos && close != std::string_view::npos)
        diagnosis.lock_file = std::string(error.substr(open + 1, close - open - 1));
      else if (auto dir = after(error, "Unable to lock directory "))
        diagnosis.lock_file = *dir;
    }
  }
}

void note_apt_status_line(AptDiagnosis& diagnosis, const AptStatusLine& line) {
  if (line.kind != AptStatusKind::Error) return;
  std::pair<std::string, std::string> entry{line.subject, std::string(trim(line.message))};
  auto& list = diagnosis.package_errors;
  if (list.size() < max_errors && std::find(list.begin(), list.end(), entry) == list.end())
    list.push_back(std::move(entry));
}

std::string lock_holder(const std::string& file, const std::filesystem::path& proc) {
  struct stat st {};
  if (file.empty() || ::stat(file.c_str(), &st) != 0) return {};
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%llu", ::major(st.st_dev), ::minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  std::ifstream locks(proc / "locks");
  std::string line;
  while (std::getline(locks, line)) {
    // "1: POSIX  ADVISORY  WRITE 17120 fe:00:10952716 0 EOF"
    std::istringstream fields(line);
    std::string number, kind, advisory, mode, pid, where;
    if (!(fields >> number >> kind >> advisory >> mode >> pid >> where)) continue;
    if (where != id || pid == "-1" || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string name;
    std::ifstream comm(proc / pid / "comm");
    std::getline(comm, name);
    return "It is held by process " + pid + (name.empty() ? "" : " (" + name + ")");
  }
  return {};
}

AptFailure explain_apt_failure(std::string_view verb, const std::vector<std::string>& packages,
                               const AptDiagnosis& diagnosis, int exit_status) {
  std::string command = "apt-get " + std::string(verb) + " " + join_names(packages);
  auto quote_errors = [&diagnosis]() {
    std::string text;
    for (const auto& error : diagnosis.errors) text += (text.empty() ? "" : "; ") + ("E: " + error);
    return text;
  };

  if (diagnosis.locked) {
    std::string lock = diagnosis.lock_file.empty() ? "the dpkg lock" : diagnosis.lock_file;
    std::string message = "the package system is locked: another program holds " + lock;
    if (!diagnosis.lock_message.empty()) message += " (apt: \"" + diagnosis.lock_message + "\")";
    else if (!diagnosis.errors.empty()) message += " (apt: \"" + diagnosis.errors.front() + "\")";
    // apt names the holder only when it saw it while waiting: else ask the kernel.
    if (diagnosis.lock_message.find("held by") == std::string::npos)
      if (auto holder = lock_holder(diagnosis.lock_file); !holder.empty()) message += ". " + holder;
    message += ". Wait until it has finished (for example another apt or the Additional Software "
               "installation), then try again";
    return {AptErrorKind::Locked, message};
  }
  if (!diagnosis.unavailable.empty()) {
    const auto& missing = diagnosis.unavailable;
    std::string message = missing.size() == 1
                              ? "package " + missing.front() + " is not available from the configured apt sources"
                              : "packages " + join_names(missing) + " are not available from the configured apt sources";
    return {AptErrorKind::NotAvailable, message};
  }
  if (!diagnosis.package_errors.empty()) {
    std::string message = command + " failed: ";
    bool first = true;
    for (const auto& [package, error] : diagnosis.package_errors) {
      message += (first ? "" : "; ") + package + ": \"" + error + "\"";
      first = false;
    }
    if (!diagnosis.errors.empty()) message += " (" + quote_errors() + ")";
    return {AptErrorKind::Failed, message};
  }
  if (!diagnosis.errors.empty()) return {AptErrorKind::Failed, command + " failed: " + quote_errors()};
  if (exit_status < 0)
    return {AptErrorKind::Failed, command + " was killed by signal " + std::to_string(-exit_status)};
  return {AptErrorKind::Failed, command + " failed with exit status " + std::to_string(exit_status) +
                                    " and no error message"};
}

bool valid_package_name(std::string_view name) {
  auto colon = name.find(':');
  std::string_view package = name.substr(0, colon);
  if (package.size() < 2) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(package.front())) return false;
  for (char c : package)
    if (!lower_or_digit(c) && c != '+' && c != '-' && c != '.') return false;
  if (colon == std::string_view::npos) return true;
  std::string_view arch = name.substr(colon + 1);
  if (arch.empty()) return false;
  for (char c : arch)
    if (!lower_or_digit(c) && c != '-') return false;
  return true;
}

std::map<std::string, std::string> parse_dpkg_query(std::string_view output) {
  std::map<std::string, std::string> statuses;
  while (!output.empty()) {
    auto end = output.find('\n');
    std::string_view line = output.substr(0, end);
    output = end == std::string_view::npos ? std::string_view() : output.substr(end + 1);
    auto tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0) continue;
    std::string name(line.substr(0, tab));
    std::string status(trim(line.substr(tab + 1)));
    auto [it, inserted] = statuses.emplace(name, status);
    if (!inserted && !dpkg_present(it->second)) it->second = status;
  }
  return statuses;
}

namespace {
std::string_view status_word(std::string_view status) {
  auto space = status.rfind(' ');
  return space == std::string_view::npos ? status : status.substr(space + 1);
}
}  // namespace

bool dpkg_present(std::string_view status) {
  auto word = status_word(trim(status));
  return !word.empty() && word != "not-installed" && word != "config-files";
}

bool dpkg_installed_ok(std::string_view status) {
  auto words = trim(status);
  return words.size() > 10 && words.substr(words.find(' ') + 1) == "ok installed";
}

bool dpkg_broken(std::string_view status) {
  auto word = status_word(trim(status));
  return word == "half-installed" || word == "unpacked" || word == "half-configured" ||
         word == "triggers-awaited" || word == "triggers-pending";
}

std::string dpkg_status_of(const std::map<std::string, std::string>& statuses, const std::string& package) {
  auto it = statuses.find(package.substr(0, package.find(':')));
  return it == statuses.end() ? std::string() : it->second;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

}  // namespace tails_server::core

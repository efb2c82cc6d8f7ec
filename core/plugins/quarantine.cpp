// Crash records: `step` holds the step under way (JSON, written with one
// pwrite and emptied with ftruncate, so a record costs two system calls and
// no fsync: the kernel keeps the page when the process dies), `crashed.json`
// the plugins put aside (replaced atomically).
#include "plugins/quarantine.h"

#include "util/log.h"
#include "util/no_follow.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace tails_server::core {

namespace {

using nlohmann::json;
constexpr const char* kStepFile = "step";
constexpr const char* kCrashFile = "crashed.json";
constexpr std::size_t kMaxRecord = 1 << 20;

json to_json(const Crash& crash) {
  return {{"file", crash.file.string()}, {"name", crash.name},         {"step", crash.step},
          {"device", crash.identity.device}, {"inode", crash.identity.inode}, {"size", crash.identity.size},
          {"mtime_ns", crash.identity.mtime_ns}, {"noticed", crash.noticed}};
}

Crash from_json(const json& j) {
  Crash crash;
  crash.file = j.at("file").get<std::string>();
  crash.name = j.at("name").get<std::string>();
  crash.step = j.at("step").get<std::string>();
  crash.identity.device = j.at("device").get<std::uint64_t>();
  crash.identity.inode = j.at("inode").get<std::uint64_t>();
  crash.identity.size = j.at("size").get<std::uint64_t>();
  crash.identity.mtime_ns = j.at("mtime_ns").get<std::int64_t>();
  crash.noticed = j.value("noticed", "");
  return crash;
}

std::string now_utc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

std::string describe(const Crash& crash) {
  return (crash.name.empty() ? std::string("the plugin") : "plugin '" + crash.name + "'") + " in '" +
         crash.file.string() + "' (step: " + crash.step + ")";
}

// The record `name` in `dir`, or "" if it is missing or is no regular file
// of at most kMaxRecord bytes (logged).
std::string read_record(int dir, const char* name) {
  try {
    return no_follow::read_small_file(dir, name, kMaxRecord, name).value_or("");
  } catch (const FileError& error) {
    log::error(std::string("ignoring a plugin crash record: ") + error.what());
    return {};
  }
}

}  // namespace

FileIdentity FileIdentity::of(const struct stat& st) {
  return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
          static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Quarantine::Quarantine(const std::filesystem::path& directory) {
  if (directory.empty()) return;
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    log::warning("plugin crashes are not recorded: cannot make " + directory.string() + ": " +
                 std::strerror(errno));
    return;
  }
  directory_ = no_follow::open_path(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st {};
  if (!directory_ || ::fstat(directory_.get(), &st) != 0) {
    log::warning("plugin crashes are not recorded: cannot open " + directory.string() + ": " +
                 std::strerror(errno));
    directory_.reset();
    return;
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
    log::error("plugin crashes are not recorded: " + directory.string() +
               " must belong to the daemon's user and be writable by it alone");
    directory_.reset();
    return;
  }
  step_file_ = Fd(::openat(directory_.get(), kStepFile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!step_file_) {
    log::warning("plugin crashes are not recorded: cannot open " + (directory / kStepFile).string() + ": " +
                 std::strerror(errno));
    directory_.reset();
    return;
  }
  recover();
}

void Quarantine::recover() {
  std::string saved = read_record(directory_.get(), kCrashFile);
  if (!saved.empty()) {
    try {
      for (const auto& item : json::parse(saved)) crashes_.push_back(from_json(item));
    } catch (const std::exception& error) {
      log::error(std::string("ignoring the unreadable list of crashed plugins ") + kCrashFile + ": " + error.what());
    }
  }
  std::string step = read_record(directory_.get(), kStepFile);
  if (step.empty()) return;
  try {
    Crash crash = from_json(json::parse(step));
    crash.noticed = now_utc();
    log::error("tails-serverd died while running " + describe(crash) +
               "; that plugin is put aside until its file changes or an administrator runs: tails-server plugin "
               "retry " + (crash.name.empty() ? crash.file.filename().string() : crash.name));
    std::erase_if(crashes_, [&](const Crash& c) { return c.file == crash.file; });
    crashes_.push_back(std::move(crash));
    save();
  } catch (const std::exception& error) {
    log::error(std::string("ignoring an unreadable crash record: ") + error.what());
  }
  if (::ftruncate(step_file_.get(), 0) != 0)
    log::error(std::string("cannot clear the plugin step record: ") + std::strerror(errno));
}

void Quarantine::save() {
  if (!directory_) return;
  json list = json::array();
  for (const auto& crash : crashes_) list.push_back(to_json(crash));
  std::string text = list.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
  std::string temporary = std::string(kCrashFile) + ".new";
  Fd file(::openat(directory_.get(), temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  bool written = file && ::write(file.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                 ::fsync(file.get()) == 0;
  if (!written || ::renameat(directory_.get(), temporary.c_str(), directory_.get(), kCrashFile) != 0)
    log::error(std::string("cannot save the list of crashed plugins: ") + std::strerror(errno));
}

std::optional<Crash> Quarantine::find(const std::filesystem::path& file, const FileIdentity& identity) {
  for (auto it = crashes_.begin(); it != crashes_.end(); ++it) {
    if (it->file != file) continue;
    if (it->identity == identity) return *it;
    log::notice(describe(*it) + " crashed the daemon before, but its file changed since: trying it again");
    crashes_.erase(it);
    save();
    return std::nullopt;
  }
  return std::nullopt;
}

Quarantine::Step Quarantine::begin(const std::filesystem::path& file, const FileIdentity& identity,
                                   std::string_view name, std::string_view step) {
  if (!step_file_) return Step(nullptr);
  if (depth_++ == 0) {
    Crash crash{file, std::string(name), std::string(step), identity, {}};
    std::string text = to_json(crash).dump(-1, ' ', false, json::error_handler_t::replace);
    if (::pwrite(step_file_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
      log::warning("cannot record the step of " + describe(crash) + ": " + std::strerror(errno));
  }
  return Step(this);
}

Quarantine::Step::~Step() {
  if (!owner_) return;
  if (--owner_->depth_ == 0 && ::ftruncate(owner_->step_file_.get(), 0) != 0)
    log::warning(std::string("cannot clear the plugin step record: ") + std::strerror(errno));
}

std::optional<Crash> Quarantine::forget(std::string_view plugin) {
  for (auto it = crashes_.begin(); it != crashes_.end(); ++it) {
    if (it->name != plugin && it->file.string() != plugin && it->file.filename().string() != plugin) continue;
    Crash crash = *it;
    crashes_.erase(it);
    save();
    return crash;
  }
  return std::nullopt;
}

}  // namespace tails_server::core

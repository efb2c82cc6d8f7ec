#include "state/state_store.h"

#include "host/atomic_file.h"
#include "util/no_follow.h"

#include <cereal/archives/json.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>
#include <sys/stat.h>
#include <system_error>

namespace tails_server::core {

namespace {
// 1: options, packages, enabled. 2: + clients. 3: + onion_client_keys.
constexpr std::uint32_t current_version = 3;
}

template <class Archive>
void serialize(Archive& archive, ServiceState& state, const std::uint32_t version) {
  if (version > current_version)
    throw StateError("written by a newer Tails Server (state version " + std::to_string(version) +
                     ", this one reads up to " + std::to_string(current_version) + ")");
  archive(cereal::make_nvp("options", state.options),
          cereal::make_nvp("packages_installed_by_us", state.packages_installed_by_us),
          cereal::make_nvp("enabled", state.enabled));
  if (version >= 2) archive(cereal::make_nvp("clients", state.clients));
  if (version >= 3) archive(cereal::make_nvp("onion_client_keys", state.onion_client_keys));
}

}  // namespace tails_server::core

CEREAL_CLASS_VERSION(tails_server::core::ServiceState, 3)

namespace tails_server::core {

StateStore::StateStore(std::filesystem::path directory) : directory_(std::move(directory)) {
  std::filesystem::create_directories(directory_);
  std::filesystem::permissions(directory_, std::filesystem::perms::owner_all);
}

bool StateStore::on_disk_persistent(const std::string& service) const {
  if (persistent_directory_.empty()) return false;
  struct stat st;
  return ::lstat((persistent_directory_ / service / "state.json").c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool StateStore::persistent(const std::string& service) const {
  auto found = located_.find(service);
  if (found == located_.end()) found = located_.emplace(service, on_disk_persistent(service)).first;
  return found->second;
}

void StateStore::locate(const std::string& service) { located_[service] = on_disk_persistent(service); }

std::filesystem::path StateStore::file(const std::string& service) const {
  if (persistent(service)) return persistent_directory_ / service / "state.json";
  return directory_ / (service + ".state.json");
}

std::filesystem::path StateStore::service_directory(const std::string& service) const {
  if (persistent(service)) return persistent_directory_ / service / "state";
  return directory_ / service;
}

std::optional<ServiceState> StateStore::load(const std::string& service) const {
  auto path = file(service);
  std::optional<std::string> content;
  try {
    content = no_follow::read_small_file(path, max_file_size);
  } catch (const FileError& error) {
    // Not moved aside: what lies there is not ours to rename.
    throw StateError(std::string("cannot read the state file: ") + error.what() +
                     "; the service starts from its defaults");
  }
  if (!content) return std::nullopt;
  std::string reason;
  try {
    return parse_state(*content);
  } catch (const std::exception& error) {
    reason = error.what();
  }
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&now));
  auto aside = path;
  aside += std::string(".unreadable-") + stamp;
  std::error_code ignored;
  std::filesystem::rename(path, aside, ignored);
  throw StateError("state file " + path.string() + " is unreadable (" + reason + "); it was kept as " +
                   aside.string() + " and the service starts from its defaults");
}

void StateStore::save(const std::string& service, const ServiceState& state) const {
  write_file_atomically(file(service), format_state(state), 0600);
}

namespace {

// A state file holds strings, booleans and small integers only. rapidjson
// 1.1.0 (under cereal) has undefined behaviour when it reads some fractions
// and exponents (0E53: clz(0), negative shifts), found by fuzz/: such
// numbers are refused before it sees them, and so are integers of more
// than 19 digits, which it would read as doubles.
void refuse_unusual_numbers(std::string_view text) {
  bool in_string = false;
  std::size_t digits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c >= '0' && c <= '9') {
      if (++digits > 19) throw StateError("a number of more than 19 digits; a state file holds small integers only");
      continue;
    }
    if (digits && (c == '.' || c == 'e' || c == 'E'))
      throw StateError("a number with a fraction or an exponent; a state file holds integers only");
    digits = 0;
  }
}

}  // namespace

ServiceState parse_state(std::string_view text) {
  refuse_unusual_numbers(text);
  std::istringstream stream{std::string(text)};
  ServiceState state;
  cereal::JSONInputArchive archive(stream);
  archive(cereal::make_nvp("service", state));
  return state;
}

std::string format_state(const ServiceState& state) {
  std::ostringstream stream;
  {
    cereal::JSONOutputArchive archive(stream);
    archive(cereal::make_nvp("service", state));
  }
  stream << '\n';
  return stream.str();
}

void StateStore::remove(const std::string& service) const {
  std::error_code ignored;
  std::filesystem::remove(file(service), ignored);
}

}  // namespace tails_server::core

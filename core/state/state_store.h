// Durable per-service state: cereal archives with class versions, written
// atomically and readable only by root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tails_server::core {

struct ServiceState {
  // Canonical values of the options that were set or generated. Options not
  // here have their default.
  std::map<std::string, std::string> options;
  // Packages this daemon installed for the service (removed on uninstall).
  std::vector<std::string> packages_installed_by_us;
  bool enabled = false;
  // Client authorization: client name → base32 x25519 public key (version 2).
  std::map<std::string, std::string> clients;
  // The service as a client of other onions (version 3): bare 56-character
  // address → its base32 x25519 private key (secret; this file is 0600).
  std::map<std::string, std::string> onion_client_keys;

  bool operator==(const ServiceState&) const = default;
};

// A state file could not be read: corrupt, or written by a newer version.
// The file was moved aside; what() names both paths and the reason.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The state in a state file's JSON text (any version this daemon reads).
// Throws std::exception: cereal's for malformed text, StateError for a
// version written by a newer Tails Server.
ServiceState parse_state(std::string_view text);
// The JSON text of a state file (the current version), ending in a newline.
std::string format_state(const ServiceState& state);

class StateStore {
 public:
  // The largest state file read (options, packages and thousands of
  // clients fit many times over); a larger one is refused unread.
  static constexpr std::size_t max_file_size = 1 << 20;

  // Files live in `directory` (created 0700 if missing), one per service.
  explicit StateStore(std::filesystem::path directory);

  // The state of `service`, or nullopt if it has none yet. If the file is
  // corrupt or of an unknown version it is renamed to
  // "<file>.unreadable-<UTC time>" and StateError is thrown.
  std::optional<ServiceState> load(const std::string& service) const;
  // Writes atomically (temp file 0600, fsync, rename, fsync the directory).
  // Throws std::system_error.
  void save(const std::string& service, const ServiceState& state) const;
  void remove(const std::string& service) const;

  // The state file: <persistent>/<service>/state.json when the service's
  // state is persistent (see persistence/persistence.h), else
  // <directory>/<service>.state.json.
  std::filesystem::path file(const std::string& service) const;
  // The service's own files (onion key, ...): <persistent>/<service>/state
  // when persistent, else <directory>/<service>.
  std::filesystem::path service_directory(const std::string& service) const;
  // Where the service's state is: decided at its first use and by locate()
  // only, never by a Persistent Storage merely appearing (unlocked while the
  // service runs with amnesic state: the two are kept apart).
  bool persistent(const std::string& service) const;
  // Decides again, from what is on disk: whether
  // <persistent>/<service>/state.json exists. Call it when the state is
  // (re)read and after persistence is turned on or off.
  void locate(const std::string& service);
  // Where persistent services keep their state: <persistence_root>/tails-server.
  void set_persistent_directory(std::filesystem::path directory) { persistent_directory_ = std::move(directory); }
  const std::filesystem::path& directory() const { return directory_; }

 private:
  bool on_disk_persistent(const std::string& service) const;

  std::filesystem::path directory_;
  std::filesystem::path persistent_directory_;
  mutable std::map<std::string, bool> located_;  // service -> persistent
};

}  // namespace tails_server::core

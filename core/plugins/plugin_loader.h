// Loads service plugins from directories and records why any was refused.
#pragma once

#include <tails_server/service.h>

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::core {

enum class PluginState {
  Loaded,
  NotAPlugin,         // no info struct, or a file dlopen cannot read as a library
  Insecure,           // writable by group or others, or owned by another user
  LoadFailed,         // dlopen failed, e.g. an undefined symbol
  WrongApiVersion,    // other major, or a newer minor than the host's
  WrongAbi,           // ABI tag differs
  NoFactory,          // no factory symbol
  ConstructorFailed,  // the factory threw or returned nothing
  InvalidMetadata,    // required attributes missing or malformed
  Duplicate,          // a plugin of the same name was loaded before
};

// "loaded", "not-a-plugin", "insecure", "load-failed", "wrong-api-version",
// "wrong-abi", "no-factory", "constructor-failed", "invalid-metadata",
// "duplicate".
std::string_view to_string(PluginState state);

// What is wrong with a constructed service's attributes, as "<field>
// <problem>" (e.g. "packages must list at least one Debian package"), or ""
// if nothing is. `info_name` is the name in the plugin's info struct, which
// the service's `name` must equal. The loader refuses such a plugin as
// InvalidMetadata.
std::string metadata_problem(const TailsService& service, std::string_view info_name);

struct PluginRecord {
  std::filesystem::path file;
  std::string name;     // the plugin's name if it could be read, else empty
  PluginState state = PluginState::NotAPlugin;
  std::string message;  // why it was refused: file, what was expected, what was found
  std::string sdk_version;  // "MAJOR.MINOR" of the SDK it was built against, if its info struct could be read
  std::shared_ptr<TailsService> service;  // set when state == Loaded
};

class PluginLoader {
 public:
  PluginLoader() = default;
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;
  // Destroys the services in reverse load order, then unloads the libraries.
  ~PluginLoader();

  // Loads every "*.so" file in `directories`, in order, each directory's files
  // sorted by name; other files are skipped, and a missing directory is
  // skipped. Returns one record per candidate file. Never throws because of a
  // plugin: each refusal is a record with its state and message. Libraries
  // stay loaded as long as the loader lives.
  const std::vector<PluginRecord>& load(const std::vector<std::filesystem::path>& directories);

  const std::vector<PluginRecord>& records() const { return records_; }

 private:
  // Checks, opens and constructs one plugin file; never throws because of it.
  PluginRecord load_file(const std::filesystem::path& file);

  // Every library whose code ran (the factory was called), in load order.
  // Each Loaded service's deleter also holds its library.
  std::vector<std::shared_ptr<boost::dll::shared_library>> libraries_;
  std::vector<PluginRecord> records_;
};

}  // namespace tails_server::core

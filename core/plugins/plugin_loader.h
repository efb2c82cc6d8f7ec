// Loads service plugins from directories and records why any was refused.
#pragma once

#include "plugins/plugin_files.h"
#include "plugins/plugin_state.h"
#include "plugins/quarantine.h"

#include <tails_server/service.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::core {

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
  FileIdentity identity;    // of the file opened, if it could be opened
  std::shared_ptr<TailsService> service;  // set when state == Loaded
};

class PluginLoader {
 public:
  // With a quarantine, every step that runs plugin code is recorded in it,
  // and a plugin it holds is refused as Crashed without being opened.
  explicit PluginLoader(Quarantine* quarantine = nullptr) : quarantine_(quarantine) {}
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;
  // Destroys the services in reverse load order, then unloads the libraries.
  ~PluginLoader();

  // Loads every "*.so" entry in `directories`, in order, each directory's
  // entries sorted by name; other names are skipped, and a missing directory
  // is skipped. Returns one record per "*.so" entry, whatever it is (a link,
  // a directory, a damaged file). Never throws because of a plugin: each
  // refusal is a record with its state and message. Libraries stay loaded
  // as long as the loader lives.
  const std::vector<PluginRecord>& load(const std::vector<std::filesystem::path>& directories);

  // After the quarantine forgot a crash: loads that plugin's file again and
  // replaces its record. Returns the new record, or null if no record is of
  // `file`.
  const PluginRecord* reload(const std::filesystem::path& file);

  const std::vector<PluginRecord>& records() const { return records_; }

  // A library and the descriptor it was loaded from (/proc/self/fd/N).
  struct OpenLibrary;

 private:
  // Checks, opens and constructs one plugin file; never throws because of it.
  PluginRecord load_file(PluginFile file);
  Quarantine::Step step(const PluginRecord& record, std::string_view step);

  Quarantine* quarantine_;
  // Every library whose code ran (the factory was called), in load order.
  // Each Loaded service's deleter also holds its library.
  std::vector<std::shared_ptr<OpenLibrary>> libraries_;
  std::vector<PluginRecord> records_;
};

}  // namespace tails_server::core

// tails-server-load-plugins [--describe] DIRECTORY...: loads the plugins in
// the directories as the daemon would, prints one line per file
// ("<state> <file>: <message>") and exits 0 if every one loaded, 1 if any
// was refused, 2 on bad usage. Used to check a plugin built out of tree.
// --describe adds, for each loaded plugin, "<name> documentation <path>"
// and "<name> option <option>" for each of its own options.
#include "plugins/plugin_loader.h"

#include <iostream>
#include <string_view>

int main(int argc, char** argv) {
  bool describe = argc > 1 && std::string_view(argv[1]) == "--describe";
  if (argc < 2 + describe) {
    std::cerr << "usage: " << argv[0] << " [--describe] DIRECTORY...\n";
    return 2;
  }
  std::vector<std::filesystem::path> directories(argv + 1 + describe, argv + argc);
  tails_server::core::PluginLoader loader;
  const auto& records = loader.load(directories);
  bool all_loaded = true;
  for (const auto& record : records) {
    bool loaded = record.state == tails_server::core::PluginState::Loaded;
    all_loaded = all_loaded && loaded;
    std::cout << to_string(record.state) << " " << record.file.string();
    if (loaded) std::cout << ": " << record.name;
    else std::cout << ": " << record.message;
    std::cout << "\n";
    if (!loaded || !describe) continue;
    std::cout << record.name << " documentation " << record.service->documentation << "\n";
    for (const auto& option : record.service->options) std::cout << record.name << " option " << option->name() << "\n";
  }
  if (records.empty()) std::cout << "no plugin found\n";
  return all_loaded && !records.empty() ? 0 : 1;
}

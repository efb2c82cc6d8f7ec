// The services of plugins put aside after a crash (plugins/quarantine.h):
// what the daemon still knows of them without running any of their code.
#include "services/service_manager.h"
#include "services/service_manager_p.h"

#include "tor/keys/onion_key.h"

#include <algorithm>

namespace tails_server::core {

std::vector<CrashedService> ServiceManager::crashed_services() const {
  std::vector<CrashedService> services;
  for (const auto& record : plugins())
    if (record.state == PluginState::Crashed && !record.name.empty())
      if (auto crashed = crashed_service(record.name)) services.push_back(std::move(*crashed));
  return services;
}

std::optional<CrashedService> ServiceManager::crashed_service(const std::string& name) const {
  for (const auto& entry : impl_->entries)
    if (entry->service->name == name) return std::nullopt;  // served: another file has that name
  auto record = std::find_if(plugins().begin(), plugins().end(), [&](const PluginRecord& r) {
    return r.state == PluginState::Crashed && r.name == name;
  });
  if (record == plugins().end()) return std::nullopt;
  CrashedService crashed;
  crashed.name = name;
  crashed.message = record->message;
  for (const auto& crash : impl_->quarantine.crashes())
    if (crash.file == record->file) crashed.step = crash.step;
  // Read only: its plugin's code never runs, its files stay as they are.
  try {
    if (auto state = impl_->store.load(name)) crashed.enabled = state->enabled;
  } catch (const std::exception& error) {
    impl_->host.log(LogLevel::Warning, "the state of " + name + ", whose plugin crashed, is unreadable: " + error.what());
  }
  try {
    auto key = impl_->store.service_directory(name) / "hs_ed25519_secret_key";
    if (std::filesystem::exists(key)) crashed.address = OnionKey::load(key).hostname();
  } catch (const std::exception&) {
    // no address to show
  }
  return crashed;
}

}  // namespace tails_server::core

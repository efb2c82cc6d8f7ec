// ServiceManager: each service's onion key and its authorized clients.
#include "services/service_manager.h"
#include "services/service_manager_p.h"

#include "tor/keys/client_auth.h"
#include "tor/keys/onion_key.h"

#include <optional>

namespace tails_server::core {

std::string ServiceManager::onion_address(const std::string& service) const {
  const auto& entry = impl_->find(service);
  try {
    return entry.context->onion_address();
  } catch (const std::exception& error) {
    // A key file made unreadable (it may lie on the Persistent Storage) must
    // not fail every status and list: no address, and the reason logged.
    impl_->host.log(LogLevel::Warning, service + ": no onion address: " + error.what());
    return {};
  }
}

std::string ServiceManager::ensure_onion_key(const std::string& service) {
  auto& entry = impl_->find(service);
  auto file = impl_->key_file(*entry.service);
  try {
    if (std::filesystem::exists(file)) return OnionKey::load(file).hostname();
    impl_->make_service_directory(*entry.service);
    auto key = OnionKey::generate();
    key.save(file);
    return key.hostname();
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, "onion key of " + service + ": " + error.what());
  }
}

std::string ServiceManager::onion_key_blob(const std::string& service) const {
  auto& entry = impl_->find(service);
  try {
    return OnionKey::load(impl_->key_file(*entry.service)).add_onion_blob();
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, "onion key of " + service + ": " + error.what());
  }
}

std::string ServiceManager::import_onion_key(const std::string& service, const std::string& data) {
  auto& entry = impl_->find(service);
  if (entry.state.enabled)
    throw ServiceError(ErrorCode::InvalidValue, service + " is enabled: disable it before changing its onion address");
  std::optional<OnionKey> key;
  try {
    if (data.rfind(OnionKey::kBlobPrefix, 0) == 0) {
      std::string blob = data;
      while (!blob.empty() && (blob.back() == '\n' || blob.back() == '\r' || blob.back() == ' ')) blob.pop_back();
      key = OnionKey::from_add_onion_blob(blob);
    } else {
      key = OnionKey::from_secret_key_file_contents(data);
    }
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::InvalidValue,
                       std::string("not an onion key: ") + error.what() +
                           "; accepted: a tor hs_ed25519_secret_key file or an ED25519-V3:<base64> key");
  }
  try {
    impl_->make_service_directory(*entry.service);
    key->save(impl_->key_file(*entry.service));
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, "cannot store the onion key of " + service + ": " + error.what());
  }
  return key->hostname();
}

ServiceManager::ClientCredential ServiceManager::add_client(const std::string& service, const std::string& name) {
  auto& entry = impl_->find(service);
  try {
    validate_client_name(name);
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::InvalidValue, error.what());
  }
  if (entry.state.clients.count(name))
    throw ServiceError(ErrorCode::InvalidValue, service + " already has a client named '" + name +
                                                    "'; remove it first or choose another name");
  std::string address = ensure_onion_key(service);
  auto key = ClientKey::generate();
  impl_->update(entry, [&](ServiceState& state) { state.clients[name] = key.public_key_base32(); });
  std::string bare = address.substr(0, address.size() - std::string(".onion").size());
  return ClientCredential{name, address, key.private_key_base32(), key.auth_private_line(bare),
                          key.onion_client_auth_add_command(bare)};
}

void ServiceManager::remove_client(const std::string& service, const std::string& name) {
  auto& entry = impl_->find(service);
  if (!entry.state.clients.count(name)) {
    std::vector<std::string> names;
    for (const auto& [client, key] : entry.state.clients) names.push_back(client);
    throw ServiceError(ErrorCode::NoSuchClient,
                       service + " has no client named '" + name + "'; its clients: " +
                           (names.empty() ? std::string("none") : tails_server::detail::join(names, ", ")));
  }
  impl_->update(entry, [&](ServiceState& state) { state.clients.erase(name); });
}

std::vector<std::string> ServiceManager::clients(const std::string& service) const {
  std::vector<std::string> names;
  for (const auto& [name, key] : impl_->find(service).state.clients) names.push_back(name);
  return names;
}

std::vector<std::string> ServiceManager::client_public_keys(const std::string& service) const {
  std::vector<std::string> keys;
  for (const auto& [name, key] : impl_->find(service).state.clients) keys.push_back(key);
  return keys;
}

}  // namespace tails_server::core

// ServiceManager: each service's keys as a client of other onion services
// (Host 2.3: Prosody's peers), and what the daemon tells such a service about
// Tor (its SOCKS port, its tor-only account).
#include "services/service_manager.h"
#include "services/service_manager_p.h"

#include "tor/keys/client_auth.h"
#include "tor/keys/onion_key.h"

#include <cstdio>

namespace tails_server::core {

namespace {

constexpr std::string_view onion_suffix = ".onion";

// "<56 lower-case base32 characters>.onion" with a valid v3 checksum, or
// HostError saying what is accepted. Returns the bare 56 characters.
std::string bare_peer_address(std::string_view address) {
  bool ok = address.size() == 56 + onion_suffix.size() && address.substr(56) == onion_suffix;
  for (std::size_t i = 0; ok && i < 56; ++i) {
    char c = address[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) ok = false;
  }
  if (!ok || !is_valid_onion_address(address.substr(0, 56)))
    throw HostError("'" + std::string(address.substr(0, 80)) +
                    "' is not an onion address; accepted: the 56 lower-case characters a-z and 2-7 of a v3 "
                    "onion address (with a valid checksum) followed by \".onion\"");
  return std::string(address.substr(0, 56));
}

// The minor version in "MAJOR.MINOR", or 0.
int sdk_minor(const std::string& version) {
  int major = 0, minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return 0;
  return minor;
}

}  // namespace

std::string ServiceManager::Impl::tor_socks_address() const {
  return config.tor_socks_host + ":" + std::to_string(config.tor_socks_port);
}

void ServiceManager::Impl::add_onion_client_key(const std::string& service, std::string_view address,
                                                std::string_view private_key) {
  auto& entry = find(service);
  std::string bare = bare_peer_address(address);
  std::string key;
  try {
    key = ClientKey::from_base32_private_key(private_key).private_key_base32();
  } catch (const std::exception&) {
    // Never quote the key: it is a secret, and may be a mistyped one.
    throw HostError("the client key for " + bare + ".onion is not a key; accepted: the 52 base32 characters "
                    "(A-Z, 2-7) of an x25519 private key, as 'tails-server client add' prints it");
  }
  update(entry, [&](ServiceState& state) { state.onion_client_keys[bare] = key; });
  host.log(LogLevel::Info, service + ": keeps a client key for " + bare + ".onion");
  onion_client_keys_changed();
}

bool ServiceManager::Impl::remove_onion_client_key(const std::string& service, std::string_view address) {
  auto& entry = find(service);
  std::string bare = bare_peer_address(address);
  if (!entry.state.onion_client_keys.count(bare)) return false;
  update(entry, [&](ServiceState& state) { state.onion_client_keys.erase(bare); });
  host.log(LogLevel::Info, service + ": no longer keeps a client key for " + bare + ".onion");
  onion_client_keys_changed();
  return true;
}

std::vector<std::string> ServiceManager::Impl::onion_client_key_addresses(const std::string& service) const {
  std::vector<std::string> addresses;
  for (const auto& [address, key] : find(service).state.onion_client_keys)
    addresses.push_back(address + std::string(onion_suffix));
  return addresses;
}

std::map<std::string, std::string> ServiceManager::onion_client_credentials() const {
  std::map<std::string, std::string> credentials;
  for (const auto& entry : impl_->entries)
    for (const auto& [address, key] : entry->state.onion_client_keys) {
      try {
        credentials.emplace(address, ClientKey::from_base32_private_key(key).private_key_base64());
      } catch (const std::exception&) {
        impl_->host.log(LogLevel::Error, entry->service->name + ": the stored client key for " + address +
                                             ".onion is not a key; it is not given to Tor");
      }
    }
  return credentials;
}

void ServiceManager::on_onion_client_keys_changed(std::function<void()> callback) {
  impl_->on_onion_client_keys_changed = std::move(callback);
}

std::string ServiceManager::tor_only_account(const std::string& service) const {
  const auto& entry = impl_->find(service);
  // An older plugin's vtable has no such entry: never call it there.
  if (sdk_minor(entry.sdk_version) < 3) return {};
  return impl_->call_plugin(entry, "tor-only account", "getting the tor-only account of",
                            [&] { return entry.service->tor_only_account(); });
}

const std::string& ServiceManager::tor_socks_host() const { return impl_->config.tor_socks_host; }
std::uint16_t ServiceManager::tor_socks_port() const { return impl_->config.tor_socks_port; }

}  // namespace tails_server::core

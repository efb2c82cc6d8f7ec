// The services the daemon manages: loaded plugins, their options and state.
#pragma once

#include "config/daemon_config.h"
#include "plugins/plugin_loader.h"
#include "state/state_store.h"

#include <tails_server/host.h>
#include <tails_server/service.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::core {

// Why a service call failed. The daemon maps each code to a D-Bus error name
// and the CLI to an exit code.
enum class ErrorCode {
  NoSuchService,  // org.boum.tails.Server.Error.NoSuchService
  NoSuchOption,   // ...NoSuchOption
  InvalidValue,   // ...InvalidValue (an OptionError)
  StateError,     // ...StateError (the state file is unreadable)
  NoSuchClient,   // ...NoSuchClient
  Failed,         // ...Failed (a plugin or host operation failed)
};

class ServiceError : public std::runtime_error {
 public:
  ServiceError(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// One option as the front ends show it.
struct OptionView {
  std::string name;
  std::string type;         // TailsServiceOption::type_name()
  std::string value;        // "********" for secrets unless revealed
  std::string description;
  std::string accepted;
  bool secret = false;
  bool read_only = false;
  bool is_default = true;   // not set by the user
  // What a form needs (DescribeOptions).
  std::string label;        // name_in_gui, or the name
  std::string group;        // "service", "onion" or "tails"
  std::int64_t minimum = 0, maximum = 0;  // integer and port
  std::vector<std::string> choices;       // enum
  std::uint32_t max_length = 0;           // string and secret
  bool generated = false;                 // secret
};

// A service whose plugin is put aside after it crashed the daemon: nothing
// of it runs in the daemon, and its unit and onion are left as they were.
struct CrashedService {
  std::string name;     // the plugin's (and its service's) name
  std::string step;     // the step the daemon died in: "load", "configure", ...
  std::string message;  // the plugin's record: what happened and what to do
  bool enabled = false; // as its state file says
  std::string address;  // "<56>.onion" if it has a key, else ""
};

struct ServiceInfo {
  std::string name;
  std::string name_in_gui;
  std::string description;
  std::string client_application;
  std::string client_application_in_gui;
  std::string documentation;
  std::string icon_name;
  std::string systemd_service;
  std::vector<std::string> packages;
  std::vector<std::string> persistent_paths;
  std::uint16_t local_port = 0;
  std::uint16_t virtual_port = 0;  // the virtual port at the onion address
  std::vector<ServiceCommand> commands;
  std::string state_error;  // set when the state file was unreadable
};

class ServiceManager {
 public:
  // Loads the plugins from config.plugin_dirs and every service's state from
  // config.state_dir. Plugins that fail are recorded, never fatal.
  ServiceManager(const DaemonConfig& config, Host& host);
  ~ServiceManager();

  // One record per plugin file, refused ones too (a crashed one is Crashed).
  const std::vector<PluginRecord>& plugins() const;
  // Takes the plugin named `plugin` (or the file: its path or file name) out
  // of the quarantine and loads it again; a Loaded one becomes a service.
  // Returns its new record. NoSuchService if no crashed plugin matches.
  const PluginRecord& retry_plugin(const std::string& plugin);
  // The services of crashed plugins (named ones: a plugin that died before
  // its name was read has none), in load order; never a loaded service.
  std::vector<CrashedService> crashed_services() const;
  std::optional<CrashedService> crashed_service(const std::string& name) const;
  // The host the services' paths and files go through.
  Host& host() const;
  // Names of the loaded services, in load order.
  std::vector<std::string> service_names() const;

  // Each throws ServiceError.
  ServiceInfo info(const std::string& service) const;
  // Every option, standard ones first; secrets masked unless `reveal`.
  std::vector<OptionView> options(const std::string& service, bool reveal = false) const;
  // The option's value, unmasked (read-only ones computed now).
  std::string get_option(const std::string& service, const std::string& option) const;
  // Validates, stores durably and returns the canonical value. Refuses a
  // local port that another service's local port already has.
  std::string set_option(const std::string& service, const std::string& option,
                         const std::string& value);
  // Back to the default (secrets: a newly generated value). Returns it.
  std::string reset_option(const std::string& service, const std::string& option);
  // Writes the service's configuration through the plugin.
  void configure(const std::string& service);
  ConnectionInfo connection_info(const std::string& service) const;
  // The plugin's service object: its attributes (packages, unit, paths).
  const TailsService& service(const std::string& service) const;
  // Runs one of the plugin's lifecycle hooks; a plugin's exception becomes
  // ServiceError (InvalidValue for an OptionError, else Failed).
  enum class Hook { Install, Configure, Start, Stop, Uninstall };
  void run_hook(const std::string& service, Hook hook);
  // The ports to publish on the service's onion (the plugin's onion_ports()).
  std::vector<OnionPort> onion_ports(const std::string& service) const;
  // The values of the service's local port options, local-port first.
  std::vector<std::uint16_t> local_ports(const std::string& service) const;

  // Durable lifecycle facts, saved with the options. Throw ServiceError.
  bool enabled(const std::string& service) const;
  void set_enabled(const std::string& service, bool enabled);
  // The packages recorded as installed for the service, only those among
  // its plugin's own `packages` (others are logged and left alone).
  std::vector<std::string> packages_installed_by_us(const std::string& service) const;
  void add_packages_installed_by_us(const std::string& service, const std::vector<std::string>& packages);
  // Forgets everything stored for the service (options back to their
  // defaults with new secrets, no packages, disabled) and removes its state
  // directory.
  void forget(const std::string& service);

  // Onion key and client authorization (docs/tor.md#keys-and-addresses,
  // docs/tor.md#client-authorization). The key lives in the service's state
  // directory as a tor hs_ed25519_secret_key file, 0600.

  // "<56>.onion", or "" while the service has no key (or its key file is
  // unreadable: the reason is logged).
  std::string onion_address(const std::string& service) const;
  // Generates and stores a key if the service has none. Returns the address.
  std::string ensure_onion_key(const std::string& service);
  // The ADD_ONION "ED25519-V3:..." blob (a secret). Throws if there is no key.
  std::string onion_key_blob(const std::string& service) const;
  // Replaces the key with `data`: an hs_ed25519_secret_key file's contents or
  // an "ED25519-V3:" blob. Refused (InvalidValue) while the service is
  // enabled, or for malformed data. Returns the new address.
  std::string import_onion_key(const std::string& service, const std::string& data);

  // A client's credential, shown once: the forms clients use.
  struct ClientCredential {
    std::string name;
    std::string address;             // "<56>.onion"
    std::string private_key_base32;  // Tor Browser's key prompt
    std::string auth_private_line;   // <onion>:descriptor:x25519:<base32> for ClientOnionAuthDir
    std::string control_command;     // ONION_CLIENT_AUTH_ADD <onion> x25519:<base64>
  };
  // Makes an x25519 key pair for client `name`, keeps only the public key.
  // InvalidValue for a malformed or existing name.
  ClientCredential add_client(const std::string& service, const std::string& name);
  // NoSuchClient if there is no such client.
  void remove_client(const std::string& service, const std::string& name);
  std::vector<std::string> clients(const std::string& service) const;
  // The public keys (52-char base32) of every client, for ADD_ONION.
  std::vector<std::string> client_public_keys(const std::string& service) const;

  // The service as a client of other onions (Host 2.3: a plugin hands the
  // daemon the client-authorization key of a peer's onion, e.g. Prosody's
  // add-peer). Kept in the service's state file (0600), given to Tor.

  // Every service's keys: bare 56-character address → base64 x25519 private
  // key (secrets), for ONION_CLIENT_AUTH_ADD. When two services hold a key
  // for the same onion, the first in load order wins (Tor keeps one).
  std::map<std::string, std::string> onion_client_credentials() const;
  // Called after a key was added or removed (the lifecycle tells Tor).
  void on_onion_client_keys_changed(std::function<void()> callback);
  // The account whose outgoing connections go only to Tor's SOCKS port
  // (TailsService::tor_only_account, asked only of plugins of SDK 2.3 or
  // later), or "".
  std::string tor_only_account(const std::string& service) const;
  // tor_socks of the daemon's configuration.
  const std::string& tor_socks_host() const;
  std::uint16_t tor_socks_port() const;

  // Persistence (persistence/persistence.h). Setting the option
  // `persistence` migrates the service's data, state and onion key to or
  // from <persistence_root>/tails-server/<service>/ before it returns
  // (ServiceError Failed, rolled back, if that fails). The guard, if set,
  // runs the migration: the lifecycle stops the service's unit around it.
  using UnitGuard = std::function<void(const std::string& service, const std::function<void()>& work)>;
  void set_unit_guard(UnitGuard guard);
  bool persistent(const std::string& service) const;
  // Whether <persistence_root>/tails-server is there: the Persistent Storage
  // is unlocked and some service was made persistent on it.
  bool persistent_storage_present() const;
  // Reads the state of the services found on the Persistent Storage that
  // the daemon has not read from there yet (Tails unlocks the storage after
  // the daemon started), finishing their interrupted migrations and mounting
  // their data. A service enabled meanwhile keeps its amnesic state.
  // Returns the names read.
  std::vector<std::string> load_persistent_state();
  // Unmounts and removes everything of the service on the Persistent
  // Storage (uninstall); its state is then amnesic.
  void remove_persistent_data(const std::string& service);

  // The shared web server (web/web_server.h; web_sites.cpp). A service
  // declares its site from configure(); these compose nginx's configuration
  // from the sites of the enabled services. Throw ServiceError (Failed).
  bool declares_web_site(const std::string& service) const;
  // Whether an enabled service declares a site, one with PHP.
  bool web_sites_enabled() const;
  bool php_web_sites_enabled() const;
  bool web_site_uses_php(const std::string& service) const;
  // Writes the configuration from the enabled services' sites, checked with
  // nginx -t before it replaces the old one.
  void compose_web_sites();
  // Removes the service's site (uninstall); compose_web_sites() then.
  void forget_web_site(const std::string& service);

  // Runs one of the plugin's commands; returns its message.
  std::string run_command(const std::string& service, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret);

 private:
  void add(const PluginRecord& record);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tails_server::core

// The ServiceManager's private part, shared by its source files
// (service_manager.cpp: services and options; service_keys.cpp: onion keys
// and clients; web_sites.cpp: the sites of the shared web server). Not part
// of the daemon's interface.
#pragma once

#include "persistence/persistence.h"
#include "plugins/plugin_loader.h"
#include "services/service_manager.h"
#include "state/state_store.h"
#include "tor/keys/onion_key.h"
#include "util/no_follow.h"
#include "web/web_server.h"

#include <tails_server/standard_options.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::core {

// What the daemon does for a service that reaches other onions (Host 2.3):
// ServiceManager::Impl, in onion_client_keys.cpp.
class TorClientSide {
 public:
  virtual ~TorClientSide() = default;
  virtual std::string tor_socks_address() const = 0;
  virtual void add_onion_client_key(const std::string& service, std::string_view address,
                                    std::string_view private_key) = 0;
  virtual bool remove_onion_client_key(const std::string& service, std::string_view address) = 0;
  virtual std::vector<std::string> onion_client_key_addresses(const std::string& service) const = 0;
};

// Forwards to the daemon's host, naming the plugin in every log line.
class PluginHost : public Host {
 public:
  PluginHost(Host& host, std::string plugin, TorClientSide* tor = nullptr)
      : host_(host), plugin_(plugin), prefix_(std::move(plugin) + ": "), tor_(tor) {}
  std::filesystem::path path(std::string_view absolute) const override { return host_.path(absolute); }
  void write_file(std::string_view file, std::string_view content, const FileSpec& spec) override {
    host_.write_file(file, content, spec);
  }
  void make_directory(std::string_view directory, const FileSpec& spec) override {
    host_.make_directory(directory, spec);
  }
  void remove_file(std::string_view file) override { host_.remove_file(file); }
  std::optional<std::string> read_file(std::string_view file, std::size_t max_bytes) override {
    return host_.read_file(file, max_bytes);
  }
  bool exists(std::string_view path) const override { return host_.exists(path); }
  bool user_exists(std::string_view user) const override { return host_.user_exists(user); }
  bool group_exists(std::string_view group) const override { return host_.group_exists(group); }
  RunResult run(const std::vector<std::string>& argv, const RunOptions& options) override {
    return host_.run(argv, options);
  }
  std::string random_password(std::size_t length) override { return host_.random_password(length); }
  void log(LogLevel level, std::string_view message) override {
    host_.log(level, prefix_ + std::string(message));
  }
  std::string tor_socks_address() const override {
    return tor_ ? tor_->tor_socks_address() : host_.tor_socks_address();
  }
  void add_onion_client_key(std::string_view address, std::string_view private_key) override {
    if (!tor_) return host_.add_onion_client_key(address, private_key);
    tor_->add_onion_client_key(plugin_, address, private_key);
  }
  bool remove_onion_client_key(std::string_view address) override {
    return tor_ ? tor_->remove_onion_client_key(plugin_, address) : host_.remove_onion_client_key(address);
  }
  std::vector<std::string> onion_client_key_addresses() const override {
    return tor_ ? tor_->onion_client_key_addresses(plugin_) : host_.onion_client_key_addresses();
  }

 private:
  Host& host_;
  std::string plugin_;
  std::string prefix_;
  TorClientSide* tor_;
};

struct ServiceManager::Impl : TorClientSide {
  struct Entry;

  class Context : public ServiceContext {
   public:
    Context(Impl& impl, Entry& entry, Host& host)
        : impl_(impl), entry_(entry), host_(host, entry.service->name, &impl) {}
    Host& host() const override { return host_; }
    std::string option(std::string_view name) const override { return impl_.value(entry_, name); }
    std::string onion_address() const override {
      auto file = impl_.key_file(*entry_.service);
      if (!std::filesystem::exists(file)) return {};
      return OnionKey::load(file).hostname();
    }
    // With allow-lan the service listens on every address and the firewall
    // decides who reaches the port (firewall/firewall.h); else on loopback only.
    std::vector<std::string> listen_addresses() const override {
      if (impl_.value(entry_, standard_option::allow_lan) == "true") return {"0.0.0.0", "::"};
      return {"127.0.0.1"};
    }
    void declare_web_site(const WebSite& site) override { impl_.declare_web_site(entry_, site); }

   private:
    Impl& impl_;
    Entry& entry_;
    mutable PluginHost host_;
  };

  struct Entry {
    std::filesystem::path file;  // the plugin's
    FileIdentity identity;
    std::string sdk_version;  // "MAJOR.MINOR" the plugin was built against
    std::shared_ptr<TailsService> service;
    std::vector<OptionPtr> options;  // standard ones first
    ServiceState state;
    std::string state_error;
    std::unique_ptr<Context> context;
  };

  Impl(const DaemonConfig& config_, Host& host_)
      : config(config_), host(host_), quarantine(config_.runtime_dir), loader(&quarantine), store(config_.state_dir),
        persistence(config_.persistence_root, config_.state_dir, persistence_options(config_)), web(host_) {
    store.set_persistent_directory(persistence.tree());
  }

  static Persistence::Options persistence_options(const DaemonConfig& config) {
    Persistence::Options options;
    options.root = config.root;
    options.init_mount_namespace = true;  // the services must see the mounts
    return options;
  }

  DaemonConfig config;
  Host& host;
  Quarantine quarantine;
  PluginLoader loader;
  StateStore store;
  Persistence persistence;
  UnitGuard unit_guard;
  WebServer web;
  std::vector<std::unique_ptr<Entry>> entries;

  // web_sites.cpp: renders the site of the entry's service and composes the
  // web server's configuration with it and the enabled services' sites.
  void declare_web_site(Entry& entry, const WebSite& site);
  std::map<std::string, std::string> enabled_web_sites() const;

  Entry& find(const std::string& name) const {
    for (const auto& entry : entries)
      if (entry->service->name == name) return *entry;
    for (const auto& record : loader.records())
      if (record.state == PluginState::Crashed && record.name == name)
        throw ServiceError(ErrorCode::NoSuchService,
                           "service '" + name + "' is not served: its plugin is put aside after a crash. " +
                               record.message);
    std::vector<std::string> names;
    for (const auto& entry : entries) names.push_back(entry->service->name);
    throw ServiceError(ErrorCode::NoSuchService,
                       "no service named '" + name + "'; available: " +
                           (names.empty() ? std::string("none") : tails_server::detail::join(names, ", ")));
  }

  static const OptionPtr* find_option(const Entry& entry, std::string_view name) {
    for (const auto& option : entry.options)
      if (option->name() == name) return &option;
    return nullptr;
  }

  static const TailsServiceOption& option(const Entry& entry, std::string_view name) {
    if (auto found = find_option(entry, name)) return **found;
    std::vector<std::string> names;
    for (const auto& option : entry.options) names.push_back(option->name());
    throw ServiceError(ErrorCode::NoSuchOption, "service '" + entry.service->name + "' has no option '" +
                                                    std::string(name) + "'; its options: " +
                                                    tails_server::detail::join(names, ", "));
  }

  // The option's current canonical value (computed ones computed now).
  std::string value(const Entry& entry, std::string_view name) const {
    const auto* found = find_option(entry, name);
    if (!found) throw OptionError("service '" + entry.service->name + "' has no option '" + std::string(name) + "'");
    const auto& option = **found;
    if (option.is_read_only()) return option.compute(*entry.context);
    auto stored = entry.state.options.find(option.name());
    if (stored != entry.state.options.end()) return stored->second;
    return option.default_value(host);
  }

  std::filesystem::path key_file(const TailsService& service) const {
    return store.service_directory(service.name) / "hs_ed25519_secret_key";
  }

  // Makes the service's own directory (the onion key's), root 0700, without
  // following a link on the way (it may lie in the Persistent Storage).
  void make_service_directory(const TailsService& service) const {
    const auto dir = store.service_directory(service.name);
    Fd parent = no_follow::open_tree(dir.parent_path(), true);
    no_follow::make_dir_at(parent.get(), dir.filename().string(), 0700, dir);
  }

  void save(Entry& entry) {
    try {
      store.save(entry.service->name, entry.state);
    } catch (const std::exception& error) {
      throw ServiceError(ErrorCode::Failed, std::string("cannot save the state: ") + error.what());
    }
  }

  // change(entry.state), then save; if either throws, the state is as before.
  template <typename Change>
  void update(Entry& entry, Change&& change) {
    auto previous = entry.state;
    try {
      change(entry.state);
      save(entry);
    } catch (...) {
      entry.state = std::move(previous);
      throw;
    }
  }

  void check_port_clash(const Entry& entry, const TailsServiceOption& option, const std::string& port) const {
    for (const auto& other : entries) {
      for (const auto& candidate : other->options) {
        auto* as_port = dynamic_cast<const PortOption*>(candidate.get());
        if (!as_port || !as_port->is_local()) continue;
        if (other.get() == &entry && candidate.get() == &option) continue;
        if (value(*other, candidate->name()) == port)
          throw ServiceError(ErrorCode::InvalidValue,
                             "port " + port + " for option '" + option.name() + "' of '" + entry.service->name +
                                 "' is already used by option '" + candidate->name() + "' of '" +
                                 other->service->name + "'; choose another port from 1 to 65535");
      }
    }
  }

  // Stores generated secrets once, so they stay the same across restarts.
  void generate_secrets(Entry& entry) {
    bool changed = false;
    for (const auto& option : entry.options) {
      if (!option->is_secret() || entry.state.options.count(option->name())) continue;
      entry.state.options[option->name()] = option->default_value(host);
      changed = true;
    }
    if (changed) save(entry);
  }

  // Reads what is stored for the entry's service: a migration a killed
  // daemon left is finished or rolled back, and the persistent data is
  // mounted, before anything reads the state or the paths.
  void load(Entry& entry) {
    try {
      auto recovered = persistence.recover(entry.service->name, entry.service->persistent_paths);
      if (!recovered.empty()) host.log(LogLevel::Warning, recovered);
      persistence.restore_mounts(entry.service->name, entry.service->persistent_paths);
    } catch (const std::exception& error) {
      host.log(LogLevel::Error, entry.service->name + ": " + error.what());
    }
    entry.state_error.clear();
    store.locate(entry.service->name);
    try {
      if (auto state = store.load(entry.service->name)) entry.state = std::move(*state);
    } catch (const StateError& error) {
      entry.state_error = error.what();
      host.log(LogLevel::Error, error.what());
    }
    // Drop stored values the plugin no longer accepts, loudly.
    for (auto it = entry.state.options.begin(); it != entry.state.options.end();) {
      const auto* option = Impl::find_option(entry, it->first);
      std::string problem;
      if (!option || (*option)->is_read_only()) {
        problem = "is no longer an option";
      } else {
        try {
          (*option)->parse(it->second);
        } catch (const OptionError& error) {
          problem = error.what();
        }
      }
      if (problem.empty()) {
        ++it;
        continue;
      }
      host.log(LogLevel::Warning,
               entry.service->name + ": stored option '" + it->first + "' " + problem + "; using the default");
      it = entry.state.options.erase(it);
    }
    sync_persistence_option(entry);
    try {
      generate_secrets(entry);
    } catch (const std::exception& error) {
      host.log(LogLevel::Error, entry.service->name + ": " + error.what());
    }
  }

  // The option `persistence` says where the state is (the location wins).
  void sync_persistence_option(Entry& entry) {
    if (store.persistent(entry.service->name)) entry.state.options[standard_option::persistence] = "true";
    else entry.state.options.erase(standard_option::persistence);
  }

  void set_persistence(Entry& entry, bool on) {
    const auto& name = entry.service->name;
    if (on) entry.state.options[standard_option::persistence] = "true";
    else entry.state.options.erase(standard_option::persistence);
    save(entry);  // the file moves with the rest
    try {
      if (on) persistence.turn_on(name, entry.service->persistent_paths);
      else persistence.turn_off(name, entry.service->persistent_paths);
      store.locate(name);
    } catch (const std::exception& error) {
      store.locate(name);
      sync_persistence_option(entry);
      try {
        save(entry);
      } catch (const std::exception&) {
      }
      throw ServiceError(ErrorCode::Failed, error.what());
    }
    host.log(LogLevel::Info, name + ": persistence " + (on ? "on: data, state and onion key are on the Persistent Storage"
                                                           : "off: data, state and onion key are amnesic"));
  }

  // Host 2.3, for the plugins (onion_client_keys.cpp). Each throws HostError.
  std::string tor_socks_address() const override;
  void add_onion_client_key(const std::string& service, std::string_view address,
                            std::string_view private_key) override;
  bool remove_onion_client_key(const std::string& service, std::string_view address) override;
  std::vector<std::string> onion_client_key_addresses(const std::string& service) const override;
  std::function<void()> on_onion_client_keys_changed;
  void onion_client_keys_changed() {
    if (on_onion_client_keys_changed) on_onion_client_keys_changed();
  }

  // Runs plugin code: `step` ("configure", "command backup", ...) is
  // recorded while it runs, so that a crash puts the plugin aside; an
  // exception becomes a ServiceError saying `what` failed.
  template <class F>
  auto call_plugin(const Entry& entry, std::string_view step, const std::string& what, F&& f) -> decltype(f()) {
    auto running = quarantine.begin(entry.file, entry.identity, entry.service->name, step);
    try {
      return f();
    } catch (const ServiceError&) {
      throw;
    } catch (const OptionError& error) {
      throw ServiceError(ErrorCode::InvalidValue, error.what());
    } catch (const std::exception& error) {
      throw ServiceError(ErrorCode::Failed, what + " " + entry.service->name + " failed: " + error.what());
    } catch (...) {
      throw ServiceError(ErrorCode::Failed, what + " " + entry.service->name + " failed with an unknown error");
    }
  }
};

}  // namespace tails_server::core

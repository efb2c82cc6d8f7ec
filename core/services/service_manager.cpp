#include "services/service_manager.h"

#include "persistence/persistence.h"
#include "services/system_probe.h"
#include "tor/keys/client_auth.h"
#include "tor/keys/onion_key.h"

#include <sys/stat.h>

#include <tails_server/standard_options.h>

#include <algorithm>

namespace tails_server::core {

namespace {

constexpr const char* masked = "********";

// Forwards to the daemon's host, naming the plugin in every log line.
class PluginHost : public Host {
 public:
  PluginHost(Host& host, std::string plugin) : host_(host), prefix_(std::move(plugin) + ": ") {}
  std::filesystem::path path(std::string_view absolute) const override { return host_.path(absolute); }
  void write_file(const std::filesystem::path& file, std::string_view content, const FileSpec& spec) override {
    host_.write_file(file, content, spec);
  }
  void make_directory(const std::filesystem::path& directory, const FileSpec& spec) override {
    host_.make_directory(directory, spec);
  }
  void remove_file(const std::filesystem::path& file) override { host_.remove_file(file); }
  RunResult run(const std::vector<std::string>& argv, const RunOptions& options) override {
    return host_.run(argv, options);
  }
  std::string random_password(std::size_t length) override { return host_.random_password(length); }
  void log(LogLevel level, std::string_view message) override {
    host_.log(level, prefix_ + std::string(message));
  }

 private:
  Host& host_;
  std::string prefix_;
};

std::vector<OptionPtr> standard_options(const TailsService& service) {
  namespace so = standard_option;
  std::uint16_t virtual_port = service.default_virtual_port ? service.default_virtual_port
                                                            : service.default_target_port;
  return {
      std::make_shared<PortOption>(so::virtual_port, "Port clients connect to at the onion address",
                                   virtual_port, false),
      std::make_shared<PortOption>(so::local_port, "Port the service listens on, on this computer",
                                   service.default_target_port, true),
      std::make_shared<BoolOption>(so::persistence,
                                   "Keep the service's data, settings and onion address in the Persistent Storage",
                                   false),
      std::make_shared<BoolOption>(so::autostart, "Start the service when Tails starts", false),
      std::make_shared<BoolOption>(so::allow_localhost, "Let programs on this computer connect to the service",
                                   false),
      std::make_shared<BoolOption>(so::allow_lan,
                                   "Let computers on the local network connect (bypasses Tor)", false),
      std::make_shared<BoolOption>(so::client_authorization,
                                   "Only clients with a key you give them can reach the onion address", true),
  };
}

}  // namespace

struct ServiceManager::Impl {
  struct Entry;

  class Context : public ServiceContext {
   public:
    Context(Impl& impl, Entry& entry, Host& host) : impl_(impl), entry_(entry), host_(host, entry.service->name) {}
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
    std::filesystem::path state_directory() const override {
      auto dir = impl_.store.service_directory(entry_.service->name);
      host_.make_directory(dir, FileSpec{"root", "root", 0700});
      return dir;
    }
   private:
    Impl& impl_;
    Entry& entry_;
    mutable PluginHost host_;
  };

  struct Entry {
    std::shared_ptr<TailsService> service;
    std::vector<OptionPtr> options;  // standard ones first
    ServiceState state;
    std::string state_error;
    std::unique_ptr<Context> context;
  };

  Impl(const DaemonConfig& config_, Host& host_)
      : config(config_), host(host_), store(config_.state_dir),
        persistence(config_.persistence_root, config_.state_dir, persistence_options(config_)) {
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
  StateStore store;
  Persistence persistence;
  UnitGuard unit_guard;
  PluginLoader loader;
  std::vector<std::unique_ptr<Entry>> entries;

  Entry& find(const std::string& name) const {
    for (const auto& entry : entries)
      if (entry->service->name == name) return *entry;
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

  void save(Entry& entry) {
    try {
      store.save(entry.service->name, entry.state);
    } catch (const std::exception& error) {
      throw ServiceError(ErrorCode::Failed, std::string("cannot save the state: ") + error.what());
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
    if (persistence.persistent(entry.service->name)) entry.state.options[standard_option::persistence] = "true";
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
    } catch (const std::exception& error) {
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

  template <class F>
  auto call_plugin(const Entry& entry, const std::string& what, F&& f) const -> decltype(f()) {
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

ServiceManager::ServiceManager(const DaemonConfig& config, Host& host)
    : impl_(std::make_unique<Impl>(config, host)) {
  for (const auto& record : impl_->loader.load(config.plugin_dirs)) {
    if (record.state != PluginState::Loaded) continue;  // the daemon reports refusals
    auto entry = std::make_unique<Impl::Entry>();
    entry->service = record.service;
    entry->options = standard_options(*record.service);
    for (const auto& option : record.service->options) entry->options.push_back(option);
    entry->context = std::make_unique<Impl::Context>(*impl_, *entry, host);
    impl_->load(*entry);
    impl_->entries.push_back(std::move(entry));
  }
}

ServiceManager::~ServiceManager() {
  // Contexts and options hold plugin objects: release them, newest first,
  // before the loader unloads the libraries.
  while (!impl_->entries.empty()) impl_->entries.pop_back();
}

const std::vector<PluginRecord>& ServiceManager::plugins() const { return impl_->loader.records(); }

Host& ServiceManager::host() const { return impl_->host; }

std::vector<std::string> ServiceManager::service_names() const {
  std::vector<std::string> names;
  for (const auto& entry : impl_->entries) names.push_back(entry->service->name);
  return names;
}

ServiceInfo ServiceManager::info(const std::string& service) const {
  const auto& entry = impl_->find(service);
  const auto& s = *entry.service;
  ServiceInfo info;
  info.name = s.name;
  info.name_in_gui = s.name_in_gui.empty() ? s.name : s.name_in_gui;
  info.description = s.description;
  info.client_application = s.client_application;
  info.client_application_in_gui =
      s.client_application_in_gui.empty() ? s.client_application : s.client_application_in_gui;
  info.documentation = s.documentation;
  info.icon_name = s.icon_name;
  info.systemd_service = s.systemd_service;
  info.packages = s.packages;
  info.persistent_paths = s.persistent_paths;
  info.local_port = static_cast<std::uint16_t>(std::stoi(impl_->value(entry, standard_option::local_port)));
  info.remote_port = static_cast<std::uint16_t>(std::stoi(impl_->value(entry, standard_option::virtual_port)));
  info.commands = s.commands;
  info.state_error = entry.state_error;
  return info;
}

std::vector<OptionView> ServiceManager::options(const std::string& service, bool reveal) const {
  const auto& entry = impl_->find(service);
  std::vector<OptionView> views;
  for (const auto& option : entry.options) {
    OptionView view;
    view.name = option->name();
    view.type = option->type_name();
    view.description = option->description();
    view.accepted = option->accepted();
    view.secret = option->is_secret();
    view.read_only = option->is_read_only();
    view.is_default = !entry.state.options.count(option->name());
    if (view.secret && !reveal) {
      view.value = masked;
    } else {
      try {
        view.value = impl_->call_plugin(entry, "reading option " + view.name + " of",
                                        [&] { return impl_->value(entry, option->name()); });
      } catch (const ServiceError& error) {
        view.value = std::string("(unavailable: ") + error.what() + ")";
      }
    }
    views.push_back(std::move(view));
  }
  return views;
}

std::string ServiceManager::get_option(const std::string& service, const std::string& option) const {
  const auto& entry = impl_->find(service);
  Impl::option(entry, option);
  return impl_->call_plugin(entry, "reading option " + option + " of", [&] { return impl_->value(entry, option); });
}

std::string ServiceManager::set_option(const std::string& service, const std::string& option,
                                       const std::string& value) {
  auto& entry = impl_->find(service);
  const auto& opt = Impl::option(entry, option);
  std::string canonical;
  try {
    canonical = opt.parse(value);
  } catch (const OptionError& error) {
    throw ServiceError(ErrorCode::InvalidValue, error.what());
  }
  if (auto* port = dynamic_cast<const PortOption*>(&opt); port && port->is_local())
    impl_->check_port_clash(entry, opt, canonical);
  if (opt.name() == standard_option::persistence) {
    bool on = canonical == "true";
    if (on == impl_->persistence.persistent(service)) return canonical;
    auto work = [this, &entry, on] { impl_->set_persistence(entry, on); };
    if (impl_->unit_guard) impl_->unit_guard(service, work);
    else work();
    return canonical;
  }
  auto previous = entry.state;
  entry.state.options[opt.name()] = canonical;
  try {
    impl_->save(entry);
  } catch (...) {
    entry.state = std::move(previous);
    throw;
  }
  return canonical;
}

std::string ServiceManager::reset_option(const std::string& service, const std::string& option) {
  auto& entry = impl_->find(service);
  const auto& opt = Impl::option(entry, option);
  if (opt.is_read_only())
    throw ServiceError(ErrorCode::InvalidValue, "option '" + option + "' is read-only and cannot be reset");
  auto previous = entry.state;
  entry.state.options.erase(opt.name());
  if (opt.is_secret()) entry.state.options[opt.name()] = opt.default_value(impl_->host);
  if (auto* port = dynamic_cast<const PortOption*>(&opt); port && port->is_local()) {
    try {
      impl_->check_port_clash(entry, opt, impl_->value(entry, opt.name()));
    } catch (...) {
      entry.state = std::move(previous);
      throw;
    }
  }
  try {
    impl_->save(entry);
  } catch (...) {
    entry.state = std::move(previous);
    throw;
  }
  return impl_->value(entry, opt.name());
}

void ServiceManager::configure(const std::string& service) { run_hook(service, Hook::Configure); }

const TailsService& ServiceManager::service(const std::string& service) const {
  return *impl_->find(service).service;
}

void ServiceManager::run_hook(const std::string& service, Hook hook) {
  auto& entry = impl_->find(service);
  auto& plugin = *entry.service;
  auto& context = *entry.context;
  switch (hook) {
    case Hook::Install:
      return impl_->call_plugin(entry, "setting up", [&] { plugin.install(context); });
    case Hook::Configure:
      return impl_->call_plugin(entry, "configuring", [&] { plugin.configure(context); });
    case Hook::Start:
      return impl_->call_plugin(entry, "preparing to start", [&] { plugin.start(context); });
    case Hook::Stop:
      return impl_->call_plugin(entry, "stopping", [&] { plugin.stop(context); });
    case Hook::Uninstall:
      return impl_->call_plugin(entry, "uninstalling", [&] { plugin.uninstall(context); });
  }
}

std::vector<OnionPort> ServiceManager::onion_ports(const std::string& service) const {
  const auto& entry = impl_->find(service);
  return impl_->call_plugin(entry, "getting the onion ports of",
                            [&] { return entry.service->onion_ports(*entry.context); });
}

std::vector<std::uint16_t> ServiceManager::local_ports(const std::string& service) const {
  const auto& entry = impl_->find(service);
  std::vector<std::uint16_t> ports;
  for (const auto& option : entry.options) {
    auto* port = dynamic_cast<const PortOption*>(option.get());
    if (port && port->is_local()) ports.push_back(static_cast<std::uint16_t>(std::stoi(impl_->value(entry, port->name()))));
  }
  return ports;
}

bool ServiceManager::persistent_storage_present() const {
  struct stat st;
  return impl_->persistence.available() && ::lstat(impl_->persistence.tree().c_str(), &st) == 0 &&
         S_ISDIR(st.st_mode);
}

std::vector<std::string> ServiceManager::load_persistent_state() {
  std::vector<std::string> loaded;
  for (auto& entry : impl_->entries) {
    const auto& name = entry->service->name;
    if (entry->state.options.count(standard_option::persistence)) continue;  // read from there already
    if (!impl_->persistence.persistent(name)) continue;
    if (entry->state.enabled) {
      impl_->host.log(LogLevel::Warning, name + " runs with amnesic settings: its state on the Persistent Storage "
                                                "is used after it is disabled and the daemon restarted");
      continue;
    }
    impl_->load(*entry);
    loaded.push_back(name);
  }
  return loaded;
}

bool ServiceManager::enabled(const std::string& service) const { return impl_->find(service).state.enabled; }

void ServiceManager::set_enabled(const std::string& service, bool enabled) {
  auto& entry = impl_->find(service);
  if (entry.state.enabled == enabled) return;
  entry.state.enabled = enabled;
  try {
    impl_->save(entry);
  } catch (...) {
    entry.state.enabled = !enabled;
    throw;
  }
}

std::vector<std::string> ServiceManager::packages_installed_by_us(const std::string& service) const {
  return impl_->find(service).state.packages_installed_by_us;
}

void ServiceManager::add_packages_installed_by_us(const std::string& service,
                                                   const std::vector<std::string>& packages) {
  auto& entry = impl_->find(service);
  auto previous = entry.state;
  for (const auto& package : packages) {
    auto& ours = entry.state.packages_installed_by_us;
    if (std::find(ours.begin(), ours.end(), package) == ours.end()) ours.push_back(package);
  }
  try {
    impl_->save(entry);
  } catch (...) {
    entry.state = std::move(previous);
    throw;
  }
}

void ServiceManager::forget(const std::string& service) {
  auto& entry = impl_->find(service);
  entry.state = ServiceState{};
  entry.state_error.clear();
  impl_->store.remove(service);
  std::error_code ignored;
  std::filesystem::remove_all(impl_->store.service_directory(service), ignored);
  impl_->generate_secrets(entry);
}

ConnectionInfo ServiceManager::connection_info(const std::string& service) const {
  const auto& entry = impl_->find(service);
  return impl_->call_plugin(entry, "getting the connection info of",
                            [&] { return entry.service->connection_info(*entry.context); });
}

std::string ServiceManager::onion_address(const std::string& service) const {
  return impl_->find(service).context->onion_address();
}

std::string ServiceManager::ensure_onion_key(const std::string& service) {
  auto& entry = impl_->find(service);
  auto file = impl_->key_file(*entry.service);
  try {
    if (std::filesystem::exists(file)) return OnionKey::load(file).hostname();
    entry.context->state_directory();
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
    entry.context->state_directory();
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
  auto previous = entry.state;
  entry.state.clients[name] = key.public_key_base32();
  try {
    impl_->save(entry);
  } catch (...) {
    entry.state = std::move(previous);
    throw;
  }
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
  auto previous = entry.state;
  entry.state.clients.erase(name);
  try {
    impl_->save(entry);
  } catch (...) {
    entry.state = std::move(previous);
    throw;
  }
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

void ServiceManager::set_unit_guard(UnitGuard guard) { impl_->unit_guard = std::move(guard); }

bool ServiceManager::persistent(const std::string& service) const {
  impl_->find(service);
  return impl_->persistence.persistent(service);
}

void ServiceManager::remove_persistent_data(const std::string& service) {
  auto& entry = impl_->find(service);
  try {
    impl_->persistence.remove(service, entry.service->persistent_paths);
  } catch (const std::exception& error) {
    throw ServiceError(ErrorCode::Failed, error.what());
  }
  impl_->sync_persistence_option(entry);
}

std::string ServiceManager::run_command(const std::string& service, const std::string& command,
                                        const std::vector<std::string>& arguments, const std::string& secret) {
  auto& entry = impl_->find(service);
  const auto& commands = entry.service->commands;
  auto found = std::find_if(commands.begin(), commands.end(), [&](const auto& c) { return c.name == command; });
  if (found == commands.end()) {
    std::vector<std::string> names;
    for (const auto& c : commands) names.push_back(c.name);
    throw ServiceError(ErrorCode::InvalidValue,
                       "service '" + service + "' has no command '" + command + "'; its commands: " +
                           (names.empty() ? std::string("none") : tails_server::detail::join(names, ", ")));
  }
  if (arguments.size() != found->arguments.size())
    throw ServiceError(ErrorCode::InvalidValue,
                       "command '" + command + "' of '" + service + "' takes " +
                           std::to_string(found->arguments.size()) + " argument(s) (" +
                           tails_server::detail::join(found->arguments, ", ") + "), got " +
                           std::to_string(arguments.size()));
  if (found->reads_secret && secret.empty())
    throw ServiceError(ErrorCode::InvalidValue, "command '" + command + "' of '" + service + "' needs a secret");
  return impl_->call_plugin(entry, "running " + command + " on",
                            [&] { return entry.service->run_command(*entry.context, command, arguments, secret); });
}

}  // namespace tails_server::core

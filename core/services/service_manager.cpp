#include "services/service_manager.h"
#include "services/service_manager_p.h"

#include "services/system_probe.h"

#include <sys/stat.h>

#include <tails_server/standard_options.h>

#include <algorithm>

namespace tails_server::core {

namespace {

constexpr const char* masked = "********";

std::vector<OptionPtr> standard_options(const TailsService& service) {
  namespace so = standard_option;
  std::uint16_t virtual_port = service.default_virtual_port ? service.default_virtual_port : service.default_local_port;
  auto labelled = [](OptionPtr option, const char* label) {
    option->name_in_gui = label;
    return option;
  };
  return {
      labelled(std::make_shared<PortOption>(so::virtual_port, "Port clients connect to at the onion address",
                                            virtual_port, false),
               "Port at the onion address"),
      labelled(std::make_shared<PortOption>(so::local_port, "Port the service listens on, on this computer",
                                            service.default_local_port, true),
               "Local port"),
      labelled(
          std::make_shared<BoolOption>(
              so::persistence, "Keep the service's data, settings and onion address in the Persistent Storage", false),
          "Persistence"),
      labelled(std::make_shared<BoolOption>(so::autostart, "Start the service when Tails starts", false),
               "Start when Tails starts"),
      labelled(std::make_shared<BoolOption>(so::allow_localhost, "Let programs on this computer connect to the service",
                                            false),
               "Access from this computer"),
      labelled(std::make_shared<BoolOption>(so::allow_lan, "Let computers on the local network connect (bypasses Tor)",
                                            false),
               "Access from the local network"),
      labelled(std::make_shared<BoolOption>(so::client_authorization,
                                            "Only clients with a key you give them can reach the onion address", true),
               "Client authorization"),
  };
}

}  // namespace


ServiceManager::ServiceManager(const DaemonConfig& config, Host& host)
    : impl_(std::make_unique<Impl>(config, host)) {
  for (const auto& record : impl_->loader.load(config.plugin_dirs))
    if (record.state == PluginState::Loaded) add(record);  // the daemon reports refusals
}

void ServiceManager::add(const PluginRecord& record) {
  auto entry = std::make_unique<Impl::Entry>();
  entry->file = record.file;
  entry->identity = record.identity;
  entry->sdk_version = record.sdk_version;
  entry->service = record.service;
  entry->options = standard_options(*record.service);
  for (const auto& option : record.service->options) entry->options.push_back(option);
  entry->context = std::make_unique<Impl::Context>(*impl_, *entry, impl_->host);
  impl_->load(*entry);
  impl_->entries.push_back(std::move(entry));
}

const PluginRecord& ServiceManager::retry_plugin(const std::string& plugin) {
  auto crash = impl_->quarantine.forget(plugin);
  if (!crash) {
    std::vector<std::string> crashed;
    for (const auto& record : plugins())
      if (record.state == PluginState::Crashed)
        crashed.push_back(record.name.empty() ? record.file.filename().string() : record.name);
    throw ServiceError(ErrorCode::NoSuchService,
                       "no plugin named '" + plugin + "' is put aside after a crash; put aside: " +
                           (crashed.empty() ? std::string("none") : tails_server::detail::join(crashed, ", ")));
  }
  impl_->host.log(LogLevel::Info, "an administrator retries the plugin in " + crash->file.string() +
                                      ", which crashed the daemon in its " + crash->step + " step");
  const PluginRecord* record = impl_->loader.reload(crash->file);
  if (!record)
    throw ServiceError(ErrorCode::Failed, "the plugin file " + crash->file.string() + " is no longer known");
  if (record->state == PluginState::Loaded) add(*record);
  return *record;
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
  info.virtual_port = static_cast<std::uint16_t>(std::stoi(impl_->value(entry, standard_option::virtual_port)));
  info.commands = s.commands;
  info.state_error = entry.state_error;
  return info;
}

// The group of an option in a form: the four Tails choices, the onion's own
// settings, and the rest (the plugin's).
static std::string option_group(const std::string& name) {
  namespace standard = standard_option;
  for (const char* tails : {standard::persistence, standard::autostart, standard::allow_localhost, standard::allow_lan})
    if (name == tails) return "tails";
  if (name == standard::virtual_port || name == standard::client_authorization) return "onion";
  return "service";
}

// Fills the form fields of `view` from the option's type.
static void describe_form(const TailsServiceOption& option, OptionView& view) {
  view.label = option.name_in_gui.empty() ? option.name() : option.name_in_gui;
  view.group = option_group(option.name());
  if (const auto* integer = dynamic_cast<const IntOption*>(&option)) {
    view.minimum = integer->min();
    view.maximum = integer->max();
  } else if (const auto* choice = dynamic_cast<const EnumOption*>(&option)) {
    view.choices = choice->choices();
  } else if (const auto* text = dynamic_cast<const StringOption*>(&option)) {
    view.max_length = static_cast<std::uint32_t>(text->rules().max_length);
    view.generated = option.kind() == OptionKind::Secret;
  }
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
    describe_form(*option, view);
    if (view.secret && !reveal) {
      view.value = masked;
    } else {
      try {
        view.value = impl_->call_plugin(entry, "option " + view.name, "reading option " + view.name + " of",
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
  return impl_->call_plugin(entry, "option " + option, "reading option " + option + " of", [&] { return impl_->value(entry, option); });
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
    if (on == impl_->store.persistent(service)) return canonical;
    if (on && impl_->persistence.persistent(service))
      throw ServiceError(ErrorCode::InvalidValue,
                         service + " runs with amnesic settings while the Persistent Storage holds its saved "
                                   "ones (another onion address, options and clients); the two are kept apart: to "
                                   "use the saved ones, disable " + service +
                                   " and restart tails-serverd (or reboot)");
    auto work = [this, &entry, on] { impl_->set_persistence(entry, on); };
    if (impl_->unit_guard) impl_->unit_guard(service, work);
    else work();
    return canonical;
  }
  impl_->update(entry, [&](ServiceState& state) { state.options[opt.name()] = canonical; });
  return canonical;
}

std::string ServiceManager::reset_option(const std::string& service, const std::string& option) {
  auto& entry = impl_->find(service);
  const auto& opt = Impl::option(entry, option);
  if (opt.is_read_only())
    throw ServiceError(ErrorCode::InvalidValue, "option '" + option + "' is read-only and cannot be reset");
  impl_->update(entry, [&](ServiceState& state) {
    state.options.erase(opt.name());
    if (opt.is_secret()) state.options[opt.name()] = opt.default_value(impl_->host);
    if (auto* port = dynamic_cast<const PortOption*>(&opt); port && port->is_local())
      impl_->check_port_clash(entry, opt, impl_->value(entry, opt.name()));
  });
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
      return impl_->call_plugin(entry, "install", "setting up", [&] { plugin.install(context); });
    case Hook::Configure:
      return impl_->call_plugin(entry, "configure", "configuring", [&] { plugin.configure(context); });
    case Hook::Start:
      return impl_->call_plugin(entry, "start", "preparing to start", [&] { plugin.start(context); });
    case Hook::Stop:
      return impl_->call_plugin(entry, "stop", "stopping", [&] { plugin.stop(context); });
    case Hook::Uninstall:
      return impl_->call_plugin(entry, "uninstall", "uninstalling", [&] { plugin.uninstall(context); });
  }
}

std::vector<OnionPort> ServiceManager::onion_ports(const std::string& service) const {
  const auto& entry = impl_->find(service);
  return impl_->call_plugin(entry, "onion ports", "getting the onion ports of",
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
  // The state file may have been prepared (it can lie on the Persistent
  // Storage): only the plugin's own packages are ever ours to purge.
  const auto& entry = impl_->find(service);
  const auto& own = entry.service->packages;
  std::vector<std::string> ours;
  for (const auto& package : entry.state.packages_installed_by_us) {
    if (std::find(own.begin(), own.end(), package) != own.end()) ours.push_back(package);
    else
      impl_->host.log(LogLevel::Warning, service + ": the state lists '" + package +
                                             "' as installed for it, but it is none of its packages (" +
                                             tails_server::detail::join(own, ", ") + "): never purged");
  }
  return ours;
}

void ServiceManager::add_packages_installed_by_us(const std::string& service,
                                                   const std::vector<std::string>& packages) {
  auto& entry = impl_->find(service);
  impl_->update(entry, [&](ServiceState& state) {
    for (const auto& package : packages) {
      auto& ours = state.packages_installed_by_us;
      if (std::find(ours.begin(), ours.end(), package) == ours.end()) ours.push_back(package);
    }
  });
}

void ServiceManager::forget(const std::string& service) {
  auto& entry = impl_->find(service);
  entry.state = ServiceState{};
  entry.state_error.clear();
  impl_->store.remove(service);
  std::error_code ignored;
  std::filesystem::remove_all(impl_->store.service_directory(service), ignored);
  impl_->generate_secrets(entry);
  impl_->onion_client_keys_changed();  // its peers' keys are gone too
}

ConnectionInfo ServiceManager::connection_info(const std::string& service) const {
  const auto& entry = impl_->find(service);
  return impl_->call_plugin(entry, "connection info", "getting the connection info of",
                            [&] { return entry.service->connection_info(*entry.context); });
}

void ServiceManager::set_unit_guard(UnitGuard guard) { impl_->unit_guard = std::move(guard); }

bool ServiceManager::persistent(const std::string& service) const {
  impl_->find(service);
  return impl_->store.persistent(service);
}

void ServiceManager::remove_persistent_data(const std::string& service) {
  auto& entry = impl_->find(service);
  try {
    impl_->persistence.remove(service, entry.service->persistent_paths);
  } catch (const std::exception& error) {
    impl_->store.locate(service);
    throw ServiceError(ErrorCode::Failed, error.what());
  }
  impl_->store.locate(service);
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
  return impl_->call_plugin(entry, "command " + command, "running " + command + " on",
                            [&] { return entry.service->run_command(*entry.context, command, arguments, secret); });
}

}  // namespace tails_server::core

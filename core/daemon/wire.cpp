#include "wire.h"

namespace tails_server::daemon::wire {

dbus::Status status(const core::LifecycleStatus& s) {
  return {.installed = s.installed,
          .running = s.running,
          .published = s.published,
          .enabled = s.enabled,
          .address = s.address,
          .state = s.state,
          .onion = s.onion,
          .tor = s.tor};
}

dbus::ServiceSummary summary(const std::string& name, const core::ServiceInfo& info,
                            const core::LifecycleStatus& s) {
  return {.name = name,
          .description = info.description,
          .installed = s.installed,
          .running = s.running,
          .published = s.published,
          .address = s.address,
          .state = s.state,
          .onion = s.onion,
          .tor = s.tor};
}

dbus::ServiceSummary crashed_summary(const core::CrashedService& crashed, const core::LifecycleStatus& s) {
  core::ServiceInfo info;
  info.description = "plugin crashed" + (crashed.step.empty() ? std::string() : " in its " + crashed.step + " step") +
                     "; put aside until its file changes or: tails-server plugin retry " + crashed.name;
  return summary(crashed.name, info, s);
}

dbus::ServiceDetails details(const core::ServiceInfo& info, const core::LifecycleStatus& s) {
  dbus::ServiceDetails d;
  d.name = info.name;
  d.name_in_gui = info.name_in_gui;
  d.description = info.description;
  d.client_application = info.client_application;
  d.client_application_in_gui = info.client_application_in_gui;
  d.documentation = info.documentation;
  d.icon_name = info.icon_name;
  d.systemd_service = info.systemd_service;
  d.packages = info.packages;
  d.persistent_paths = info.persistent_paths;
  d.local_port = info.local_port;
  d.virtual_port = info.virtual_port;
  for (const auto& c : info.commands) d.commands.push_back({c.name, c.description, c.arguments, c.reads_secret});
  d.state_error = info.state_error;
  d.status = status(s);
  d.operation = s.operation;
  return d;
}

dbus::PluginList plugins(const std::vector<core::PluginRecord>& records) {
  dbus::PluginList list;
  for (const auto& r : records)
    list.push_back({r.file.string(), r.name, std::string(core::to_string(r.state)), r.message, r.sdk_version});
  return list;
}

dbus::OptionList options(const std::vector<core::OptionView>& views) {
  dbus::OptionList list;
  for (const auto& o : views)
    list.push_back({o.name, o.type, o.value, o.description, o.accepted, o.secret, o.read_only, o.is_default});
  return list;
}

dbus::OptionFormList option_forms(const std::vector<core::OptionView>& views) {
  dbus::OptionFormList list;
  for (const auto& o : views)
    list.push_back({{o.name, o.type, o.value, o.description, o.accepted, o.secret, o.read_only, o.is_default},
                    o.label, o.group, o.minimum, o.maximum, o.choices, o.max_length, o.generated});
  return list;
}

dbus::ConnectionInfo connection_info(const ConnectionInfo& info) { return {info.fields, info.instructions}; }

dbus::StateChange state_change(const core::StateChange& c) { return {c.service, c.state, c.percent, c.message}; }

}  // namespace tails_server::daemon::wire

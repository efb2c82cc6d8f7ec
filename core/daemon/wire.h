// The core's views of a service as the D-Bus contract's messages
// (dbus/messages.h): the only place where the two meet.
#pragma once

#include "dbus/messages.h"
#include "lifecycle/lifecycle.h"
#include "services/service_manager.h"

#include <string>
#include <vector>

namespace tails_server::daemon::wire {

dbus::Status status(const core::LifecycleStatus& status);
dbus::ServiceSummary summary(const std::string& name, const core::ServiceInfo& info,
                            const core::LifecycleStatus& status);
// A crashed plugin's service: its description says where the daemon died.
dbus::ServiceSummary crashed_summary(const core::CrashedService& crashed, const core::LifecycleStatus& status);
dbus::ServiceDetails details(const core::ServiceInfo& info, const core::LifecycleStatus& status);
dbus::PluginList plugins(const std::vector<core::PluginRecord>& records);
dbus::OptionList options(const std::vector<core::OptionView>& views);
dbus::OptionFormList option_forms(const std::vector<core::OptionView>& views);
dbus::ConnectionInfo connection_info(const ConnectionInfo& info);
dbus::StateChange state_change(const core::StateChange& change);

}  // namespace tails_server::daemon::wire

// What each plugin's tests start from: a temporary root (with /etc, as on
// every real system) and the real core's ServiceManager over it, loading the
// plugins of this build.
#pragma once

#include "temp_dir.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <filesystem>
#include <string>

namespace plugin_test {

struct PluginRoot {
  // `adjust` may change the daemon's configuration before the manager reads it.
  explicit PluginRoot(const std::string& name, void (*adjust)(tails_server::core::DaemonConfig&) = nullptr)
      : tmp(name), host(tmp.path()), config(make_config(tmp, adjust)), manager(config, host) {}

  tails_server::test::TempDir tmp;
  tails_server::core::SystemHost host;
  tails_server::core::DaemonConfig config;
  tails_server::core::ServiceManager manager;

 private:
  static tails_server::core::DaemonConfig make_config(const tails_server::test::TempDir& root,
                                                      void (*adjust)(tails_server::core::DaemonConfig&)) {
    std::filesystem::create_directories(root / "etc");
    tails_server::core::DaemonConfig c;
    c.plugin_dirs = {TAILS_SERVER_PLUGIN_OUTPUT_DIR};
    c.root = root.path();
    c.state_dir = root / "state";
    if (adjust) adjust(c);
    return c;
  }
};

}  // namespace plugin_test

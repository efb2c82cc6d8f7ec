// A temporary root with its SystemHost, and a daemon config that loads the
// sample plugins into it: what the ServiceManager tests start from.
#pragma once

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "temp_dir.h"

namespace tails_server::test {

struct SampleFixture {
  TempDir tmp;
  core::SystemHost host{tmp.path()};
  core::DaemonConfig config() const {
    core::DaemonConfig c;
    c.plugin_dirs = {SAMPLE_PLUGIN_DIR};
    c.root = tmp.path();
    c.state_dir = tmp / "state";
    return c;
  }
};

}  // namespace tails_server::test

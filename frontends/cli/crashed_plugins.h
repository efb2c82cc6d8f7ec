// What the CLI says about plugins put aside after a crash.
#pragma once

#include "daemon_client.h"

#include <string>

namespace tails_server::cli {

// The record message of the crashed plugin named `service` (what happened,
// what to do), or "" if none is.
std::string crashed_plugin_message(tails_server::client::DaemonClient& client, const std::string& service);

// After the daemon died during a call: waits for systemd to restart it and
// says which plugin it put aside (the one named `service` first, if any).
std::string explain_stop(const std::string& service);

}  // namespace tails_server::cli

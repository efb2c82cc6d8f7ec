// tails-server autostart: run by tails-server-autostart.service at boot.
#pragma once

#include <chrono>

namespace tails_server::cli {

// Asks the daemon to enable every service marked autostart, printing their
// state changes. At boot the daemon may not be on the bus yet, or be in its
// restart after a plugin crashed it (the plugin is put aside on the second
// start): waits up to `daemon_wait` for it, and asks again when it died
// during the call. Throws ClientError otherwise.
void run_autostart(std::chrono::seconds daemon_wait, std::chrono::seconds timeout);

}  // namespace tails_server::cli

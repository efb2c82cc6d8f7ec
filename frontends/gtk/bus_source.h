// Runs an AsyncClient in the GLib main loop: a GSource that polls the bus's
// descriptor with the events and timeout sd-bus asks for, and processes the
// bus when it is ready. The GTK main loop never waits for the bus.
#pragma once

#include "async_client.h"

#include <glib.h>

namespace tails_server::gui {

class BusSource {
 public:
  explicit BusSource(client::AsyncClient& client);
  ~BusSource();
  BusSource(const BusSource&) = delete;
  BusSource& operator=(const BusSource&) = delete;

 private:
  GSource* source_ = nullptr;
};

}  // namespace tails_server::gui

// Owning pointers for sd-bus and sd-event objects (the daemon and the front ends).
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <memory>

namespace tails_server::dbus {

struct BusUnref {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct MessageUnref {
  void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};
struct SlotUnref {
  void operator()(sd_bus_slot* slot) const { sd_bus_slot_unref(slot); }
};
struct EventUnref {
  void operator()(sd_event* event) const { sd_event_unref(event); }
};

using BusPtr = std::unique_ptr<sd_bus, BusUnref>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;
using EventPtr = std::unique_ptr<sd_event, EventUnref>;

// A new reference to `message`.
inline MessagePtr ref(sd_bus_message* message) { return MessagePtr(sd_bus_message_ref(message)); }

}  // namespace tails_server::dbus

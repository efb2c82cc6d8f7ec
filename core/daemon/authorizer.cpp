#include "authorizer.h"

#include "bus_error.h"
#include "dbus/contract.h"
#include "dbus/sd_bus_ptr.h"
#include "util/log.h"

#include <memory>
#include <string>

namespace tails_server::daemon {
namespace {

constexpr std::uint32_t allow_user_interaction = 1;

struct CredsUnref {
  void operator()(sd_bus_creds* creds) const { sd_bus_creds_unref(creds); }
};

// The effective uid of the sender of `call`, from the bus driver.
uid_t sender_uid(sd_bus_message* call) {
  sd_bus_creds* raw = nullptr;
  check(sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &raw),
        "cannot read the caller's credentials");
  std::unique_ptr<sd_bus_creds, CredsUnref> creds(raw);
  uid_t uid = 0;
  check(sd_bus_creds_get_euid(creds.get(), &uid), "cannot read the caller's uid");
  return uid;
}

// Waits for polkit's answer; owned by the floating slot of the pending call.
struct PendingCheck {
  AuthorizationDone done;
  uid_t uid;
};

int on_polkit_reply(sd_bus_message* reply, void* userdata, sd_bus_error*) {
  auto* pending = static_cast<PendingCheck*>(userdata);
  AuthorizationDone done = std::move(pending->done);
  Denial denial;
  try {
    if (const sd_bus_error* error = sd_bus_message_get_error(reply)) {
      denial = std::string("polkit could not be asked: ") + (error->message ? error->message : error->name);
    } else {
      int authorized = 0, challenge = 0;
      check(sd_bus_message_enter_container(reply, 'r', "bba{ss}"), "cannot read polkit's answer");
      check(sd_bus_message_read(reply, "bb", &authorized, &challenge), "cannot read polkit's answer");
      if (!authorized)
        denial = challenge ? "polkit wants authentication, but no authentication agent answered"
                           : "polkit refused";
    }
  } catch (const std::exception& e) {
    denial = e.what();
  }
  log::info("polkit " + std::string(denial ? "denied" : "authorized") + " uid " +
            std::to_string(pending->uid));
  try {
    done(denial);
  } catch (...) {
    log::error("an authorization callback threw; its caller gets no reply");
  }
  return 0;
}

void delete_pending(void* userdata) { delete static_cast<PendingCheck*>(userdata); }

}  // namespace

PolkitAuthorizer::PolkitAuthorizer(sd_bus* bus, std::chrono::microseconds timeout)
    : bus_(bus), timeout_(timeout) {}

void PolkitAuthorizer::check(sd_bus_message* call, AuthorizationDone done) {
  Denial denial;
  try {
    uid_t uid = sender_uid(call);
    if (uid != 0) {  // root may do anything
      const char* sender = sd_bus_message_get_sender(call);
      if (!sender) throw BusError(dbus::error::access_denied, "the caller has no bus name");

      sd_bus_message* raw = nullptr;
      daemon::check(sd_bus_message_new_method_call(bus_, &raw, "org.freedesktop.PolicyKit1",
                                                   "/org/freedesktop/PolicyKit1/Authority",
                                                   "org.freedesktop.PolicyKit1.Authority",
                                                   "CheckAuthorization"),
                    "cannot build the polkit call");
      dbus::MessagePtr request(raw);
      // Subject ("system-bus-name", {"name": <sender>}), the action, no
      // details, AllowUserInteraction, no cancellation id.
      daemon::check(sd_bus_message_append(request.get(), "(sa{sv})sa{ss}us", "system-bus-name", 1, "name",
                                          "s", sender, dbus::manage_action, 0,
                                          allow_user_interaction, ""),
                    "cannot build the polkit call");

      auto pending = std::make_unique<PendingCheck>(PendingCheck{done, uid});
      sd_bus_slot* slot = nullptr;
      daemon::check(sd_bus_call_async(bus_, &slot, request.get(), on_polkit_reply, pending.get(),
                                      static_cast<std::uint64_t>(timeout_.count())),
                    "cannot call polkit");
      // The slot owns `pending` from here: freed after the reply, or with the
      // bus when the daemon exits first.
      sd_bus_slot_set_destroy_callback(slot, delete_pending);
      pending.release();
      sd_bus_slot_set_floating(slot, 1);
      sd_bus_slot_unref(slot);
      return;
    }
  } catch (const std::exception& e) {
    denial = e.what();
  }
  done(denial);
}

}  // namespace tails_server::daemon

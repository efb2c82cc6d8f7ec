// Who may manage services: root, or a caller polkit authorizes for
// org.boum.tails.server.manage.
#pragma once

#include <systemd/sd-bus.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace tails_server::daemon {

// nullopt when the caller is authorized, else why not (for the error text).
using Denial = std::optional<std::string>;
using AuthorizationDone = std::function<void(const Denial& denial)>;

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Decides whether the sender of the method call `call` may manage services
  // and calls `done` exactly once with the decision: right away, or later from
  // the event loop. Never throws: a failure to decide is a denial.
  virtual void check(sd_bus_message* call, AuthorizationDone done) = 0;
};

// Allows uid 0 at once. Asks polkit (CheckAuthorization over D-Bus, allowing
// user interaction) for anyone else, without blocking the event loop; a
// polkit that does not answer within `timeout`, or is not on the bus, means
// "denied".
class PolkitAuthorizer : public Authorizer {
 public:
  PolkitAuthorizer(sd_bus* bus, std::chrono::microseconds timeout);
  void check(sd_bus_message* call, AuthorizationDone done) override;

 private:
  sd_bus* bus_;
  std::chrono::microseconds timeout_;
};

}  // namespace tails_server::daemon

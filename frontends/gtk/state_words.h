// A service's state in words for people ("Online", "Installing… 45 %"), from
// the states of docs/dbus-api.md. Translatable.
#pragma once

#include <string>

namespace tails_server::gui {

// `state` as GetStatus or StateChanged gives it; `percent` is -1 without
// progress; `tor` as GetStatus gives it ("not running: …" wins over a
// running service's own state).
std::string state_in_words(const std::string& state, int percent = -1, const std::string& tor = "connected");

// True while an operation runs (a spinner shows, the switch waits).
bool state_is_busy(const std::string& state);
// True for the states in which the service is wanted on (the switch is on).
bool state_is_on(const std::string& state);

}  // namespace tails_server::gui

// Names of the daemon's D-Bus API, shared by tails-serverd and its clients.
// docs/dbus-api.md describes every method, signal and error.
#pragma once

namespace tails_server::dbus_api {

inline constexpr const char* bus_name = "org.boum.tails.Server";
inline constexpr const char* object_path = "/org/boum/tails/Server";
inline constexpr const char* interface = "org.boum.tails.Server1";

// The polkit action that mutating calls and secret reads need (unless the
// caller is root).
inline constexpr const char* manage_action = "org.boum.tails.server.manage";

// Error names. Each error's text is a complete sentence for the user.
namespace error {
inline constexpr const char* no_such_service = "org.boum.tails.Server.Error.NoSuchService";
inline constexpr const char* no_such_option = "org.boum.tails.Server.Error.NoSuchOption";
inline constexpr const char* invalid_value = "org.boum.tails.Server.Error.InvalidValue";
inline constexpr const char* state_error = "org.boum.tails.Server.Error.StateError";
inline constexpr const char* failed = "org.boum.tails.Server.Error.Failed";
inline constexpr const char* access_denied = "org.boum.tails.Server.Error.AccessDenied";
inline constexpr const char* busy = "org.boum.tails.Server.Error.Busy";
inline constexpr const char* not_installed = "org.boum.tails.Server.Error.NotInstalled";
inline constexpr const char* no_such_client = "org.boum.tails.Server.Error.NoSuchClient";
}  // namespace error

// The largest onion key file ImportKey accepts (a tor hs_ed25519_secret_key
// file has 96 bytes; an "ED25519-V3:" key about 100).
inline constexpr unsigned max_key_file_size = 4096;

// Signals.
inline constexpr const char* option_changed = "OptionChanged";
inline constexpr const char* state_changed = "StateChanged";

}  // namespace tails_server::dbus_api

// The names and limits of tails-serverd's D-Bus API, shared by the daemon and
// every front end. docs/dbus-api.md describes every method, signal and error;
// messages.h holds what each message carries, codec.h how it travels.
#pragma once

namespace tails_server::dbus {

inline constexpr const char* bus_name = "org.boum.tails.Server";
inline constexpr const char* object_path = "/org/boum/tails/Server";
inline constexpr const char* interface = "org.boum.tails.Server1";

// The polkit action that mutating calls and secret reads need (unless the
// caller is root).
inline constexpr const char* manage_action = "org.boum.tails.server.manage";

namespace method {
inline constexpr const char* list_services = "ListServices";
inline constexpr const char* list_plugins = "ListPlugins";
inline constexpr const char* retry_plugin = "RetryPlugin";
inline constexpr const char* get_info = "GetInfo";
inline constexpr const char* get_status = "GetStatus";
inline constexpr const char* get_options = "GetOptions";
inline constexpr const char* describe_options = "DescribeOptions";
inline constexpr const char* get_option = "GetOption";
inline constexpr const char* set_option = "SetOption";
inline constexpr const char* reset_option = "ResetOption";
inline constexpr const char* configure = "Configure";
inline constexpr const char* reapply_firewall = "ReapplyFirewall";
inline constexpr const char* autostart = "Autostart";
inline constexpr const char* run_command = "RunCommand";
inline constexpr const char* get_connection_info = "GetConnectionInfo";
inline constexpr const char* add_client = "AddClient";
inline constexpr const char* remove_client = "RemoveClient";
inline constexpr const char* list_clients = "ListClients";
inline constexpr const char* import_key = "ImportKey";
inline constexpr const char* install = "Install";
inline constexpr const char* enable = "Enable";
inline constexpr const char* disable = "Disable";
inline constexpr const char* uninstall = "Uninstall";
}  // namespace method

namespace signal {
inline constexpr const char* option_changed = "OptionChanged";
inline constexpr const char* state_changed = "StateChanged";
}  // namespace signal

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

// The type signature of each message body (messages.h names the struct).
namespace signature {
inline constexpr const char* none = "";
inline constexpr const char* text = "s";                      // GetOption, RunCommand, ImportKey, RetryPlugin replies
inline constexpr const char* names = "as";                    // ListClients reply
inline constexpr const char* service_call = "s";              // a call naming one service (or plugin: RetryPlugin)
inline constexpr const char* option_call = "ss";              // GetOption, ResetOption
inline constexpr const char* set_option_call = "sss";         // SetOption
inline constexpr const char* client_call = "ss";              // AddClient, RemoveClient
inline constexpr const char* run_command_call = "ssass";      // RunCommand
inline constexpr const char* import_key_call = "say";         // ImportKey
inline constexpr const char* service_list = "a(ssbbbssss)";   // ListServices reply
inline constexpr const char* plugin_list = "a(sssss)";         // ListPlugins reply
inline constexpr const char* service_details = "a{sv}";       // GetInfo reply
inline constexpr const char* status = "bbbbssss";             // GetStatus reply
inline constexpr const char* option_list = "a(sssssbbb)";     // GetOptions reply
inline constexpr const char* option_forms = "a((sssssbbb)ssxxasub)";  // DescribeOptions reply
inline constexpr const char* option_change = "ss";            // SetOption, ResetOption replies
inline constexpr const char* connection_info = "a(ss)s";      // GetConnectionInfo reply
inline constexpr const char* credential = "sssss";            // AddClient reply
inline constexpr const char* state_change = "ssis";           // StateChanged
inline constexpr const char* option_changed = "ss";           // OptionChanged
// Inside a GetInfo value: the service's commands.
inline constexpr const char* commands = "a(ssasb)";
}  // namespace signature

// The keys of GetInfo's a{sv}. Clients ignore keys they do not know.
namespace info_key {
inline constexpr const char* name = "name";
inline constexpr const char* name_in_gui = "name-in-gui";
inline constexpr const char* description = "description";
inline constexpr const char* client_application = "client-application";
inline constexpr const char* client_application_in_gui = "client-application-in-gui";
inline constexpr const char* documentation = "documentation";
inline constexpr const char* icon_name = "icon-name";
inline constexpr const char* systemd_service = "systemd-service";
inline constexpr const char* packages = "packages";
inline constexpr const char* persistent_paths = "persistent-paths";
inline constexpr const char* local_port = "local-port";
inline constexpr const char* virtual_port = "virtual-port";
// The same value under its old name, sent for clients of 1.0; read if
// virtual-port is missing.
inline constexpr const char* remote_port = "remote-port";
inline constexpr const char* commands = "commands";
inline constexpr const char* state_error = "state-error";
inline constexpr const char* installed = "installed";
inline constexpr const char* running = "running";
inline constexpr const char* published = "published";
inline constexpr const char* enabled = "enabled";
inline constexpr const char* address = "address";
inline constexpr const char* state = "state";
inline constexpr const char* operation = "operation";
inline constexpr const char* onion = "onion";
inline constexpr const char* tor = "tor";
}  // namespace info_key

// The largest onion key file ImportKey accepts (a tor hs_ed25519_secret_key
// file has 96 bytes; an "ED25519-V3:" key about 100).
inline constexpr unsigned max_key_file_size = 4096;

// Sizes checked before polkit is asked, so that no caller holds the
// daemon's memory through a pending authorization; a larger call is
// answered InvalidValue.
inline constexpr unsigned max_name_size = 256;          // a service, option, command or client name
inline constexpr unsigned max_value_size = 64 * 1024;   // an option value, a command argument or secret
inline constexpr unsigned max_command_arguments = 16;   // RunCommand's arguments
// Authorization checks one user may have pending at once, over all their
// connections (polkit may wait 90 s for an answer); beyond, calls are
// answered Busy.
inline constexpr unsigned max_pending_authorizations = 4;

}  // namespace tails_server::dbus

// What each message of tails-serverd's D-Bus API carries, as plain structs
// (docs/dbus-api.md). Signature<T>::value is the type signature of a message
// body holding a T; codec.h encodes and decodes them.
#pragma once

#include "contract.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tails_server::dbus {

// Calls.

// Any call that names one service: GetInfo, GetStatus, GetOptions, Configure,
// GetConnectionInfo, ListClients, Install, Enable, Disable, Uninstall.
struct ServiceCall {
  std::string service;
  bool operator==(const ServiceCall&) const = default;
};

// GetOption, ResetOption.
struct OptionCall {
  std::string service;
  std::string option;
  bool operator==(const OptionCall&) const = default;
};

struct SetOptionCall {
  std::string service;
  std::string option;
  std::string value;
  bool operator==(const SetOptionCall&) const = default;
};

// AddClient, RemoveClient.
struct ClientCall {
  std::string service;
  std::string name;
  bool operator==(const ClientCall&) const = default;
};

struct RunCommandCall {
  std::string service;
  std::string command;
  std::vector<std::string> arguments;
  std::string secret;  // empty unless the command reads a secret
  bool operator==(const RunCommandCall&) const = default;
};

struct ImportKeyCall {
  std::string service;
  std::string key_file;  // the bytes of the key file
  bool operator==(const ImportKeyCall&) const = default;
};

// Replies.

// One entry of ListServices.
struct ServiceSummary {
  std::string name;
  std::string description;
  bool installed = false;
  bool running = false;
  bool published = false;
  std::string address;
  std::string state;  // "running", "stopped-unexpectedly", ... (docs/dbus-api.md)
  std::string onion;  // "", "pending", "announcing", "published" or "error: ..."
  std::string tor;    // "connected", "connecting" or "not running: ..."
  bool operator==(const ServiceSummary&) const = default;
};
using ServiceList = std::vector<ServiceSummary>;

// One entry of ListPlugins.
struct PluginSummary {
  std::string file;
  std::string name;
  std::string state;  // "loaded", "insecure", ...
  std::string message;
  std::string sdk_version;  // "MAJOR.MINOR" the plugin was built against; empty if unknown
  bool operator==(const PluginSummary&) const = default;
};
using PluginList = std::vector<PluginSummary>;

// GetStatus; also part of GetInfo.
struct Status {
  bool installed = false;
  bool running = false;
  bool published = false;
  bool enabled = false;
  std::string address;
  std::string state;
  std::string onion;  // as in ServiceSummary
  std::string tor;
  bool operator==(const Status&) const = default;
};

// A command of a service (GetInfo's "commands").
struct Command {
  std::string name;
  std::string description;
  std::vector<std::string> arguments;
  bool reads_secret = false;
  bool operator==(const Command&) const = default;
};

// GetInfo: the service's attributes and status (an a{sv}; a key a decoder
// does not know, or of an unexpected type, is skipped).
struct ServiceDetails {
  std::string name;
  std::string name_in_gui;
  std::string description;
  std::string client_application;
  std::string client_application_in_gui;
  std::string documentation;
  std::string icon_name;
  std::string systemd_service;
  std::vector<std::string> packages;
  std::vector<std::string> persistent_paths;
  std::uint16_t local_port = 0;
  std::uint16_t virtual_port = 0;
  std::vector<Command> commands;
  std::string state_error;
  Status status;
  std::string operation;  // e.g. "installing 45%", or empty
  bool operator==(const ServiceDetails&) const = default;
};

// One entry of GetOptions.
struct Option {
  std::string name;
  std::string type;
  std::string value;  // masked for secrets
  std::string description;
  std::string accepted;
  bool secret = false;
  bool read_only = false;
  bool is_default = true;
  bool operator==(const Option&) const = default;
};
using OptionList = std::vector<Option>;

// One entry of DescribeOptions: an option and what a form needs to show it.
struct OptionForm {
  Option option;             // as GetOptions gives it
  std::string label;         // the name in the GUI (the option's name if the plugin gave none)
  std::string group;         // "service", "onion" or "tails" (persistence, autostart, access)
  std::int64_t minimum = 0;  // integer and port: the bounds; both 0 for other types
  std::int64_t maximum = 0;
  std::vector<std::string> choices;  // enum: the accepted values
  std::uint32_t max_length = 0;      // string and secret: the longest value; 0 for other types
  bool generated = false;            // a secret the daemon generates (ResetOption makes a new one)
  bool operator==(const OptionForm&) const = default;
};
using OptionFormList = std::vector<OptionForm>;

// The reply of SetOption and ResetOption.
struct OptionChange {
  std::string value;    // canonical
  std::string warning;  // for the user, or empty
  bool operator==(const OptionChange&) const = default;
};

// GetConnectionInfo.
struct ConnectionInfo {
  std::vector<std::pair<std::string, std::string>> fields;  // (label, value)
  std::string instructions;
  bool operator==(const ConnectionInfo&) const = default;
};

// AddClient: a client's credential, shown once.
struct Credential {
  std::string name;
  std::string address;
  std::string tor_browser_key;
  std::string auth_private;
  std::string onion_client_auth_add;
  bool operator==(const Credential&) const = default;
};

// Signals.

struct StateChange {
  std::string service;
  std::string state;
  int percent = -1;  // 0..100, or -1 when the step has no progress
  std::string message;
  bool operator==(const StateChange&) const = default;
};

struct OptionChanged {
  std::string service;
  std::string option;
  bool operator==(const OptionChanged&) const = default;
};

// The signature of a message body holding a T.
template <class T>
struct Signature;
template <const char* const& S>
struct SignatureIs {
  static constexpr const char* value = S;
};
template <> struct Signature<std::string> : SignatureIs<signature::text> {};
template <> struct Signature<std::vector<std::string>> : SignatureIs<signature::names> {};
template <> struct Signature<ServiceCall> : SignatureIs<signature::service_call> {};
template <> struct Signature<OptionCall> : SignatureIs<signature::option_call> {};
template <> struct Signature<SetOptionCall> : SignatureIs<signature::set_option_call> {};
template <> struct Signature<ClientCall> : SignatureIs<signature::client_call> {};
template <> struct Signature<RunCommandCall> : SignatureIs<signature::run_command_call> {};
template <> struct Signature<ImportKeyCall> : SignatureIs<signature::import_key_call> {};
template <> struct Signature<ServiceList> : SignatureIs<signature::service_list> {};
template <> struct Signature<PluginList> : SignatureIs<signature::plugin_list> {};
template <> struct Signature<ServiceDetails> : SignatureIs<signature::service_details> {};
template <> struct Signature<Status> : SignatureIs<signature::status> {};
template <> struct Signature<OptionList> : SignatureIs<signature::option_list> {};
template <> struct Signature<OptionFormList> : SignatureIs<signature::option_forms> {};
template <> struct Signature<OptionChange> : SignatureIs<signature::option_change> {};
template <> struct Signature<ConnectionInfo> : SignatureIs<signature::connection_info> {};
template <> struct Signature<Credential> : SignatureIs<signature::credential> {};
template <> struct Signature<StateChange> : SignatureIs<signature::state_change> {};
template <> struct Signature<OptionChanged> : SignatureIs<signature::option_changed> {};

}  // namespace tails_server::dbus

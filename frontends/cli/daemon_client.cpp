#include "daemon_client.h"

#include "dbus_api.h"

#include <csignal>
#include <cstring>
#include <string_view>

namespace tails_server::cli {
namespace {

// Mutating calls may wait for a polkit password prompt and, later, for apt.
constexpr std::uint64_t long_call_usec = 300ull * 1000 * 1000;

// The one place where sd-bus return codes become exceptions.
int check(int r, std::string_view what) {
  if (r < 0)
    throw ClientError(ExitCode::failed, std::string(what) + ": " + std::strerror(-r));
  return r;
}

constexpr std::string_view reading = "cannot read tails-serverd's reply";
constexpr std::string_view writing = "cannot build the call";

std::string read_string(sd_bus_message* m) {
  const char* value = nullptr;
  check(sd_bus_message_read_basic(m, 's', &value), reading);
  return value;
}

bool read_bool(sd_bus_message* m) {
  int value = 0;
  check(sd_bus_message_read_basic(m, 'b', &value), reading);
  return value != 0;
}

std::vector<std::string> read_strings(sd_bus_message* m) {
  std::vector<std::string> values;
  check(sd_bus_message_enter_container(m, 'a', "s"), reading);
  const char* value = nullptr;
  while (check(sd_bus_message_read_basic(m, 's', &value), reading) > 0) values.emplace_back(value);
  check(sd_bus_message_exit_container(m), reading);
  return values;
}

// Enters the next struct of an array; false at the end of the array.
bool enter_struct(sd_bus_message* m, const char* contents) {
  return check(sd_bus_message_enter_container(m, 'r', contents), reading) > 0;
}
void exit_container(sd_bus_message* m) { check(sd_bus_message_exit_container(m), reading); }

void append_string(sd_bus_message* m, const std::string& value) {
  check(sd_bus_message_append_basic(m, 's', value.c_str()), writing);
}

}  // namespace

ExitCode exit_code_for(std::string_view name) {
  namespace error = dbus_api::error;
  if (name == error::no_such_service) return ExitCode::no_such_service;
  if (name == error::no_such_option) return ExitCode::no_such_option;
  if (name == error::invalid_value) return ExitCode::invalid_value;
  if (name == error::state_error) return ExitCode::state_error;
  if (name == error::busy) return ExitCode::busy;
  if (name == error::not_installed) return ExitCode::not_installed;
  if (name == error::no_such_client) return ExitCode::no_such_client;
  if (name == error::access_denied || name == SD_BUS_ERROR_ACCESS_DENIED) return ExitCode::access_denied;
  if (name == SD_BUS_ERROR_SERVICE_UNKNOWN || name == SD_BUS_ERROR_NAME_HAS_NO_OWNER)
    return ExitCode::unreachable;
  return ExitCode::failed;
}

static std::string unreachable_message(std::string_view reason) {
  return "cannot reach tails-serverd on the system bus (" + std::string(reason) +
         "); start it with: sudo systemctl start tails-serverd";
}

// The ClientError for a failed call: `error` as the daemon or the bus sent
// it, and `errno_value` (positive) when there is no error name.
static ClientError call_error(const sd_bus_error* error, int errno_value) {
  std::string name = error && error->name ? error->name : "";
  std::string message = error && error->message ? error->message : std::strerror(errno_value);
  ExitCode code = exit_code_for(name);
  if (code == ExitCode::unreachable || name.empty() || name == SD_BUS_ERROR_DISCONNECTED)
    return ClientError(ExitCode::unreachable, unreachable_message(message));
  return ClientError(code, message);
}

DaemonClient::DaemonClient() {
  int r = sd_bus_open_system(&bus_);
  if (r < 0) throw ClientError(ExitCode::unreachable, unreachable_message(std::strerror(-r)));
}

DaemonClient::~DaemonClient() {
  sd_bus_slot_unref(state_match_);
  sd_bus_slot_unref(disconnect_filter_);
  if (event_) {
    sd_bus_detach_event(bus_);
    sd_event_unref(event_);
  }
  sd_bus_flush_close_unref(bus_);
}

DaemonClient::MessagePtr DaemonClient::new_call(const char* method) {
  sd_bus_message* raw = nullptr;
  check(sd_bus_message_new_method_call(bus_, &raw, dbus_api::bus_name, dbus_api::object_path,
                                       dbus_api::interface, method),
        writing);
  MessagePtr call(raw);
  // Fail at once when the daemon is not running rather than activate it.
  check(sd_bus_message_set_auto_start(call.get(), 0), writing);
  // Let polkit ask for a password in the caller's session.
  check(sd_bus_message_set_allow_interactive_authorization(call.get(), 1), writing);
  return call;
}

DaemonClient::MessagePtr DaemonClient::send(MessagePtr call, std::uint64_t timeout_usec) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call(bus_, call.get(), timeout_usec, &error, &reply);
  if (r < 0) {
    ClientError failure = call_error(&error, -r);
    sd_bus_error_free(&error);
    throw failure;
  }
  return MessagePtr(reply);
}

std::vector<ServiceSummary> DaemonClient::list_services() {
  MessagePtr reply = send(new_call("ListServices"));
  std::vector<ServiceSummary> services;
  sd_bus_message* m = reply.get();
  check(sd_bus_message_enter_container(m, 'a', "(ssbbbssss)"), reading);
  while (enter_struct(m, "ssbbbssss")) {
    ServiceSummary s;
    s.name = read_string(m);
    s.description = read_string(m);
    s.installed = read_bool(m);
    s.running = read_bool(m);
    s.published = read_bool(m);
    s.address = read_string(m);
    s.state = read_string(m);
    s.onion = read_string(m);
    s.tor = read_string(m);
    exit_container(m);
    services.push_back(std::move(s));
  }
  exit_container(m);
  return services;
}

std::vector<PluginSummary> DaemonClient::list_plugins() {
  MessagePtr reply = send(new_call("ListPlugins"));
  std::vector<PluginSummary> plugins;
  sd_bus_message* m = reply.get();
  check(sd_bus_message_enter_container(m, 'a', "(ssss)"), reading);
  while (enter_struct(m, "ssss")) {
    PluginSummary p;
    p.file = read_string(m);
    p.name = read_string(m);
    p.state = read_string(m);
    p.message = read_string(m);
    exit_container(m);
    plugins.push_back(std::move(p));
  }
  exit_container(m);
  return plugins;
}

Details DaemonClient::info(const std::string& service) {
  MessagePtr call = new_call("GetInfo");
  append_string(call.get(), service);
  MessagePtr reply = send(std::move(call));
  sd_bus_message* m = reply.get();
  Details d;
  check(sd_bus_message_enter_container(m, 'a', "{sv}"), reading);
  while (check(sd_bus_message_enter_container(m, 'e', "sv"), reading) > 0) {
    std::string key = read_string(m);
    const char* contents = nullptr;
    check(sd_bus_message_peek_type(m, nullptr, &contents), reading);
    std::string type = contents ? contents : "";
    check(sd_bus_message_enter_container(m, 'v', contents), reading);
    auto text = [&](std::string& field) {
      if (type == "s") field = read_string(m); else check(sd_bus_message_skip(m, type.c_str()), reading);
    };
    auto flag = [&](bool& field) {
      if (type == "b") field = read_bool(m); else check(sd_bus_message_skip(m, type.c_str()), reading);
    };
    auto port = [&](std::uint16_t& field) {
      if (type == "q") check(sd_bus_message_read_basic(m, 'q', &field), reading);
      else check(sd_bus_message_skip(m, type.c_str()), reading);
    };
    auto list = [&](std::vector<std::string>& field) {
      if (type == "as") field = read_strings(m); else check(sd_bus_message_skip(m, type.c_str()), reading);
    };
    if (key == "name") text(d.name);
    else if (key == "description") text(d.description);
    else if (key == "client-application") text(d.client_application);
    else if (key == "documentation") text(d.documentation);
    else if (key == "systemd-service") text(d.systemd_service);
    else if (key == "packages") list(d.packages);
    else if (key == "persistent-paths") list(d.persistent_paths);
    else if (key == "local-port") port(d.local_port);
    else if (key == "remote-port") port(d.remote_port);
    else if (key == "state-error") text(d.state_error);
    else if (key == "installed") flag(d.status.installed);
    else if (key == "running") flag(d.status.running);
    else if (key == "published") flag(d.status.published);
    else if (key == "enabled") flag(d.status.enabled);
    else if (key == "address") text(d.status.address);
    else if (key == "state") text(d.status.state);
    else if (key == "onion") text(d.status.onion);
    else if (key == "tor") text(d.status.tor);
    else if (key == "commands" && type == "a(ssasb)") {
      check(sd_bus_message_enter_container(m, 'a', "(ssasb)"), reading);
      while (enter_struct(m, "ssasb")) {
        Command c;
        c.name = read_string(m);
        c.description = read_string(m);
        c.arguments = read_strings(m);
        c.reads_secret = read_bool(m);
        exit_container(m);
        d.commands.push_back(std::move(c));
      }
      exit_container(m);
    } else {
      check(sd_bus_message_skip(m, type.c_str()), reading);  // a key from a newer daemon
    }
    exit_container(m);  // variant
    exit_container(m);  // dict entry
  }
  exit_container(m);
  return d;
}

Status DaemonClient::status(const std::string& service) {
  MessagePtr call = new_call("GetStatus");
  append_string(call.get(), service);
  MessagePtr reply = send(std::move(call));
  Status s;
  s.installed = read_bool(reply.get());
  s.running = read_bool(reply.get());
  s.published = read_bool(reply.get());
  s.enabled = read_bool(reply.get());
  s.address = read_string(reply.get());
  s.state = read_string(reply.get());
  s.onion = read_string(reply.get());
  s.tor = read_string(reply.get());
  return s;
}

std::vector<Option> DaemonClient::options(const std::string& service) {
  MessagePtr call = new_call("GetOptions");
  append_string(call.get(), service);
  MessagePtr reply = send(std::move(call));
  sd_bus_message* m = reply.get();
  std::vector<Option> options;
  check(sd_bus_message_enter_container(m, 'a', "(sssssbbb)"), reading);
  while (enter_struct(m, "sssssbbb")) {
    Option o;
    o.name = read_string(m);
    o.type = read_string(m);
    o.value = read_string(m);
    o.description = read_string(m);
    o.accepted = read_string(m);
    o.secret = read_bool(m);
    o.read_only = read_bool(m);
    o.is_default = read_bool(m);
    exit_container(m);
    options.push_back(std::move(o));
  }
  exit_container(m);
  return options;
}

std::string DaemonClient::get_option(const std::string& service, const std::string& option) {
  MessagePtr call = new_call("GetOption");
  append_string(call.get(), service);
  append_string(call.get(), option);
  MessagePtr reply = send(std::move(call), long_call_usec);
  return read_string(reply.get());
}

OptionChange DaemonClient::set_option(const std::string& service, const std::string& option,
                                      const std::string& value) {
  MessagePtr call = new_call("SetOption");
  append_string(call.get(), service);
  append_string(call.get(), option);
  append_string(call.get(), value);
  MessagePtr reply = send(std::move(call), long_call_usec);
  OptionChange change;
  change.value = read_string(reply.get());
  change.warning = read_string(reply.get());
  return change;
}

OptionChange DaemonClient::reset_option(const std::string& service, const std::string& option) {
  MessagePtr call = new_call("ResetOption");
  append_string(call.get(), service);
  append_string(call.get(), option);
  MessagePtr reply = send(std::move(call), long_call_usec);
  OptionChange change;
  change.value = read_string(reply.get());
  change.warning = read_string(reply.get());
  return change;
}

void DaemonClient::configure(const std::string& service) {
  MessagePtr call = new_call("Configure");
  append_string(call.get(), service);
  send(std::move(call), long_call_usec);
}

std::string DaemonClient::run_command(const std::string& service, const std::string& command,
                                      const std::vector<std::string>& arguments,
                                      const std::string& secret) {
  MessagePtr call = new_call("RunCommand");
  append_string(call.get(), service);
  append_string(call.get(), command);
  check(sd_bus_message_open_container(call.get(), 'a', "s"), writing);
  for (const auto& argument : arguments) append_string(call.get(), argument);
  check(sd_bus_message_close_container(call.get()), writing);
  append_string(call.get(), secret);
  MessagePtr reply = send(std::move(call), long_call_usec);
  return read_string(reply.get());
}

Connection DaemonClient::connection_info(const std::string& service) {
  MessagePtr call = new_call("GetConnectionInfo");
  append_string(call.get(), service);
  MessagePtr reply = send(std::move(call), long_call_usec);
  sd_bus_message* m = reply.get();
  Connection c;
  check(sd_bus_message_enter_container(m, 'a', "(ss)"), reading);
  while (enter_struct(m, "ss")) {
    std::string label = read_string(m);
    std::string value = read_string(m);
    c.fields.emplace_back(std::move(label), std::move(value));
    exit_container(m);
  }
  exit_container(m);
  c.instructions = read_string(m);
  return c;
}

Credential DaemonClient::add_client(const std::string& service, const std::string& name) {
  MessagePtr call = new_call("AddClient");
  append_string(call.get(), service);
  append_string(call.get(), name);
  MessagePtr reply = send(std::move(call), long_call_usec);
  sd_bus_message* m = reply.get();
  Credential c;
  c.name = read_string(m);
  c.address = read_string(m);
  c.tor_browser_key = read_string(m);
  c.auth_private = read_string(m);
  c.onion_client_auth_add = read_string(m);
  return c;
}

void DaemonClient::remove_client(const std::string& service, const std::string& name) {
  MessagePtr call = new_call("RemoveClient");
  append_string(call.get(), service);
  append_string(call.get(), name);
  send(std::move(call), long_call_usec);
}

std::vector<std::string> DaemonClient::list_clients(const std::string& service) {
  MessagePtr call = new_call("ListClients");
  append_string(call.get(), service);
  MessagePtr reply = send(std::move(call), long_call_usec);
  return read_strings(reply.get());
}

std::string DaemonClient::import_key(const std::string& service, const std::string& key_file_contents) {
  MessagePtr call = new_call("ImportKey");
  append_string(call.get(), service);
  check(sd_bus_message_append_array(call.get(), 'y', key_file_contents.data(), key_file_contents.size()),
        writing);
  MessagePtr reply = send(std::move(call), long_call_usec);
  return read_string(reply.get());
}

void DaemonClient::ping() {
  sd_bus_message* raw = nullptr;
  check(sd_bus_message_new_method_call(bus_, &raw, dbus_api::bus_name, dbus_api::object_path,
                                       "org.freedesktop.DBus.Peer", "Ping"),
        writing);
  MessagePtr call(raw);
  check(sd_bus_message_set_auto_start(call.get(), 0), writing);
  send(std::move(call));
}

void DaemonClient::watch_states(StateHandler handler) {
  state_handler_ = std::move(handler);
  if (state_match_) return;
  auto on_signal = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto& self = *static_cast<DaemonClient*>(userdata);
    const char *service = nullptr, *state = nullptr, *message = nullptr;
    int percent = -1;
    if (sd_bus_message_read(m, "ssis", &service, &state, &percent, &message) < 0) return 0;  // not ours
    if (self.state_handler_) self.state_handler_(StateChange{service, state, percent, message});
    return 0;
  };
  // Synchronous: the bus has the match when this returns.
  int r = sd_bus_match_signal(bus_, &state_match_, dbus_api::bus_name, dbus_api::object_path,
                              dbus_api::interface, dbus_api::state_changed, on_signal, this);
  if (r < 0) throw ClientError(ExitCode::unreachable, unreachable_message(std::strerror(-r)));
}

sd_event* DaemonClient::event() {
  if (event_) return event_;
  // SIGINT and SIGTERM end the loop (by signalfd), so that the caller can
  // finish its output line and say what goes on.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  check(sd_event_new(&event_), "cannot create an event loop");
  auto on_signal = [](sd_event_source*, const signalfd_siginfo*, void* userdata) -> int {
    static_cast<DaemonClient*>(userdata)->stop(ExitCode::interrupted);
    return 0;
  };
  for (int signal : {SIGINT, SIGTERM})
    check(sd_event_add_signal(event_, nullptr, signal, on_signal, this), "cannot watch signals");
  check(sd_bus_attach_event(bus_, event_, SD_EVENT_PRIORITY_NORMAL), "cannot attach the bus to the event loop");
  // sd-bus hands the local Disconnected signal to filters when the bus goes.
  auto on_message = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected") > 0) {
      auto& self = *static_cast<DaemonClient*>(userdata);
      self.disconnected_ = true;
      self.stop(ExitCode::unreachable);
    }
    return 0;
  };
  check(sd_bus_add_filter(bus_, &disconnect_filter_, on_message, this), "cannot watch the bus connection");
  return event_;
}

int DaemonClient::run_loop() {
  sd_event* loop = event();
  stopped_ = false;
  while (!stopped_) {
    int r = sd_event_run(loop, UINT64_MAX);
    if (r < 0) throw ClientError(ExitCode::failed, std::string("the event loop failed: ") + std::strerror(-r));
  }
  if (disconnected_) throw ClientError(ExitCode::unreachable, unreachable_message("disconnected"));
  return stop_code_;
}

void DaemonClient::call_long(const char* method, const std::string& service, std::chrono::seconds timeout) {
  MessagePtr call = new_call(method);
  if (!service.empty()) append_string(call.get(), service);
  struct Pending {
    DaemonClient* client;
    MessagePtr reply;
  } pending{this, nullptr};
  auto on_reply = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto& pending = *static_cast<Pending*>(userdata);
    pending.reply.reset(sd_bus_message_ref(m));
    pending.client->stop(0);
    return 0;
  };
  event();
  sd_bus_slot* raw_slot = nullptr;
  check(sd_bus_call_async(bus_, &raw_slot, call.get(), on_reply, &pending,
                          std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()),
        "cannot call tails-serverd");
  // Dropping the slot forgets the call (no reply callback into a gone Pending).
  std::unique_ptr<sd_bus_slot, sd_bus_slot* (*)(sd_bus_slot*)> slot(raw_slot, sd_bus_slot_unref);
  int r = run_loop();
  if (r == ExitCode::interrupted)
    throw ClientError(ExitCode::interrupted,
                      "interrupted; tails-serverd goes on (tails-server monitor " + service + " follows it)");
  if (!pending.reply) throw ClientError(ExitCode::unreachable, unreachable_message("no reply"));
  const sd_bus_error* error = sd_bus_message_get_error(pending.reply.get());
  if (!error) return;
  std::string name = error->name ? error->name : "";
  if (sd_bus_is_open(bus_) <= 0)  // the bus went: sd-bus made this error up
    throw ClientError(ExitCode::unreachable, unreachable_message(error->message ? error->message : name));
  if (name == SD_BUS_ERROR_NO_REPLY || name == SD_BUS_ERROR_TIMEOUT)
    throw ClientError(ExitCode::failed, "tails-serverd gave no answer (" +
                                            std::string(error->message ? error->message : name) +
                                            "); see tails-server status " + service);
  throw call_error(error, sd_bus_message_get_errno(pending.reply.get()));
}

void DaemonClient::monitor() { run_loop(); }

}  // namespace tails_server::cli

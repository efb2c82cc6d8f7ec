#include "daemon_client.h"

#include "daemon_signal.h"

#include "dbus/codec.h"
#include "dbus/contract.h"

#include <csignal>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace tails_server::client {
namespace {

// Mutating calls may wait for a polkit password prompt and, later, for apt.
constexpr std::uint64_t long_call_usec = 300ull * 1000 * 1000;

// The one place where sd-bus return codes become exceptions.
int check(int r, std::string_view what) {
  if (r < 0)
    throw ClientError(ErrorKind::failed, std::string(what) + ": " + std::strerror(-r));
  return r;
}

constexpr std::string_view writing = "cannot build the call";

// Why run_loop() stopped.
constexpr int interrupted_code = 1, disconnected_code = 2;

}  // namespace

DaemonClient::DaemonClient() {
  int r = sd_bus_open_system(&bus_);
  if (r < 0) throw ClientError(ErrorKind::unreachable, unreachable_message(std::strerror(-r)));
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
  check(sd_bus_message_new_method_call(bus_, &raw, dbus::bus_name, dbus::object_path,
                                       dbus::interface, method),
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
    ClientError failure = error_from_bus(&error, -r);
    sd_bus_error_free(&error);
    throw failure;
  }
  return MessagePtr(reply);
}

template <class Reply, class... Arguments>
Reply DaemonClient::call(const char* method, std::uint64_t timeout_usec, const Arguments&... arguments) {
  MessagePtr message = new_call(method);
  try {
    (dbus::encode(message.get(), arguments), ...);
  } catch (const dbus::TextError& e) {
    throw ClientError(ErrorKind::invalid_value, std::string("cannot send ") + method + ": " + e.what());
  } catch (const dbus::CodecError& e) {
    throw ClientError(ErrorKind::failed, std::string(writing) + " " + method + ": " + e.what());
  }
  MessagePtr reply = send(std::move(message), timeout_usec);
  if constexpr (!std::is_void_v<Reply>) {
    try {
      return dbus::decode<Reply>(reply.get());
    } catch (const dbus::CodecError& e) {
      throw ClientError(ErrorKind::failed, std::string("tails-serverd's reply to ") + method + ": " + e.what());
    }
  }
}

std::vector<ServiceSummary> DaemonClient::list_services() {
  return call<dbus::ServiceList>(dbus::method::list_services, 0);
}

std::vector<PluginSummary> DaemonClient::list_plugins() {
  return call<dbus::PluginList>(dbus::method::list_plugins, 0);
}

ServiceDetails DaemonClient::info(const std::string& service) {
  return call<ServiceDetails>(dbus::method::get_info, 0, dbus::ServiceCall{service});
}

Status DaemonClient::status(const std::string& service) {
  return call<Status>(dbus::method::get_status, 0, dbus::ServiceCall{service});
}

std::vector<Option> DaemonClient::options(const std::string& service) {
  return call<dbus::OptionList>(dbus::method::get_options, 0, dbus::ServiceCall{service});
}

std::string DaemonClient::retry_plugin(const std::string& plugin) {
  return call<std::string>(dbus::method::retry_plugin, long_call_usec, dbus::ServiceCall{plugin});
}

std::string DaemonClient::get_option(const std::string& service, const std::string& option) {
  return call<std::string>(dbus::method::get_option, long_call_usec, dbus::OptionCall{service, option});
}

OptionChange DaemonClient::set_option(const std::string& service, const std::string& option,
                                      const std::string& value) {
  return call<OptionChange>(dbus::method::set_option, long_call_usec, dbus::SetOptionCall{service, option, value});
}

OptionChange DaemonClient::reset_option(const std::string& service, const std::string& option) {
  return call<OptionChange>(dbus::method::reset_option, long_call_usec, dbus::OptionCall{service, option});
}

void DaemonClient::configure(const std::string& service) {
  call<void>(dbus::method::configure, long_call_usec, dbus::ServiceCall{service});
}

std::string DaemonClient::run_command(const std::string& service, const std::string& command,
                                      const std::vector<std::string>& arguments,
                                      const std::string& secret) {
  return call<std::string>(dbus::method::run_command, long_call_usec,
                           dbus::RunCommandCall{service, command, arguments, secret});
}

ConnectionInfo DaemonClient::connection_info(const std::string& service) {
  return call<ConnectionInfo>(dbus::method::get_connection_info, long_call_usec, dbus::ServiceCall{service});
}

Credential DaemonClient::add_client(const std::string& service, const std::string& name) {
  return call<Credential>(dbus::method::add_client, long_call_usec, dbus::ClientCall{service, name});
}

void DaemonClient::remove_client(const std::string& service, const std::string& name) {
  call<void>(dbus::method::remove_client, long_call_usec, dbus::ClientCall{service, name});
}

std::vector<std::string> DaemonClient::list_clients(const std::string& service) {
  return call<std::vector<std::string>>(dbus::method::list_clients, long_call_usec, dbus::ServiceCall{service});
}

std::string DaemonClient::import_key(const std::string& service, const std::string& key_file_contents) {
  return call<std::string>(dbus::method::import_key, long_call_usec, dbus::ImportKeyCall{service, key_file_contents});
}

void DaemonClient::ping() {
  sd_bus_message* raw = nullptr;
  check(sd_bus_message_new_method_call(bus_, &raw, dbus::bus_name, dbus::object_path,
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
    return dispatch_signal<StateChange>(m, static_cast<DaemonClient*>(userdata)->state_handler_);
  };
  // Synchronous: the bus has the match when this returns.
  int r = sd_bus_match_signal(bus_, &state_match_, dbus::bus_name, dbus::object_path,
                              dbus::interface, dbus::signal::state_changed, on_signal, this);
  if (r < 0) throw ClientError(ErrorKind::unreachable, unreachable_message(std::strerror(-r)));
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
    static_cast<DaemonClient*>(userdata)->stop(interrupted_code);
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
      self.stop(disconnected_code);
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
    if (r < 0) throw ClientError(ErrorKind::failed, std::string("the event loop failed: ") + std::strerror(-r));
  }
  if (disconnected_) throw ClientError(ErrorKind::unreachable, unreachable_message("disconnected"));
  return stop_code_;
}

void DaemonClient::call_long(const char* method, const std::string& service, std::chrono::seconds timeout) {
  MessagePtr call = new_call(method);
  if (!service.empty()) dbus::encode(call.get(), dbus::ServiceCall{service});
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
  dbus::SlotPtr slot(raw_slot);
  int r = run_loop();
  if (r == interrupted_code)
    throw ClientError(ErrorKind::interrupted,
                      "interrupted; tails-serverd goes on (tails-server monitor " + service + " follows it)");
  if (!pending.reply) throw ClientError(ErrorKind::unreachable, unreachable_message("no reply"));
  const sd_bus_error* error = sd_bus_message_get_error(pending.reply.get());
  if (!error) return;
  std::string name = error->name ? error->name : "";
  if (sd_bus_is_open(bus_) <= 0)  // the bus went: sd-bus made this error up
    throw ClientError(ErrorKind::unreachable, unreachable_message(error->message ? error->message : name));
  if (name == SD_BUS_ERROR_NO_REPLY || name == SD_BUS_ERROR_TIMEOUT)
    throw ClientError(ErrorKind::failed, "tails-serverd gave no answer (" +
                                            std::string(error->message ? error->message : name) +
                                            "); see tails-server status " + service);
  throw error_from_bus(error, sd_bus_message_get_errno(pending.reply.get()));
}

void DaemonClient::monitor() { run_loop(); }

}  // namespace tails_server::client

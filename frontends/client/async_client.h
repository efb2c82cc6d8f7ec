// An asynchronous client of tails-serverd for front ends with their own main
// loop (the GUI): every call returns at once and its reply arrives in a
// callback; signals arrive in handlers. Nothing here blocks. The caller
// watches fd() and calls process(), e.g. from a GLib source.
#pragma once

#include "error.h"

#include "dbus/codec.h"
#include "dbus/messages.h"
#include "dbus/sd_bus_ptr.h"

#include <systemd/sd-bus.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace tails_server::client {

// A reply without a body.
struct Nothing {};

// The outcome of a call: a value, or the error.
template <class T>
struct Reply {
  std::optional<T> value;
  std::optional<ClientError> error;
  bool ok() const { return value.has_value(); }
};

class AsyncClient {
 public:
  template <class T>
  using Callback = std::function<void(Reply<T>)>;

  // Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS if set), without
  // waiting for the bus to answer. Throws ClientError(unreachable).
  AsyncClient();
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // For the caller's main loop: poll fd() for events() (POLLIN, POLLOUT),
  // and call process() when it is ready or at timeout_usec() (CLOCK_MONOTONIC,
  // UINT64_MAX for none). process() runs the callbacks and handlers.
  int fd() const;
  int events() const;
  std::uint64_t timeout_usec() const;
  void process();
  // False once the bus connection is gone (everything then fails).
  bool connected() const;

  // Calls `method` with `arguments` (messages of dbus/messages.h) and later
  // `done` with the reply decoded as a T (Nothing: no body). `timeout_usec`
  // 0 means sd-bus's default (25 s).
  template <class T, class... Arguments>
  void call(const char* method, std::uint64_t timeout_usec, Callback<T> done, const Arguments&... arguments);

  // The calls of docs/dbus-api.md.
  void list_services(Callback<dbus::ServiceList> done);
  void list_plugins(Callback<dbus::PluginList> done);
  void info(const std::string& service, Callback<dbus::ServiceDetails> done);
  void describe_options(const std::string& service, Callback<dbus::OptionFormList> done);
  void get_option(const std::string& service, const std::string& option, Callback<std::string> done);
  void set_option(const std::string& service, const std::string& option, const std::string& value,
                  Callback<dbus::OptionChange> done);
  void reset_option(const std::string& service, const std::string& option, Callback<dbus::OptionChange> done);
  void connection_info(const std::string& service, Callback<dbus::ConnectionInfo> done);
  void list_clients(const std::string& service, Callback<std::vector<std::string>> done);
  void add_client(const std::string& service, const std::string& name, Callback<dbus::Credential> done);
  void remove_client(const std::string& service, const std::string& name, Callback<Nothing> done);
  // `secret` travels in the call's body, never in a command line.
  void run_command(const std::string& service, const std::string& command, const std::vector<std::string>& arguments,
                   const std::string& secret, Callback<std::string> done);
  // Install, Enable, Disable, Uninstall: the reply comes when the work ends;
  // StateChanged reports its progress meanwhile.
  void long_operation(const char* method, const std::string& service, Callback<Nothing> done);

  // Signals. Set the handlers before the first call, so that none is missed.
  void on_state_changed(std::function<void(const dbus::StateChange&)> handler);
  void on_option_changed(std::function<void(const dbus::OptionChanged&)> handler);
  // tails-serverd appeared on the bus (true) or left it (false).
  void on_presence(std::function<void(bool)> handler);

 private:
  struct Pending {
    AsyncClient* client;
    std::function<void(sd_bus_message*)> on_reply;
    dbus::SlotPtr slot;
    std::list<std::unique_ptr<Pending>>::iterator self;
  };
  // Sends `call`; `on_reply` gets the reply (or sd-bus's error for it). The
  // error if it could not be sent.
  std::optional<ClientError> send(sd_bus_message* call, std::uint64_t timeout_usec,
                                  std::function<void(sd_bus_message*)> on_reply);
  // Runs `work` in the next process(), never inside the call that asked.
  void defer(std::function<void()> work) { deferred_.push_back(std::move(work)); }
  dbus::MessagePtr new_call(const char* method);
  void subscribe();

  sd_bus* bus_ = nullptr;
  std::list<std::unique_ptr<Pending>> pending_;
  std::vector<dbus::SlotPtr> matches_;
  std::vector<std::function<void()>> deferred_;
  std::function<void(const dbus::StateChange&)> state_handler_;
  std::function<void(const dbus::OptionChanged&)> option_handler_;
  std::function<void(bool)> presence_handler_;
};

template <class T, class... Arguments>
void AsyncClient::call(const char* method, std::uint64_t timeout_usec, Callback<T> done,
                       const Arguments&... arguments) {
  auto fail = [this, done](ClientError error) {
    defer([done, error] { done(Reply<T>{std::nullopt, error}); });
  };
  dbus::MessagePtr message;
  try {
    message = new_call(method);
    (dbus::encode(message.get(), arguments), ...);
  } catch (const dbus::TextError& e) {
    return fail(ClientError(ErrorKind::invalid_value, std::string("cannot send ") + method + ": " + e.what()));
  } catch (const std::exception& e) {
    return fail(ClientError(ErrorKind::failed, std::string("cannot build the call ") + method + ": " + e.what()));
  }
  auto on_reply = [done, method](sd_bus_message* m) {
    Reply<T> reply;
    if (const sd_bus_error* error = sd_bus_message_get_error(m)) {
      reply.error = error_from_bus(error, sd_bus_message_get_errno(m));
    } else {
      try {
        if constexpr (std::is_same_v<T, Nothing>)
          reply.value = Nothing{};
        else
          reply.value = dbus::decode<T>(m);
      } catch (const dbus::CodecError& e) {
        reply.error =
            ClientError(ErrorKind::failed, std::string("tails-serverd's reply to ") + method + ": " + e.what());
      }
    }
    done(std::move(reply));
  };
  if (auto error = send(message.get(), timeout_usec, std::move(on_reply))) fail(*error);
}

}  // namespace tails_server::client

#include "async_client.h"

#include "daemon_signal.h"

#include "dbus/contract.h"

#include <cstring>

namespace tails_server::client {
namespace {

// Mutating calls may wait for a polkit password prompt.
constexpr std::uint64_t interactive_usec = 300ull * 1000 * 1000;
// Install and uninstall wait for apt; enable for Tor to publish the onion.
constexpr std::uint64_t long_operation_usec = 3600ull * 1000 * 1000;

}  // namespace

AsyncClient::AsyncClient() {
  int r = sd_bus_open_system(&bus_);
  if (r < 0) throw ClientError(ErrorKind::unreachable, unreachable_message(std::strerror(-r)));
  subscribe();
}

AsyncClient::~AsyncClient() {
  // Forget the calls (their slots) before the bus goes.
  pending_.clear();
  matches_.clear();
  sd_bus_flush_close_unref(bus_);
}

int AsyncClient::fd() const { return sd_bus_get_fd(bus_); }

int AsyncClient::events() const {
  int events = sd_bus_get_events(bus_);
  return events < 0 ? 0 : events;
}

std::uint64_t AsyncClient::timeout_usec() const {
  if (!deferred_.empty()) return 0;
  std::uint64_t usec = UINT64_MAX;
  if (sd_bus_get_timeout(bus_, &usec) < 0) return UINT64_MAX;
  return usec;
}

bool AsyncClient::connected() const { return sd_bus_is_open(bus_) > 0; }

void AsyncClient::process() {
  auto work = std::move(deferred_);
  deferred_.clear();
  for (auto& w : work) w();
  // Each sd_bus_process() handles at most one message.
  for (int i = 0; i < 64; ++i)
    if (sd_bus_process(bus_, nullptr) <= 0) break;
}

dbus::MessagePtr AsyncClient::new_call(const char* method) {
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &raw, dbus::bus_name, dbus::object_path, dbus::interface, method);
  if (r < 0) throw ClientError(ErrorKind::unreachable, unreachable_message(std::strerror(-r)));
  dbus::MessagePtr call(raw);
  // Fail at once when the daemon is not running rather than activate it, and
  // let polkit ask for the administration password in the user's session.
  sd_bus_message_set_auto_start(call.get(), 0);
  sd_bus_message_set_allow_interactive_authorization(call.get(), 1);
  return call;
}

std::optional<ClientError> AsyncClient::send(sd_bus_message* call, std::uint64_t timeout_usec,
                                             std::function<void(sd_bus_message*)> on_reply) {
  auto pending = std::make_unique<Pending>();
  pending->client = this;
  pending->on_reply = std::move(on_reply);
  auto handler = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto* p = static_cast<Pending*>(userdata);
    auto done = std::move(p->on_reply);
    // Forget the call first: the callback may start others.
    p->client->pending_.erase(p->self);
    done(m);
    return 0;
  };
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_call_async(bus_, &slot, call, handler, pending.get(), timeout_usec);
  if (r < 0) return ClientError(ErrorKind::unreachable, unreachable_message(std::strerror(-r)));
  pending->slot.reset(slot);
  pending_.push_back(std::move(pending));
  pending_.back()->self = std::prev(pending_.end());
  return std::nullopt;
}

void AsyncClient::subscribe() {
  auto add = [this](const char* sender, const char* path, const char* interface, const char* member,
                    sd_bus_message_handler_t handler) {
    sd_bus_slot* slot = nullptr;
    // Asynchronous: the match is in place before any later call's reply.
    int r = sd_bus_match_signal_async(bus_, &slot, sender, path, interface, member, handler, nullptr, this);
    if (r < 0) throw ClientError(ErrorKind::unreachable, unreachable_message(std::strerror(-r)));
    matches_.emplace_back(slot);
  };
  add(dbus::bus_name, dbus::object_path, dbus::interface, dbus::signal::state_changed,
      [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
        return dispatch_signal<dbus::StateChange>(m, static_cast<AsyncClient*>(userdata)->state_handler_);
      });
  add(dbus::bus_name, dbus::object_path, dbus::interface, dbus::signal::option_changed,
      [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
        return dispatch_signal<dbus::OptionChanged>(m, static_cast<AsyncClient*>(userdata)->option_handler_);
      });
  // The bus driver says when the daemon's name gets or loses its owner.
  sd_bus_slot* slot = nullptr;
  std::string rule = std::string("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                                 "member='NameOwnerChanged',arg0='") + dbus::bus_name + "'";
  auto on_owner = [](sd_bus_message* m, void* userdata, sd_bus_error*) -> int {
    auto& self = *static_cast<AsyncClient*>(userdata);
    const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
    if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0) return 0;
    if (self.presence_handler_) self.presence_handler_(new_owner && *new_owner);
    return 0;
  };
  int r = sd_bus_add_match_async(bus_, &slot, rule.c_str(), on_owner, nullptr, this);
  if (r < 0) throw ClientError(ErrorKind::unreachable, unreachable_message(std::strerror(-r)));
  matches_.emplace_back(slot);
}

void AsyncClient::on_state_changed(std::function<void(const dbus::StateChange&)> handler) {
  state_handler_ = std::move(handler);
}
void AsyncClient::on_option_changed(std::function<void(const dbus::OptionChanged&)> handler) {
  option_handler_ = std::move(handler);
}
void AsyncClient::on_presence(std::function<void(bool)> handler) { presence_handler_ = std::move(handler); }

void AsyncClient::list_services(Callback<dbus::ServiceList> done) {
  call<dbus::ServiceList>(dbus::method::list_services, 0, std::move(done));
}
void AsyncClient::list_plugins(Callback<dbus::PluginList> done) {
  call<dbus::PluginList>(dbus::method::list_plugins, 0, std::move(done));
}
void AsyncClient::info(const std::string& service, Callback<dbus::ServiceDetails> done) {
  call<dbus::ServiceDetails>(dbus::method::get_info, 0, std::move(done), dbus::ServiceCall{service});
}
void AsyncClient::describe_options(const std::string& service, Callback<dbus::OptionFormList> done) {
  call<dbus::OptionFormList>(dbus::method::describe_options, 0, std::move(done), dbus::ServiceCall{service});
}
void AsyncClient::get_option(const std::string& service, const std::string& option, Callback<std::string> done) {
  call<std::string>(dbus::method::get_option, interactive_usec, std::move(done), dbus::OptionCall{service, option});
}
void AsyncClient::set_option(const std::string& service, const std::string& option, const std::string& value,
                             Callback<dbus::OptionChange> done) {
  call<dbus::OptionChange>(dbus::method::set_option, interactive_usec, std::move(done),
                           dbus::SetOptionCall{service, option, value});
}
void AsyncClient::reset_option(const std::string& service, const std::string& option,
                               Callback<dbus::OptionChange> done) {
  call<dbus::OptionChange>(dbus::method::reset_option, interactive_usec, std::move(done),
                           dbus::OptionCall{service, option});
}
void AsyncClient::connection_info(const std::string& service, Callback<dbus::ConnectionInfo> done) {
  call<dbus::ConnectionInfo>(dbus::method::get_connection_info, interactive_usec, std::move(done),
                             dbus::ServiceCall{service});
}
void AsyncClient::list_clients(const std::string& service, Callback<std::vector<std::string>> done) {
  call<std::vector<std::string>>(dbus::method::list_clients, interactive_usec, std::move(done),
                                 dbus::ServiceCall{service});
}
void AsyncClient::add_client(const std::string& service, const std::string& name, Callback<dbus::Credential> done) {
  call<dbus::Credential>(dbus::method::add_client, interactive_usec, std::move(done), dbus::ClientCall{service, name});
}
void AsyncClient::remove_client(const std::string& service, const std::string& name, Callback<Nothing> done) {
  call<Nothing>(dbus::method::remove_client, interactive_usec, std::move(done), dbus::ClientCall{service, name});
}
void AsyncClient::run_command(const std::string& service, const std::string& command,
                              const std::vector<std::string>& arguments, const std::string& secret,
                              Callback<std::string> done) {
  call<std::string>(dbus::method::run_command, interactive_usec, std::move(done),
                    dbus::RunCommandCall{service, command, arguments, secret});
}
void AsyncClient::long_operation(const char* method, const std::string& service, Callback<Nothing> done) {
  call<Nothing>(method, long_operation_usec, std::move(done), dbus::ServiceCall{service});
}

}  // namespace tails_server::client

#include "codec.h"

#include <concepts>
#include <cstring>
#include <type_traits>

namespace tails_server::dbus {
namespace {

constexpr const char* writing = "cannot build the message";
constexpr const char* reading = "cannot read the message";

int check(int r, const char* what) {
  if (r < 0) throw CodecError(std::string(what) + ": " + std::strerror(-r));
  return r;
}

// "(ssss)" → "ssss": the contents of a struct container.
std::string struct_contents(const char* element) {
  std::string contents(element);
  return contents.substr(1, contents.size() - 2);
}

// Appends values in wire order; fields() below calls it once per field.
class Writer {
 public:
  explicit Writer(sd_bus_message* m) : m_(m) {}
  void operator()(const std::string& value) {
    if (!is_bus_text(value))
      throw TextError("a text holds a NUL byte or is not valid UTF-8; only UTF-8 text without NUL bytes is accepted");
    check(sd_bus_message_append_basic(m_, 's', value.c_str()), writing);
  }
  void operator()(bool value) {
    int b = value;
    check(sd_bus_message_append_basic(m_, 'b', &b), writing);
  }
  void operator()(std::uint16_t value) { check(sd_bus_message_append_basic(m_, 'q', &value), writing); }
  void operator()(int value) {
    std::int32_t i = value;
    check(sd_bus_message_append_basic(m_, 'i', &i), writing);
  }
  void operator()(std::int64_t value) { check(sd_bus_message_append_basic(m_, 'x', &value), writing); }
  void operator()(std::uint32_t value) { check(sd_bus_message_append_basic(m_, 'u', &value), writing); }
  // A struct nested in a struct.
  template <class T>
  void nested(const T& value, const char* element) {
    open('r', struct_contents(element).c_str());
    fields(*this, value);
    close();
  }
  void operator()(const std::vector<std::string>& values) {
    open('a', "s");
    for (const auto& value : values) (*this)(value);
    close();
  }
  void bytes(const std::string& value) {
    check(sd_bus_message_append_array(m_, 'y', value.data(), value.size()), writing);
  }
  // An array of structs; `element` is their signature, e.g. "(ss)".
  template <class Element>
  void array(const std::vector<Element>& values, const char* element) {
    std::string contents = struct_contents(element);
    open('a', element);
    for (const auto& value : values) {
      open('r', contents.c_str());
      fields(*this, value);
      close();
    }
    close();
  }
  void open(char type, const char* contents) { check(sd_bus_message_open_container(m_, type, contents), writing); }
  void close() { check(sd_bus_message_close_container(m_), writing); }

 private:
  sd_bus_message* m_;
};

// Reads values in wire order, the mirror of Writer.
class Reader {
 public:
  explicit Reader(sd_bus_message* m) : m_(m) {}
  void operator()(std::string& value) {
    const char* text = nullptr;
    check(sd_bus_message_read_basic(m_, 's', &text), reading);
    value = text;
  }
  void operator()(bool& value) {
    int b = 0;
    check(sd_bus_message_read_basic(m_, 'b', &b), reading);
    value = b != 0;
  }
  void operator()(std::uint16_t& value) { check(sd_bus_message_read_basic(m_, 'q', &value), reading); }
  void operator()(int& value) {
    std::int32_t i = 0;
    check(sd_bus_message_read_basic(m_, 'i', &i), reading);
    value = i;
  }
  void operator()(std::int64_t& value) { check(sd_bus_message_read_basic(m_, 'x', &value), reading); }
  void operator()(std::uint32_t& value) { check(sd_bus_message_read_basic(m_, 'u', &value), reading); }
  template <class T>
  void nested(T& value, const char* element) {
    enter('r', struct_contents(element).c_str());
    fields(*this, value);
    exit();
  }
  void operator()(std::vector<std::string>& values) {
    values.clear();
    enter('a', "s");
    const char* text = nullptr;
    while (check(sd_bus_message_read_basic(m_, 's', &text), reading) > 0) values.emplace_back(text);
    exit();
  }
  void bytes(std::string& value) {
    const void* data = nullptr;
    std::size_t size = 0;
    check(sd_bus_message_read_array(m_, 'y', &data, &size), reading);
    value.assign(size > 0 ? static_cast<const char*>(data) : "", size);
  }
  template <class Element>
  void array(std::vector<Element>& values, const char* element) {
    values.clear();
    std::string contents = struct_contents(element);
    enter('a', element);
    while (enter('r', contents.c_str())) {
      Element value;
      fields(*this, value);
      exit();
      values.push_back(std::move(value));
    }
    exit();
  }
  // False at the end of the enclosing array.
  bool enter(char type, const char* contents) {
    return check(sd_bus_message_enter_container(m_, type, contents), reading) > 0;
  }
  void exit() { check(sd_bus_message_exit_container(m_), reading); }
  sd_bus_message* get() { return m_; }

 private:
  sd_bus_message* m_;
};

// S is T or const T: one field list serves encoding and decoding.
template <class S, class T>
concept Is = std::same_as<std::remove_const_t<S>, T>;

// The fields of each message in wire order.
void fields(auto& io, Is<std::string> auto& v) { io(v); }
void fields(auto& io, Is<std::vector<std::string>> auto& v) { io(v); }
void fields(auto& io, Is<ServiceCall> auto& v) { io(v.service); }
void fields(auto& io, Is<OptionCall> auto& v) {
  io(v.service);
  io(v.option);
}
void fields(auto& io, Is<SetOptionCall> auto& v) {
  io(v.service);
  io(v.option);
  io(v.value);
}
void fields(auto& io, Is<ClientCall> auto& v) {
  io(v.service);
  io(v.name);
}
void fields(auto& io, Is<RunCommandCall> auto& v) {
  io(v.service);
  io(v.command);
  io(v.arguments);
  io(v.secret);
}
void fields(auto& io, Is<ImportKeyCall> auto& v) {
  io(v.service);
  io.bytes(v.key_file);
}
void fields(auto& io, Is<ServiceSummary> auto& v) {
  io(v.name);
  io(v.description);
  io(v.installed);
  io(v.running);
  io(v.published);
  io(v.address);
  io(v.state);
  io(v.onion);
  io(v.tor);
}
void fields(auto& io, Is<ServiceList> auto& v) { io.array(v, signature::service_list + 1); }
void fields(auto& io, Is<PluginSummary> auto& v) {
  io(v.file);
  io(v.name);
  io(v.state);
  io(v.message);
  io(v.sdk_version);
}
void fields(auto& io, Is<PluginList> auto& v) { io.array(v, signature::plugin_list + 1); }
void fields(auto& io, Is<Status> auto& v) {
  io(v.installed);
  io(v.running);
  io(v.published);
  io(v.enabled);
  io(v.address);
  io(v.state);
  io(v.onion);
  io(v.tor);
}
void fields(auto& io, Is<Command> auto& v) {
  io(v.name);
  io(v.description);
  io(v.arguments);
  io(v.reads_secret);
}
void fields(auto& io, Is<Option> auto& v) {
  io(v.name);
  io(v.type);
  io(v.value);
  io(v.description);
  io(v.accepted);
  io(v.secret);
  io(v.read_only);
  io(v.is_default);
}
void fields(auto& io, Is<OptionList> auto& v) { io.array(v, signature::option_list + 1); }
void fields(auto& io, Is<OptionForm> auto& v) {
  io.nested(v.option, "(sssssbbb)");
  io(v.label);
  io(v.group);
  io(v.minimum);
  io(v.maximum);
  io(v.choices);
  io(v.max_length);
  io(v.generated);
}
void fields(auto& io, Is<OptionFormList> auto& v) { io.array(v, signature::option_forms + 1); }
void fields(auto& io, Is<OptionChange> auto& v) {
  io(v.value);
  io(v.warning);
}
void fields(auto& io, Is<std::pair<std::string, std::string>> auto& v) {
  io(v.first);
  io(v.second);
}
void fields(auto& io, Is<ConnectionInfo> auto& v) {
  io.array(v.fields, "(ss)");
  io(v.instructions);
}
void fields(auto& io, Is<Credential> auto& v) {
  io(v.name);
  io(v.address);
  io(v.tor_browser_key);
  io(v.auth_private);
  io(v.onion_client_auth_add);
}
void fields(auto& io, Is<StateChange> auto& v) {
  io(v.service);
  io(v.state);
  io(v.percent);
  io(v.message);
}
void fields(auto& io, Is<OptionChanged> auto& v) {
  io(v.service);
  io(v.option);
}

// Throws CodecError unless the body of `m` has the signature of a T.
template <class T>
void expect_signature(sd_bus_message* m) {
  const char* expected = Signature<T>::value;
  const char* found = sd_bus_message_get_signature(m, 1);
  std::string actual = found ? found : "";
  if (actual != expected) {
    const char* member = sd_bus_message_get_member(m);
    throw CodecError(std::string(reading) + (member ? std::string(" ") + member : std::string()) +
                     ": its signature is '" + actual + "', expected '" + expected + "'");
  }
}

template <class T>
void encode_fields(sd_bus_message* m, const T& value) {
  Writer writer(m);
  fields(writer, value);
}

template <class T>
void decode_fields(sd_bus_message* m, T& value) {
  expect_signature<T>(m);
  Reader reader(m);
  fields(reader, value);
}

// GetInfo's a{sv}, in the order the daemon always sent it.
void encode_details(sd_bus_message* m, const ServiceDetails& d) {
  Writer w(m);
  w.open('a', "{sv}");
  auto entry = [&](const char* key, const char* type, auto&& append) {
    w.open('e', "sv");
    w(std::string(key));
    w.open('v', type);
    append();
    w.close();
    w.close();
  };
  auto text = [&](const char* key, const std::string& value) { entry(key, "s", [&] { w(value); }); };
  auto flag = [&](const char* key, bool value) { entry(key, "b", [&] { w(value); }); };
  auto list = [&](const char* key, const std::vector<std::string>& value) { entry(key, "as", [&] { w(value); }); };
  auto port = [&](const char* key, std::uint16_t value) { entry(key, "q", [&] { w(value); }); };
  text(info_key::name, d.name);
  text(info_key::name_in_gui, d.name_in_gui);
  text(info_key::description, d.description);
  text(info_key::client_application, d.client_application);
  text(info_key::client_application_in_gui, d.client_application_in_gui);
  text(info_key::documentation, d.documentation);
  text(info_key::icon_name, d.icon_name);
  text(info_key::systemd_service, d.systemd_service);
  list(info_key::packages, d.packages);
  list(info_key::persistent_paths, d.persistent_paths);
  port(info_key::local_port, d.local_port);
  port(info_key::virtual_port, d.virtual_port);
  port(info_key::remote_port, d.virtual_port);
  entry(info_key::commands, signature::commands, [&] { w.array(d.commands, signature::commands + 1); });
  text(info_key::state_error, d.state_error);
  flag(info_key::installed, d.status.installed);
  flag(info_key::running, d.status.running);
  flag(info_key::published, d.status.published);
  flag(info_key::enabled, d.status.enabled);
  text(info_key::address, d.status.address);
  text(info_key::state, d.status.state);
  text(info_key::operation, d.operation);
  text(info_key::onion, d.status.onion);
  text(info_key::tor, d.status.tor);
  w.close();
}

// Reads one value of a{sv} into the field its key names; skips a key it does
// not know (from a newer daemon) and a value of an unexpected type.
void decode_entry(Reader& r, ServiceDetails& d, const std::string& key, const std::string& type) {
  auto read_if = [&](const char* wanted, auto& field) {
    if (type != wanted) return false;
    r(field);
    return true;
  };
  bool read = false;
  if (key == info_key::name) read = read_if("s", d.name);
  else if (key == info_key::name_in_gui) read = read_if("s", d.name_in_gui);
  else if (key == info_key::description) read = read_if("s", d.description);
  else if (key == info_key::client_application) read = read_if("s", d.client_application);
  else if (key == info_key::client_application_in_gui) read = read_if("s", d.client_application_in_gui);
  else if (key == info_key::documentation) read = read_if("s", d.documentation);
  else if (key == info_key::icon_name) read = read_if("s", d.icon_name);
  else if (key == info_key::systemd_service) read = read_if("s", d.systemd_service);
  else if (key == info_key::packages) read = read_if("as", d.packages);
  else if (key == info_key::persistent_paths) read = read_if("as", d.persistent_paths);
  else if (key == info_key::local_port) read = read_if("q", d.local_port);
  else if (key == info_key::virtual_port || key == info_key::remote_port) read = read_if("q", d.virtual_port);
  else if (key == info_key::state_error) read = read_if("s", d.state_error);
  else if (key == info_key::installed) read = read_if("b", d.status.installed);
  else if (key == info_key::running) read = read_if("b", d.status.running);
  else if (key == info_key::published) read = read_if("b", d.status.published);
  else if (key == info_key::enabled) read = read_if("b", d.status.enabled);
  else if (key == info_key::address) read = read_if("s", d.status.address);
  else if (key == info_key::state) read = read_if("s", d.status.state);
  else if (key == info_key::operation) read = read_if("s", d.operation);
  else if (key == info_key::onion) read = read_if("s", d.status.onion);
  else if (key == info_key::tor) read = read_if("s", d.status.tor);
  else if (key == info_key::commands && type == signature::commands) {
    r.array(d.commands, signature::commands + 1);
    read = true;
  }
  if (!read) check(sd_bus_message_skip(r.get(), type.c_str()), reading);
}

void decode_details(sd_bus_message* m, ServiceDetails& d) {
  expect_signature<ServiceDetails>(m);
  d = ServiceDetails{};
  Reader r(m);
  r.enter('a', "{sv}");
  while (r.enter('e', "sv")) {
    std::string key;
    r(key);
    const char* contents = nullptr;
    check(sd_bus_message_peek_type(m, nullptr, &contents), reading);
    std::string type = contents ? contents : "";
    r.enter('v', type.c_str());
    decode_entry(r, d, key, type);
    r.exit();  // variant
    r.exit();  // dict entry
  }
  r.exit();
}

}  // namespace

bool is_bus_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
    unsigned char lead = byte(i);
    if (lead == 0) return false;
    std::size_t length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                                         : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k)
      if ((byte(i + k) & 0xC0) != 0x80) return false;
    unsigned char second = length > 1 ? byte(i + 1) : 0;
    if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||  // overlong, surrogate
        (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F))    // overlong, > U+10FFFF
      return false;
    i += length;
  }
  return true;
}

void encode(sd_bus_message* m, const std::string& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const std::vector<std::string>& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const ServiceCall& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const OptionCall& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const SetOptionCall& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const ClientCall& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const RunCommandCall& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const ImportKeyCall& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const ServiceList& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const PluginList& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const ServiceDetails& value) { encode_details(m, value); }
void encode(sd_bus_message* m, const Status& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const OptionList& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const OptionFormList& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const OptionChange& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const ConnectionInfo& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const Credential& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const StateChange& value) { encode_fields(m, value); }
void encode(sd_bus_message* m, const OptionChanged& value) { encode_fields(m, value); }

void decode(sd_bus_message* m, std::string& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, std::vector<std::string>& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, ServiceCall& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, OptionCall& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, SetOptionCall& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, ClientCall& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, RunCommandCall& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, ImportKeyCall& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, ServiceList& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, PluginList& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, ServiceDetails& value) { decode_details(m, value); }
void decode(sd_bus_message* m, Status& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, OptionList& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, OptionFormList& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, OptionChange& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, ConnectionInfo& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, Credential& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, StateChange& value) { decode_fields(m, value); }
void decode(sd_bus_message* m, OptionChanged& value) { decode_fields(m, value); }

}  // namespace tails_server::dbus

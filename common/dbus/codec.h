// Encoding and decoding the messages of messages.h over sd-bus: one encode()
// and one decode() per message body. The daemon encodes replies and signals
// and decodes calls; front ends do the opposite.
#pragma once

#include "messages.h"

#include <systemd/sd-bus.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::dbus {

// A message could not be built or read: its body does not have the expected
// signature, or sd-bus failed. what() says which.
class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A text to send is no D-Bus string: not valid UTF-8, or it holds a NUL
// byte. A mistake of the caller's input, not of the message.
class TextError : public CodecError {
 public:
  using CodecError::CodecError;
};

// Whether `text` can be sent as a D-Bus string: valid UTF-8 (no overlong
// form, no surrogate, nothing above U+10FFFF) without a NUL byte.
bool is_bus_text(std::string_view text);

// Appends `value` to `m` as its whole body (of signature Signature<T>::value).
// Throws CodecError.
void encode(sd_bus_message* m, const std::string& value);
void encode(sd_bus_message* m, const std::vector<std::string>& value);
void encode(sd_bus_message* m, const ServiceCall& value);
void encode(sd_bus_message* m, const OptionCall& value);
void encode(sd_bus_message* m, const SetOptionCall& value);
void encode(sd_bus_message* m, const ClientCall& value);
void encode(sd_bus_message* m, const RunCommandCall& value);
void encode(sd_bus_message* m, const ImportKeyCall& value);
void encode(sd_bus_message* m, const ServiceList& value);
void encode(sd_bus_message* m, const PluginList& value);
void encode(sd_bus_message* m, const ServiceDetails& value);
void encode(sd_bus_message* m, const Status& value);
void encode(sd_bus_message* m, const OptionList& value);
void encode(sd_bus_message* m, const OptionFormList& value);
void encode(sd_bus_message* m, const OptionChange& value);
void encode(sd_bus_message* m, const ConnectionInfo& value);
void encode(sd_bus_message* m, const Credential& value);
void encode(sd_bus_message* m, const StateChange& value);
void encode(sd_bus_message* m, const OptionChanged& value);

// Reads the whole body of `m`, from its start or from where reading left
// off, into `value`. Throws CodecError if the body's signature is not
// Signature<T>::value (nothing is read then), or if reading fails.
void decode(sd_bus_message* m, std::string& value);
void decode(sd_bus_message* m, std::vector<std::string>& value);
void decode(sd_bus_message* m, ServiceCall& value);
void decode(sd_bus_message* m, OptionCall& value);
void decode(sd_bus_message* m, SetOptionCall& value);
void decode(sd_bus_message* m, ClientCall& value);
void decode(sd_bus_message* m, RunCommandCall& value);
void decode(sd_bus_message* m, ImportKeyCall& value);
void decode(sd_bus_message* m, ServiceList& value);
void decode(sd_bus_message* m, PluginList& value);
void decode(sd_bus_message* m, ServiceDetails& value);
void decode(sd_bus_message* m, Status& value);
void decode(sd_bus_message* m, OptionList& value);
void decode(sd_bus_message* m, OptionFormList& value);
void decode(sd_bus_message* m, OptionChange& value);
void decode(sd_bus_message* m, ConnectionInfo& value);
void decode(sd_bus_message* m, Credential& value);
void decode(sd_bus_message* m, StateChange& value);
void decode(sd_bus_message* m, OptionChanged& value);

// decode() into a new T.
template <class T>
T decode(sd_bus_message* m) {
  T value;
  decode(m, value);
  return value;
}

}  // namespace tails_server::dbus

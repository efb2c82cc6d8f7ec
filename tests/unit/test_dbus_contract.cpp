// The D-Bus contract's codec (common/dbus): every message survives encoding
// into a real sd_bus_message and decoding, and a decoder refuses a body of
// another signature. No bus daemon is needed: a bus started on one end of a
// socket pair (which nobody answers) can build messages, and sealing a
// message makes it readable.
#include "dbus/codec.h"
#include "dbus/sd_bus_ptr.h"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <string>

using namespace tails_server;

namespace {

// A message on a bus that never connects: written, then sealed and read back.
// (sd-bus makes no message on a bus that was never started.)
class Scratch {
 public:
  Scratch() {
    REQUIRE(sd_bus_new(&bus_) >= 0);
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0);
    peer_ = fds[1];
    REQUIRE(sd_bus_set_fd(bus_, fds[0], fds[0]) >= 0);  // the bus owns fds[0] now
    REQUIRE(sd_bus_start(bus_) >= 0);
    sd_bus_message* message = nullptr;
    REQUIRE(sd_bus_message_new_method_call(bus_, &message, dbus::bus_name, dbus::object_path, dbus::interface,
                                           "Test") >= 0);
    message_.reset(message);
  }
  sd_bus_message* get() { return message_.get(); }
  // Makes the message readable from its start.
  sd_bus_message* sealed() {
    REQUIRE(sd_bus_message_seal(get(), 1, 0) >= 0);
    REQUIRE(sd_bus_message_rewind(get(), 1) >= 0);
    return get();
  }
  std::string signature() { return sd_bus_message_get_signature(get(), 1); }
  ~Scratch() {
    message_.reset();
    sd_bus_close_unref(bus_);  // no flush: nobody would ever answer it
    close(peer_);
  }

 private:
  int peer_ = -1;
  sd_bus* bus_ = nullptr;
  dbus::MessagePtr message_;
};

// Encodes `value`, checks the body's signature, decodes it again.
template <class T>
T round_trip(const T& value) {
  Scratch scratch;
  dbus::encode(scratch.get(), value);
  CHECK(scratch.signature() == dbus::Signature<T>::value);
  return dbus::decode<T>(scratch.sealed());
}

template <class T>
std::string decode_error(sd_bus_message* m) {
  try {
    dbus::decode<T>(m);
  } catch (const dbus::CodecError& e) {
    return e.what();
  }
  FAIL("the decoder accepted the message");
  return {};
}

dbus::Status sample_status() {
  return {.installed = true,
          .running = true,
          .published = false,
          .enabled = true,
          .address = std::string(56, 'a') + ".onion",
          .state = "announcing",
          .onion = "announcing",
          .tor = "connected"};
}

}  // namespace

TEST_CASE("A service list survives encoding and decoding") {
  dbus::ServiceList services = {
      {"mumble", "Voice chat", true, true, true, std::string(56, 'b') + ".onion", "online", "published", "connected"},
      {"gobby", "Collaborative editing", false, false, false, "", "not-installed", "", "not running: no cookie"}};
  CHECK(round_trip(services) == services);
  CHECK(round_trip(dbus::ServiceList{}).empty());
}

TEST_CASE("A plugin list survives encoding and decoding") {
  dbus::PluginList plugins = {{"/usr/lib/tails-server/plugins/mumble.so", "mumble", "loaded", "", "1.0"},
                              {"/tmp/evil.so", "", "insecure", "writable by others", ""}};
  CHECK(round_trip(plugins) == plugins);
}

TEST_CASE("Service details with every GetInfo key survive encoding and decoding") {
  dbus::ServiceDetails details;
  details.name = "mumble";
  details.name_in_gui = "Mumble";
  details.description = "Voice chat";
  details.client_application = "mumble";
  details.client_application_in_gui = "Mumble client";
  details.documentation = "https://example.org/mumble";
  details.icon_name = "mumble";
  details.systemd_service = "mumble-server.service";
  details.packages = {"mumble-server"};
  details.persistent_paths = {"/var/lib/mumble-server", "/etc/mumble-server.ini"};
  details.local_port = 64738;
  details.virtual_port = 64739;
  details.commands = {{"set-superuser-password", "Sets SuperUser's password", {}, true},
                      {"kick", "Kicks a user", {"user", "reason"}, false}};
  details.state_error = "moved aside";
  details.status = sample_status();
  details.operation = "installing 45%";
  CHECK(round_trip(details) == details);
}

TEST_CASE("Service details skip keys they do not know and values of an unexpected type") {
  Scratch scratch;
  sd_bus_message* m = scratch.get();
  REQUIRE(sd_bus_message_append(m, "a{sv}", 4, "name", "s", "mumble", "from-a-newer-daemon", "u", 7u, "local-port",
                                "s", "64738", "remote-port", "q", static_cast<std::uint16_t>(80)) >= 0);
  dbus::ServiceDetails details = dbus::decode<dbus::ServiceDetails>(scratch.sealed());
  CHECK(details.name == "mumble");
  CHECK(details.local_port == 0);
  CHECK(details.virtual_port == 80);
}

TEST_CASE("A status survives encoding and decoding") {
  CHECK(round_trip(sample_status()) == sample_status());
}

TEST_CASE("An option list survives encoding and decoding") {
  dbus::OptionList options = {
      {"local-port", "port", "64738", "Port the service listens on", "1 to 65535", false, false, true},
      {"server-password", "secret", "********", "Password", "any text", true, false, false},
      {"onion-address", "read-only", "x.onion", "Address", "", false, true, true}};
  CHECK(round_trip(options) == options);
}

TEST_CASE("Option forms survive encoding and decoding with their bounds and choices and lengths") {
  dbus::OptionFormList forms = {
      {{"local-port", "port", "64738", "Port", "1 to 65535", false, false, true}, "Local port", "service",
       1, 65535, {}, 0, false},
      {{"codec", "enum", "opus", "Codec", "opus or celt", false, false, false}, "Codec", "service", 0, 0,
       {"opus", "celt"}, 0, false},
      {{"server-password", "secret", "********", "Password", "any text", true, false, false}, "Password",
       "service", 0, 0, {}, 128, true},
      {{"persistence", "boolean", "false", "Keep it", "true or false", false, false, true}, "Persistence",
       "tails", 0, 0, {}, 0, false},
      {{"big", "integer", "-5", "Big", "any", false, false, true}, "Big", "service", -(std::int64_t{1} << 40),
       std::int64_t{1} << 40, {}, 0, false}};
  CHECK(round_trip(forms) == forms);
}

TEST_CASE("An option change survives encoding and decoding") {
  dbus::OptionChange change{"true", "LAN access is on: devices on the local network can connect to mumble."};
  CHECK(round_trip(change) == change);
}

TEST_CASE("Connection info survives encoding and decoding") {
  dbus::ConnectionInfo info{{{"address", "x.onion"}, {"port", "64738"}, {"password", "s3cret"}},
                            "Open Mumble and add a server."};
  CHECK(round_trip(info) == info);
}

TEST_CASE("A client credential survives encoding and decoding") {
  dbus::Credential credential{"alice", "x.onion", "KEY52", "x:descriptor:x25519:KEY52",
                              "ONION_CLIENT_AUTH_ADD x x25519:KEY44"};
  CHECK(round_trip(credential) == credential);
}

TEST_CASE("A StateChanged signal survives encoding and decoding") {
  dbus::StateChange progress{"mumble", "installing", 45, "Unpacking mumble-server"};
  CHECK(round_trip(progress) == progress);
  dbus::StateChange done{"mumble", "online", -1, ""};
  CHECK(round_trip(done) == done);
}

TEST_CASE("An OptionChanged signal survives encoding and decoding") {
  dbus::OptionChanged changed{"mumble", "allow-lan"};
  CHECK(round_trip(changed) == changed);
}

TEST_CASE("The arguments of every call survive encoding and decoding") {
  CHECK(round_trip(dbus::ServiceCall{"mumble"}) == dbus::ServiceCall{"mumble"});
  CHECK(round_trip(dbus::OptionCall{"mumble", "local-port"}) == dbus::OptionCall{"mumble", "local-port"});
  dbus::SetOptionCall set{"mumble", "server-password", "correct horse"};
  CHECK(round_trip(set) == set);
  CHECK(round_trip(dbus::ClientCall{"mumble", "alice"}) == dbus::ClientCall{"mumble", "alice"});
  dbus::RunCommandCall run{"mumble", "kick", {"bob", "spam"}, ""};
  CHECK(round_trip(run) == run);
  dbus::RunCommandCall secret{"mumble", "set-superuser-password", {}, "hunter2"};
  CHECK(round_trip(secret) == secret);
}

TEST_CASE("A key file keeps every byte including NUL bytes") {
  std::string bytes("== ed25519v1-secret: type0 ==\0\0\0", 32);
  bytes += std::string(64, '\x01');
  dbus::ImportKeyCall call{"mumble", bytes};
  CHECK(round_trip(call).key_file.size() == 96);
  CHECK(round_trip(call) == call);
  CHECK(round_trip(dbus::ImportKeyCall{"mumble", ""}) == dbus::ImportKeyCall{"mumble", ""});
}

TEST_CASE("A text reply and a list of names survive encoding and decoding") {
  CHECK(round_trip(std::string("x.onion")) == "x.onion");
  std::vector<std::string> names = {"alice", "bob"};
  CHECK(round_trip(names) == names);
}

TEST_CASE("A decoder refuses a body of another signature and names both signatures") {
  Scratch scratch;
  dbus::encode(scratch.get(), sample_status());
  std::string message = decode_error<dbus::ServiceList>(scratch.sealed());
  CHECK(message.find("'bbbbssss'") != std::string::npos);
  CHECK(message.find("expected 'a(ssbbbssss)'") != std::string::npos);
}

TEST_CASE("A decoder refuses a call with arguments missing") {
  Scratch scratch;
  dbus::encode(scratch.get(), dbus::ServiceCall{"mumble"});
  std::string message = decode_error<dbus::SetOptionCall>(scratch.sealed());
  CHECK(message.find("its signature is 's'") != std::string::npos);
  CHECK(message.find("expected 'sss'") != std::string::npos);
}

TEST_CASE("only UTF-8 text without NUL bytes is a bus string") {
  CHECK(tails_server::dbus::is_bus_text(""));
  CHECK(tails_server::dbus::is_bus_text("Welcome, ⟦ünïcode⟧ 🎉"));
  CHECK_FALSE(tails_server::dbus::is_bus_text(std::string("a\0b", 3)));
  CHECK_FALSE(tails_server::dbus::is_bus_text("\xff"));
  CHECK_FALSE(tails_server::dbus::is_bus_text("caf\xc3"));          // cut in the middle of a character
  CHECK_FALSE(tails_server::dbus::is_bus_text("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(tails_server::dbus::is_bus_text("\xe0\x80\xaf"));     // overlong '/'
  CHECK_FALSE(tails_server::dbus::is_bus_text("\xed\xa0\x80"));     // a surrogate
  CHECK_FALSE(tails_server::dbus::is_bus_text("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK(tails_server::dbus::is_bus_text("\xf4\x8f\xbf\xbf"));       // U+10FFFF
}

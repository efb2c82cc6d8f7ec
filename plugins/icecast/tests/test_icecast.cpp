// Tests of the icecast plugin: its configuration written through the real
// core, then read by a real icecast2 that a source client streams an Ogg FLAC
// file to and a listener plays, with hostile passwords and mount points.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "service_process.h"
#include "plugin_root.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <unistd.h>

namespace fs = std::filesystem;
using namespace tails_server;
using namespace std::chrono_literals;
using namespace std::string_literals;
using tails_server::test::DaemonProcess;
using tails_server::test::probe_value;

namespace {

const std::string probe_script = TAILS_SERVER_SOURCE_DIR "/tests/probes/icecast_probe.py";

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string field(const ConnectionInfo& info, const std::string& label) {
  for (const auto& [key, value] : info.fields)
    if (key == label) return value;
  return "(no field " + label + ")";
}

std::string base64(std::string_view in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += {table[v >> 18], table[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
  }
  return out;
}

// The whole answer (head and body) to GET `target` on 127.0.0.1:port with Basic auth user:password.
std::string http_get(std::uint16_t port, const std::string& target, const std::string& user,
                     const std::string& password) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request = "GET " + target + " HTTP/1.0\r\nAuthorization: Basic " + base64(user + ":" + password) +
                          "\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

// The status code of that answer, or -1.
int http_status(std::uint16_t port, const std::string& target, const std::string& user, const std::string& password) {
  std::string head = http_get(port, target, user, password);
  return head.rfind("HTTP/", 0) == 0 && head.size() > 12 ? std::stoi(head.substr(9, 3)) : -1;
}

// Streams `ogg` to `mount` with `password` and listens; the probe's output.
test::ProgramResult stream(std::uint16_t port, const std::string& mount, const fs::path& ogg,
                           const fs::path& received, const std::string& password) {
  return test::run_program({TAILS_SERVER_TEST_PYTHON, probe_script, "127.0.0.1", std::to_string(port), mount,
                            ogg.string(), received.string()},
                           password, 40s);
}

// A two-second Ogg FLAC file (a tone), made with python3 and flac. FLAC,
// unlike Vorbis, which icecast re-pages, goes through icecast byte for byte.
fs::path make_ogg(const test::TempDir& tmp) {
  const fs::path wav = tmp / "tone.wav", ogg = tmp / "tone.oga";
  auto made = test::run_program(
      {TAILS_SERVER_TEST_PYTHON, "-c",
       "import math, struct, sys, wave\n"
       "w = wave.open(sys.argv[1], 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)\n"
       "w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(i * 0.1))) for i in range(16000)))\n"
       "w.close()\n",
       wav.string()},
      "", 30s);
  REQUIRE_MESSAGE(made.exit_code == 0, made.output);
  auto encoded = test::run_program({"flac", "--ogg", "-s", "-f", "-o", ogg.string(), wav.string()}, "", 30s);
  REQUIRE_MESSAGE(encoded.exit_code == 0, encoded.output);
  return ogg;
}

// The service manager with the built plugins, on a temporary root.
struct Fixture : plugin_test::PluginRoot {
  Fixture() : PluginRoot("tails-server-icecast") {}
  fs::path xml() const { return tmp / "etc/icecast2/tails-server.xml"; }
};

// icecast2 refuses to run as root: the test starts it as its account, as the unit does.
std::vector<std::string> icecast_command(const fs::path& xml) {
  return {"setpriv", "--reuid", "icecast2", "--regid", "icecast", "--init-groups", "icecast2", "-c", xml.string()};
}

}  // namespace

TEST_CASE("icecast: the configuration names no machine and announces nothing") {
  REQUIRE_MESSAGE(::geteuid() == 0, "configure() gives files to the group icecast");
  Fixture f;
  f.manager.configure("icecast");
  std::string xml = read_text(f.xml());
  CHECK(xml.find("<hostname>localhost</hostname>") != std::string::npos);
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  if (std::string(name) != "localhost") CHECK(xml.find(name) == std::string::npos);
  CHECK(xml.find("<bind-address>127.0.0.1</bind-address>") != std::string::npos);
  CHECK(xml.find("<port>8000</port>") != std::string::npos);
  CHECK(xml.find("<mount-name>/stream.ogg</mount-name>\n    <password>" +
                 f.manager.get_option("icecast", "source-password") + "</password>") != std::string::npos);
  CHECK(xml.find("<source-password>") == std::string::npos);
  CHECK(xml.find("<max-listeners>20</max-listeners>") != std::string::npos);
  CHECK(xml.find("<public>0</public>") != std::string::npos);
  CHECK(xml.find("<directory>") == std::string::npos);
  CHECK(xml.find("<relay>") == std::string::npos);
  CHECK(xml.find("<master-server>") == std::string::npos);
  CHECK(xml.find("<accesslog>null</accesslog>") != std::string::npos);
  CHECK(xml.find("<logdir>/dev</logdir>") != std::string::npos);
  CHECK(xml.find("<errorlog>-</errorlog>") != std::string::npos);
  const std::string unit = read_text(f.tmp / "etc/systemd/system/icecast2.service");
  CHECK(unit.find("\nExecStart=/usr/bin/icecast2 -c " + f.xml().string() + "\n") != std::string::npos);
  CHECK(unit.find("\nUser=icecast2\nGroup=icecast\n") != std::string::npos);
  CHECK(unit.find("\nProtectSystem=strict\n") != std::string::npos);
  CHECK(unit.find("\nEnvironment=TZ=UTC\n") != std::string::npos);
  CHECK(unit.find("[Install]") == std::string::npos);

  // "0.0.0.0" beside "::" cannot be bound: "::" (dual-stack) stands for both.
  f.manager.set_option("icecast", "allow-lan", "true");
  f.manager.configure("icecast");
  xml = read_text(f.xml());
  CHECK(xml.find("<bind-address>::</bind-address>") != std::string::npos);
  CHECK(xml.find("<bind-address>0.0.0.0</bind-address>") == std::string::npos);
  CHECK(xml.find("<bind-address>127.0.0.1</bind-address>") == std::string::npos);

  ConnectionInfo info = f.manager.connection_info("icecast");
  CHECK(field(info, "listen-url") == "http://ADDRESS.onion:8000/stream.ogg");
  CHECK(field(info, "source-user") == "source");
  CHECK(field(info, "source-password") == f.manager.get_option("icecast", "source-password"));
  CHECK(field(info, "source-password").size() == 24);
  CHECK(info.instructions.find("torsocks ffmpeg") != std::string::npos);
  CHECK(info.instructions.find("BUTT") != std::string::npos);
  CHECK(info.instructions.find("torsocks vlc") != std::string::npos);
  // What is given to sources and listeners does not open the administration pages.
  const std::string admin_password = f.manager.get_option("icecast", "admin-password");
  CHECK(admin_password.size() == 24);
  for (const auto& [key, value] : info.fields) {
    CAPTURE(key);
    CHECK(key.find("admin") == std::string::npos);
    CHECK(value.find(admin_password) == std::string::npos);
  }
  CHECK(info.instructions.find(admin_password) == std::string::npos);
}

TEST_CASE("icecast: hostile mount points and listener limits are refused") {
  Fixture f;
  const std::vector<std::string> mounts = {
      "stream.ogg", "/", "/a/", "//a", "/a//b", "/a/../b", "/./a", "/..", "/admin", "/admin/stats", "/a b",
      // icecast answers these itself, whatever streams there: administration and status (XSLT) pages.
      "/admin.cgi", "/status.xsl", "/status-json.xsl", "/radio.xslt", "/a.xsl/b",
      "/a\nb", "/a\"b", "/a'b", "/<x>", "/a&amp;", "/a<!--", "/a]]>", "/a#b", "/a?b=1", "/a%20b",
      "/" + std::string(100, 'a'), std::string("/a\0b", 4)};
  for (const auto& mount : mounts) {
    CAPTURE(mount);
    CHECK_THROWS_WITH(f.manager.set_option("icecast", "mount", mount), doctest::Contains("for option 'mount'"));
  }
  CHECK(f.manager.get_option("icecast", "mount") == "/stream.ogg");
  // icecast looks at the text after the last '.' only: these are streams.
  for (const std::string mount :
       {"/xsl.ogg", "/a.xsl.ogg", "/admin.cgi.ogg", "/administration", "/live/radio-1.ogg"}) {
    CAPTURE(mount);
    CHECK(f.manager.set_option("icecast", "mount", mount) == mount);
  }
  f.manager.set_option("icecast", "mount", "/stream.ogg");
  for (const std::string limit : {"0", "-1", "1001", "1\n", "1<", "abc", "", "99999999999999999999", "1 "}) {
    CAPTURE(limit);
    CHECK_THROWS_WITH(f.manager.set_option("icecast", "max-listeners", limit),
                      doctest::Contains("for option 'max-listeners'"));
  }
  const std::vector<std::string> passwords = {"short",          "new\nline", "tab\there", "cr\rhere",
                                             "nul"s + '\0' + "byte12", std::string(256, 'x')};
  for (const auto& password : passwords) {
    CAPTURE(password);
    // The message hides the value.
    CHECK_THROWS_WITH(f.manager.set_option("icecast", "source-password", password),
                      doctest::Contains("invalid value (hidden) for option 'source-password'"));
    CHECK_THROWS_WITH(f.manager.set_option("icecast", "admin-password", password),
                      doctest::Contains("invalid value (hidden) for option 'admin-password'"));
  }
}

TEST_CASE("icecast2 takes the hostile passwords exactly and relays the stream byte for byte up to the limit") {
  REQUIRE_MESSAGE(::geteuid() == 0, "this test starts icecast2 as its account");
  REQUIRE_MESSAGE(fs::exists("/usr/bin/icecast2"), "package icecast2 is not installed");
  REQUIRE_MESSAGE(::access("/usr/bin/flac", X_OK) == 0, "package flac is not installed");

  // Markup, entities, the format's comment and CDATA ends, quotes, spaces at both ends, UTF-8; and a
  // password of the longest length accepted.
  const std::string markup = " </source-password><relay>&amp;<!-- x -->]]><![CDATA[ \"q\" 'a' : Ünï ☃ ";
  std::string longest;
  while (longest.size() < 255) longest += "<&>\"'";
  longest.resize(255);
  struct Case {
    std::string password, mount, max_listeners, second_listener_status;
  };
  const std::vector<Case> cases = {{markup, "/live/radio-1.ogg", "1", "403"},
                                   {longest, "/a." + std::string(97, 'b'), "1000", "200"}};
  for (const auto& [password, mount, max_listeners, second_listener_status] : cases) {
    CAPTURE(password);
    CAPTURE(mount);
    Fixture f;
    const fs::path ogg = make_ogg(f.tmp);
    const std::string admin_password = ("admin" + password).substr(0, 255);
    const std::uint16_t port = test::free_port();
    REQUIRE(f.manager.set_option("icecast", "source-password", password) == password);
    REQUIRE(f.manager.set_option("icecast", "admin-password", admin_password) ==
            admin_password);
    REQUIRE(f.manager.set_option("icecast", "mount", mount) == mount);
    REQUIRE(f.manager.set_option("icecast", "max-listeners", max_listeners) == max_listeners);
    REQUIRE(f.manager.set_option("icecast", "local-port", std::to_string(port)) == std::to_string(port));
    f.manager.configure("icecast");
    CHECK(read_text(f.xml()).find("<relay>") == std::string::npos);

    DaemonProcess icecast(icecast_command(f.xml()), f.tmp / "icecast.log");
    bool listening = test::wait_for_port(port, icecast, 30s);
    INFO("icecast2 output:\n" << icecast.log());
    REQUIRE_MESSAGE(listening, "icecast2 did not listen on port " << port);
    CHECK(test::listening_addresses(port) == std::set<std::string>{"127.0.0.1"});

    // Wrong passwords first: a refused source leaves the mount free.
    const std::vector<std::string> wrong = {"", "wrong", password.substr(1), password + " ",
                                            " </source-password><relay>&<!-- x -->]]><![CDATA[ \"q\" 'a' : Ünï ☃ ",
                                            " </source-password><relay>&amp;]]><![CDATA[ \"q\" 'a' : Ünï ☃ "};
    for (const auto& attempt : wrong) {
      CAPTURE(attempt);
      auto result = stream(port, mount, ogg, f.tmp / "received", attempt);
      INFO("probe output:\n" << result.output);
      CHECK(result.exit_code == 2);
      CHECK(probe_value(result.output, "source_status") == "401");
    }

    // The password is the mount's: a source elsewhere (where max-listeners would not hold) is refused.
    for (const std::string& other : std::vector<std::string>{"/stream.ogg", mount + "2", "/other"}) {
      CAPTURE(other);
      auto refused = stream(port, other, ogg, f.tmp / "received", password);
      INFO("probe output:\n" << refused.output);
      CHECK(refused.exit_code == 2);
      CHECK(probe_value(refused.output, "source_status") == "401");
    }

    auto result = stream(port, mount, ogg, f.tmp / "received", password);
    INFO("probe output:\n" << result.output);
    CHECK(result.exit_code == 0);
    CHECK(probe_value(result.output, "source_status") == "200");
    CHECK(probe_value(result.output, "listener_status") == "200");
    CHECK(probe_value(result.output, "listener_content_type") == "application/ogg");
    // The file is smaller than icecast's burst (64 KiB), so the listener gets all of it from its start.
    const std::string sent = read_text(ogg), received = read_text(f.tmp / "received");
    CHECK(sent.size() > 1000);
    CHECK(received.size() == sent.size());
    CHECK(received == sent);
    // max-listeners 1 turns a second listener away while the first plays.
    CHECK(probe_value(result.output, "second_listener_status") == second_listener_status);

    CHECK(http_status(port, "/admin/stats", "admin", admin_password) == 200);
    CHECK(http_status(port, "/admin/stats", "admin", password) == 401);
    CHECK(http_status(port, "/admin/stats", "admin", "wrong") == 401);
    // The public status page names no machine and no version.
    const std::string status = http_get(port, "/status-json.xsl", "", "");
    INFO("status page:\n" << status);
    CHECK(status.find("\r\nServer: Icecast\r\n") != std::string::npos);
    CHECK(status.find("\"server_id\":\"Icecast\"") != std::string::npos);
    CHECK(status.find("\"location\":\"Tails Server\"") != std::string::npos);
    CHECK(status.find("\"admin\":\"nobody\"") != std::string::npos);
    CHECK(status.find("2.4.4") == std::string::npos);
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    if (std::string(name) != "localhost") CHECK(status.find(name) == std::string::npos);

    icecast.stop();
    const std::string log = icecast.log();
    CHECK(log.find("EROR") == std::string::npos);
    CHECK(log.find(password) == std::string::npos);
  }
}

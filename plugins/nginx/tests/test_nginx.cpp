// Tests of the nginx plugin with the real core, openssl and nginx, and HTTP
// requests made here. Run as root (nginx's workers run as www-data).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "daemon_process.h"
#include "nginx_root.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <tails_server/escape.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::core::ErrorCode;
using tails_server::core::ServiceError;
namespace escape = tails_server::escape;

namespace {

std::string base64(const std::string& data) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (unsigned char)data[i] << 16 | (unsigned char)data[i + 1] << 8 | (unsigned char)data[i + 2];
    out += table[v >> 18 & 63];
    out += table[v >> 12 & 63];
    out += table[v >> 6 & 63];
    out += table[v & 63];
  }
  if (i + 1 == data.size()) {
    unsigned v = (unsigned char)data[i] << 16;
    out += table[v >> 18 & 63];
    out += table[v >> 12 & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    unsigned v = (unsigned char)data[i] << 16 | (unsigned char)data[i + 1] << 8;
    out += table[v >> 18 & 63];
    out += table[v >> 12 & 63];
    out += table[v >> 6 & 63];
    out += '=';
  }
  return out;
}

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

// GET `target` from 127.0.0.1:port with HTTP/1.0, optionally with basic
// authentication.
HttpResponse http_get(std::uint16_t port, const std::string& target, const std::string* user = nullptr,
                      const std::string* password = nullptr) {
  HttpResponse response;
  int fd = plugin_test::connect_tcp("127.0.0.1", port);
  if (fd < 0) return response;
  std::string request = "GET " + target + " HTTP/1.0\r\nHost: test.onion\r\n";
  if (user && password) request += "Authorization: Basic " + base64(*user + ":" + *password) + "\r\n";
  request += "\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string raw;
  char buffer[4096];
  for (;;) {
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    raw.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  std::size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return response;
  response.status = std::stoi(raw.substr(9, 3));
  response.headers = raw.substr(0, end);
  response.body = raw.substr(end + 4);
  return response;
}

struct Fixture : plugin_test::NginxRoot {
  Fixture() : NginxRoot("tails-server-nginx") {}
};

std::string dump(const fs::path& file) {
  return "--- " + file.string() + ":\n" + plugin_test::read_file(file);
}

}  // namespace

TEST_CASE("nginx_string escapes quotes and backslashes and dollars exactly and refuses control characters") {
  CHECK(escape::nginx_string("", true) == "\"\"");
  CHECK(escape::nginx_string("/var/www/my site", true) == "\"/var/www/my site\"");
  CHECK(escape::nginx_string("say \"hi\"", false) == R"("say \"hi\"")");
  CHECK(escape::nginx_string(R"(back\slash)", false) == R"("back\\slash")");
  CHECK(escape::nginx_string(R"(\")", true) == R"("\\\"")");
  // '$' always starts a variable in a directive that expands them.
  CHECK(escape::nginx_string("a$b", true) == "\"a${tails_server_dollar}b\"");
  CHECK(escape::nginx_string("${x}$", true) == "\"${tails_server_dollar}{x}${tails_server_dollar}\"");
  CHECK(escape::nginx_string("a$b", false) == "\"a$b\"");
  // ; { } # ' are literal inside double quotes.
  CHECK(escape::nginx_string("a;b{c}#d'e", true) == "\"a;b{c}#d'e\"");
  CHECK(escape::nginx_string("\xc3\xa9", true) == "\"\xc3\xa9\"");
  CHECK(escape::nginx_dollar_definition() == "geo $tails_server_dollar { default \"$\"; }\n");
  // Control characters are refused, naming the byte.
  for (const std::string& bad : std::vector<std::string>{std::string("a\nb"), std::string("a\rb"), std::string("a\tb"),
                                 std::string("a\0b", 3), std::string("a\x7f")}) {
    CHECK_THROWS_AS(escape::nginx_string(bad, true), escape::EscapeError);
    CHECK_THROWS_AS(escape::nginx_string(bad, false), escape::EscapeError);
  }
  CHECK_THROWS_WITH(escape::nginx_string("a\nb", true), "an nginx string cannot hold the control character 0x0A");
}

TEST_CASE("nginx: options are checked at the boundary") {
  Fixture f;
  auto names = f.manager.service_names();
  REQUIRE(std::find(names.begin(), names.end(), "nginx") != names.end());
  auto info = f.manager.info("nginx");
  CHECK(info.local_port == 8080);
  CHECK(info.virtual_port == 80);
  CHECK(info.systemd_service == "nginx.service");
  CHECK(f.manager.get_option("nginx", "site-root") == "/var/www/tails-server");
  CHECK(f.manager.get_option("nginx", "basic-auth") == "false");
  CHECK(f.manager.get_option("nginx", "basic-auth-user") == "tails");
  CHECK(f.manager.get_option("nginx", "basic-auth-password").size() == 20);

  auto refused = [&](const std::string& option, const std::string& value) {
    try {
      f.manager.set_option("nginx", option, value);
      return false;
    } catch (const ServiceError& error) {
      CHECK(error.code() == ErrorCode::InvalidValue);
      return true;
    }
  };
  CHECK(refused("site-root", "relative/path"));
  CHECK(refused("site-root", "/"));
  CHECK(refused("site-root", "//"));
  CHECK(refused("site-root", "/srv/two\nlines"));
  CHECK(refused("site-root", ""));
  CHECK(refused("site-root", "/var/www/../../etc"));
  CHECK(refused("site-root", "/srv/./site"));
  // Only folders made for data: an admin who may manage services (over SSH too) cannot publish the system's.
  for (const char* root : {"/etc", "/etc/tails-server", "/root/site", "/var/lib/tails-server", "/usr/share",
                           "/proc/self", "/run/site", "/tmp/site", "/home", "/home/amnesia", "/var/www", "/srv",
                           "/var/www/../../etc", "/home/amnesia/.ssh", "/home/amnesia/.gnupg/x", "/srv/.hidden",
                           "/var/wwwx/site", "/srv/site/.git"}) {
    CAPTURE(root);
    CHECK(refused("site-root", root));
  }
  for (const char* root : {"/var/www/tails-server", "/srv/site", "/home/amnesia/Persistent/site", "/media/usb/site",
                           "/mnt/site", "/srv/site/", "/srv/a.b/c"}) {
    CAPTURE(root);
    CHECK_FALSE(refused("site-root", root));
  }
  CHECK(refused("basic-auth-user", "a:b"));
  CHECK(refused("basic-auth-user", "#comment"));
  CHECK(refused("basic-auth-user", ""));
  CHECK(refused("basic-auth-user", std::string(65, 'u')));
  CHECK(refused("basic-auth-password", "new\nline"));
  CHECK(refused("basic-auth-password", std::string(256, 'p')));
  CHECK_FALSE(refused("site-root", "/srv/with space/$dollar \"q\" \\b"));
  CHECK_FALSE(refused("basic-auth-user", "we \"ird\" \\ $u"));
  CHECK_FALSE(refused("basic-auth-password", std::string(255, 'p')));
}

TEST_CASE("nginx: hostile site root and credentials mean exactly what was given") {
  Fixture f;
  f.write_main_config();
  const std::string site_root = "/srv/my site $HOME \"q\" back\\slash {x};#/${uri}";
  const fs::path real_root = f.host.path(site_root);
  fs::create_directories(real_root);
  const std::string page = "<p>hostile root served: 7c1f0e</p>\n";
  plugin_test::write_file(real_root / "index.html", page);
  fs::permissions(real_root / "index.html", fs::perms(0644));

  const std::string user = "we \"ird\" \\ $user {;}";
  const std::string password = " p:a$s \"w\\ord\" {};# ";
  const std::uint16_t port = plugin_test::free_port();
  REQUIRE(f.manager.set_option("nginx", "site-root", site_root) == site_root);
  f.manager.set_option("nginx", "basic-auth", "true");
  f.manager.set_option("nginx", "basic-auth-user", user);
  f.manager.set_option("nginx", "basic-auth-password", password);
  f.manager.set_option("nginx", "local-port", std::to_string(port));

  f.manager.configure("nginx");  // also runs nginx -t on the main config
  REQUIRE(fs::exists(f.site_file()));
  INFO(dump(f.site_file()));
  const std::string site = plugin_test::read_file(f.site_file());
  CHECK(site.find("listen 127.0.0.1:" + std::to_string(port) + ";") != std::string::npos);
  CHECK(site.find("server_tokens off;") != std::string::npos);
  // Relative redirects: an absolute one names the local port and, without a Host header, 127.0.0.1.
  CHECK(site.find("absolute_redirect off;") != std::string::npos);
  CHECK(site.find("access_log off;") != std::string::npos);
  CHECK(site.find(escape::nginx_dollar_definition()) != std::string::npos);
  CHECK(site.find("geo ") == site.rfind("geo "));  // defined once
  // The plugin kept the page that was there.
  CHECK(plugin_test::read_file(real_root / "index.html") == page);

  const fs::path htpasswd = f.tmp / "etc/nginx/tails-server.htpasswd";
  REQUIRE(fs::exists(htpasswd));
  auto info = plugin_test::file_info(htpasswd);
  CHECK(info.mode == 0640);
  CHECK(info.owner == "root");
  CHECK(info.group == "www-data");
  const std::string line = plugin_test::read_file(htpasswd);
  CHECK(line.rfind(user + ":$6$", 0) == 0);
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
  CHECK(line.find(password) == std::string::npos);

  RunResult check = f.nginx_test();
  INFO(check.output);
  REQUIRE(check.exit_code == 0);

  plugin_test::Daemon nginx({"nginx", "-c", f.main_config().string(), "-g", "daemon off;"}, f.tmp / "nginx.out");
  INFO(dump(f.tmp / "nginx.out"));
  INFO(dump(f.tmp / "nginx-error.log"));
  REQUIRE(plugin_test::wait_for_port(nginx, port));
  CHECK_FALSE(plugin_test::port_accepts("127.0.0.2", port));

  HttpResponse anonymous = http_get(port, "/");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.body.find("hostile root served") == std::string::npos);
  CHECK(anonymous.headers.find("WWW-Authenticate: Basic realm=\"Tails Server\"") != std::string::npos);

  const std::string wrong = password + "x";
  CHECK(http_get(port, "/", &user, &wrong).status == 401);
  const std::string other_user = "tails";
  CHECK(http_get(port, "/", &other_user, &password).status == 401);

  HttpResponse ok = http_get(port, "/", &user, &password);
  CHECK(ok.status == 200);
  CHECK(ok.body == page);
  // server_tokens off: no version.
  CHECK(ok.headers.find("\r\nServer: nginx\r\n") != std::string::npos);
  CHECK(http_get(port, "/index.html", &user, &password).body == page);
  CHECK(http_get(port, "/missing", &user, &password).status == 404);

  nginx.stop(SIGQUIT);
  CHECK_FALSE(plugin_test::port_accepts("127.0.0.1", port));
}

TEST_CASE("nginx: default options create the site root and serve without a password") {
  Fixture f;
  f.write_main_config();
  const std::uint16_t port = plugin_test::free_port();
  f.manager.set_option("nginx", "local-port", std::to_string(port));
  f.manager.configure("nginx");

  const fs::path root = f.tmp / "var/www/tails-server";
  REQUIRE(fs::exists(root / "index.html"));
  CHECK(plugin_test::file_info(root).mode == 0755);
  const std::string site = plugin_test::read_file(f.site_file());
  INFO(site);
  CHECK(site.find("auth_basic") == std::string::npos);
  CHECK_FALSE(fs::exists(f.tmp / "etc/nginx/tails-server.htpasswd"));
  CHECK(site.find("root " + escape::nginx_string(root.string(), true) + ";") != std::string::npos);

  REQUIRE(f.nginx_test().exit_code == 0);
  plugin_test::Daemon nginx({"nginx", "-c", f.main_config().string(), "-g", "daemon off;"}, f.tmp / "nginx.out");
  INFO(dump(f.tmp / "nginx-error.log"));
  REQUIRE(plugin_test::wait_for_port(nginx, port));
  HttpResponse page = http_get(port, "/");
  CHECK(page.status == 200);
  CHECK(page.body.find("Tails Server") != std::string::npos);
  CHECK(page.body == plugin_test::read_file(root / "index.html"));

  auto connection = f.manager.connection_info("nginx");
  bool has_port = false;
  for (const auto& [key, value] : connection.fields) {
    if (key == "port") has_port = value == "80";
    CHECK(key != "basic-auth-password");
  }
  CHECK(has_port);
  CHECK(connection.instructions.find("Tor Browser") != std::string::npos);
}

TEST_CASE("nginx: configure fails loudly when nginx -t rejects the configuration") {
  Fixture f;
  f.write_main_config();
  // A broken main config: the plugin's check must report it, not hide it.
  plugin_test::write_file(f.main_config(), plugin_test::read_file(f.main_config()) + "this is not nginx\n");
  try {
    f.manager.configure("nginx");
    FAIL("configure accepted a configuration nginx -t refuses");
  } catch (const ServiceError& error) {
    CHECK(error.code() == ErrorCode::Failed);
    CHECK(std::string(error.what()).find("nginx -t refused") != std::string::npos);
  }
}

TEST_CASE("nginx: allow-lan listens on every IPv4 and every IPv6 address and nginx -t accepts it") {
  Fixture f;
  f.write_main_config();
  const std::uint16_t port = plugin_test::free_port();
  f.manager.set_option("nginx", "local-port", std::to_string(port));
  f.manager.set_option("nginx", "allow-lan", "true");
  f.manager.configure("nginx");
  const std::string site = plugin_test::read_file(f.site_file());
  INFO(site);
  const std::string p = std::to_string(port);
  CHECK(site.find("    listen 0.0.0.0:" + p + ";\n    listen [::]:" + p + ";\n") != std::string::npos);
  CHECK(site.find("127.0.0.1") == std::string::npos);
  CHECK(f.nginx_test().exit_code == 0);

  f.manager.set_option("nginx", "allow-lan", "false");
  f.manager.configure("nginx");
  const std::string again = plugin_test::read_file(f.site_file());
  CHECK(again.find("    listen 127.0.0.1:" + p + ";\n    server_name") != std::string::npos);
  CHECK(again.find("[::]") == std::string::npos);
}

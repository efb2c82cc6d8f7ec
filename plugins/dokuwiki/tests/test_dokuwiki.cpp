// Tests of the dokuwiki plugin and of the nginx configuration the core
// composes from the sites of the dokuwiki and nginx services, with the real
// core, `nginx -t`, `php -l` and PHP itself. Run as root.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "daemon_process.h"
#include "nginx_root.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"
#include "web/web_server.h"
#include "../dokuwiki_config.h"

#include <tails_server/escape.h>

#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::WebSite;
using tails_server::core::ErrorCode;
using tails_server::core::ServiceError;
using tails_server::core::SystemHost;
using tails_server::test::TempDir;
namespace escape = tails_server::escape;

namespace {

struct Fixture : plugin_test::NginxRoot {
  Fixture() : NginxRoot("tails-server-dokuwiki") {}
};

// PHP reads `file` and prints $conf['title'] exactly.
std::string php_title(SystemHost& host, const fs::path& file) {
  RunResult r = host.run({"php", "-r", "include $argv[1]; echo $conf['title'];", file.string()}, RunOptions{});
  REQUIRE(r.exit_code == 0);
  return r.output;
}

}  // namespace

TEST_CASE("php_string escapes quotes and backslashes exactly and refuses control characters") {
  CHECK(escape::php_string("") == "''");
  CHECK(escape::php_string("it's") == R"('it\'s')");
  CHECK(escape::php_string(R"(a\b)") == R"('a\\b')");
  CHECK(escape::php_string(R"(\')") == R"('\\\'')");
  CHECK(escape::php_string("$x ?> \" {}") == "'$x ?> \" {}'");
  CHECK_THROWS_AS(escape::php_string("a\nb"), escape::EscapeError);
  CHECK_THROWS_AS(escape::php_string(std::string("a\0b", 3)), escape::EscapeError);
  CHECK_THROWS_WITH(escape::php_string("a\rb"), "a PHP string cannot hold the control character 0x0D");
}

TEST_CASE("dokuwiki: hostile titles are refused or mean exactly what was given as php -l and PHP check") {
  Fixture f;
  f.write_main_config();
  auto refused = [&](const std::string& value) {
    try {
      f.manager.set_option("dokuwiki", "title", value);
      return false;
    } catch (const ServiceError& error) {
      CHECK(error.code() == ErrorCode::InvalidValue);
      return true;
    }
  };
  CHECK(refused(""));
  CHECK(refused("two\nlines"));
  CHECK(refused("carriage\rreturn"));
  CHECK(refused(std::string("nul\0byte", 8)));
  CHECK(refused(std::string(201, 't')));
  const fs::path local = f.tmp / "etc/dokuwiki/local.php";
  for (const std::string& title :
       {std::string("it's a \"wiki\""), std::string(R"(back\slash\)"), std::string(R"(\')"),
        std::string("?> <?php system('id'); ?>"), std::string("*/ // # ; $conf['useacl'] = 0; /*"),
        std::string("${x} {$y} \\n"), std::string("[section] = ; comment"), std::string(200, '\\'),
        std::string("\xc3\xa9t\xc3\xa9")}) {
    INFO(title);
    REQUIRE_FALSE(refused(title));
    f.manager.configure("dokuwiki");
    RunResult lint = f.host.run({"php", "-l", local.string()}, RunOptions{});
    INFO(lint.output);
    CHECK(lint.exit_code == 0);
    CHECK(php_title(f.host, local) == title);
    // The ACL stays on whatever the title says.
    RunResult acl = f.host.run({"php", "-r", "include $argv[1]; echo $conf['useacl'], $conf['superuser'];",
                                local.string()}, RunOptions{});
    CHECK(acl.output == "1@admin");
  }
  CHECK(plugin_test::file_info(local).mode == 0640);
  CHECK(plugin_test::file_info(local).group == "www-data");
}

TEST_CASE("dokuwiki: the template footer is valid PHP and names no OS") {
  TempDir tmp{"tails-server-dokuwiki-footer"};
  const fs::path file = tmp / "tpl_footer.php";
  const std::string footer = dokuwiki::template_footer();
  plugin_test::write_file(file, footer);
  SystemHost host{tmp.path()};
  RunResult lint = host.run({"php", "-l", file.string()}, RunOptions{});
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
  // What PHP outputs (the text after the opening block) names no OS.
  const std::string output = footer.substr(footer.find("?>"));
  CHECK(output.find("ebian") == std::string::npos);
  CHECK(footer.find("debian.org") == std::string::npos);
  CHECK(footer.find("tpl_includeFile('footer.html')") != std::string::npos);
}

TEST_CASE("dokuwiki and nginx: one composed configuration serves both sites as nginx -t checks") {
  Fixture f;
  f.write_main_config();
  f.manager.set_option("nginx", "local-port", "18080");
  f.manager.set_option("dokuwiki", "local-port", "18081");
  f.manager.configure("nginx");
  f.manager.configure("dokuwiki");
  f.manager.set_enabled("nginx", true);
  f.manager.set_enabled("dokuwiki", true);
  f.manager.compose_web_sites();
  std::string site = plugin_test::read_file(f.site_file());
  INFO(site);
  CHECK(site.find("listen 127.0.0.1:18080;") != std::string::npos);
  CHECK(site.find("listen 127.0.0.1:18081;") != std::string::npos);
  CHECK(site.find("root " + escape::nginx_string(f.host.path("/usr/share/dokuwiki").string(), true)) !=
        std::string::npos);
  CHECK(site.find("fastcgi_pass unix:/run/php/php8.2-fpm.sock;") != std::string::npos);
  CHECK(site.find("location ^~ \"/data/\" {\n        return 404;") != std::string::npos);
  CHECK(site.find(escape::nginx_dollar_definition()) != std::string::npos);
  CHECK(site.find("geo ") == site.rfind("geo "));  // defined once
  CHECK(f.manager.php_web_sites_enabled());
  CHECK_FALSE(f.manager.web_site_uses_php("nginx"));
  {
    RunResult check = f.nginx_test();
    INFO(check.output);
    CHECK(check.exit_code == 0);
  }
  // No candidate or check file is left behind.
  CHECK_FALSE(fs::exists(f.tmp / "etc/nginx/tails-server-check.conf"));
  CHECK_FALSE(fs::exists(f.tmp / "etc/nginx/tails-server/composed.conf.new"));

  // The static site disabled: the wiki alone, and the reverse.
  f.manager.set_enabled("nginx", false);
  f.manager.compose_web_sites();
  site = plugin_test::read_file(f.site_file());
  CHECK(site.find(":18080;") == std::string::npos);
  CHECK(site.find(":18081;") != std::string::npos);
  CHECK(f.nginx_test().exit_code == 0);
  f.manager.set_enabled("nginx", true);
  f.manager.set_enabled("dokuwiki", false);
  f.manager.compose_web_sites();
  site = plugin_test::read_file(f.site_file());
  CHECK(site.find(":18080;") != std::string::npos);
  CHECK(site.find(":18081;") == std::string::npos);
  CHECK_FALSE(f.manager.php_web_sites_enabled());
  // None: an empty configuration nginx still accepts.
  f.manager.set_enabled("nginx", false);
  f.manager.compose_web_sites();
  CHECK(plugin_test::read_file(f.site_file()).find("server {") == std::string::npos);
  CHECK(f.nginx_test().exit_code == 0);
  CHECK_FALSE(f.manager.web_sites_enabled());
}

TEST_CASE("web sites: values nginx cannot hold are refused and the old configuration stays") {
  Fixture f;
  f.write_main_config();
  f.manager.set_option("nginx", "local-port", "18090");
  f.manager.configure("nginx");
  const std::string before = plugin_test::read_file(f.site_file());
  SystemHost& host = f.host;
  auto render = [&](const WebSite& site) {
    return tails_server::core::render_web_site("test", site, {"127.0.0.1"}, 18091, host);
  };
  WebSite site;
  site.root = "/srv/site";
  CHECK_NOTHROW(render(site));
  for (const std::string& root : {std::string("relative"), std::string("/"), std::string("/srv/../etc"),
                                  std::string("/srv/a\nb"), std::string("/srv/a\x7f")}) {
    INFO(root);
    site.root = root;
    CHECK_THROWS_AS(render(site), tails_server::HostError);
  }
  site.root = "/srv/site";
  site.denied_paths = {"data/"};
  CHECK_THROWS_WITH_AS(render(site), "web site of test: denied path 'data/' does not start with '/'",
                       tails_server::HostError);
  site.denied_paths = {"/a\nb/"};
  CHECK_THROWS_AS(render(site), tails_server::HostError);
  site.denied_paths = {};
  site.index = {"../x"};
  CHECK_THROWS_AS(render(site), tails_server::HostError);
  site.index = {"index.html"};
  site.max_body_kib = 0;
  CHECK_THROWS_AS(render(site), tails_server::HostError);
  site.max_body_kib = 1024;
  CHECK_THROWS_AS(tails_server::core::render_web_site("test", site, {"127.0.0.1; include /etc/shadow"}, 1, host),
                  tails_server::HostError);

  // Hostile but writable values: quoted so that nginx -t accepts them and the
  // composed file keeps one directive a line.
  site.root = "/srv/we \"ird\" $root {;} #x \\";
  site.denied_paths = {"/a \"b\" {;} #c $d/"};
  site.basic_auth_user_file = "/etc/x \"y\" $z;";
  site.basic_auth_realm = "realm \"q\" $v {;}#";
  site.index = {"i \"x\" $y;.php"};
  site.php = true;
  const std::string block = render(site);
  tails_server::core::WebServer web(host);
  web.compose({{"test", block}});
  RunResult check = f.nginx_test();
  INFO(block);
  INFO(check.output);
  CHECK(check.exit_code == 0);

  // A configuration nginx refuses never replaces the old one.
  f.manager.set_enabled("nginx", true);
  f.manager.compose_web_sites();
  const std::string good = plugin_test::read_file(f.site_file());
  CHECK_THROWS_AS(web.compose({{"test", "server { this is not nginx; }\n"}}), tails_server::HostError);
  CHECK(plugin_test::read_file(f.site_file()) == good);
  CHECK(before == good);
}

TEST_CASE("dokuwiki: add-admin writes a bcrypt hash PHP verifies and never the password") {
  Fixture f;
  const std::string password = "s3cret 'pass' \"word\" $x :#\\";
  CHECK(f.manager.run_command("dokuwiki", "add-admin", {"alice"}, password).find("Added") != std::string::npos);
  const fs::path users = f.tmp / "var/lib/dokuwiki/acl/users.auth.php";
  const std::string text = plugin_test::read_file(users);
  INFO(text);
  CHECK(text.find(password) == std::string::npos);
  CHECK(plugin_test::file_info(users).mode == 0600);
  CHECK(plugin_test::file_info(users).owner == "www-data");
  const std::size_t at = text.find("\nalice:$2y$");
  REQUIRE(at != std::string::npos);
  const std::string hash = text.substr(at + 7, 60);
  RunOptions verify;
  verify.input = password;
  RunResult ok = f.host.run({"php", "-r", "echo password_verify(stream_get_contents(STDIN), $argv[1]) ? 'yes' : 'no';",
                             hash}, verify);
  CHECK(ok.output == "yes");
  verify.input = password + "x";
  CHECK(f.host.run({"php", "-r", "echo password_verify(stream_get_contents(STDIN), $argv[1]) ? 'yes' : 'no';", hash},
                   verify).output == "no");
  CHECK(text.find("alice:$2y$") != std::string::npos);
  CHECK(text.find(":alice:alice@wiki.invalid:admin,user\n") != std::string::npos);
  CHECK(f.manager.run_command("dokuwiki", "list-admins", {}, "") == "alice");

  // Again: the password changes, the account stays one.
  CHECK(f.manager.run_command("dokuwiki", "add-admin", {"alice"}, "another password").find("Set") !=
        std::string::npos);
  const std::string again = plugin_test::read_file(users);
  CHECK(again.find("\nalice:$2y$") == again.rfind("\nalice:$2y$"));
  CHECK(again != text);

  auto refused = [&](const std::string& name, const std::string& secret) {
    try {
      f.manager.run_command("dokuwiki", "add-admin", {name}, secret);
      return false;
    } catch (const ServiceError& error) {
      CHECK(error.code() == ErrorCode::InvalidValue);
      return true;
    }
  };
  CHECK(refused("Alice", "long enough"));
  CHECK(refused("a:b", "long enough"));
  CHECK(refused("a\nb", "long enough"));
  CHECK(refused("-a", "long enough"));
  CHECK(refused("#a", "long enough"));
  CHECK(refused(std::string(65, 'a'), "long enough"));
  CHECK(refused("bob", "short"));
  CHECK(refused("bob", std::string(73, 'p')));
  CHECK(refused("bob", "new\nline inside"));
  CHECK(plugin_test::read_file(users) == again);
}

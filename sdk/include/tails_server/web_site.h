// WebSite: a web site a service asks the shared web server (nginx) to serve.
//
// Several services may serve web sites with the same web server program
// (the `nginx` static site and the `dokuwiki` wiki do). None of them writes
// the web server's configuration: each declares its site from configure()
// with ServiceContext::declare_web_site(), and the core composes one nginx
// configuration from the sites of the enabled services, checks it with
// `nginx -t` and only then puts it in place and reloads nginx. A plugin that
// declares a site sets `systemd_service = "nginx.service"` and lists "nginx"
// in its `packages`; the core keeps nginx running while any enabled service
// declares a site, and PHP-FPM while any declares a PHP site. (Since 2.3.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tails_server {

struct WebSite {
  // The folder the site serves, as a system path ("/var/www/site"). The core
  // writes it into nginx's configuration through escape::nginx_string.
  std::string root;
  // The files tried for a URL that names a folder, in order.
  std::vector<std::string> index = {"index.html"};
  // Run the site's *.php files with PHP-FPM (Debian's php8.2-fpm, its
  // default pool: as www-data). The plugin lists the PHP-FPM package in
  // `packages`.
  bool php = false;
  // URL path prefixes ("/data/") that nobody may fetch: answered 404. Each
  // starts with '/'.
  std::vector<std::string> denied_paths;
  // Ask for a user name and password: the system path of an htpasswd file
  // the plugin wrote. Empty: no password asked.
  std::string basic_auth_user_file;
  std::string basic_auth_realm = "Tails Server";
  // The largest request body (an upload, an edited page) in KiB; 1 to 1048576.
  std::uint32_t max_body_kib = 1024;
};

// The address people open in Tor Browser: "http://ADDRESS.onion/", with
// ":PORT" unless the port is 80; "" while the service has no address yet.
inline std::string onion_http_url(const std::string& onion, const std::string& port) {
  return onion.empty() ? std::string() : "http://" + onion + (port == "80" ? "" : ":" + port) + "/";
}

}  // namespace tails_server

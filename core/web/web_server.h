// The shared web server: one nginx configuration composed from the web sites
// that services declare (tails_server/web_site.h).
//
// No plugin writes nginx's configuration. A plugin declares its site from
// configure(); the core renders it as one nginx server block (every value
// through escape::nginx_string or a strict check), keeps that block in
// /etc/nginx/tails-server/<service>.conf, and composes
// /etc/nginx/sites-enabled/tails-server from the blocks of the enabled
// services: written beside it first, checked with `nginx -t` on a copy of
// nginx.conf that includes the candidate instead of sites-enabled, and only
// then renamed into place. Reloading nginx is the lifecycle's work.
#pragma once

#include <tails_server/host.h>
#include <tails_server/web_site.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tails_server::core {

// Debian 12's PHP-FPM (package php8.2-fpm): its unit and its default pool's
// socket, where the sites' PHP files run as www-data.
inline constexpr std::string_view php_fpm_unit = "php8.2-fpm.service";
inline constexpr std::string_view php_fpm_socket = "/run/php/php8.2-fpm.sock";

// The nginx server block of `service`'s site, listening on each of
// `addresses` at `port`. Throws HostError naming the value it cannot write.
std::string render_web_site(const std::string& service, const WebSite& site,
                            const std::vector<std::string>& addresses, std::uint16_t port, const Host& host);

// Whether a rendered block runs PHP (then PHP-FPM must run).
bool web_site_uses_php(std::string_view block);

class WebServer {
 public:
  static constexpr std::string_view site_file = "/etc/nginx/sites-enabled/tails-server";
  static constexpr std::string_view block_directory = "/etc/nginx/tails-server";
  static constexpr std::string_view main_config = "/etc/nginx/nginx.conf";

  explicit WebServer(Host& host) : host_(host) {}

  // The stored block of `service`, if it declared a site.
  std::optional<std::string> block(const std::string& service) const;
  void store(const std::string& service, const std::string& block);
  void forget(const std::string& service);

  // Writes the configuration serving `blocks` (service → block; none: an
  // empty configuration), checked with `nginx -t` before it replaces the old
  // one. Without nginx.conf (nginx is not installed) it is written unchecked.
  // Throws HostError with nginx's output; the old configuration then stays.
  void compose(const std::map<std::string, std::string>& blocks);

 private:
  std::string block_file(const std::string& service) const;
  void check(const std::string& candidate_file);

  Host& host_;
};

}  // namespace tails_server::core

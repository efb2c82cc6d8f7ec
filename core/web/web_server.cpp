#include "web/web_server.h"

#include <tails_server/escape.h>

#include <filesystem>

namespace tails_server::core {
namespace {

namespace escape = tails_server::escape;

constexpr std::size_t config_max_bytes = 1 << 20;
constexpr std::uint32_t max_body_kib_limit = 1 << 20;

// A quoted nginx string, or HostError naming the field.
std::string quoted(const std::string& service, std::string_view field, std::string_view value, bool variables) {
  try {
    return escape::nginx_string(value, variables);
  } catch (const std::exception& error) {
    throw HostError("web site of " + service + ": " + std::string(field) + ": " + error.what());
  }
}

std::string listen_token(const std::string& address, std::uint16_t port) {
  if (address.empty() || address.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos)
    throw HostError("web site: unexpected listen address '" + address + "' (an IPv4 or IPv6 address)");
  const bool ipv6 = address.find(':') != std::string::npos;
  return (ipv6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

void check_system_path(const std::string& service, std::string_view field, const std::string& path) {
  const std::string prefix = "web site of " + service + ": " + std::string(field) + " '" + path + "' ";
  if (path.empty() || path.front() != '/') throw HostError(prefix + "is not an absolute path");
  for (const auto& part : std::filesystem::path(path).relative_path())
    if (part == "." || part == "..") throw HostError(prefix + "has a '.' or '..' part");
}

}  // namespace

std::string render_web_site(const std::string& service, const WebSite& site,
                            const std::vector<std::string>& addresses, std::uint16_t port, const Host& host) {
  check_system_path(service, "root", site.root);
  if (site.root.find_first_not_of('/') == std::string::npos)
    throw HostError("web site of " + service + ": serving the whole file system is refused");
  if (addresses.empty() || port == 0) throw HostError("web site of " + service + ": no address or port to listen on");
  if (site.index.empty()) throw HostError("web site of " + service + ": no index file");
  if (site.max_body_kib < 1 || site.max_body_kib > max_body_kib_limit)
    throw HostError("web site of " + service + ": max_body_kib " + std::to_string(site.max_body_kib) +
                    " is out of range (1 to " + std::to_string(max_body_kib_limit) + ")");

  std::string c = "# The web site of the \"" + service + "\" service.\nserver {\n";
  // One line per address: nginx binds [::] IPv6-only by default.
  for (const auto& address : addresses) c += "    listen " + listen_token(address, port) + ";\n";
  c += "    server_name _;\n";
  c += "    server_tokens off;\n";
  // Relative redirects: an absolute one names the local port (8080), or the
  // local address when the request has no Host header.
  c += "    absolute_redirect off;\n";
  c += "    access_log off;\n";
  c += "    autoindex off;\n";
  c += "    client_max_body_size " + std::to_string(site.max_body_kib) + "k;\n";
  c += "    root " + quoted(service, "root", host.path(site.root).string(), true) + ";\n";
  c += "    index";
  for (const auto& file : site.index) {
    if (file.empty() || file.find('/') != std::string::npos)
      throw HostError("web site of " + service + ": index file '" + file + "' is not a file name");
    c += " " + quoted(service, "index", file, true);
  }
  c += ";\n";
  if (!site.basic_auth_user_file.empty()) {
    check_system_path(service, "basic_auth_user_file", site.basic_auth_user_file);
    c += "    auth_basic " + quoted(service, "basic_auth_realm", site.basic_auth_realm, true) + ";\n";
    c += "    auth_basic_user_file " +
         quoted(service, "basic_auth_user_file", host.path(site.basic_auth_user_file).string(), true) + ";\n";
  }
  // Prefix locations with ^~: no regular expression location (PHP's) is
  // tried after them, so a denied prefix is denied for *.php too.
  for (const auto& denied : site.denied_paths) {
    if (denied.empty() || denied.front() != '/')
      throw HostError("web site of " + service + ": denied path '" + denied + "' does not start with '/'");
    c += "    location ^~ " + quoted(service, "denied path", denied, false) + " {\n        return 404;\n    }\n";
  }
  c += "    location / {\n        try_files $uri $uri/ =404;\n    }\n";
  if (site.php) {
    c += "    location ~ \\.php$ {\n";
    c += "        try_files $fastcgi_script_name =404;\n";
    c += "        include " + quoted(service, "fastcgi_params", host.path("/etc/nginx/fastcgi_params").string(), true) +
         ";\n";
    c += "        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n";
    c += "        fastcgi_param REDIRECT_STATUS 200;\n";
    // PHP names its version there (expose_php is on in Debian's php.ini).
    c += "        fastcgi_hide_header X-Powered-By;\n";
    c += "        fastcgi_pass unix:" + std::string(php_fpm_socket) + ";\n";
    c += "    }\n";
  }
  c += "}\n";
  return c;
}

bool web_site_uses_php(std::string_view block) { return block.find("\n        fastcgi_pass ") != std::string_view::npos; }

std::string WebServer::block_file(const std::string& service) const {
  return std::string(block_directory) + "/" + service + ".conf";
}

std::optional<std::string> WebServer::block(const std::string& service) const {
  return host_.read_file(block_file(service), config_max_bytes);
}

void WebServer::store(const std::string& service, const std::string& block) {
  host_.make_directory(block_directory, FileSpec{"root", "root", 0755});
  host_.write_file(block_file(service), block, FileSpec{"root", "root", 0644});
}

void WebServer::forget(const std::string& service) { host_.remove_file(block_file(service)); }

void WebServer::compose(const std::map<std::string, std::string>& blocks) {
  std::string c = "# Written by Tails Server from the web sites of the enabled services.\n"
                  "# Changes made here are overwritten. Included in nginx's http context.\n";
  if (!blocks.empty()) {
    // escape::nginx_string writes a literal '$' as a reference to this
    // variable: nginx 1.22 has no "\$".
    c += escape::nginx_dollar_definition();
    for (const auto& [service, block] : blocks) c += "\n" + block;
  }
  const std::string candidate = std::string(block_directory) + "/composed.conf.new";
  host_.make_directory(block_directory, FileSpec{"root", "root", 0755});
  host_.write_file(candidate, c, FileSpec{"root", "root", 0644});
  try {
    check(candidate);
  } catch (...) {
    host_.remove_file(candidate);
    throw;
  }
  host_.remove_file(candidate);
  // Debian's default site listens on every address at port 80.
  if (!blocks.empty()) host_.remove_file("/etc/nginx/sites-enabled/default");
  host_.make_directory("/etc/nginx/sites-enabled", FileSpec{"root", "root", 0755});
  host_.write_file(site_file, c, FileSpec{"root", "root", 0644});
}

// nginx -t on nginx.conf with its include of sites-enabled replaced by the
// candidate: nginx's own configuration and all our sites, before the swap
// (sites another program put in sites-enabled are not part of the check). The
// copy lies beside nginx.conf, so its relative includes mean the same.
void WebServer::check(const std::string& candidate_file) {
  auto main = host_.read_file(main_config, config_max_bytes);
  if (!main) return;  // nginx is not installed: nothing to check with
  const std::string include = "include " + host_.path("/etc/nginx/sites-enabled").string() + "/*;";
  const std::size_t at = main->find(include);
  if (at == std::string::npos || main->find(include, at + 1) != std::string::npos)
    throw HostError("cannot check the web sites with nginx -t: " + host_.path(main_config).string() +
                    " does not include sites-enabled once as '" + include + "'");
  std::string test = *main;
  test.replace(at, include.size(), "include " + escape::nginx_string(host_.path(candidate_file).string(), true) + ";");
  const std::string test_file = "/etc/nginx/tails-server-check.conf";
  host_.write_file(test_file, test, FileSpec{"root", "root", 0600});
  RunResult result;
  try {
    result = host_.run({"nginx", "-t", "-q", "-c", host_.path(test_file).string()}, RunOptions{});
  } catch (...) {
    host_.remove_file(test_file);
    throw;
  }
  host_.remove_file(test_file);
  if (result.exit_code != 0)
    throw HostError("nginx -t refused the composed web sites (" + host_.path(site_file).string() + "):\n" +
                    result.output);
}

}  // namespace tails_server::core

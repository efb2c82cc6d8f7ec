// The smallest useful Tails Server plugin: static web pages from
// /var/www/html, served by lighttpd and published as an onion service.
//
// A service is mostly data. The base class installs `packages`, starts and
// stops `systemd_service`, publishes the options virtual-port -> local-port
// on the onion service, and builds the connection information. Override
// configure() to write the service's config from its options (every value
// through an escaper of <tails_server/escape.h>; files named by their system
// path, e.g. host.write_file("/etc/lighttpd/conf-enabled/x.conf", ...); throw
// HostError with a message for the user on failure), as the icecast plugin of
// Tails Server does; this one keeps lighttpd's own configuration (port 80).
//
// A web site on the shared nginx instead (SDK 2.3): set
//   packages = {"nginx"}; systemd_service = "nginx.service";
// and declare the site from configure(); the core writes it into the one
// nginx configuration it composes from every enabled service's site (checked
// with nginx -t), so your site and the others' share nginx:
//   void configure(tails_server::ServiceContext& context) override {
//     tails_server::WebSite site;
//     site.root = "/var/www/html";
//     site.index = {"index.html"};
//     site.php = false;                  // true: *.php run by PHP-FPM (list "php8.2-fpm" in packages)
//     site.denied_paths = {"/private/"}; // URL prefixes answered 404
//     context.declare_web_site(site);
//   }
#include <tails_server/plugin.h>

#include <memory>

namespace {

class ExampleService : public tails_server::TailsService {
 public:
  ExampleService() {
    description = "Publish the web pages in /var/www/html.";
    client_application = "Tor Browser";
    documentation = "https://example.org/tails-server-example";
    packages = {"lighttpd"};
    systemd_service = "lighttpd.service";
    default_local_port = 80;
    icon_name = "applications-internet";
    persistent_paths = {"/var/www/html"};

    // One option of the plugin's own. The core adds the standard ones
    // (virtual-port, persistence, autostart, ...) to every service.
    options.push_back(std::make_shared<tails_server::ReadOnlyOption>(
        "address", "The address to open in Tor Browser.",
        [](const tails_server::ServiceContext& context) {
          std::string onion = context.onion_address();
          return onion.empty() ? std::string("(no onion address yet)") : "http://" + onion + "/";
        }));
  }
};

}  // namespace

// Exports the plugin: stamps the SDK's API version and ABI tag and the
// factory the host calls, and gives the service its name (set nowhere else).
TAILS_SERVER_PLUGIN(ExampleService, "example")

// The smallest useful Tails Server plugin: static web pages from
// /var/www/html, served by lighttpd and published as an onion service.
//
// A service is mostly data. The base class installs `packages`, starts and
// stops `systemd_service`, publishes default_virtual_port -> local port on
// the onion service, and builds the connection information. Override
// configure() to write the service's config from its options, as
// plugins/nginx does; this one keeps lighttpd's own configuration (port 80).
#include <tails_server/plugin.h>

#include <memory>

namespace {

class ExampleService : public tails_server::TailsService {
 public:
  ExampleService() {
    name = "example";  // must equal the name given to TAILS_SERVER_PLUGIN below
    description = "Publish the web pages in /var/www/html.";
    client_application = "Tor Browser";
    documentation = "https://example.org/tails-server-example";
    packages = {"lighttpd"};
    systemd_service = "lighttpd.service";
    default_target_port = 80;
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
// factory the host calls. The name is the plugin's identifier.
TAILS_SERVER_PLUGIN(ExampleService, "example")

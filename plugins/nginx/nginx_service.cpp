// nginx serving static web pages, published as a Tor onion service.
//
// Clients open http://<onion>/ in Tor Browser: the onion's virtual port is
// 80. nginx itself listens on 127.0.0.1:8080 by default (the "local-port"
// option), so that it does not clash with another web server on port 80.
//
// The plugin declares its site (the site folder, a password or not) with
// ServiceContext::declare_web_site (SDK 2.3); the core writes it into the one
// nginx configuration it composes from every enabled service's site (the
// dokuwiki plugin's too), checks it with nginx -t and reloads nginx. This
// plugin writes no nginx configuration. More on nginx's quirks:
// docs/services.md#nginx.
#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>
#include <tails_server/web_site.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using tails_server::FileSpec;
using tails_server::HostError;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::ServiceContext;

constexpr std::string_view htpasswd_file = "/etc/nginx/tails-server.htpasswd";
constexpr std::string_view default_site_root = "/var/www/tails-server";
constexpr std::string_view realm = "Tails Server";
// `openssl passwd -stdin` silently cuts longer lines at 256 bytes.
constexpr std::size_t password_max_length = 255;

constexpr std::string_view default_index =
    "<!DOCTYPE html>\n"
    "<html>\n"
    "<head><meta charset=\"utf-8\"><title>Tails Server</title></head>\n"
    "<body>\n"
    "<h1>It works</h1>\n"
    "<p>This web site is served by Tails Server through a Tor onion service.\n"
    "Put your own pages in its site folder.</p>\n"
    "</body>\n"
    "</html>\n";

// Anyone allowed to manage services (an SSH admin too) may set the folder, and nginx serves whatever
// www-data can read in it: so only folders made for data, never /etc, /root or the daemon's own.
std::string site_root_problem(std::string_view value) {
  if (value.front() != '/') return "not an absolute path (it must start with '/')";
  const std::filesystem::path path(value);
  std::vector<std::string> parts;
  for (const auto& part : path.relative_path()) {
    const std::string text = part.string();
    if (text.empty()) continue;  // a trailing '/'
    if (text == "." || text == "..") return "it has a '.' or '..' part";
    if (text.front() == '.') return "it has a hidden folder ('" + text + "'), such as ~/.ssh or ~/.gnupg";
    parts.push_back(text);
  }
  const bool below = (parts.size() >= 2 && (parts[0] == "media" || parts[0] == "mnt" || parts[0] == "srv")) ||
                     (parts.size() >= 3 && parts[0] == "home") ||  // in a home, not a whole home
                     (parts.size() >= 3 && parts[0] == "var" && parts[1] == "www");
  if (!below) return "it is not below /home/USER, /media, /mnt, /srv or /var/www";
  return {};
}

class NginxService : public tails_server::TailsService {
 public:
  NginxService() {
    description = "A web server for static web pages, reachable with Tor Browser.";
    client_application = "Tor Browser";
    documentation = TAILS_SERVER_HELP_DIR "/nginx.html";
    packages = {"nginx"};
    systemd_service = "nginx.service";
    default_local_port = 8080;   // local; 80 is often taken by other web servers
    default_virtual_port = 80;   // what Tor Browser uses for http://<onion>/
    icon_name = "text-html";
    persistent_paths = {std::string(default_site_root)};
    name_in_gui = "Web site (nginx)";

    tails_server::StringRules root_rules;
    root_rules.min_length = 1;
    root_rules.max_length = 1024;
    root_rules.check_accepts =
        "an absolute path to a folder below /home/USER, /media, /mnt, /srv or /var/www, with no part that is '.' or "
        "'..' or starts with '.'";
    root_rules.check = [](std::string_view value) -> std::string { return site_root_problem(value); };
    options.push_back(std::make_shared<tails_server::StringOption>(
        "site-root", "Folder whose files the web site serves (created with a sample page if missing)",
        std::string(default_site_root), root_rules));

    options.push_back(std::make_shared<tails_server::BoolOption>(
        "basic-auth", "Ask visitors for a user name and password (HTTP basic authentication)", false));

    tails_server::StringRules user_rules;
    user_rules.min_length = 1;
    user_rules.max_length = 64;
    user_rules.forbidden = ":";
    // nginx reads a password-file line starting with '#' as a comment.
    user_rules.check_accepts = "not starting with '#'";
    user_rules.check = [](std::string_view value) { return value.front() == '#' ? "starts with '#'" : ""; };
    options.push_back(std::make_shared<tails_server::StringOption>(
        "basic-auth-user", "User name visitors give when basic-auth is on", "tails", user_rules));

    tails_server::StringRules password_rules;
    password_rules.min_length = 1;
    password_rules.max_length = password_max_length;
    options.push_back(std::make_shared<tails_server::SecretOption>(
        "basic-auth-password", "Password visitors give when basic-auth is on", 20, password_rules));
    for (const auto& option : options) {
      if (option->name() == "site-root") option->name_in_gui = "Web site folder";
      if (option->name() == "basic-auth") option->name_in_gui = "Ask for a password";
      if (option->name() == "basic-auth-user") option->name_in_gui = "User name";
      if (option->name() == "basic-auth-password") option->name_in_gui = "Password";
    }
  }

  void configure(ServiceContext& context) override {
    auto& host = context.host();
    const std::string site_root = context.option("site-root");
    const bool basic_auth = context.option_bool("basic-auth");

    if (!host.exists(site_root)) {
      host.make_directory(site_root, FileSpec{"root", "root", 0755});
      host.write_file(site_root + "/index.html", default_index, FileSpec{"root", "root", 0644});
    }

    if (basic_auth) write_htpasswd(context);
    else host.remove_file(htpasswd_file);

    tails_server::WebSite site;
    site.root = site_root;
    site.index = {"index.html"};
    if (basic_auth) {
      site.basic_auth_user_file = std::string(htpasswd_file);
      site.basic_auth_realm = std::string(realm);
    }
    context.declare_web_site(site);  // the core checks it with nginx -t
  }

  tails_server::ConnectionInfo connection_info(const ServiceContext& context) const override {
    tails_server::ConnectionInfo info;
    const std::string onion = context.onion_address();
    const std::string port = context.option(tails_server::standard_option::virtual_port);
    const std::string url = tails_server::onion_http_url(onion, port);
    info.fields.emplace_back("address", onion.empty() ? "(no onion address yet)" : onion);
    info.fields.emplace_back("port", port);
    if (!url.empty()) info.fields.emplace_back("url", url);
    const bool basic_auth = context.option_bool("basic-auth");
    if (basic_auth) {
      info.fields.emplace_back("basic-auth-user", context.option("basic-auth-user"));
      info.fields.emplace_back("basic-auth-password", context.option("basic-auth-password"));
    }
    info.instructions = "Open " + (url.empty() ? std::string("the onion address") : url) + " in Tor Browser." +
                        (basic_auth ? " When asked, give the user name and password shown here." : "");
    return info;
  }

 private:
  void write_htpasswd(ServiceContext& context) {
    auto& host = context.host();
    const std::string user = context.option("basic-auth-user");
    const std::string password = context.option("basic-auth-password");
    // The options refused these already; check again before writing a line-based file.
    for (unsigned char c : user + password)
      if (c < 0x20 || c == 0x7f) throw HostError("nginx: a control character in the basic-auth user or password");
    if (user.empty() || user.find(':') != std::string::npos || user.front() == '#')
      throw HostError("nginx: the basic-auth user must not be empty, contain ':' or start with '#'");
    if (password.empty() || password.size() > password_max_length)
      throw HostError("nginx: the basic-auth password must be 1 to " + std::to_string(password_max_length) +
                      " bytes");

    RunOptions options;
    options.input = password + "\n";  // never in argv
    RunResult hashed = host.run({"openssl", "passwd", "-6", "-stdin"}, options);
    std::string hash = hashed.output;
    while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
    if (hashed.exit_code != 0 || hash.rfind("$6$", 0) != 0 || hash.find_first_of("\n:") != std::string::npos)
      throw HostError("openssl passwd failed (exit status " + std::to_string(hashed.exit_code) + ")");

    host.write_file(htpasswd_file, user + ":" + hash + "\n", FileSpec{"root", "www-data", 0640});
  }
};

}  // namespace

TAILS_SERVER_PLUGIN(NginxService, "nginx")

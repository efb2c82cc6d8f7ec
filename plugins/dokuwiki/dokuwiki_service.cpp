// DokuWiki (Debian's package, no database) served by the shared nginx with
// PHP-FPM, published as its own Tor onion service.
//
// The plugin writes no nginx configuration: it declares its web site (SDK
// 2.3, ServiceContext::declare_web_site) and the core composes nginx's
// configuration from the sites of every enabled service, so the wiki and the
// `nginx` static site share nginx without either knowing the other. Its
// packages name php8.2-fpm: Debian's "php" would otherwise pull in Apache's
// PHP module. The wiki's pages, users and ACL live in /var/lib/dokuwiki (the
// package links /etc/dokuwiki/users.auth.php and acl.auth.php there), its
// persistent path; local.php is written from the options at each start.
#include "dokuwiki_config.h"

#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>
#include <tails_server/web_site.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using tails_server::FileSpec;
using tails_server::Host;
using tails_server::HostError;
using tails_server::OptionError;
using tails_server::RunOptions;
using tails_server::RunResult;
using tails_server::ServiceContext;

constexpr std::string_view local_php = "/etc/dokuwiki/local.php";
constexpr std::string_view data_root = "/var/lib/dokuwiki";
constexpr std::string_view acl_directory = "/var/lib/dokuwiki/acl";
constexpr std::string_view users_file = "/var/lib/dokuwiki/acl/users.auth.php";
constexpr std::string_view acl_file = "/var/lib/dokuwiki/acl/acl.auth.php";
constexpr std::string_view wiki_root = "/usr/share/dokuwiki";
// Debian's template footer has a "Run on Debian" button: it names the OS to
// every visitor. The package's file is diverted (dpkg-divert keeps it as
// .distrib and puts it back at uninstall) and ours has no such button.
constexpr std::string_view footer = "/var/lib/dokuwiki/lib/tpl/dokuwiki/tpl_footer.php";
constexpr std::string_view footer_distrib = "/var/lib/dokuwiki/lib/tpl/dokuwiki/tpl_footer.php.distrib";
constexpr std::size_t users_max_bytes = 1 << 20;
// bcrypt reads the first 72 bytes only: a longer password would not mean
// what was typed.
constexpr std::size_t password_min_length = 8;
constexpr std::size_t password_max_length = 72;

class DokuWikiService : public tails_server::TailsService {
 public:
  DokuWikiService() {
    description = "A wiki (DokuWiki) for writing pages together, reachable with Tor Browser.";
    client_application = "Tor Browser";
    documentation = TAILS_SERVER_HELP_DIR "/dokuwiki.html";
    packages = {"nginx", "php8.2-fpm", "dokuwiki"};
    systemd_service = "nginx.service";  // shared with the other web sites
    default_local_port = 8081;
    default_virtual_port = 80;
    icon_name = "accessories-text-editor";
    persistent_paths = {std::string(data_root)};
    name_in_gui = "Wiki (DokuWiki)";

    tails_server::StringRules title_rules;
    title_rules.min_length = 1;
    title_rules.max_length = 200;
    options.push_back(std::make_shared<tails_server::StringOption>("title", "The wiki's title, shown on every page",
                                                                   "Tails Server wiki", title_rules));
    options.back()->name_in_gui = "Title";

    commands.push_back({"add-admin", "Add a wiki admin (or set an admin's password), the password read from stdin",
                        {"NAME"}, true});
    commands.push_back({"list-admins", "List the wiki's admins", {}, false});
  }

  void install(ServiceContext& context) override {
    // Debian's postinst makes an account "admin" in the admin group: the
    // wiki starts with no account; add-admin makes them.
    auto& host = context.host();
    host.make_directory(acl_directory, FileSpec{"www-data", "root", 0700});
    host.write_file(users_file, dokuwiki::render_users({}), FileSpec{"www-data", "root", 0600});
  }

  void configure(ServiceContext& context) override {
    auto& host = context.host();
    hide_os_button(host);
    const std::string local = dokuwiki::render_local_php(context.option("title"));
    host.write_file(local_php, local, FileSpec{"root", "www-data", 0640});
    // PHP's own check of the file just written (the title is the only value).
    if (host.exists("/usr/bin/php")) {
      RunResult lint = host.run({"php", "-l", host.path(local_php).string()}, RunOptions{});
      if (lint.exit_code != 0) throw HostError("php -l refused " + host.path(local_php).string() + ":\n" + lint.output);
    }
    host.make_directory(acl_directory, FileSpec{"www-data", "root", 0700});
    if (!host.exists(acl_file)) host.write_file(acl_file, dokuwiki::default_acl(), FileSpec{"www-data", "root", 0600});
    if (!host.exists(users_file)) host.write_file(users_file, dokuwiki::render_users({}), FileSpec{"www-data", "root", 0600});

    tails_server::WebSite site;
    site.root = std::string(wiki_root);
    site.index = {"doku.php"};
    site.php = true;
    // DokuWiki's own list of what must never be fetched (Debian keeps data
    // and conf outside the root; denied all the same), and the installer.
    site.denied_paths = {"/data/", "/conf/", "/bin/", "/inc/", "/vendor/", "/install.php", "/.ht"};
    site.max_body_kib = 8 * 1024;  // media uploads
    context.declare_web_site(site);
  }

  tails_server::ConnectionInfo connection_info(const ServiceContext& context) const override {
    tails_server::ConnectionInfo info;
    const std::string onion = context.onion_address();
    const std::string port = context.option(tails_server::standard_option::virtual_port);
    const std::string url = tails_server::onion_http_url(onion, port);
    info.fields.emplace_back("address", onion.empty() ? "(no onion address yet)" : onion);
    info.fields.emplace_back("port", port);
    if (!url.empty()) info.fields.emplace_back("url", url);
    info.instructions = "Open " + (url.empty() ? std::string("the onion address") : url) +
                        " in Tor Browser. Log in with an account that \"tails-server run dokuwiki add-admin NAME\" "
                        "made to edit pages.";
    return info;
  }

  std::string run_command(ServiceContext& context, const std::string& command,
                          const std::vector<std::string>& arguments, const std::string& secret) override {
    Host& host = context.host();
    auto accounts = read_users(host);
    if (command == "list-admins") {
      std::string out;
      for (const auto& account : accounts)
        if (dokuwiki::is_admin(account)) out += account.name + "\n";
      if (out.empty()) return "No admins yet: add one with \"tails-server run dokuwiki add-admin NAME\".";
      out.pop_back();
      return out;
    }
    if (command != "add-admin") return TailsService::run_command(context, command, arguments, secret);
    if (arguments.size() != 1) throw OptionError("add-admin takes one argument: the admin's name");
    const std::string& admin = arguments[0];
    if (auto why = dokuwiki::check_admin_name(admin); !why.empty())
      throw OptionError("admin name '" + admin + "' is refused: " + why);
    std::string password = secret;
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
    if (password.size() < password_min_length || password.size() > password_max_length)
      throw OptionError("the password must be " + std::to_string(password_min_length) + " to " +
                        std::to_string(password_max_length) + " bytes long (bcrypt reads 72 bytes at most)");
    for (unsigned char c : password)
      if (c < 0x20 || c == 0x7f) throw OptionError("the password must not hold control characters");

    // PHP's password_hash (bcrypt), as DokuWiki checks it; the password on stdin only.
    RunOptions run;
    run.input = password;
    RunResult hashed =
        host.run({"php", "-r", "echo password_hash(stream_get_contents(STDIN), PASSWORD_BCRYPT);"}, run);
    const std::string hash = hashed.output;
    if (hashed.exit_code != 0 || hash.rfind("$2y$", 0) != 0 || hash.size() != 60)
      throw HostError("php password_hash failed (exit status " + std::to_string(hashed.exit_code) + ")");

    auto account = dokuwiki::admin_account(admin, hash);
    auto same = std::find_if(accounts.begin(), accounts.end(), [&](const auto& a) { return a.name == admin; });
    const bool existed = same != accounts.end();
    if (existed) *same = account;
    else accounts.push_back(account);
    host.make_directory(acl_directory, FileSpec{"www-data", "root", 0700});
    host.write_file(users_file, dokuwiki::render_users(accounts), FileSpec{"www-data", "root", 0600});
    return (existed ? "Set the password of the wiki admin " : "Added the wiki admin ") + admin + ".";
  }

  void uninstall(ServiceContext& context) override {
    auto& host = context.host();
    if (!host.exists("/usr/bin/dpkg-divert") || !diverted(host)) return;
    host.remove_file(footer);
    RunResult removed = host.run({"dpkg-divert", "--local", "--rename", "--remove", host.path(footer).string()}, {});
    if (removed.exit_code != 0) throw HostError("dpkg-divert --remove failed:\n" + removed.output);
  }

 private:
  static bool diverted(Host& host) {
    RunResult truename = host.run({"dpkg-divert", "--truename", host.path(footer).string()}, RunOptions{});
    return truename.exit_code == 0 && truename.output.find(".distrib") != std::string::npos;
  }

  static void hide_os_button(Host& host) {
    if (!host.exists("/usr/bin/dpkg-divert") || !host.exists(footer)) return;  // a test root: no package
    if (!diverted(host)) {
      // A copy dpkg forgot (the data folder may come back from the
      // Persistent Storage after a reboot, dpkg's database not).
      host.remove_file(footer_distrib);
      RunResult added = host.run({"dpkg-divert", "--local", "--rename", "--divert",
                                  host.path(footer_distrib).string(), "--add", host.path(footer).string()},
                                 RunOptions{});
      if (added.exit_code != 0) throw HostError("dpkg-divert --add failed:\n" + added.output);
    }
    host.write_file(footer, dokuwiki::template_footer(), FileSpec{"root", "root", 0644});
  }

  // The wiki (www-data) writes this file: read it without following a link, capped.
  static std::vector<dokuwiki::Account> read_users(Host& host) {
    auto text = host.read_file(users_file, users_max_bytes);
    if (!text) return {};
    try {
      return dokuwiki::parse_users(*text);
    } catch (const std::exception& error) {
      throw HostError(host.path(users_file).string() + ": " + error.what());
    }
  }
};

}  // namespace

TAILS_SERVER_PLUGIN(DokuWikiService, "dokuwiki")

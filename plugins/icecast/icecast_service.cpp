// The Icecast streaming media service (icecast2 2.4).
//
// Facts this relies on are in docs/services.md#icecast: icecast.xml is read
// by libxml2 (entities and character references are decoded, white space in a
// value is kept), a relative access log name is put under <logdir>, and
// "0.0.0.0" beside "::" cannot be bound. The package has only an LSB script:
// configure() writes a native unit over it.

#include "icecast_config.h"

#include <tails_server/escape.h>
#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>

#include <memory>
#include <sstream>
#include <stdexcept>

namespace tails_server_icecast {
namespace {

using namespace tails_server;

constexpr const char* service_user = "icecast2";
constexpr const char* service_group = "icecast";
constexpr const char* config_file = "/etc/icecast2/tails-server.xml";
constexpr const char* admin_user = "admin";

// A mount point: '/' then [A-Za-z0-9._-] parts, never a path icecast 2.4 answers itself
// before it looks for a stream (connection.c, auth.c): /admin/..., /admin.cgi, and any path
// whose text after its last '.' starts with "xsl" (util_check_valid_extension: a status page).
StringRules mount_rules() {
  StringRules rules;
  rules.min_length = 2;
  rules.max_length = 100;
  rules.allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-";
  rules.allowed_description = "letters, digits and '._/-'";
  rules.check_accepts =
      "starting with '/', without empty, '.' or '..' parts, not /admin.cgi or under /admin, "
      "no 'xsl' after its last '.'";
  rules.check = [](std::string_view value) -> std::string {
    if (value.front() != '/') return "does not start with '/'";
    if (value.back() == '/') return "ends with '/'";
    std::string_view rest = value.substr(1);
    while (!rest.empty()) {
      auto slash = rest.find('/');
      std::string_view part = rest.substr(0, slash);
      if (part.empty() || part == "." || part == "..") return "has an empty, '.' or '..' part";
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    }
    if (value == "/admin" || value.starts_with("/admin/") || value == "/admin.cgi")
      return "is icecast's administration page";
    // icecast serves such a path as a status page (XSLT), whatever streams there.
    if (auto dot = value.rfind('.'); dot != std::string_view::npos && value.substr(dot + 1).starts_with("xsl"))
      return "is icecast's status page name (after its last '.' comes \"xsl\")";
    return "";
  };
  return rules;
}

// A generated password; a user-chosen one may hold anything but control characters.
StringRules password_rules() {
  StringRules rules;
  rules.min_length = 8;
  rules.max_length = 255;
  return rules;
}

// `value` for a URL's user-info part: everything but unreserved characters percent-encoded.
std::string percent_encode(std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class IcecastService : public TailsService {
 public:
  IcecastService() {
    description = "Audio streaming with Icecast: one live stream that listeners play in Tor Browser or VLC.";
    client_application = "a source client (ffmpeg, BUTT, ezstream) and a media player";
    documentation = TAILS_SERVER_HELP_DIR "/icecast.html";
    packages = {"icecast2"};
    systemd_service = "icecast2.service";
    default_local_port = 8000;
    icon_name = "audio-x-generic";
    name_in_gui = "Icecast";
    client_application_in_gui = "Tor Browser or VLC (listeners), BUTT or ffmpeg (source)";
    default_virtual_port = 8000;

    options.push_back(std::make_shared<SecretOption>(
        "source-password", "The password the source client (the one who streams) logs in with, as user 'source'.",
        24, password_rules()));
    options.push_back(std::make_shared<SecretOption>(
        "admin-password", "The password of icecast's administration pages (/admin/), as user 'admin'.", 24,
        password_rules()));
    options.push_back(std::make_shared<StringOption>(
        "mount", "The mount point: the path of the stream in its URL, e.g. /stream.ogg.", "/stream.ogg",
        mount_rules()));
    options.push_back(std::make_shared<IntOption>(
        "max-listeners", "How many listeners may play the stream at the same time.", 20, 1, 1000));
    for (auto& option : options) {
      if (option->name() == "source-password") option->name_in_gui = "Source password";
      if (option->name() == "admin-password") option->name_in_gui = "Administration password";
      if (option->name() == "mount") option->name_in_gui = "Mount point";
      if (option->name() == "max-listeners") option->name_in_gui = "Maximum number of listeners";
    }
  }

  void configure(ServiceContext& context) override {
    Host& host = context.host();
    std::string address = context.onion_address();
    IcecastSettings settings;
    settings.hostname = address.empty() ? "localhost" : address;
    settings.listen_addresses = context.listen_addresses();
    settings.port = static_cast<std::uint16_t>(context.option_int(standard_option::local_port));
    settings.source_password = context.option("source-password");
    settings.admin_user = admin_user;
    settings.admin_password = context.option("admin-password");
    settings.mount = context.option("mount");
    settings.max_listeners = context.option_int("max-listeners");

    std::string text;
    try {
      text = icecast_xml_text(settings);
    } catch (const escape::EscapeError& error) {
      throw HostError(std::string("cannot write the Icecast configuration: ") + error.what());
    }
    host.write_file(config_file, text, FileSpec{"root", service_group, 0640});

    IcecastUnitSettings unit;
    unit.config_file = host.path(config_file).string();
    unit.user = service_user;
    unit.group = service_group;
    try {
      text = icecast_unit_text(unit);
    } catch (const std::invalid_argument& error) {
      throw HostError(std::string("cannot write the Icecast unit: ") + error.what());
    }
    // The daemon reloads systemd before it starts the unit.
    host.write_file(unit_file, text, FileSpec{"root", "root", 0644});
  }

  ConnectionInfo connection_info(const ServiceContext& context) const override {
    ConnectionInfo info;
    std::string address = context.onion_address();
    std::string host = address.empty() ? "ADDRESS.onion" : address;
    std::string port = context.option(standard_option::virtual_port);
    std::string mount = context.option("mount");
    std::string password = context.option("source-password");
    std::string listen_url = "http://" + host + ":" + port + mount;
    std::string source_url = "icecast://source:" + percent_encode(password) + "@" + host + ":" + port + mount;
    info.fields.emplace_back("address", address.empty() ? "(no onion address yet)" : address);
    info.fields.emplace_back("port", port);
    info.fields.emplace_back("listen-url", listen_url);
    info.fields.emplace_back("mount", mount);
    info.fields.emplace_back("source-user", "source");
    info.fields.emplace_back("source-password", password);
    info.fields.emplace_back("source-url", source_url);
    // Not the admin password: connection info is given to the people who stream and listen; the
    // owner reads it with get-option.
    std::ostringstream text;
    text << "Listeners: open " << listen_url << " in Tor Browser, or in VLC through Tor: torsocks vlc "
         << listen_url << "\n"
         << "Source (the one who streams), through Tor, with user \"source\" and the source password:\n"
         << "- ffmpeg: torsocks ffmpeg -re -i FILE -c:a libvorbis -content_type application/ogg -f ogg \""
         << source_url << "\"\n"
         << "- BUTT: Settings > Main > Server > Add: type Icecast, address " << host << ", port " << port
         << ", password the source password, mount " << mount
         << "; run BUTT with torsocks (torsocks butt).\n"
         << "- ezstream: in its XML, <url>http://" << host << ":" << port << mount
         << "</url>, <sourcepassword> the source password, <format>VORBIS</format>; run it with torsocks.\n"
         << "Only one source at a time; icecast refuses a wrong password (401).";
    info.instructions = text.str();
    return info;
  }
};

}  // namespace
}  // namespace tails_server_icecast

TAILS_SERVER_PLUGIN(tails_server_icecast::IcecastService, "icecast")

// The ephemeral chat service: one room, served to Tor Browser at every
// security level by our own server (server/, PROTOCOL.md), which keeps
// messages and names only in memory. Nothing for apt to fetch: the server
// ships with Tails Server.
//
// Persistence has nothing to keep but the onion key (the core's), so the
// address can stay the same: persistent_paths is empty.

#include "chat_config.h"

#include <tails_server/plugin.h>
#include <tails_server/standard_options.h>

#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

namespace tails_server_chat {
namespace {

using namespace tails_server;

constexpr const char* config_directory = "/etc/tails-server";
constexpr const char* config_file = "/etc/tails-server/chat.json";
constexpr const char* unit_file = "/etc/systemd/system/tails-server-chat.service";

StringRules title_rules() {
  StringRules rules;
  rules.max_length = 200;
  return rules;
}

StringRules motd_rules() {
  StringRules rules;
  rules.max_length = 2000;
  rules.allow_newlines = true;
  return rules;
}

class ChatService : public TailsService {
 public:
  ChatService() {
    description =
        "An ephemeral chat room for Tor Browser, at every security level: guests need no account, and "
        "nothing of the conversation is stored anywhere.";
    client_application = "Tor Browser";
    documentation = TAILS_SERVER_HELP_DIR "/chat.html";
    packages = {};
    systemd_service = "tails-server-chat.service";
    default_local_port = 8990;
    default_virtual_port = 80;
    icon_name = "chat-message-new-symbolic";
    name_in_gui = "Chat";
    client_application_in_gui = "Tor Browser";

    auto title = std::make_shared<StringOption>("title", "The room's title, shown to every guest.", "Chat room",
                                                title_rules());
    title->name_in_gui = "Title";
    options.push_back(title);
    auto motd = std::make_shared<StringOption>(
        "motd", "A message of the day shown to every guest who joins (may be empty).", "", motd_rules());
    motd->name_in_gui = "Message of the day";
    options.push_back(motd);
    auto max_users = std::make_shared<IntOption>(
        "max-users", "How many guests may be in the room at once; one more is turned away politely.", 20, 1, 1000);
    max_users->name_in_gui = "Maximum number of guests";
    options.push_back(max_users);
    auto history = std::make_shared<IntOption>(
        "history",
        "How many recent messages a guest who joins sees, kept only in the server's memory and wiped when it "
        "stops. 0 (the default): a guest sees only what is said after joining.",
        0, 0, 500);
    history->name_in_gui = "Messages shown to new guests";
    options.push_back(history);
  }

  void configure(ServiceContext& context) override {
    Host& host = context.host();
    ChatSettings settings;
    auto port = static_cast<std::uint16_t>(context.option_int(standard_option::local_port));
    for (const auto& address : context.listen_addresses()) settings.listen.emplace_back(address, port);
    settings.title = context.option("title");
    settings.motd = context.option("motd");
    settings.max_users = context.option_int("max-users");
    settings.history = context.option_int("history");

    std::string text;
    try {
      text = chat_config_text(settings);
    } catch (const std::invalid_argument& error) {
      throw HostError(std::string("cannot write the chat configuration: ") + error.what());
    }
    host.make_directory(config_directory, FileSpec{"root", "root", 0755});
    // Read by the unit's dynamic user; it holds no secret.
    host.write_file(config_file, text, FileSpec{"root", "root", 0644});

    ChatUnitSettings unit;
    unit.program = TAILS_SERVER_CHAT_PROGRAM;
    unit.config_file = host.path(config_file).string();
    try {
      text = chat_unit_text(unit);
    } catch (const std::invalid_argument& error) {
      throw HostError(std::string("cannot write the chat unit: ") + error.what());
    }
    // The daemon reloads systemd before it starts the unit.
    host.write_file(unit_file, text, FileSpec{"root", "root", 0644});
  }

  void uninstall(ServiceContext& context) override {
    context.host().remove_file(config_file);
    context.host().remove_file(unit_file);
  }

  ConnectionInfo connection_info(const ServiceContext& context) const override {
    ConnectionInfo info;
    std::string address = context.onion_address();
    std::string port = context.option(standard_option::virtual_port);
    std::string url = address.empty() ? std::string("(no onion address yet)")
                                      : "http://" + address + (port == "80" ? "" : ":" + port) + "/";
    info.fields.emplace_back("url", url);
    info.fields.emplace_back("address", address.empty() ? "(no onion address yet)" : address);
    info.fields.emplace_back("port", port);
    std::ostringstream text;
    text << "Open the URL in Tor Browser. The room works at every security level, Safest too (without "
            "JavaScript the page updates itself and messages are sent with a form).\n"
         << "With client authorization on (the default), each guest also needs a client key: give one with "
            "\"tails-server client add chat NAME\"; Tor Browser asks for it when the URL is opened.\n"
         << "Guests get a random name, which they can change. Nothing is stored: messages and names live only in "
            "the server's memory and are gone when the service stops. Persistence keeps only the onion "
            "address.";
    info.instructions = text.str();
    return info;
  }
};

}  // namespace
}  // namespace tails_server_chat

TAILS_SERVER_PLUGIN(tails_server_chat::ChatService, "chat")

#include "html.h"

#include "text.h"

namespace tails_server::chat {
namespace {

std::string head(const std::string& title, const char* body_class) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"referrer\" content=\"no-referrer\"><title>" +
         escape_html(title.empty() ? "Chat" : title) + "</title><link rel=\"stylesheet\" href=\"/chat.css\">" +
         (std::string(body_class) == "room" ? "<script src=\"/chat.js\" defer></script>" : "") +
         "</head><body class=\"" + body_class + "\">\n";
}

// The MOTD keeps its lines: CSS white-space: pre-wrap, so its text is exactly the configured one.
std::string motd_html(const Config& config) {
  return config.motd.empty() ? "" : "<p class=\"motd\">" + escape_html(config.motd) + "</p>\n";
}

std::string title_html(const Config& config) {
  return config.title.empty() ? "" : "<h1>" + escape_html(config.title) + "</h1>\n";
}

}  // namespace

std::string index_page(const Config& config) {
  return head(config.title, "index") + title_html(config) + motd_html(config) +
         "<form method=\"post\" action=\"/join\"><button type=\"submit\">Join</button></form>\n"
         "<p class=\"note\">Nothing of this chat is stored: when it closes, its messages and names are gone.</p>\n"
         "</body></html>\n";
}

std::string room_page(const Config& config) {
  return head(config.title, "room") + title_html(config) +
         "<div id=\"nojs\">"
         "<iframe name=\"stream\" src=\"/stream\" title=\"Messages\" class=\"stream\"></iframe>"
         "<iframe name=\"compose\" src=\"/compose\" title=\"Write\" class=\"compose\"></iframe>"
         "</div>\n"
         "<div id=\"js\" hidden>"
         "<div id=\"log\" aria-live=\"polite\"></div>"
         "<p id=\"state\" class=\"state\"></p>"
         "<form id=\"send\"><textarea id=\"text\" rows=\"2\" required></textarea>"
         "<button type=\"submit\">Send</button></form>"
         "<form id=\"rename\"><input id=\"name\" maxlength=\"32\" required>"
         "<button type=\"submit\">Change name</button></form>"
         "<form method=\"post\" action=\"/leave\"><button type=\"submit\">Leave</button></form>"
         "</div>\n</body></html>\n";
}

std::string compose_page(const std::string& name, const std::string& error_code) {
  std::string page = head("Write", "compose");
  if (!error_code.empty()) page += "<p class=\"error\">" + escape_html(error_text(error_code)) + "</p>\n";
  page +=
      "<form method=\"post\" action=\"/send\" class=\"send\"><textarea name=\"text\" rows=\"2\" required "
      "autofocus></textarea><button type=\"submit\">Send</button></form>\n"
      "<form method=\"post\" action=\"/rename\" class=\"rename\"><input name=\"name\" maxlength=\"32\" value=\"" +
      escape_html(name) +
      "\" required><button type=\"submit\">Change name</button></form>\n"
      "<form method=\"post\" action=\"/leave\" target=\"_top\" class=\"leave\"><button type=\"submit\">Leave"
      "</button></form>\n"
      "<p class=\"note\">Without JavaScript, the messages above keep coming; send with the button.</p>\n"
      "</body></html>\n";
  return page;
}

std::string stream_start(const Config& config, const std::string& name, const std::deque<EventPtr>& history) {
  std::string page = head(config.title, "stream");
  page += "<div class=\"welcome\">" + title_html(config) + motd_html(config) + "<p class=\"you\">You are <b>" +
          escape_html(name) + "</b>.</p></div>\n";
  for (const auto& event : history) page += event->html;
  return page;
}

std::string simple_page(const std::string& heading, const std::string& sentence, bool link_home) {
  return head(heading, "simple") + "<h1>" + escape_html(heading) + "</h1>\n<p>" + escape_html(sentence) + "</p>\n" +
         (link_home ? "<p><a href=\"/\" target=\"_top\">Back to the start</a></p>\n" : "") + "</body></html>\n";
}

}  // namespace tails_server::chat

#include "event.h"

#include <nlohmann/json.hpp>

#include "text.h"

namespace tails_server::chat {
namespace {

using nlohmann::json;

json event_object(const Event& event) {
  switch (event.kind) {
    case Event::Kind::kMessage:
      return {{"type", "message"}, {"from", event.name}, {"text", event.text}};
    case Event::Kind::kJoin:
      return {{"type", "status"}, {"event", "join"}, {"name", event.name}};
    case Event::Kind::kLeave:
      return {{"type", "status"}, {"event", "leave"}, {"name", event.name}};
    case Event::Kind::kRename:
      return {{"type", "status"}, {"event", "rename"}, {"name", event.name}, {"old_name", event.old_name}};
  }
  return {};
}

std::string event_html(const Event& event) {
  switch (event.kind) {
    case Event::Kind::kMessage:
      // <bdi>: a name or a text in a right-to-left script, or with bidi controls, cannot reorder the rest.
      return "<p class=\"message\"><bdi class=\"from\">" + escape_html(event.name) + "</bdi>: <bdi class=\"text\">" +
             escape_html(event.text) + "</bdi></p>\n";
    case Event::Kind::kJoin:
      return "<p class=\"status\">" + escape_html(event.name) + " joined</p>\n";
    case Event::Kind::kLeave:
      return "<p class=\"status\">" + escape_html(event.name) + " left</p>\n";
    case Event::Kind::kRename:
      return "<p class=\"status\">" + escape_html(event.old_name) + " is now " + escape_html(event.name) + "</p>\n";
  }
  return {};
}

EventPtr finish(Event event) {
  event.json = event_object(event).dump();
  event.html = event_html(event);
  return std::make_shared<const Event>(std::move(event));
}

}  // namespace

EventPtr make_message(std::string from, std::string text) {
  Event event;
  event.kind = Event::Kind::kMessage;
  event.name = std::move(from);
  event.text = std::move(text);
  return finish(std::move(event));
}

EventPtr make_status(Event::Kind kind, std::string name, std::string old_name) {
  Event event;
  event.kind = kind;
  event.name = std::move(name);
  event.old_name = std::move(old_name);
  return finish(std::move(event));
}

std::string welcome_json(const std::string& name, const std::string& title, const std::string& motd,
                         const std::deque<EventPtr>& history, const std::vector<std::string>& guests) {
  json events = json::array();
  for (const auto& event : history) events.push_back(event_object(*event));
  return json{{"type", "welcome"}, {"name", name},      {"title", title},
              {"motd", motd},      {"history", events}, {"guests", guests}}
      .dump();
}

const char* error_text(const std::string& code) {
  if (code == "too-long") return "The message is too long.";
  if (code == "throttled") return "You are sending too fast; wait a little.";
  if (code == "name-taken") return "That name is already taken.";
  if (code == "bad-name") return "Names have 1 to 32 characters, without spaces at either end.";
  if (code == "room-full") return "The room is full. Try again later.";
  if (code == "not-in-room") return "You are not in the room.";
  return "The server could not understand the request.";
}

std::string error_json(const std::string& code) {
  return json{{"type", "error"}, {"code", code}, {"text", error_text(code)}}.dump();
}

}  // namespace tails_server::chat

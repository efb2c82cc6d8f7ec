// What happens in the room (a message, a join, a leave, a rename), rendered once for every kind of guest:
// a JSON text frame for WebSocket guests and an HTML paragraph for the no-JavaScript stream.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace tails_server::chat {

struct Event {
  enum class Kind { kMessage, kJoin, kLeave, kRename };
  Kind kind = Kind::kMessage;
  std::string name;      // the sender (message) or the guest (status); the new name of a rename
  std::string old_name;  // rename only
  std::string text;      // message only
  std::string json;      // {"type":"message",...} or {"type":"status",...}
  std::string html;      // <p class="message">... or <p class="status">...
};
using EventPtr = std::shared_ptr<const Event>;

// An event with its JSON and HTML forms rendered.
EventPtr make_message(std::string from, std::string text);
EventPtr make_status(Event::Kind kind, std::string name, std::string old_name = {});

// {"type":"welcome",...}: what a WebSocket connection receives first.
std::string welcome_json(const std::string& name, const std::string& title, const std::string& motd,
                         const std::deque<EventPtr>& history, const std::vector<std::string>& guests);

// {"type":"error","code":CODE,"text":...}; `code` is one of the codes of error_text().
std::string error_json(const std::string& code);

// The human sentence for an error code (too-long, throttled, name-taken, bad-name, room-full, bad-request,
// not-in-room); a generic sentence for an unknown code.
const char* error_text(const std::string& code);

}  // namespace tails_server::chat

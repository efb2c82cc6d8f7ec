#include "routes.h"

#include "assets.h"
#include "html.h"
#include "http_util.h"

namespace tails_server::chat {
namespace {

Response make(http::status status, unsigned version, std::string body, const char* type) {
  Response response(status, version);
  response.set(http::field::content_type, type);
  response.body() = std::move(body);
  set_security_headers(response);
  return response;
}

Response html(unsigned version, std::string body) {
  return make(http::status::ok, version, std::move(body), "text/html; charset=utf-8");
}

Response redirect(unsigned version, const char* location) {
  Response response = make(http::status::see_other, version, {}, "text/plain; charset=utf-8");
  response.set(http::field::location, location);
  return response;
}

// After a form: back to /compose, with the error code if any (a fixed word, never the input).
Response after_form(unsigned version, const std::string& error) {
  if (error.empty()) return redirect(version, "/compose");
  const std::string location = "/compose?error=" + error;
  return redirect(version, location.c_str());
}

Response join(Room& room, const Request& request, const std::string& token) {
  const unsigned version = request.version();
  if (room.find(token) != nullptr) return redirect(version, "/room");
  const Guest* guest = room.create_guest();
  if (guest == nullptr) {
    return page_response(http::status::service_unavailable, version, "The room is full",
                         "The room is full (" + std::to_string(room.config().max_users) + " guests). Try again later.");
  }
  Response response = redirect(version, "/room");
  response.set(http::field::set_cookie, session_cookie(guest->token));
  return response;
}

Response post(Room& room, const Request& request, std::string_view path, const std::string& token) {
  const unsigned version = request.version();
  if (!same_origin(request)) return page_response(http::status::forbidden, version, "Refused", "Cross-site form.");
  if (path == "/join") return join(room, request, token);
  if (path == "/leave") {
    room.leave(token);
    Response response = redirect(version, "/");
    response.set(http::field::set_cookie, session_cookie({}));
    return response;
  }
  const Guest* guest = room.find(token);
  if (guest == nullptr) return redirect(version, "/compose");
  if (path == "/send") {
    auto text = form_field(request.body(), "text");
    if (!text) return after_form(version, "bad-request");
    // Browsers send a textarea's line breaks as CR LF; the room keeps LF only.
    std::string normalized;
    for (std::size_t i = 0; i < text->size(); ++i) {
      if ((*text)[i] == '\r' && i + 1 < text->size() && (*text)[i + 1] == '\n') continue;
      normalized += (*text)[i];
    }
    return after_form(version, room.say(token, std::move(normalized)));
  }
  if (path == "/rename") {
    auto name = form_field(request.body(), "name");
    return after_form(version, name ? room.rename(token, std::move(*name)) : "bad-request");
  }
  return page_response(http::status::not_found, version, "Not found", "There is no such page.");
}

Response get(Room& room, const Request& request, std::string_view path, const std::string& token) {
  const unsigned version = request.version();
  const Guest* guest = room.find(token);
  if (path == "/") return guest != nullptr ? redirect(version, "/room") : html(version, index_page(room.config()));
  if (path == "/room") return guest != nullptr ? html(version, room_page(room.config())) : redirect(version, "/");
  if (path == "/compose") {
    if (guest == nullptr) {
      return page_response(http::status::ok, version, "Not in the room", "You are not in the room.");
    }
    static const char* const kCodes[] = {"too-long", "throttled",   "name-taken",
                                         "bad-name", "bad-request", "not-in-room"};
    std::string error;
    if (auto code = query_field(std::string_view(request.target().data(), request.target().size()), "error")) {
      for (const char* known : kCodes) {
        if (*code == known) error = known;
      }
    }
    return html(version, compose_page(guest->name, error));
  }
  if (path == "/chat.js")
    return make(http::status::ok, version, std::string(kChatJs), "text/javascript; charset=utf-8");
  if (path == "/chat.css") return make(http::status::ok, version, std::string(kChatCss), "text/css; charset=utf-8");
  return page_response(http::status::not_found, version, "Not found", "There is no such page.");
}

}  // namespace

Response page_response(http::status status, unsigned version, const std::string& heading, const std::string& sentence) {
  return make(status, version, simple_page(heading, sentence, true), "text/html; charset=utf-8");
}

Response respond(Room& room, const Request& request) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target_path(target);
  const std::string token = session_token(request);
  if (request.method() == http::verb::get) return get(room, request, path, token);
  if (request.method() == http::verb::post) return post(room, request, path, token);
  Response response = page_response(http::status::method_not_allowed, request.version(), "Not allowed",
                                    "Only GET and POST are used here.");
  response.set(http::field::allow, "GET, POST");
  return response;
}

}  // namespace tails_server::chat

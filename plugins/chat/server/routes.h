// The plain HTTP endpoints: a request in, a response out (/, /join, /room, /compose, /send, /rename,
// /leave, /chat.js, /chat.css). /stream and /ws take over the connection (http_session.cpp).
#pragma once

#include <boost/beast/http.hpp>

#include "room.h"

namespace tails_server::chat {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// The response to `request`, with the security headers of every response.
Response respond(Room& room, const Request& request);

// A short HTML page with `status`, e.g. 403 or 413, and the security headers.
Response page_response(http::status status, unsigned version, const std::string& heading, const std::string& sentence);

}  // namespace tails_server::chat

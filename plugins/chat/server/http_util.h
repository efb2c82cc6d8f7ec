// Small pieces of HTTP the sessions share: the headers every response carries, the session cookie, the
// request target's path and query, and application/x-www-form-urlencoded fields.
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tails_server::chat {

namespace http = boost::beast::http;

// The name of the only cookie: a guest's session token.
inline constexpr std::string_view kCookieName = "tschat";

// Sets Content-Security-Policy, X-Content-Type-Options, Referrer-Policy, Cache-Control and X-Frame-Options,
// and removes Server.
void set_security_headers(http::fields& fields);

// The session token in the request's Cookie header (32 lower-case hex digits), or "".
std::string session_token(const http::fields& fields);

// The Set-Cookie value that gives `token`; an empty token expires the cookie.
std::string session_cookie(const std::string& token);

// The path of a request target ("/compose?error=x" -> "/compose") and one decoded query or form field.
std::string_view target_path(std::string_view target);
std::optional<std::string> form_field(std::string_view encoded, std::string_view name);
std::optional<std::string> query_field(std::string_view target, std::string_view name);

// True when the request carries no Origin, or an Origin whose host is the request's Host (same origin).
bool same_origin(const http::fields& fields);

}  // namespace tails_server::chat

#include "http_util.h"

namespace tails_server::chat {
namespace {

bool is_token(std::string_view text) {
  if (text.size() != 32) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes one urlencoded value ('+' is a space); nullopt on a bad percent escape.
std::optional<std::string> url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

void set_security_headers(http::fields& fields) {
  fields.set("Content-Security-Policy",
             "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src 'self'; "
             "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; img-src 'self'");
  fields.set("X-Content-Type-Options", "nosniff");
  fields.set("Referrer-Policy", "no-referrer");
  fields.set(http::field::cache_control, "no-store");
  fields.set("X-Frame-Options", "SAMEORIGIN");
  fields.erase(http::field::server);
}

std::string session_token(const http::fields& fields) {
  for (auto it = fields.find(http::field::cookie); it != fields.end() && it->name() == http::field::cookie; ++it) {
    std::string_view rest(it->value().data(), it->value().size());
    while (!rest.empty()) {
      const std::size_t end = std::min(rest.find(';'), rest.size());
      std::string_view pair = rest.substr(0, end);
      rest.remove_prefix(end == rest.size() ? end : end + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
      if (pair.size() > kCookieName.size() && pair.substr(0, kCookieName.size()) == kCookieName &&
          pair[kCookieName.size()] == '=') {
        std::string_view value = pair.substr(kCookieName.size() + 1);
        if (is_token(value)) return std::string(value);
      }
    }
  }
  return {};
}

std::string session_cookie(const std::string& token) {
  std::string cookie = std::string(kCookieName) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict";
  if (token.empty()) cookie += "; Max-Age=0";
  return cookie;
}

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

std::optional<std::string> form_field(std::string_view encoded, std::string_view name) {
  while (!encoded.empty()) {
    const std::size_t end = std::min(encoded.find('&'), encoded.size());
    std::string_view pair = encoded.substr(0, end);
    encoded.remove_prefix(end == encoded.size() ? end : end + 1);
    const std::size_t equals = pair.find('=');
    auto key = url_decode(pair.substr(0, equals));
    if (key && *key == name) {
      return equals == std::string_view::npos ? std::optional<std::string>("") : url_decode(pair.substr(equals + 1));
    }
  }
  return std::nullopt;
}

std::optional<std::string> query_field(std::string_view target, std::string_view name) {
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  return form_field(target.substr(question + 1), name);
}

bool same_origin(const http::fields& fields) {
  auto origin = fields.find(http::field::origin);
  if (origin == fields.end()) return true;
  auto host = fields.find(http::field::host);
  if (host == fields.end()) return false;
  const std::string_view value(origin->value().data(), origin->value().size());
  const std::string_view host_value(host->value().data(), host->value().size());
  for (std::string_view scheme : {"http://", "https://"}) {
    if (value.size() == scheme.size() + host_value.size() && value.substr(0, scheme.size()) == scheme &&
        value.substr(scheme.size()) == host_value) {
      return true;
    }
  }
  return false;
}

}  // namespace tails_server::chat

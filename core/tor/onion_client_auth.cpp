#include "tor/onion_client_auth.h"

#include <stdexcept>

namespace tails_server::core {

namespace {

void check_service_id(std::string_view service_id) {
  bool ok = service_id.size() == 56;
  for (char c : service_id)
    if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) ok = false;
  if (!ok)
    throw std::invalid_argument("onion client authorization: '" + std::string(service_id.substr(0, 64)) +
                                "' is not the 56 lower-case base32 characters of an onion address");
}

}  // namespace

std::string onion_client_auth_add_line(std::string_view service_id, std::string_view key) {
  check_service_id(service_id);
  bool ok = key.size() == 44 && key.substr(43) == "=";
  for (std::size_t i = 0; ok && i < 43; ++i) {
    char c = key[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      ok = false;
  }
  if (!ok)
    throw std::invalid_argument("onion client authorization for " + std::string(service_id) +
                                ": the key is not 44 characters of padded base64 (32 bytes)");
  return "ONION_CLIENT_AUTH_ADD " + std::string(service_id) + " x25519:" + std::string(key);
}

std::string onion_client_auth_remove_line(std::string_view service_id) {
  check_service_id(service_id);
  return "ONION_CLIENT_AUTH_REMOVE " + std::string(service_id);
}

}  // namespace tails_server::core

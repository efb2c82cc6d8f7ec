// Self-signed TLS certificates for the services, made and read with
// OpenSSL in-process (no shell, no key material in argv or temporary files).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tails_server::plugins {

// The most a certificate file read by a plugin may hold (ours are under
// 1 KiB; a chain of a few certificates still fits).
inline constexpr std::size_t max_certificate_size = 64 * 1024;

struct TlsMaterial {
  std::string key_pem;          // PKCS#8 PEM, unencrypted
  std::string certificate_pem;  // X.509 PEM
};

// A new P-256 key and a self-signed certificate for `common_name`, valid for
// `days` days. Throws std::runtime_error.
TlsMaterial make_self_signed(const std::string& common_name, int days);

// The SHA-256 fingerprint of the first certificate in `pem`, as upper-case hex
// pairs separated by ':' ("AB:CD:..."). Throws std::runtime_error.
std::string sha256_fingerprint(std::string_view pem);

}  // namespace tails_server::plugins

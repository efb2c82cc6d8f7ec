// Self-signed TLS certificates for services, made and read with OpenSSL
// in-process (no shell, no key material in argv or temporary files).
// Link TailsServer::tls (the SDK and OpenSSL's libcrypto) to use it.
#pragma once

#include <tails_server/host.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tails_server::tls {

// The most a certificate file read by a plugin may hold (ours are under
// 1 KiB; a chain of a few certificates still fits).
inline constexpr std::size_t max_certificate_size = 64 * 1024;

struct Material {
  std::string key_pem;          // PKCS#8 PEM, unencrypted
  std::string certificate_pem;  // X.509 PEM
};

namespace detail {
template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

[[noreturn]] inline void fail(const std::string& what) {
  unsigned long code = ERR_get_error();
  std::string message = "TLS certificate: " + what;
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    message += ": ";
    message += buffer;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

inline std::string drain(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size < 0 || data == nullptr) fail("cannot read the PEM buffer");
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace detail

// A new P-256 key and a self-signed certificate for `common_name`, valid for
// `days` days. Throws std::runtime_error.
inline Material make_self_signed(const std::string& common_name, int days) {
  using namespace detail;
  Key key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate a P-256 key");

  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) fail("cannot create a certificate");

  // A random positive 127-bit serial number.
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) fail("no random bytes for the serial number");
  serial[0] &= 0x7f;
  serial[0] |= 0x40;
  Bignum serial_bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!serial_bn || !BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert.get())))
    fail("cannot set the serial number");

  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 24 * 60 * 60))
    fail("cannot set the validity period");
  if (X509_set_pubkey(cert.get(), key.get()) != 1) fail("cannot set the public key");

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1)
    fail("cannot set the subject name");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) fail("cannot sign the certificate");

  Material material;
  Bio key_bio(BIO_new(BIO_s_mem()));
  if (!key_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot encode the key");
  material.key_pem = drain(key_bio.get());
  Bio cert_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1)
    fail("cannot encode the certificate");
  material.certificate_pem = drain(cert_bio.get());
  return material;
}

// The SHA-256 fingerprint of the first certificate in `pem`, as upper-case hex
// pairs separated by ':' ("AB:CD:..."). Throws std::runtime_error.
inline std::string sha256_fingerprint(std::string_view pem) {
  using namespace detail;
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("cannot read the certificate");
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("not a PEM certificate");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &length) != 1) fail("cannot hash the certificate");
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    if (i) out += ':';
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

// Makes a key (0600) and a self-signed certificate (0644) for `common_name`,
// both owned by `owner`:`group`, unless both files exist. Returns whether it
// made them. Throws HostError.
inline bool ensure_self_signed(Host& host, std::string_view key_file, std::string_view certificate_file,
                               const std::string& owner, const std::string& group, const std::string& common_name,
                               int days) {
  if (host.exists(key_file) && host.exists(certificate_file)) return false;
  Material material;
  try {
    material = make_self_signed(common_name, days);
  } catch (const std::exception& error) {
    throw HostError(error.what());
  }
  host.write_file(key_file, material.key_pem, FileSpec{owner, group, 0600});
  host.write_file(certificate_file, material.certificate_pem, FileSpec{owner, group, 0644});
  return true;
}

// The fingerprint of the certificate in `certificate_file`, read through the
// host (no link followed, no FIFO waited on, size capped): nullopt if there
// is none. Throws HostError naming the file if it is not a certificate.
inline std::optional<std::string> certificate_fingerprint(Host& host, std::string_view certificate_file) {
  std::optional<std::string> pem = host.read_file(certificate_file, max_certificate_size);
  if (!pem) return std::nullopt;
  try {
    return sha256_fingerprint(*pem);
  } catch (const std::exception& error) {
    throw HostError("cannot read the certificate " + std::string(certificate_file) + ": " + error.what());
  }
}

}  // namespace tails_server::tls

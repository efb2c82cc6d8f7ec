#include "tls_certificate.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>

namespace tails_server::plugins {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

[[noreturn]] void fail(const std::string& what) {
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

std::string drain(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size < 0 || data == nullptr) fail("cannot read the PEM buffer");
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

TlsMaterial make_self_signed(const std::string& common_name, int days) {
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

  TlsMaterial material;
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

std::string sha256_fingerprint(std::string_view pem) {
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

}  // namespace tails_server::plugins

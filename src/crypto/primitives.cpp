#include "crypto/primitives.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "common/error.hpp"
#include "common/c_handle.hpp"

namespace decant::crypto {
namespace {

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// OpenSSL failing on valid input is a broken installation or a bug, never the user's data.
[[noreturn]] void openssl_failed(const char* what) {
  char reason[256] = "unknown";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  throw Error(ExitCode::internal, std::string("OpenSSL ") + what + " failed: " + reason);
}
void check(int ok, const char* what) {
  if (ok != 1) openssl_failed(what);
}


Pkey x25519_key(std::string_view raw, bool secret) {
  if (raw.size() != 32) throw Error(ExitCode::internal, "an X25519 key is not 32 bytes");
  EVP_PKEY* key = secret ? EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, bytes(raw), raw.size())
                         : EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, bytes(raw), raw.size());
  if (!key) openssl_failed("X25519 key");
  return Pkey(key);
}

CipherContext chacha_context(std::string_view key, bool encrypt) {
  if (key.size() != 32) throw Error(ExitCode::internal, "a ChaCha20-Poly1305 key is not 32 bytes");
  CipherContext ctx(EVP_CIPHER_CTX_new());
  if (!ctx) openssl_failed("cipher context");
  check(EVP_CipherInit_ex(ctx.get(), EVP_chacha20_poly1305(), nullptr, bytes(key), nullptr, encrypt ? 1 : 0),
        "ChaCha20-Poly1305 init");
  return ctx;
}

}  // namespace

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  check(RAND_priv_bytes(bytes(out), static_cast<int>(n)), "random bytes");
  return out;
}

std::string sha256(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string md5(std::string_view data) {
  std::string out(16, '\0');
  unsigned int n = 0;
  check(EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &n, EVP_md5(), nullptr),
        "MD5");
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) openssl_failed("digest context");
  check(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr), "SHA-256 init");
}
void Sha256::update(std::string_view data) { check(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()), "SHA-256"); }
std::string Sha256::finish() {
  std::string out(32, '\0');
  unsigned int n = 0;
  check(EVP_DigestFinal_ex(ctx_.get(), bytes(out), &n), "SHA-256 final");
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(32, '\0');
  size_t n = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(), bytes(data), data.size(),
                 bytes(out), out.size(), &n))
    openssl_failed("HMAC-SHA256");
  return out;
}

std::string hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info, size_t length) {
  CHandle<EVP_KDF, EVP_KDF_free> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) openssl_failed("HKDF fetch");
  CHandle<EVP_KDF_CTX, EVP_KDF_CTX_free> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) openssl_failed("HKDF context");
  char digest[] = "SHA256";
  std::string zero_salt(32, '\0');  // RFC 5869: no salt means HashLen zeros
  if (salt.empty()) salt = zero_salt;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
      OSSL_PARAM_construct_end()};
  std::string out(length, '\0');
  check(EVP_KDF_derive(ctx.get(), bytes(out), out.size(), params), "HKDF");
  return out;
}

std::string scrypt(std::string_view passphrase, std::string_view salt, int log2_n, size_t length) {
  const uint64_t n = uint64_t{1} << log2_n, r = 8, p = 1;
  std::string out(length, '\0');
  check(EVP_PBE_scrypt(passphrase.data(), passphrase.size(), bytes(salt), salt.size(), n, r, p,
                       128 * r * n + (uint64_t{1} << 20), bytes(out), out.size()),
        "scrypt");
  return out;
}

std::string x25519_public_key(std::string_view secret) {
  auto key = x25519_key(secret, true);
  std::string out(32, '\0');
  size_t n = out.size();
  check(EVP_PKEY_get_raw_public_key(key.get(), bytes(out), &n), "X25519 public key");
  return out;
}

std::string x25519_shared(std::string_view secret, std::string_view peer_public) {
  auto key = x25519_key(secret, true);
  auto peer = x25519_key(peer_public, false);
  CHandle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!ctx) openssl_failed("X25519 context");
  check(EVP_PKEY_derive_init(ctx.get()), "X25519 derive init");
  check(EVP_PKEY_derive_set_peer(ctx.get(), peer.get()), "X25519 peer");
  std::string out(32, '\0');
  size_t n = out.size();
  // OpenSSL refuses an all-zero result, which is what a low-order peer point gives.
  if (EVP_PKEY_derive(ctx.get(), bytes(out), &n) != 1) {
    ERR_clear_error();
    return {};
  }
  if (out == std::string(32, '\0')) return {};
  return out;
}

ChaCha20Poly1305::ChaCha20Poly1305(std::string_view key)
    : encrypt_(chacha_context(key, true)), decrypt_(chacha_context(key, false)) {}

void ChaCha20Poly1305::seal(const std::array<uint8_t, 12>& nonce, std::string_view plaintext, std::string& out) {
  EVP_CIPHER_CTX* ctx = encrypt_.get();
  check(EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()), "ChaCha20-Poly1305 nonce");
  size_t at = out.size();
  out.resize(at + plaintext.size() + 16);
  int n = 0, tail = 0;
  check(EVP_EncryptUpdate(ctx, bytes(out) + at, &n, bytes(plaintext), static_cast<int>(plaintext.size())),
        "ChaCha20-Poly1305 encrypt");
  check(EVP_EncryptFinal_ex(ctx, bytes(out) + at + n, &tail), "ChaCha20-Poly1305 final");
  check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, bytes(out) + at + plaintext.size()),
        "ChaCha20-Poly1305 tag");
}

bool ChaCha20Poly1305::open(const std::array<uint8_t, 12>& nonce, std::string_view sealed, std::string& out) {
  if (sealed.size() < 16) return false;
  EVP_CIPHER_CTX* ctx = decrypt_.get();
  size_t length = sealed.size() - 16;
  check(EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()), "ChaCha20-Poly1305 nonce");
  check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, const_cast<char*>(sealed.data() + length)),
        "ChaCha20-Poly1305 tag");
  size_t at = out.size();
  out.resize(at + length);
  int n = 0, tail = 0;
  check(EVP_DecryptUpdate(ctx, bytes(out) + at, &n, bytes(sealed), static_cast<int>(length)),
        "ChaCha20-Poly1305 decrypt");
  if (EVP_DecryptFinal_ex(ctx, bytes(out) + at + n, &tail) != 1) {
    ERR_clear_error();
    out.resize(at);
    return false;
  }
  return true;
}

std::string to_hex(std::string_view data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace decant::crypto

#pragma once
// The few cryptographic primitives decant needs, on OpenSSL 3's EVP interfaces, each
// with its handles in RAII types. Keys and digests are byte strings (std::string); the
// formats built on them (age, S3 signing) live beside this file.
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include "common/c_handle.hpp"

namespace decant::crypto {

using CipherContext = CHandle<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using Pkey = CHandle<EVP_PKEY, EVP_PKEY_free>;
using MdContext = CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;

// Cryptographically secure random bytes (OpenSSL's private DRBG).
std::string random_bytes(size_t n);

std::string sha256(std::string_view data);
// Only where a protocol demands it (S3's Content-MD5 on DeleteObjects), never for integrity.
std::string md5(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
// HKDF-SHA256 (RFC 5869): extract with `salt` (empty: HashLen zeros), expand to `length`.
std::string hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info, size_t length);
// scrypt (RFC 7914) with r=8, p=1 and N = 2^log2_n.
std::string scrypt(std::string_view passphrase, std::string_view salt, int log2_n, size_t length);

// Incremental SHA-256, for data that streams past.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  std::string finish();  // 32 bytes; the object is spent

 private:
  MdContext ctx_;
};

// X25519 (RFC 7748) on 32-byte strings.
std::string x25519_public_key(std::string_view secret);
// The shared secret, or an empty string when it is all zeros (a low-order point).
std::string x25519_shared(std::string_view secret, std::string_view peer_public);

// ChaCha20-Poly1305 (RFC 8439) with a 32-byte key, one context reused for many messages.
class ChaCha20Poly1305 {
 public:
  explicit ChaCha20Poly1305(std::string_view key);
  // Appends ciphertext || 16-byte tag to `out`.
  void seal(const std::array<uint8_t, 12>& nonce, std::string_view plaintext, std::string& out);
  // Appends the plaintext to `out`; false (and `out` unchanged) when the tag does not match.
  bool open(const std::array<uint8_t, 12>& nonce, std::string_view sealed, std::string& out);

 private:
  CipherContext encrypt_;
  CipherContext decrypt_;
};

std::string to_hex(std::string_view bytes);

}  // namespace decant::crypto

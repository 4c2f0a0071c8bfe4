#pragma once
// The age file format (age-encryption.org/v1, https://age-encryption.org/v1), streaming:
// a header with one stanza per recipient wrapping a random 16-byte file key, a MAC over
// the header, then the payload in 64 KiB ChaCha20-Poly1305 chunks (STREAM). decant
// encrypts to X25519 recipients and decrypts with X25519 identities or scrypt passphrases;
// armor and post-quantum recipients are not supported. No C or C++ library for it is
// packaged here, so it is written on OpenSSL's primitives (crypto/primitives.hpp) and
// checked against the C2SP CCTV vectors and the age CLI.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/primitives.hpp"

namespace decant::crypto {

// Why a file could not be decrypted, in the CCTV vectors' terms.
enum class AgeFailure {
  header,    // the header is malformed (or names a stanza it cannot accept)
  no_match,  // no identity or passphrase opens any stanza: the wrong key
  hmac,      // a stanza opened but the header's MAC is wrong: the header was changed
  payload,   // the payload is truncated, corrupted or has trailing data
};

class AgeError : public std::runtime_error {
 public:
  AgeError(AgeFailure failure, const std::string& what) : std::runtime_error(what), failure_(failure) {}
  AgeFailure failure() const { return failure_; }

 private:
  AgeFailure failure_;
};

// An X25519 public key, "age1...". Encrypting needs only these.
class AgeRecipient {
 public:
  // Throws decant::Error(usage) when `text` is not one.
  static AgeRecipient parse(std::string_view text);
  std::string encoded() const;
  const std::string& public_key() const { return public_key_; }
  bool operator==(const AgeRecipient& o) const { return public_key_ == o.public_key_; }

 private:
  std::string public_key_;  // 32 bytes
};

// An X25519 secret key, "AGE-SECRET-KEY-1...".
class AgeIdentity {
 public:
  static AgeIdentity generate();
  // Throws decant::Error(usage) when `text` is not one; the message never holds `text`.
  static AgeIdentity parse(std::string_view text);
  std::string encoded() const;
  AgeRecipient recipient() const;
  const std::string& secret() const { return secret_; }

 private:
  std::string secret_;  // 32 bytes
};

// What a decryption may try.
struct AgeKeys {
  std::vector<AgeIdentity> identities;
  std::vector<std::string> passphrases;
  int max_scrypt_work_factor = 22;  // as age's own default: 2^22 is about 4 GiB of memory
};

// An identity file as age-keygen writes it: one key per line, '#' comments, blank lines.
std::vector<AgeIdentity> read_identity_file(const std::filesystem::path& path);

// Encrypts a stream to the recipients; `out` receives the file's bytes in order.
class AgeEncryptor {
 public:
  using Output = std::function<void(std::string_view)>;
  AgeEncryptor(const std::vector<AgeRecipient>& recipients, Output out);
  void write(std::string_view plaintext);
  // Writes the final chunk; nothing may be written after.
  void finish();

 private:
  void seal_chunk(bool last);
  Output out_;
  ChaCha20Poly1305 aead_;
  std::array<uint8_t, 12> nonce_{};
  std::string buffer_;
  std::string sealed_;
  bool finished_ = false;
};

// Decrypts a stream. The constructor reads and checks the header (throws AgeError:
// header, no_match, hmac); read() releases plaintext only from chunks whose tag is checked.
class AgeDecryptor {
 public:
  // Reads up to `n` bytes into `buffer`; 0 only at the end of the input.
  using Input = std::function<size_t(char* buffer, size_t n)>;
  AgeDecryptor(Input in, const AgeKeys& keys);
  ~AgeDecryptor();
  AgeDecryptor(const AgeDecryptor&) = delete;
  AgeDecryptor& operator=(const AgeDecryptor&) = delete;
  // Up to `n` bytes of plaintext; 0 at the end of the payload. Throws AgeError(payload).
  size_t read(char* buffer, size_t n);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Whole buffers, for small files (manifests) and tests.
std::string age_encrypt(std::string_view plaintext, const std::vector<AgeRecipient>& recipients);
std::string age_decrypt(std::string_view file, const AgeKeys& keys);

}  // namespace decant::crypto

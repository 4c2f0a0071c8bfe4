#include "crypto/age.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>
#include <optional>

#include "text/base64.hpp"
#include "common/error.hpp"
#include "crypto/bech32.hpp"

namespace decant::crypto {
namespace {

constexpr std::string_view kIntro = "age-encryption.org/v1\n";
constexpr std::string_view kX25519Label = "age-encryption.org/v1/X25519";
constexpr std::string_view kScryptLabel = "age-encryption.org/v1/scrypt";
constexpr size_t kFileKeySize = 16;
constexpr size_t kStreamNonceSize = 16;
constexpr size_t kChunkSize = 64 * 1024;
constexpr size_t kTagSize = 16;
constexpr size_t kSealedChunkSize = kChunkSize + kTagSize;
constexpr size_t kBytesPerLine = 48;   // 64 base64 columns
constexpr size_t kMaxHeaderLine = 64 * 1024;  // far above any stanza decant reads
constexpr std::array<uint8_t, 12> kZeroNonce{};

[[noreturn]] void header_failure(const std::string& what) { throw AgeError(AgeFailure::header, "age header: " + what); }
[[noreturn]] void payload_failure(const std::string& what) { throw AgeError(AgeFailure::payload, "age payload: " + what); }

std::optional<std::string> decode(std::string_view text) { return base64_decode(text, Base64::standard_unpadded); }
std::string encode(std::string_view bytes) { return base64_encode(bytes, Base64::standard_unpadded); }

// An argument or a stanza type: printable ASCII without spaces, not empty.
bool valid_argument(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= 33 && c <= 126; });
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> parts;
  size_t at = 0;
  for (;;) {
    size_t space = line.find(' ', at);
    parts.push_back(line.substr(at, space == std::string_view::npos ? std::string_view::npos : space - at));
    if (space == std::string_view::npos) return parts;
    at = space + 1;
  }
}

struct Stanza {
  std::string type;
  std::vector<std::string> args;
  std::string body;
};

std::string marshal_stanza(const Stanza& s) {
  std::string out = "-> " + s.type;
  for (const auto& a : s.args) out += " " + a;
  out += "\n";
  std::string body = encode(s.body);
  for (size_t at = 0;; at += 64) {
    out += body.substr(std::min(at, body.size()), 64);
    out += "\n";
    if (body.size() < at + 64) break;  // the last line is short, possibly empty
  }
  return out;
}

std::string header_mac(std::string_view file_key, std::string_view header_through_dashes) {
  return hmac_sha256(hkdf_sha256(file_key, {}, "header", 32), header_through_dashes);
}

// Opens a stanza body that wraps the file key; nothing when the key is wrong.
std::optional<std::string> unwrap_file_key(std::string_view wrapping_key, const Stanza& s, const char* kind) {
  if (s.body.size() != kFileKeySize + kTagSize) header_failure(std::string(kind) + " stanza with a file key of the wrong size");
  std::string key;
  if (!ChaCha20Poly1305(wrapping_key).open(kZeroNonce, s.body, key)) return std::nullopt;
  return key;
}

std::optional<std::string> unwrap_x25519(const AgeIdentity& id, const Stanza& s) {
  if (s.args.size() != 1) header_failure("X25519 stanza with other than one argument");
  auto share = decode(s.args[0]);
  if (!share || share->size() != 32) header_failure("X25519 stanza with a malformed share");
  std::string shared = x25519_shared(id.secret(), *share);
  if (shared.empty()) header_failure("X25519 stanza with a low-order share");
  std::string wrapping_key = hkdf_sha256(shared, *share + id.recipient().public_key(), kX25519Label, 32);
  return unwrap_file_key(wrapping_key, s, "X25519");
}

std::optional<std::string> unwrap_scrypt(std::string_view passphrase, int max_work_factor, const Stanza& s) {
  if (s.args.size() != 2) header_failure("scrypt stanza with other than two arguments");
  auto salt = decode(s.args[0]);
  if (!salt || salt->size() != 16) header_failure("scrypt stanza with a malformed salt");
  const std::string& w = s.args[1];
  if (w.empty() || w.size() > 2 || w[0] == '0' || !std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }))
    header_failure("scrypt stanza with a malformed work factor");
  int log2_n = std::stoi(w);
  if (log2_n > max_work_factor) header_failure("scrypt work factor " + w + " is above the limit");
  std::string key = scrypt(passphrase, std::string(kScryptLabel) + *salt, log2_n, 32);
  return unwrap_file_key(key, s, "scrypt");
}

void increment(std::array<uint8_t, 12>& nonce) {
  for (int i = 10; i >= 0; --i)
    if (++nonce[static_cast<size_t>(i)] != 0) return;
  payload_failure("too many chunks");
}

}  // namespace

// ---- keys

AgeRecipient AgeRecipient::parse(std::string_view text) {
  auto b = bech32_decode(text);
  if (!b || b->hrp != "age" || b->data.size() != 32 || text.substr(0, 4) != "age1") {
    // Never echoed: a secret key given by mistake must not reach a terminal or a report.
    bool secret = text.substr(0, 15) == "AGE-SECRET-KEY-";
    throw Error(ExitCode::usage,
                secret ? "a secret key (AGE-SECRET-KEY-...) was given where a recipient belongs"
                       : "a recipient is not an age X25519 public key",
                "give public keys as age-keygen -y prints them (age1...); keep the secret key off this host");
  }
  AgeRecipient r;
  r.public_key_ = b->data;
  return r;
}

std::string AgeRecipient::encoded() const { return bech32_encode("age", public_key_); }

AgeIdentity AgeIdentity::generate() {
  AgeIdentity id;
  id.secret_ = random_bytes(32);
  return id;
}

AgeIdentity AgeIdentity::parse(std::string_view text) {
  auto b = bech32_decode(text);
  if (!b || b->hrp != "age-secret-key-" || b->data.size() != 32 || text.substr(0, 15) != "AGE-SECRET-KEY-")
    throw Error(ExitCode::usage, "an identity is not an age X25519 secret key",
                "give a key file as age-keygen writes it (AGE-SECRET-KEY-1...)");
  AgeIdentity id;
  id.secret_ = b->data;
  return id;
}

std::string AgeIdentity::encoded() const {
  std::string s = bech32_encode("age-secret-key-", secret_);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

AgeRecipient AgeIdentity::recipient() const {
  return AgeRecipient::parse(bech32_encode("age", x25519_public_key(secret_)));
}

std::vector<AgeIdentity> read_identity_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    throw Error(ExitCode::local_io, "cannot read the identity file " + path.string(), "check the path and its permissions");
  std::vector<AgeIdentity> ids;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    ids.push_back(AgeIdentity::parse(line));
  }
  if (ids.empty())
    throw Error(ExitCode::usage, "the identity file " + path.string() + " holds no key",
                "give a key file as age-keygen writes it (AGE-SECRET-KEY-1...)");
  return ids;
}

// ---- encryption

AgeEncryptor::AgeEncryptor(const std::vector<AgeRecipient>& recipients, Output out)
    : out_(std::move(out)), aead_([&] {
        if (recipients.empty()) throw Error(ExitCode::usage, "no age recipient to encrypt to", "give --recipient age1...");
        std::string file_key = random_bytes(kFileKeySize);
        std::string header(kIntro);
        for (const auto& r : recipients) {
          std::string ephemeral = random_bytes(32);
          std::string share = x25519_public_key(ephemeral);
          std::string shared = x25519_shared(ephemeral, r.public_key());
          if (shared.empty()) throw Error(ExitCode::usage, "an age recipient is a low-order point", "check the key");
          Stanza s{"X25519", {encode(share)}, {}};
          ChaCha20Poly1305(hkdf_sha256(shared, share + r.public_key(), kX25519Label, 32)).seal(kZeroNonce, file_key, s.body);
          header += marshal_stanza(s);
        }
        header += "---";
        header += " " + encode(header_mac(file_key, header)) + "\n";
        std::string nonce = random_bytes(kStreamNonceSize);
        out_(header);
        out_(nonce);
        return hkdf_sha256(file_key, nonce, "payload", 32);
      }()) {
  buffer_.reserve(kChunkSize);
  sealed_.reserve(kSealedChunkSize);
}

void AgeEncryptor::seal_chunk(bool last) {
  nonce_[11] = last ? 1 : 0;
  sealed_.clear();
  aead_.seal(nonce_, buffer_, sealed_);
  out_(sealed_);
  buffer_.clear();
  increment(nonce_);
}

void AgeEncryptor::write(std::string_view plaintext) {
  while (!plaintext.empty()) {
    // A full chunk is sealed only once more data follows: the last chunk must say so.
    if (buffer_.size() == kChunkSize) seal_chunk(false);
    size_t n = std::min(plaintext.size(), kChunkSize - buffer_.size());
    buffer_.append(plaintext.substr(0, n));
    plaintext.remove_prefix(n);
  }
}

void AgeEncryptor::finish() {
  if (finished_) return;
  seal_chunk(true);
  finished_ = true;
}

// ---- decryption

struct AgeDecryptor::State {
  Input in;
  std::string header;  // the header's lines as read, for its MAC
  std::string buffer;  // read but not yet consumed input
  size_t buffer_at = 0;
  bool input_ended = false;
  std::unique_ptr<ChaCha20Poly1305> aead;
  std::array<uint8_t, 12> nonce{};
  bool first_chunk = true;
  enum { reading, trailing, done } stage = reading;
  std::string plain;
  size_t plain_at = 0;

  // Refills the buffer; false at the end of the input.
  bool fill() {
    if (input_ended) return false;
    if (buffer_at > 0) {
      buffer.erase(0, buffer_at);
      buffer_at = 0;
    }
    size_t have = buffer.size();
    buffer.resize(have + kSealedChunkSize);
    size_t n = in(buffer.data() + have, kSealedChunkSize);
    buffer.resize(have + n);
    if (n == 0) input_ended = true;
    return n > 0;
  }
  // A header line with its '\n'; throws at the end of the input.
  std::string_view line() {
    for (size_t searched = buffer_at;;) {
      size_t nl = buffer.find('\n', searched);
      if (nl != std::string::npos) {
        std::string_view l(buffer.data() + buffer_at, nl + 1 - buffer_at);
        buffer_at = nl + 1;
        header += l;
        return l;
      }
      if (buffer.size() - buffer_at > kMaxHeaderLine) header_failure("a line is too long");
      searched = buffer.size() - buffer_at;
      if (!fill()) header_failure("the file ends inside the header");
      searched += buffer_at;
    }
  }
  // Up to `n` bytes of input.
  std::string take(size_t n) {
    while (buffer.size() - buffer_at < n && fill()) {
    }
    size_t k = std::min(n, buffer.size() - buffer_at);
    std::string out = buffer.substr(buffer_at, k);
    buffer_at += k;
    return out;
  }

  void read_chunk() {
    std::string sealed = take(kSealedChunkSize);
    bool last = false;
    if (sealed.size() < kSealedChunkSize) {
      if (sealed.empty()) payload_failure("the file ends without a final chunk (truncated)");
      if (!first_chunk && sealed.size() == kTagSize) payload_failure("the last chunk is empty");
      last = true;
    }
    nonce[11] = last ? 1 : 0;
    plain.clear();
    plain_at = 0;
    bool opened = aead->open(nonce, sealed, plain);
    if (!opened && !last) {  // a full-size chunk may be the last one
      last = true;
      nonce[11] = 1;
      opened = aead->open(nonce, sealed, plain);
    }
    if (!opened) payload_failure("a chunk does not authenticate (corrupted or truncated)");
    first_chunk = false;
    increment(nonce);
    if (last) stage = take(1).empty() ? done : trailing;
  }
};

AgeDecryptor::AgeDecryptor(Input in, const AgeKeys& keys) : state_(std::make_unique<State>()) {
  State& st = *state_;
  st.in = std::move(in);
  if (st.line() != kIntro) header_failure("not an age v1 file");
  std::vector<Stanza> stanzas;
  std::string mac;
  for (;;) {
    std::string_view l = st.line();
    l.remove_suffix(1);
    if (l.substr(0, 3) == "---") {
      auto parts = split_spaces(l);
      if (parts[0] != "---" || parts.size() != 2) header_failure("malformed closing line");
      auto decoded = decode(parts[1]);
      if (!decoded || decoded->size() != 32) header_failure("malformed MAC");
      mac = *decoded;
      break;
    }
    if (l.substr(0, 2) != "->") header_failure("unexpected line");
    auto parts = split_spaces(l);
    if (parts[0] != "->" || parts.size() < 2) header_failure("malformed stanza line");
    if (!std::all_of(parts.begin() + 1, parts.end(), valid_argument)) header_failure("malformed stanza argument");
    Stanza s{std::string(parts[1]), std::vector<std::string>(parts.begin() + 2, parts.end()), {}};
    for (;;) {
      std::string_view body = st.line();
      body.remove_suffix(1);
      auto bytes = decode(body);
      if (!bytes) header_failure("malformed stanza body");
      if (bytes->size() > kBytesPerLine) header_failure("stanza body line too long");
      s.body += *bytes;
      if (bytes->size() < kBytesPerLine) break;
    }
    stanzas.push_back(std::move(s));
  }
  // The MAC covers the header through "---"; a strict parse makes the bytes canonical.
  std::string_view header_through_dashes(st.header.data(), st.header.size() - 45);  // without " MAC\n"
  bool has_scrypt = std::any_of(stanzas.begin(), stanzas.end(), [](const Stanza& s) { return s.type == "scrypt"; });
  if (has_scrypt && stanzas.size() != 1) header_failure("an scrypt stanza must be the only one");

  std::optional<std::string> file_key;
  for (const auto& s : stanzas) {
    if (s.type == "X25519")
      for (const auto& id : keys.identities)
        if (!file_key) file_key = unwrap_x25519(id, s);
    if (s.type == "scrypt")
      for (const auto& pass : keys.passphrases)
        if (!file_key) file_key = unwrap_scrypt(pass, keys.max_scrypt_work_factor, s);
    if (file_key) break;
  }
  if (!file_key) throw AgeError(AgeFailure::no_match, "no identity matches any of the file's recipients");
  std::string expected = header_mac(*file_key, header_through_dashes);
  if (CRYPTO_memcmp(expected.data(), mac.data(), mac.size()) != 0)
    throw AgeError(AgeFailure::hmac, "the header's MAC does not match: the header was changed");

  std::string nonce = st.take(kStreamNonceSize);
  // As age itself: the nonce is read with the header, so a short one is a header failure.
  if (nonce.size() != kStreamNonceSize) header_failure("the file ends before the payload's nonce");
  st.aead = std::make_unique<ChaCha20Poly1305>(hkdf_sha256(*file_key, nonce, "payload", 32));
}

AgeDecryptor::~AgeDecryptor() = default;

size_t AgeDecryptor::read(char* buffer, size_t n) {
  State& st = *state_;
  while (st.plain_at == st.plain.size()) {
    if (st.stage == State::done) return 0;
    if (st.stage == State::trailing) payload_failure("data after the final chunk");
    st.read_chunk();
  }
  size_t k = std::min(n, st.plain.size() - st.plain_at);
  std::copy_n(st.plain.data() + st.plain_at, k, buffer);
  st.plain_at += k;
  return k;
}

std::string age_encrypt(std::string_view plaintext, const std::vector<AgeRecipient>& recipients) {
  std::string out;
  AgeEncryptor enc(recipients, [&](std::string_view bytes) { out += bytes; });
  enc.write(plaintext);
  enc.finish();
  return out;
}

std::string age_decrypt(std::string_view file, const AgeKeys& keys) {
  size_t at = 0;
  AgeDecryptor dec(
      [&](char* buffer, size_t n) {
        size_t k = std::min(n, file.size() - at);
        std::copy_n(file.data() + at, k, buffer);
        at += k;
        return k;
      },
      keys);
  std::string out;
  char chunk[kChunkSize];
  while (size_t n = dec.read(chunk, sizeof chunk)) out.append(chunk, n);
  return out;
}

}  // namespace decant::crypto

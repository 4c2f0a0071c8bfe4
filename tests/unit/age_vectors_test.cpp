// The age implementation against the C2SP CCTV vectors (npm cctv-age, installed by
// scripts/install-age-vectors.sh): every X25519 and scrypt vector must succeed or fail
// exactly as labelled, releasing exactly the labelled plaintext. Armored and
// post-quantum (hybrid) vectors are declared unsupported and counted apart.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "crypto/age.hpp"
#include "crypto/primitives.hpp"

namespace decant::crypto {
namespace {

namespace fs = std::filesystem;

fs::path vectors_dir() {
  if (const char* env = std::getenv("DECANT_AGE_VECTORS")) return env;
  return DECANT_AGE_VECTORS_DEFAULT;
}

struct Vector {
  std::string name;
  std::multimap<std::string, std::string> fields;
  std::string file;
  std::string field(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? "" : it->second;
  }
};

std::string inflate_zlib(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(inflateInit(&z), Z_OK);
  std::string out;
  char buf[1 << 16];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  EXPECT_EQ(rc, Z_STREAM_END);
  return out;
}

Vector read_vector(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  Vector v{path.filename().string(), {}, {}};
  size_t end = all.find("\n\n");
  std::istringstream header(all.substr(0, end));
  for (std::string line; std::getline(header, line);) {
    size_t colon = line.find(": ");
    v.fields.emplace(line.substr(0, colon), line.substr(colon + 2));
  }
  v.file = all.substr(end + 2);
  if (v.field("compressed") == "zlib") v.file = inflate_zlib(v.file);
  return v;
}

std::string expectation_of(const std::optional<AgeFailure>& failure) {
  if (!failure) return "success";
  switch (*failure) {
    case AgeFailure::header: return "header failure";
    case AgeFailure::no_match: return "no match";
    case AgeFailure::hmac: return "HMAC failure";
    case AgeFailure::payload: return "payload failure";
  }
  return "?";
}

TEST(AgeVectors, EveryX25519AndScryptVectorPassesOrFailsAsLabelled) {
  fs::path dir = vectors_dir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing: run scripts/install-age-vectors.sh";
  int checked = 0, unsupported = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    Vector v = read_vector(entry.path());
    bool pq = false;
    AgeKeys keys;
    for (auto [it, end] = v.fields.equal_range("identity"); it != end; ++it) {
      if (it->second.rfind("AGE-SECRET-KEY-PQ-", 0) == 0) {
        pq = true;
      } else {
        keys.identities.push_back(AgeIdentity::parse(it->second));
      }
    }
    for (auto [it, end] = v.fields.equal_range("passphrase"); it != end; ++it) keys.passphrases.push_back(it->second);
    if (v.field("armored") == "yes" || pq) {
      ++unsupported;
      continue;
    }
    SCOPED_TRACE(v.name + ": " + v.field("comment"));
    std::optional<AgeFailure> failure;
    Sha256 released;
    try {
      size_t at = 0;
      AgeDecryptor dec(
          [&](char* buf, size_t n) {
            size_t k = std::min(n, v.file.size() - at);
            std::copy_n(v.file.data() + at, k, buf);
            at += k;
            return k;
          },
          keys);
      char buf[4096];
      while (size_t n = dec.read(buf, sizeof buf)) released.update(std::string_view(buf, n));
    } catch (const AgeError& e) {
      failure = e.failure();
    }
    EXPECT_EQ(expectation_of(failure), v.field("expect"));
    if (!v.field("payload").empty()) {
      EXPECT_EQ(to_hex(released.finish()), v.field("payload"));
    }
    ++checked;
  }
  // 143 vectors in cctv-age 0.2.0: 92 X25519, scrypt, header and stream ones are checked,
  // the armored and post-quantum ones are not.
  EXPECT_EQ(checked, 92);
  EXPECT_EQ(checked + unsupported, 143);
  std::cout << checked << " vectors checked, " << unsupported << " unsupported (armored or post-quantum)\n";
}

}  // namespace
}  // namespace decant::crypto

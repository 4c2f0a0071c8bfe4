// decant's age against Debian's age 1.1.1 CLI, both directions, at the STREAM chunk
// edges and beyond; and what a wrong key or a changed byte gives.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "process/process.hpp"
#include "crypto/age.hpp"
#include "test_support.hpp"

namespace decant::crypto {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
// Not compressible and not periodic at 64 KiB, so a misplaced chunk shows.
std::string payload_of(size_t n) {
  std::string s = random_bytes(n);
  return s;
}

constexpr size_t kSizes[] = {0, 1, 65535, 65536, 65537, 131072, 3 * 1024 * 1024 + 17};

TEST(Age, RoundTripsAtChunkEdgesToSeveralRecipients) {
  auto a = AgeIdentity::generate(), b = AgeIdentity::generate(), stranger = AgeIdentity::generate();
  for (size_t n : kSizes) {
    SCOPED_TRACE(n);
    std::string plain = payload_of(n);
    std::string file = age_encrypt(plain, {a.recipient(), b.recipient()});
    EXPECT_EQ(age_decrypt(file, AgeKeys{{a}, {}}), plain);
    EXPECT_EQ(age_decrypt(file, AgeKeys{{stranger, b}, {}}), plain);
    try {
      age_decrypt(file, AgeKeys{{stranger}, {}});
      ADD_FAILURE() << "a stranger's key decrypted";
    } catch (const AgeError& e) {
      EXPECT_EQ(e.failure(), AgeFailure::no_match);
    }
  }
}

TEST(Age, StreamsInPiecesOfAnySize) {
  auto id = AgeIdentity::generate();
  std::string plain = payload_of(200000);
  std::string file;
  AgeEncryptor enc({id.recipient()}, [&](std::string_view bytes) { file += bytes; });
  for (size_t at = 0, step = 1; at < plain.size(); at += step, step = step * 3 % 70001 + 1)
    enc.write(std::string_view(plain).substr(at, step));
  enc.finish();
  size_t at = 0;
  AgeDecryptor dec(
      [&](char* buf, size_t n) {
        size_t k = std::min({n, file.size() - at, size_t{777}});
        std::copy_n(file.data() + at, k, buf);
        at += k;
        return k;
      },
      AgeKeys{{id}, {}});
  std::string out;
  char buf[1000];
  while (size_t n = dec.read(buf, 1 + out.size() % sizeof buf)) out.append(buf, n);
  EXPECT_EQ(out, plain);
}

TEST(Age, AChangedByteAnywhereIsCaught) {
  auto id = AgeIdentity::generate();
  std::string plain = payload_of(150000);
  std::string file = age_encrypt(plain, {id.recipient()});
  size_t header = file.find("\n---") + 48;
  struct Case {
    size_t at;
    AgeFailure expected;
  };
  for (auto [at, expected] : {Case{40, AgeFailure::no_match},     // the stanza's share
                              Case{header - 5, AgeFailure::hmac},  // the MAC
                              Case{header + 3, AgeFailure::payload},  // the nonce
                              Case{header + 70000, AgeFailure::payload},
                              Case{file.size() - 1, AgeFailure::payload}}) {
    SCOPED_TRACE(at);
    std::string bad = file;
    // In the header, another base64 letter (still well-formed); in the payload, a flipped bit.
    bad[at] = at < header ? (bad[at] == 'A' ? 'B' : 'A') : static_cast<char>(bad[at] ^ 0x04);
    try {
      age_decrypt(bad, AgeKeys{{id}, {}});
      ADD_FAILURE() << "a changed byte went unnoticed";
    } catch (const AgeError& e) {
      EXPECT_EQ(e.failure(), expected);
    }
  }
  for (size_t keep : {file.size() - 1, header + 65552 + 16, header + 16, header}) {
    SCOPED_TRACE(keep);
    EXPECT_THROW(age_decrypt(file.substr(0, keep), AgeKeys{{id}, {}}), AgeError);
  }
}

TEST(Age, KeysRoundTripAndBadKeysAreUsageErrorsWithoutTheKey) {
  auto id = AgeIdentity::generate();
  EXPECT_EQ(AgeIdentity::parse(id.encoded()).secret(), id.secret());
  EXPECT_EQ(AgeRecipient::parse(id.recipient().encoded()), id.recipient());
  std::string secret = id.encoded();
  std::string typo = secret;
  typo[20] = typo[20] == 'Q' ? 'P' : 'Q';
  try {
    AgeIdentity::parse(typo);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_EQ(std::string(e.what()).find(typo.substr(15)), std::string::npos);
  }
  EXPECT_THROW(AgeRecipient::parse("age1notakey"), Error);
  EXPECT_THROW(AgeRecipient::parse(secret), Error);
}

class AgeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!program_version_line("age")) GTEST_FAIL() << "Debian's age is missing: apt-get install age";
  }
  test::TempDir dir;
};

TEST_F(AgeCli, DecryptsWhatAgeEncryptsAndAgeDecryptsWhatDecantEncrypts) {
  fs::path key = dir.path() / "key.txt";
  auto keygen = run_process(ProcessSpec({"age-keygen", "-o", key.string()}));
  ASSERT_EQ(keygen.exit_status, 0) << keygen.errors;
  auto ids = read_identity_file(key);
  ASSERT_EQ(ids.size(), 1u);
  auto recipient = run_process(ProcessSpec({"age-keygen", "-y", key.string()}));
  ASSERT_EQ(recipient.exit_status, 0);
  std::string age1 = recipient.output.substr(0, recipient.output.find('\n'));
  EXPECT_EQ(ids[0].recipient().encoded(), age1);
  for (size_t n : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{65537}, size_t{5 << 20}}) {
    SCOPED_TRACE(n);
    std::string plain = payload_of(n);
    fs::path plain_path = dir.path() / "plain", enc_path = dir.path() / "enc.age", out_path = dir.path() / "out";
    write_file(plain_path, plain);
    // age -> decant
    auto enc = run_process(ProcessSpec({"age", "-r", age1, "-o", enc_path.string(), plain_path.string()}));
    ASSERT_EQ(enc.exit_status, 0) << enc.errors;
    EXPECT_EQ(age_decrypt(read_file(enc_path), AgeKeys{ids, {}}), plain);
    // decant -> age
    write_file(enc_path, age_encrypt(plain, {AgeIdentity::generate().recipient(), ids[0].recipient()}));
    auto dec = run_process(ProcessSpec({"age", "-d", "-i", key.string(), "-o", out_path.string(), enc_path.string()}));
    ASSERT_EQ(dec.exit_status, 0) << dec.errors;
    EXPECT_EQ(read_file(out_path), plain);
  }
}

}  // namespace
}  // namespace decant::crypto

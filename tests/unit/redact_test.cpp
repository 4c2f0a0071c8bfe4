#include "text/redact.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace decant {
namespace {

// Runs scrub_passwords on writable copies of `args` (args[0] is the program name).
std::vector<std::string> scrub(const std::vector<std::string>& args) {
  std::vector<std::vector<char>> storage;
  for (const auto& a : args) {
    storage.emplace_back(a.begin(), a.end());
    storage.back().push_back('\0');
  }
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  scrub_passwords(static_cast<int>(args.size()), argv.data());
  std::vector<std::string> out;
  for (auto& s : storage) out.emplace_back(s.data());
  return out;
}

std::string scrub_one(const std::string& arg) { return scrub({"decant", arg})[1]; }

TEST(ScrubPasswords, UriPasswordIsOverwritten) {
  std::string out = scrub_one("postgresql://u:secret@h:5432/db");
  EXPECT_EQ(out.find("secret"), std::string::npos) << out;
  EXPECT_EQ(out, "postgresql://u:xxxxxx@h:5432/db");
  EXPECT_EQ(scrub_one("postgresql://u:pw@[::1]:5432/db"), "postgresql://u:xx@[::1]:5432/db");
  EXPECT_EQ(scrub_one("postgresql://u:pw@h1:5432,h2:5433/db"), "postgresql://u:xx@h1:5432,h2:5433/db");
}

TEST(ScrubPasswords, UriInAnOptionIsOverwritten) {
  EXPECT_EQ(scrub_one("--source=postgres://admin:hunter2@db.example.com/app?sslmode=require"),
            "--source=postgres://admin:xxxxxxx@db.example.com/app?sslmode=require");
}

TEST(ScrubPasswords, UriWithoutPathIsOverwritten) {
  EXPECT_EQ(scrub_one("postgresql://u:secret@h"), "postgresql://u:xxxxxx@h");
}

TEST(ScrubPasswords, PasswordContainingAtSignIsFullyOverwritten) {
  EXPECT_EQ(scrub_one("postgresql://u:p@ss@h/db"), "postgresql://u:xxxx@h/db");
}

TEST(ScrubPasswords, UrisWithoutPasswordAreUnchanged) {
  for (const std::string uri : {"postgresql://u@h/db", "postgresql://u@h:5432/db", "postgresql://h:5432/db",
                                "postgresql://h/db", "postgresql:///db?host=/tmp", "postgresql://",
                                "postgresql://[::1]:5432/db", "postgresql://u@[::1]:5432/db"}) {
    EXPECT_EQ(scrub_one(uri), uri);
  }
}

TEST(ScrubPasswords, UriQueryPasswordIsOverwritten) {
  EXPECT_EQ(scrub_one("postgresql://u@h/db?sslmode=require&password=secret&application_name=a"),
            "postgresql://u@h/db?sslmode=require&password=xxxxxx&application_name=a");
}

TEST(ScrubPasswords, KeyValuePasswordIsOverwritten) {
  EXPECT_EQ(scrub_one("host=h password=secret user=u"), "host=h password=xxxxxx user=u");
  EXPECT_EQ(scrub_one("password=secret"), "password=xxxxxx");
}

TEST(ScrubPasswords, QuotedKeyValuePasswordIsOverwritten) {
  std::string out = scrub_one("host=h password='se cret' user=u");
  EXPECT_EQ(out, "host=h password='xxxxxxx' user=u");
  EXPECT_EQ(out.find("se cret"), std::string::npos);
  EXPECT_EQ(out.find("cret"), std::string::npos);
}

TEST(ScrubPasswords, QuotedPasswordWithEscapedQuoteIsFullyOverwritten) {
  // libpq reads 'it\'s a\\b' as: it's a\b
  std::string out = scrub_one(R"(password='it\'s a\\b' user=u)");
  EXPECT_EQ(out, "password='xxxxxxxxxx' user=u");
}

TEST(ScrubPasswords, EveryArgumentIsScrubbedButArgv0) {
  auto out = scrub({"postgresql://u:zero@h/db", "--source=postgresql://u:first@h/db", "-v",
                    "--target", "host=t password=second", "plain"});
  EXPECT_EQ(out[0], "postgresql://u:zero@h/db");
  EXPECT_EQ(out[1], "--source=postgresql://u:xxxxx@h/db");
  EXPECT_EQ(out[2], "-v");
  EXPECT_EQ(out[3], "--target");
  EXPECT_EQ(out[4], "host=t password=xxxxxx");
  EXPECT_EQ(out[5], "plain");
}

TEST(ScrubPasswords, ArgumentsWithoutSecretsAreUnchanged) {
  for (const std::string arg : {"--jobs=4", "host=h user=u dbname=d", "/tmp/state", "", "password", "x://"}) {
    EXPECT_EQ(scrub_one(arg), arg);
  }
}

TEST(ScrubPasswords, LengthIsPreserved) {
  // Scrubbing happens in place: argv strings must not grow or shrink.
  for (const std::string arg : {"postgresql://u:secret@h:5432/db", "host=h password='a b\\'c' user=u"}) {
    EXPECT_EQ(scrub_one(arg).size(), arg.size());
  }
}

// BUG (src/text/redact.cpp): libpq accepts forms the scrubber misses, leaving the
// password readable in `ps`:
//  - a '?' in the URI password: the scrubber ends the authority at the first '/' or '?',
//    but libpq ends the user info at '@' (or '/'), so "u:se?cret@h" is user u, password se?cret;
//  - spaces around '=' in key=value form ("password = secret"), which libpq allows.
// Enable once fixed.
TEST(ScrubPasswords, FormsLibpqAcceptsAreScrubbedToo) {
  EXPECT_EQ(scrub_one("postgresql://u:se?cret@h/db").find("cret"), std::string::npos);
  EXPECT_EQ(scrub_one("host=h password = secret user=u").find("secret"), std::string::npos);
}

TEST(ScrubPasswords, MongoKeyFilePasswordIsScrubbedWhateverItsCase) {
  EXPECT_EQ(scrub_one("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=keypass123").find("keypass123"),
            std::string::npos);
}

}  // namespace
}  // namespace decant

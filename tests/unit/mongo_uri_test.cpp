// Uri::parse keeps the driver's whole message for a malformed connection string, with
// the password (as written and percent-decoded) replaced wherever it appears.
#include <gtest/gtest.h>

#include <string>

#include "common/error.hpp"
#include "mongo/client.hpp"

namespace decant::mongo {
namespace {

// The message Uri::parse throws for `uri` ("" when it parses).
std::string parse_error(const std::string& uri) {
  try {
    Uri::parse(uri, "source");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage) << e.what();
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

TEST(MongoUri, TheDriversWholeMessageIsKept) {
  // Before, the message was cut at its first quote: 'Unsupported value for'.
  EXPECT_EQ(parse_error("mongodb://u:pw@host/?tls=maybe"),
            "the --source connection string is malformed: Unsupported value for \"tls\": \"maybe\"");
  EXPECT_EQ(parse_error("mongodb://u:pw@host/?replicaSet="),
            "the --source connection string is malformed: Value for URI option \"replicaset\" cannot be empty string");
}

TEST(MongoUri, APasswordTheDriverQuotesIsReplaced) {
  // The driver quotes a password with an unescaped ':' in full.
  std::string msg = parse_error("mongodb://u:se:cret@host/");
  EXPECT_FALSE(contains(msg, "se:cret")) << msg;
  EXPECT_FALSE(contains(msg, "cret")) << msg;
  EXPECT_TRUE(contains(msg, "Password \"xxx\" must not have unescaped chars")) << msg;
}

TEST(MongoUri, PasswordsWithQuotesColonsAndEscapesNeverShow) {
  for (const std::string pw : {"hun\"ter:2", "a:b%40c", "q\"uo:te%40d", "p%3Ass:word"}) {
    std::string msg = parse_error("mongodb://u:" + pw + "@host/?tls=maybe");
    ASSERT_FALSE(msg.empty()) << pw;
    EXPECT_FALSE(contains(msg, pw)) << msg;
    // Percent-decoded ("a:b@c") as the driver may show it.
    std::string decoded = pw;
    for (std::string::size_type at; (at = decoded.find("%40")) != std::string::npos;) decoded.replace(at, 3, "@");
    for (std::string::size_type at; (at = decoded.find("%3A")) != std::string::npos;) decoded.replace(at, 3, ":");
    EXPECT_FALSE(contains(msg, decoded)) << msg;
  }
}

TEST(MongoUri, APasswordThatIsPartOfTheHostNameIsHiddenThere) {
  // Hiding it where it is part of the host name costs only some of the host name.
  std::string msg = parse_error("mongodb://u:ex:ample@db.ex:ample.com/");
  EXPECT_FALSE(contains(msg, "ex:ample")) << msg;
  EXPECT_TRUE(contains(msg, "Password \"xxx\" must not have unescaped chars")) << msg;
}

TEST(MongoUri, APasswordCutShortAtTheEndOfALongMessageIsHidden) {
  // The driver's message buffer holds ~500 bytes: a long password is cut inside it.
  std::string pw = "se:" + std::string(600, 'k') + "Z";
  std::string msg = parse_error("mongodb://u:" + pw + "@host/");
  ASSERT_FALSE(msg.empty());
  EXPECT_FALSE(contains(msg, "kkk")) << msg;
  EXPECT_TRUE(contains(msg, "Password \"xxx")) << msg;
}

TEST(MongoUri, AValidUriParses) {
  EXPECT_EQ(parse_error("mongodb://u:p%40ss@host:27017/?authSource=admin"), "");
  EXPECT_EQ(Uri::parse("mongodb://u:p%40ss@host:27017/", "target").display(), "u@host:27017");
}

}  // namespace
}  // namespace decant::mongo

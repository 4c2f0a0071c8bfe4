#include "pg/conninfo.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>
#include <libpq-fe.h>

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "test_support.hpp"

namespace decant::pg {
namespace {

using decant::test::ScopedEnv;
using Keywords = std::map<std::string, std::string>;

// What libpq itself makes of a connection string: every keyword given a value.
Keywords libpq_parse(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    ADD_FAILURE() << "libpq rejects the built string <" << conninfo << ">: " << (err ? err : "?");
    if (err) PQfreemem(err);
    return {};
  }
  Keywords out;
  for (auto* o = opts; o->keyword; ++o)
    if (o->val) out[o->keyword] = o->val;
  PQconninfoFree(opts);
  return out;
}

// libpq gives each keyword of `want` its value in `conninfo`.
void expect_keywords(const std::string& conninfo, const Keywords& want) {
  auto got = libpq_parse(conninfo);
  for (const auto& [keyword, value] : want) EXPECT_EQ(got[keyword], value) << keyword << " in " << conninfo;
}

// The Error parse() throws for `input` given as --source, which must be a usage error;
// none (and a failure) if it throws none.
std::optional<Error> usage_error(const std::string& input) {
  try {
    ConnInfo::parse(input, "source");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    return e;
  }
  ADD_FAILURE() << "no exception";
  return std::nullopt;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

std::string percent_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

// The variables that change what parse/display produce; each test sees none of them.
class ConnInfoTest : public testing::Test {
 protected:
  ScopedEnv timeout_{"PGCONNECT_TIMEOUT", std::nullopt};
  ScopedEnv host_{"PGHOST", std::nullopt};
  ScopedEnv port_{"PGPORT", std::nullopt};
  ScopedEnv user_{"PGUSER", std::nullopt};
  ScopedEnv database_{"PGDATABASE", std::nullopt};
  ScopedEnv appname_{"PGAPPNAME", std::nullopt};
};

TEST_F(ConnInfoTest, ParsesUriIntoItsParts) {
  auto info = ConnInfo::parse("postgresql://alice:s3cr3t@db.example.com:6543/sales?sslmode=require", "source");
  EXPECT_EQ(info.role(), "source");
  ASSERT_TRUE(info.password().has_value());
  EXPECT_EQ(*info.password(), "s3cr3t");
  EXPECT_EQ(info.maintenance_db(), "sales");

  expect_keywords(info.for_database("sales"), {{"user", "alice"}, {"password", "s3cr3t"}, {"host", "db.example.com"},
                                              {"port", "6543"}, {"dbname", "sales"}, {"sslmode", "require"}});
}

TEST_F(ConnInfoTest, ParsesKeyValueIntoItsParts) {
  auto info = ConnInfo::parse("host=10.0.0.5 port=5433 user=bob password='pa ss' dbname=inventory", "target");
  EXPECT_EQ(info.role(), "target");
  EXPECT_EQ(info.password().value_or(""), "pa ss");
  EXPECT_EQ(info.maintenance_db(), "inventory");

  expect_keywords(info.for_database("inventory"),
                  {{"host", "10.0.0.5"}, {"port", "5433"}, {"user", "bob"}, {"password", "pa ss"}, {"dbname", "inventory"}});
}

TEST_F(ConnInfoTest, PasswordInUriQueryIsFound) {
  auto info = ConnInfo::parse("postgresql://alice@h/db?password=q%20pw", "source");
  EXPECT_EQ(info.password().value_or(""), "q pw");
}

TEST_F(ConnInfoTest, NoPasswordGivenMeansNone) {
  EXPECT_FALSE(ConnInfo::parse("postgresql://alice@h/db", "source").password().has_value());
  EXPECT_FALSE(ConnInfo::parse("host=h user=alice", "source").password().has_value());
}

TEST_F(ConnInfoTest, MalformedKeyValueThrowsUsageWithoutPassword) {
  const std::vector<std::string> inputs = {
      "host=h password=hunter2 port",         // missing '='
      "host=h password='hunter2",             // unterminated quote
      "host=h password=hunter2 bogus=1",      // unknown keyword
      "postgresql://u:hunter2@h/db?bogus=1",  // unknown URI parameter
      "postgresql://u:hunter2@h/db?port",     // URI parameter without '='
  };
  for (const auto& input : inputs) {
    SCOPED_TRACE(input);
    auto e = usage_error(input);
    if (!e) continue;
    EXPECT_NE(std::string(e->what()).find("--source"), std::string::npos) << e->what();
    EXPECT_EQ(std::string(e->what()).find("hunter2"), std::string::npos) << e->what();
    EXPECT_EQ(e->hint().find("hunter2"), std::string::npos) << e->hint();
    EXPECT_EQ(e->one_line().find("hunter2"), std::string::npos);
  }
}

// BUG (src/pg/conninfo.cpp, ConnInfo::parse): libpq quotes the whole URI, or the whole
// percent-encoded password, in some of its parse errors, and parse() copies libpq's
// message into the Error verbatim, so the password is printed. Enable once fixed.
TEST_F(ConnInfoTest, MalformedUriErrorNeverShowsThePassword) {
  const std::vector<std::string> inputs = {
      "postgresql://u:hunter2@[::1/db",    // unterminated IPv6 bracket: libpq quotes the URI
      "postgresql://u:hunter2@[::1]x/db",  // unexpected character: libpq quotes the URI
      "postgresql://u:hunter2%zz@h/db",    // bad percent escape: libpq quotes the password
  };
  for (const auto& input : inputs) {
    SCOPED_TRACE(input);
    auto e = usage_error(input);
    if (!e) continue;
    EXPECT_EQ(std::string(e->what()).find("hunter2"), std::string::npos) << e->what();
  }
}

TEST_F(ConnInfoTest, ForDatabaseSwitchesDbname) {
  auto info = ConnInfo::parse("postgresql://alice:pw@h:5432/original", "source");
  std::string s = info.for_database("other");
  EXPECT_EQ(count_of(s, "dbname="), 1u) << s;
  auto kw = libpq_parse(s);
  EXPECT_EQ(kw["dbname"], "other");
  EXPECT_EQ(kw["user"], "alice");
  EXPECT_EQ(kw["password"], "pw");
  EXPECT_EQ(kw["host"], "h");
  // The parsed object is unchanged: the original database is still the maintenance db.
  EXPECT_EQ(info.maintenance_db(), "original");
  EXPECT_EQ(libpq_parse(info.for_database("original"))["dbname"], "original");
}

TEST_F(ConnInfoTest, ForDatabaseAddsDbnameWhenNoneWasGiven) {
  auto info = ConnInfo::parse("host=h user=alice", "source");
  EXPECT_EQ(libpq_parse(info.for_database("app"))["dbname"], "app");
}

TEST_F(ConnInfoTest, ForChildHasNoPasswordButEverythingElse) {
  for (const std::string input : {"postgresql://alice:Sup3rSecret@h:6000/db?sslmode=prefer",
                                  "host=h port=6000 user=alice password=Sup3rSecret dbname=db sslmode=prefer",
                                  "postgresql://alice@h:6000/db?sslmode=prefer&password=Sup3rSecret"}) {
    SCOPED_TRACE(input);
    auto info = ConnInfo::parse(input, "source");
    std::string child = info.for_child("app");
    EXPECT_EQ(child.find("Sup3rSecret"), std::string::npos) << child;
    auto kw = libpq_parse(child);
    EXPECT_EQ(kw.count("password"), 0u);
    EXPECT_EQ(kw["user"], "alice");
    EXPECT_EQ(kw["host"], "h");
    EXPECT_EQ(kw["port"], "6000");
    EXPECT_EQ(kw["dbname"], "app");
    EXPECT_EQ(kw["sslmode"], "prefer");
    // ... while the in-process string keeps it.
    EXPECT_EQ(libpq_parse(info.for_database("app"))["password"], "Sup3rSecret");
  }
}

TEST_F(ConnInfoTest, DisplayShowsUserHostPortDbButNoPassword) {
  auto info = ConnInfo::parse("postgresql://alice:Sup3rSecret@db.example.com:6543/sales", "source");
  EXPECT_EQ(info.display(), "alice@db.example.com:6543/sales");
  EXPECT_EQ(info.display("hr"), "alice@db.example.com:6543/hr");
  EXPECT_EQ(info.display().find("Sup3rSecret"), std::string::npos);
  EXPECT_EQ(info.display("x").find("Sup3rSecret"), std::string::npos);
}

TEST_F(ConnInfoTest, DisplayFallsBackToEnvironmentThenDefaults) {
  auto info = ConnInfo::parse("user=bob password=Sup3rSecret dbname=d", "target");
  EXPECT_EQ(info.display(), "bob@localhost:5432/d");
  ScopedEnv host("PGHOST", "envhost");
  ScopedEnv port("PGPORT", "7777");
  EXPECT_EQ(info.display(), "bob@envhost:7777/d");
}

TEST_F(ConnInfoTest, WithoutAUserItIsLibpqsDefaultTheEffectiveOsUser) {
  auto info = ConnInfo::parse("host=h port=1", "source");
  passwd* me = getpwuid(geteuid());
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(info.user(), me->pw_name);
  EXPECT_EQ(info.display(), std::string(me->pw_name) + "@h:1/" + me->pw_name);
  ScopedEnv user("PGUSER", "dave");
  EXPECT_EQ(info.display(), "dave@h:1/dave");
}

TEST_F(ConnInfoTest, MaintenanceDbFallsBackToUserThenPgdatabase) {
  auto info = ConnInfo::parse("host=h user=carol", "source");
  EXPECT_EQ(info.maintenance_db(), "carol");
  ScopedEnv db("PGDATABASE", "fromenv");
  EXPECT_EQ(info.maintenance_db(), "fromenv");
}

TEST_F(ConnInfoTest, ConnectTimeoutDefaultsToTen) {
  auto info = ConnInfo::parse("postgresql://alice@h/db", "source");
  EXPECT_EQ(libpq_parse(info.for_database("db"))["connect_timeout"], "10");
  EXPECT_EQ(libpq_parse(info.for_child("db"))["connect_timeout"], "10");
}

TEST_F(ConnInfoTest, ConnectTimeoutGivenIsKept) {
  auto uri = ConnInfo::parse("postgresql://alice@h/db?connect_timeout=3", "source");
  EXPECT_EQ(libpq_parse(uri.for_database("db"))["connect_timeout"], "3");
  auto kv = ConnInfo::parse("host=h connect_timeout=45", "source");
  EXPECT_EQ(libpq_parse(kv.for_database("db"))["connect_timeout"], "45");
}

TEST_F(ConnInfoTest, ConnectTimeoutLeftToLibpqWhenEnvironmentSetsIt) {
  ScopedEnv timeout("PGCONNECT_TIMEOUT", "7");
  auto info = ConnInfo::parse("postgresql://alice@h/db", "source");
  EXPECT_EQ(libpq_parse(info.for_database("db")).count("connect_timeout"), 0u);
}

TEST_F(ConnInfoTest, ApplicationNameDefaultsToDecantUnlessGiven) {
  EXPECT_EQ(libpq_parse(ConnInfo::parse("host=h", "source").for_database("d"))["application_name"], "decant");
  EXPECT_EQ(libpq_parse(ConnInfo::parse("host=h application_name=mine", "source").for_database("d"))["application_name"],
            "mine");
}

const std::vector<std::string> kAwkwardValues = {
    "with space",     "it's",         "back\\slash", "both ' and \\ mixed", "trailing\\", "'", "''",
    "\\'",            "  leading",    "x=y z=w",     "tab\there",           "p\xC3\xA4ss",  "end with space ",
    "'quoted whole'", "a\\\\b''c\\'",
};

TEST(QuoteConninfoValue, RoundTripsThroughLibpq) {
  for (const auto& v : kAwkwardValues) {
    SCOPED_TRACE(v);
    auto kw = libpq_parse("dbname=" + quote_conninfo_value(v) + " user=u");
    EXPECT_EQ(kw["dbname"], v);
    EXPECT_EQ(kw["user"], "u");  // the quoting did not swallow what follows
  }
  EXPECT_EQ(libpq_parse("dbname=" + quote_conninfo_value("") + " user=u")["user"], "u");
}

TEST_F(ConnInfoTest, AwkwardValuesRoundTripThroughBuiltStrings) {
  for (const auto& v : kAwkwardValues) {
    SCOPED_TRACE(v);
    std::string uri = "postgresql://" + percent_encode("u " + v) + ":" + percent_encode("pw " + v) +
                      "@h:5432/" + percent_encode("orig") + "?application_name=" + percent_encode("app " + v) +
                      "&options=" + percent_encode("-c search_path=" + v);
    auto info = ConnInfo::parse(uri, "source");
    EXPECT_EQ(info.password().value_or(""), "pw " + v);

    auto full = libpq_parse(info.for_database("db " + v));
    EXPECT_EQ(full["user"], "u " + v);
    EXPECT_EQ(full["password"], "pw " + v);
    EXPECT_EQ(full["dbname"], "db " + v);
    EXPECT_EQ(full["application_name"], "app " + v);
    EXPECT_EQ(full["options"], "-c search_path=" + v);
    EXPECT_EQ(full["host"], "h");

    auto child = libpq_parse(info.for_child("db " + v));
    EXPECT_EQ(child["user"], "u " + v);
    EXPECT_EQ(child["dbname"], "db " + v);
    EXPECT_EQ(child.count("password"), 0u);
  }
}

TEST_F(ConnInfoTest, KeyValueInputWithEscapesRoundTrips) {
  // libpq's own quoting in the input: \' and \\ inside single quotes.
  auto info = ConnInfo::parse(R"(host=h user='o\'brien' password='a b\\c\'d' dbname='my db')", "source");
  EXPECT_EQ(info.password().value_or(""), R"(a b\c'd)");
  auto kw = libpq_parse(info.for_database(info.maintenance_db()));
  EXPECT_EQ(kw["user"], "o'brien");
  EXPECT_EQ(kw["password"], R"(a b\c'd)");
  EXPECT_EQ(kw["dbname"], "my db");
}

}  // namespace
}  // namespace decant::pg

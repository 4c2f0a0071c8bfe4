#include <gtest/gtest.h>

#include "pg/schema.hpp"
#include "pg/sqlstate.hpp"

namespace decant::pg {
namespace {

DumpArchive archive_of(const std::vector<std::pair<int, std::string>>& entries) {
  DumpArchive a;
  for (const auto& [id, desc] : entries) {
    ArchiveEntry e;
    e.dump_id = id;
    e.desc = desc;
    a.entries.push_back(std::move(e));
  }
  return a;
}

TEST(ScriptFitter, LeavesOutSettingsTheTargetDoesNotKnowAndKeepsTheRest) {
  ScriptFitter fitter({"statement_timeout", "lock_timeout", "client_encoding", "search_path"});
  EXPECT_EQ(fitter.fit("SET statement_timeout = 0;"), std::optional<std::string>("SET statement_timeout = 0;"));
  EXPECT_EQ(fitter.fit("SET transaction_timeout = 0;"), std::nullopt);  // pg_restore 17 into 16 and older
  EXPECT_EQ(fitter.fit("SET client_encoding = 'UTF8';"), std::optional<std::string>("SET client_encoding = 'UTF8';"));
  // Not a session setting line: kept whatever it says.
  for (const char* line : {"    SET transaction_timeout = 0;", "ALTER ROLE x SET transaction_timeout = 0;",
                           "SET myext.flag = on;", "SET transaction_timeout = 0", "CREATE TABLE t (a int);", ""})
    EXPECT_EQ(fitter.fit(line), std::optional<std::string>(line)) << line;
  EXPECT_EQ(fitter.left_out(), std::set<std::string>{"transaction_timeout"});
}

TEST(Sqlstate, IsFoundInVerboseMessagesWhateverTheLanguage) {
  EXPECT_EQ(sqlstate_in("connection to server at \"h\" (127.0.0.1), port 5432 failed: FATAL:  28P01: password "
                        "authentication failed for user \"bob\"\nLOCATION:  auth_failed, auth.c:323"),
            "28P01");
  EXPECT_EQ(sqlstate_in("psql:<stdin>:42: FEHLER:  42501: keine Berechtigung für Tabelle t"), "42501");
  EXPECT_EQ(sqlstate_in("could not connect to server: Connection refused"), "");
  EXPECT_EQ(sqlstate_in("ERROR:  relation \"x\" does not exist"), "");
}

TEST(Sqlstate, TheMessageShownHasNoCodeAndNoLocation) {
  std::string verbose = "failed: FATAL:  28P01: password authentication failed for user \"bob\"\n"
                        "LOCATION:  auth_failed, auth.c:323\n";
  EXPECT_EQ(without_verbose_parts(verbose, "28P01"), "failed: FATAL:  password authentication failed for user \"bob\"");
}

TEST(Sqlstate, ClassesMapToExitCodes) {
  EXPECT_EQ(classify_sqlstate("28P01"), ExitCode::auth);
  EXPECT_EQ(classify_sqlstate("28000"), ExitCode::auth);
  EXPECT_EQ(classify_sqlstate("42501"), ExitCode::privileges);
  EXPECT_EQ(classify_sqlstate("3D000"), ExitCode::usage);
  EXPECT_EQ(classify_sqlstate("08006"), ExitCode::unreachable);
  EXPECT_EQ(classify_sqlstate("57P01"), ExitCode::unreachable);
  EXPECT_EQ(classify_sqlstate("42P07"), ExitCode::copy_failed);
  EXPECT_TRUE(is_duplicate_object("42P07"));
  EXPECT_TRUE(is_duplicate_object("42710"));
  EXPECT_FALSE(is_duplicate_object("42501"));
}

TEST(TocEntry, LargeObjectMetadataOfEveryPgDumpVersionIsRecognised) {
  auto toc = parse_toc(
      "2893; 2613 4242 BLOB - 4242 r\n"                 // pg_dump < 17, pre-data
      "2894; 2613 4242 BLOB METADATA - 4242 r\n"        // pg_dump 17, data section
      "2903; 0 0 COMMENT - LARGE OBJECT 4242 r\n"
      "2904; 0 0 ACL - LARGE OBJECT 4242 r\n"
      "2905; 0 0 COMMENT - TABLE t postgres\n"
      "2906; 1259 16384 TABLE public t postgres\n",
      archive_of({{2893, "BLOB"}, {2894, "BLOB METADATA"}, {2903, "COMMENT"}, {2904, "ACL"}, {2905, "COMMENT"},
                  {2906, "TABLE"}}));
  ASSERT_EQ(toc.size(), 6u);
  EXPECT_TRUE(toc[0].is_large_object_metadata());
  EXPECT_TRUE(toc[1].is_large_object_metadata());
  EXPECT_TRUE(toc[2].is_large_object_metadata());
  EXPECT_TRUE(toc[3].is_large_object_metadata());
  EXPECT_FALSE(toc[4].is_large_object_metadata());
  EXPECT_FALSE(toc[5].is_large_object_metadata());
}

}  // namespace
}  // namespace decant::pg

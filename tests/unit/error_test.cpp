#include "common/error.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace decant {
namespace {

TEST(Error, KeepsCodeWhatAndHint) {
  Error e(ExitCode::auth, "password authentication failed for user \"bob\"", "check the password");
  EXPECT_EQ(e.code(), ExitCode::auth);
  EXPECT_STREQ(e.what(), "password authentication failed for user \"bob\"");
  EXPECT_EQ(e.hint(), "check the password");
  const std::runtime_error& base = e;  // catchable as a standard exception
  EXPECT_STREQ(base.what(), e.what());
}

TEST(Error, OneLineJoinsWhatAndHint) {
  Error e(ExitCode::unreachable, "cannot connect to db.example.com:5432", "check the host");
  EXPECT_EQ(e.one_line(), "cannot connect to db.example.com:5432; check the host");
}

TEST(Error, OneLineWithoutHintIsJustWhat) {
  Error e(ExitCode::internal, "unexpected state");
  EXPECT_EQ(e.one_line(), "unexpected state");
}

TEST(Error, OneLineHasNoNewlinesWhenWhatSpansLines) {
  Error e(ExitCode::copy_failed,
          "ERROR:  relation \"t\" does not exist\nLINE 1: COPY t FROM STDIN\n        ^\nHINT:  check the name\n",
          "fix the cause, then run the same command with --resume");
  std::string line = e.one_line();
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_NE(line.find("does not exist"), std::string::npos);
  EXPECT_NE(line.find("LINE 1: COPY t FROM STDIN"), std::string::npos);
  EXPECT_NE(line.find("HINT:  check the name"), std::string::npos);
  // The trailing newline does not leave a dangling space before the hint.
  EXPECT_NE(line.find("check the name; fix the cause"), std::string::npos) << line;
  EXPECT_EQ(line.substr(line.size() - 8), "--resume");
  // what() itself is unchanged.
  EXPECT_NE(std::string(e.what()).find('\n'), std::string::npos);
}

TEST(Error, OneLineDropsTrailingPeriodBeforeTheHint) {
  Error e(ExitCode::privileges, "permission denied for table t.", "grant SELECT");
  EXPECT_EQ(e.one_line(), "permission denied for table t; grant SELECT");
}

TEST(Error, ExitCodesAreStable) {
  // Scripts depend on these numbers (docs/exit-codes.md).
  EXPECT_EQ(static_cast<int>(ExitCode::ok), 0);
  EXPECT_EQ(static_cast<int>(ExitCode::internal), 1);
  EXPECT_EQ(static_cast<int>(ExitCode::usage), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::unreachable), 3);
  EXPECT_EQ(static_cast<int>(ExitCode::auth), 4);
  EXPECT_EQ(static_cast<int>(ExitCode::missing_tool), 5);
  EXPECT_EQ(static_cast<int>(ExitCode::privileges), 6);
  EXPECT_EQ(static_cast<int>(ExitCode::target_not_empty), 7);
  EXPECT_EQ(static_cast<int>(ExitCode::verify_failed), 8);
  EXPECT_EQ(static_cast<int>(ExitCode::copy_failed), 9);
  EXPECT_EQ(static_cast<int>(ExitCode::interrupted), 10);
  EXPECT_EQ(static_cast<int>(ExitCode::local_io), 11);
  EXPECT_EQ(static_cast<int>(ExitCode::nothing_to_resume), 12);
  EXPECT_EQ(static_cast<int>(ExitCode::tls), 13);
  EXPECT_EQ(static_cast<int>(ExitCode::same_server), 14);
  EXPECT_EQ(static_cast<int>(ExitCode::cluster_mismatch), 15);
  EXPECT_EQ(static_cast<int>(ExitCode::cluster_failed), 16);
  EXPECT_EQ(static_cast<int>(ExitCode::backup_key), 17);
  EXPECT_EQ(static_cast<int>(ExitCode::backup_corrupt), 18);
  EXPECT_EQ(static_cast<int>(ExitCode::backup_manifest), 19);
  EXPECT_EQ(static_cast<int>(ExitCode::repository), 20);
  EXPECT_EQ(static_cast<int>(ExitCode::no_recent_backup), 21);
  EXPECT_EQ(static_cast<int>(ExitCode::unsupported_target), 22);
}

TEST(Error, EveryExitCodeHasItsOwnNameAndAnEntryInTheTable) {
  std::set<std::string> names;
  int expected = 0;
  for (const auto& info : exit_codes()) {
    EXPECT_EQ(static_cast<int>(info.code), expected++) << "the table is in numeric order, without gaps";
    EXPECT_FALSE(info.name.empty());
    EXPECT_FALSE(info.brief.empty());
    EXPECT_FALSE(info.meaning.empty());
    EXPECT_EQ(&exit_code_info(info.code), &info);
    names.insert(std::string(info.name));
  }
  EXPECT_EQ(expected, 23);
  EXPECT_EQ(names.size(), 23u);
  EXPECT_EQ(static_cast<int>(ExitCode::same_server), 14);
  EXPECT_EQ(exit_code_name(ExitCode::missing_tool), "missing tool");
  EXPECT_EQ(exit_code_name(ExitCode::nothing_to_resume), "nothing to resume");
}

TEST(Error, TheExitCodesDocumentIsGeneratedFromTheTableAndTheDeclarations) {
  std::ifstream in(std::string(DECANT_SOURCE_DIR) + "/docs/exit-codes.md");
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_EQ(doc.str(), exit_codes_markdown(cli::command_exit_codes()))
      << "docs/exit-codes.md is out of date: regenerate it with `ninja exit-codes-doc`";
}

TEST(Error, EachCommandDeclaresItsCodesOnceAndEveryCodeHasACommand) {
  std::set<std::string_view> commands;
  ExitCodeSet raised;
  for (const auto& c : cli::command_exit_codes()) {
    EXPECT_TRUE(commands.insert(c.command).second) << c.command << " is declared twice";
    for (ExitCode code : {ExitCode::ok, ExitCode::internal, ExitCode::usage}) EXPECT_TRUE(c.codes.contains(code));
    EXPECT_EQ(cli::command_exit_codes(c.command), &c);
    raised = raised | c.codes;
  }
  EXPECT_EQ(commands.size(), 16u);
  for (const auto& info : exit_codes()) EXPECT_TRUE(raised.contains(info.code)) << info.name << " is raised by no command";
  EXPECT_EQ(cli::command_exit_codes("backup nothing"), nullptr);
}

TEST(Error, ACodeSetHoldsWhatItWasGivenInNumericOrder) {
  constexpr ExitCodeSet set{ExitCode::same_server, ExitCode::ok, ExitCode::usage};
  static_assert(set.contains(ExitCode::same_server) && !set.contains(ExitCode::auth));
  EXPECT_EQ(set.codes(), (std::vector<ExitCode>{ExitCode::ok, ExitCode::usage, ExitCode::same_server}));
  EXPECT_TRUE(set.contains(14));
  EXPECT_FALSE(set.contains(15));
  EXPECT_FALSE(set.contains(128 + 9));
  EXPECT_EQ(set | ExitCodeSet{ExitCode::auth}, (ExitCodeSet{ExitCode::ok, ExitCode::usage, ExitCode::auth, ExitCode::same_server}));
}

TEST(Error, AFooterListsTheGivenCodesOnShortLines) {
  std::string footer = exit_codes_footer({ExitCode::ok, ExitCode::usage, ExitCode::same_server});
  EXPECT_EQ(footer, "Exit codes: 0 done and verified; 2 usage, malformed URI or unknown name; 14 the target is the "
                    "source server.");
  std::string all = exit_codes_footer({ExitCode::ok, ExitCode::internal, ExitCode::usage, ExitCode::unreachable,
                                       ExitCode::auth, ExitCode::missing_tool, ExitCode::privileges,
                                       ExitCode::target_not_empty, ExitCode::verify_failed, ExitCode::copy_failed,
                                       ExitCode::interrupted, ExitCode::local_io, ExitCode::nothing_to_resume,
                                       ExitCode::tls, ExitCode::same_server, ExitCode::cluster_mismatch,
                                       ExitCode::cluster_failed, ExitCode::backup_key, ExitCode::backup_corrupt,
                                       ExitCode::backup_manifest, ExitCode::repository,
                                       ExitCode::no_recent_backup, ExitCode::unsupported_target});
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string::npos) nl = all.size();
    EXPECT_LE(nl - start, 112u) << all;
    start = nl + 1;
  }
  for (const auto& info : exit_codes()) EXPECT_NE(all.find(std::string(info.brief)), std::string::npos);
}

}  // namespace
}  // namespace decant

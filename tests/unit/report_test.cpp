#include "engine/report.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "common/error.hpp"
#include "test_support.hpp"

namespace decant::engine {
namespace {
using decant::test::TempDir;

nlohmann::json written(const std::filesystem::path& path) {
  return nlohmann::json::parse(decant::test::read_file(path));
}

TEST(RunReported, TheReportIsWrittenForEveryOutcome) {
  TempDir tmp;
  auto path = (tmp.path() / "report.json").string();
  Report report("pg copy", "src", "dst");
  EXPECT_EQ(run_reported(path, report, [] { return 0; }), 0);
  EXPECT_EQ(written(path)["exit_code"], 0);
  EXPECT_TRUE(written(path)["verified"].get<bool>());

  EXPECT_THROW(run_reported(path, report, []() -> int { throw Error(ExitCode::same_server, "the target is the source"); }),
               Error);
  EXPECT_EQ(written(path)["exit_code"], 14);
  EXPECT_EQ(written(path)["error"], "the target is the source");

  // A bug, too: the report says so rather than being missing.
  EXPECT_THROW(run_reported(path, report, []() -> int { throw std::logic_error("unexpected state"); }),
               std::logic_error);
  EXPECT_EQ(written(path)["exit_code"], 1);
  EXPECT_EQ(written(path)["error"], "internal error: unexpected state");
  EXPECT_FALSE(written(path)["verified"].get<bool>());
}

TEST(Report, NotesAppearInTheSummaryAndTheJson) {
  Report report("pg copy", "src", "dst");
  report.add_note("schema: pg_dump (PostgreSQL) 17.10");
  EXPECT_EQ(report.to_json(0, "")["notes"], nlohmann::json::array({"schema: pg_dump (PostgreSQL) 17.10"}));
}

}  // namespace
}  // namespace decant::engine

#include "engine/report.hpp"
#include "engine/report_lines.hpp"
#include "engine/run_frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>

#include "common/error.hpp"
#include "io/files.hpp"
#include "process/signals.hpp"
#include "test_support.hpp"

namespace decant::engine {
namespace {
using decant::test::TempDir;

nlohmann::json written(const std::filesystem::path& path) {
  return nlohmann::json::parse(decant::test::read_file(path));
}

TEST(RunInFrame, TheReportIsWrittenForEveryOutcome) {
  TempDir tmp;
  auto path = (tmp.path() / "report.json").string();
  RunSettings settings{"pg copy", "", "", {}};
  settings.run.report_path = path;
  auto open = [] { return Endpoints{"src", "dst", ""}; };
  EXPECT_EQ(run_in_frame(settings, open, [](RunFrame&) { return 0; }), 0);
  EXPECT_EQ(written(path)["exit_code"], 0);
  EXPECT_EQ(written(path)["source"], "src");
  EXPECT_EQ(written(path)["target"], "dst");
  EXPECT_TRUE(written(path)["verified"].get<bool>());

  EXPECT_THROW(run_in_frame(settings, open,
                            [](RunFrame&) -> int { throw Error(ExitCode::same_server, "the target is the source"); }),
               Error);
  EXPECT_EQ(written(path)["exit_code"], static_cast<int>(ExitCode::same_server));
  EXPECT_EQ(written(path)["error"], "the target is the source");
  EXPECT_EQ(written(path)["target"], "dst");

  // A bug, too: the report says so rather than being missing.
  EXPECT_THROW(run_in_frame(settings, open, [](RunFrame&) -> int { throw std::logic_error("unexpected state"); }),
               std::logic_error);
  EXPECT_EQ(written(path)["exit_code"], static_cast<int>(ExitCode::internal));
  EXPECT_EQ(written(path)["error"], "internal error: unexpected state");
  EXPECT_FALSE(written(path)["verified"].get<bool>());

  // Endpoints that cannot be known (a malformed URI): the report says what failed, with none.
  bool ran = false;
  EXPECT_THROW(run_in_frame(
                   settings, []() -> Endpoints { throw Error(ExitCode::usage, "the source is not a URI"); },
                   [&ran](RunFrame&) {
                     ran = true;
                     return 0;
                   }),
               Error);
  EXPECT_FALSE(ran);
  EXPECT_EQ(written(path)["exit_code"], static_cast<int>(ExitCode::usage));
  EXPECT_EQ(written(path)["error"], "the source is not a URI");
  EXPECT_EQ(written(path)["source"], "");
  EXPECT_EQ(written(path)["command"], "pg copy");
}

// migrate runs its copies inside its own run: a second signal then writes the copy's report
// and migrate's; once the copy ended, migrate's alone again.
TEST(RunInFrame, ARunInsideAnotherSaysItsLastWordsThenTheOuterRunsOnes) {
  TempDir tmp;
  RunSettings outer{"migrate", "", "", {}}, inner{"pg copy", "", "", {}};
  outer.run.report_path = (tmp.path() / "outer.json").string();
  inner.run.report_path = (tmp.path() / "inner.json").string();
  auto open = [] { return Endpoints{"src", "dst", ""}; };
  // What the signal watcher would call now.
  auto say_last_words = [] {
    auto words = add_last_words([] {});
    set_last_words(words);
    if (words) words();
  };
  EXPECT_EQ(run_in_frame(outer, open,
                         [&](RunFrame&) {
                           EXPECT_EQ(run_in_frame(inner, open,
                                                  [&](RunFrame&) {
                                                    say_last_words();
                                                    EXPECT_EQ(written(inner.run.report_path.value())["exit_code"], 10);
                                                    EXPECT_EQ(written(outer.run.report_path.value())["exit_code"], 10);
                                                    return 0;
                                                  }),
                                     0);
                           std::filesystem::remove(inner.run.report_path.value());
                           std::filesystem::remove(outer.run.report_path.value());
                           say_last_words();
                           EXPECT_FALSE(std::filesystem::exists(inner.run.report_path.value()));
                           EXPECT_EQ(written(outer.run.report_path.value())["command"], "migrate");
                           return 0;
                         }),
            0);
  say_last_words();  // none left: nothing is written
  EXPECT_EQ(written(outer.run.report_path.value())["exit_code"], 0);
}

// A copy in a Job's pod sends its report through its log: as lines no runtime splits, put
// together on the CLI's side, however large, whatever else the log says between runs.
TEST(ReportLines, ALargeReportCrossesALogWhole) {
  RunSettings settings{"mongo copy", "", "", {}};
  std::vector<nlohmann::json> handed;
  settings.run.on_report = [&handed](const nlohmann::json& r) { handed.push_back(r); };
  settings.run.report_lines = true;
  testing::internal::CaptureStdout();
  EXPECT_EQ(run_in_frame(settings, [] { return Endpoints{"src", "dst", ""}; },
                         [](RunFrame& frame) {
                           for (int i = 0; i < 400; ++i) {
                             auto item = ItemReport::verified_item("collection_" + std::to_string(i) + "_\u00e9t\u00e9", "collection");
                             item.source_digest = item.target_digest = std::string(64, static_cast<char>('a' + i % 26));
                             frame.report().add_item("circle_ghe", item);
                           }
                           return 0;
                         }),
            0);
  std::string out = testing::internal::GetCapturedStdout();
  ASSERT_EQ(handed.size(), 1u);
  std::vector<std::string> lines;
  for (size_t at = 0, end; (end = out.find('\n', at)) != std::string::npos; at = end + 1) lines.push_back(out.substr(at, end - at));
  ASSERT_GT(lines.size(), 3u);  // more than one chunk
  for (const auto& l : lines) {
    EXPECT_LE(l.size(), 8100u);
    EXPECT_TRUE(std::all_of(l.begin(), l.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }));
  }
  ReportLines reader;
  EXPECT_FALSE(reader.take("copying 400 collection(s)"));
  // A pod that died mid-report, then its replacement's whole report.
  EXPECT_TRUE(reader.take(lines[0]));
  EXPECT_TRUE(reader.take(lines[1]));
  EXPECT_FALSE(reader.report());
  for (const auto& l : lines) EXPECT_TRUE(reader.take(l));
  ASSERT_TRUE(reader.report());
  EXPECT_EQ(*reader.report(), handed[0]);
  EXPECT_EQ((*reader.report())["databases"][0]["items"].size(), 400u) << reader.report()->dump().substr(0, 300);

  // Two reports' lines interleaved (another report's chunk where one was expected): none
  // rather than a mix.
  auto other = report_lines(nlohmann::json{{"command", "pg copy"}, {"pad", std::string(20000, 'x')}});
  ASSERT_EQ(other.size(), 3u);
  ReportLines mixed;
  mixed.take(lines[0]);
  mixed.take(other[1]);
  for (size_t i = 2; i < lines.size(); ++i) mixed.take(lines[i]);
  EXPECT_FALSE(mixed.report());
  // A chunk lost: no report rather than a wrong one.
  ReportLines gap;
  for (size_t i = 0; i < lines.size(); ++i)
    if (i != 1) gap.take(lines[i]);
  EXPECT_FALSE(gap.report());
}

// A second signal writes the report from the signal watcher while the main thread may be
// writing it too: a reader must find one whole report or the other, never a mix.
TEST(ReplaceFile, TwoWritersAtOnceLeaveOneWholeFile) {
  TempDir tmp;
  auto path = tmp.path() / "report.json";
  const std::string long_text = nlohmann::json{{"exit_code", 0}, {"notes", std::string(4000, 'x')}}.dump(2) + "\n";
  const std::string short_text = nlohmann::json{{"exit_code", 10}}.dump(2) + "\n";
  for (int round = 0; round < 200; ++round) {
    std::thread other([&] { replace_file(path, long_text, "hint"); });
    replace_file(path, short_text, "hint");
    other.join();
    auto text = decant::test::read_file(path);
    ASSERT_TRUE(text == long_text || text == short_text) << "round " << round << ": " << text.substr(0, 200);
  }
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path()), std::filesystem::directory_iterator()), 1);
}

TEST(ReplaceFile, AnUnwritablePlaceIsALocalIoErrorNamingThePath) {
  TempDir tmp;
  auto blocker = tmp.path() / "file";
  replace_file(blocker, "x", "hint");
  try {
    replace_file(blocker / "report.json", "{}", "choose another path");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::local_io);
    EXPECT_NE(std::string(e.what()).find((blocker / "report.json").string()), std::string::npos) << e.what();
  }
}

TEST(Report, NotesAppearInTheSummaryAndTheJson) {
  Report report("pg copy", "src", "dst");
  report.add_note("schema: pg_dump (PostgreSQL) 17.10");
  EXPECT_EQ(report.to_json(0, "")["notes"], nlohmann::json::array({"schema: pg_dump (PostgreSQL) 17.10"}));
}

}  // namespace
}  // namespace decant::engine

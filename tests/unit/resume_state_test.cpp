#include "engine/resume_state.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "test_support.hpp"

namespace decant::engine {
namespace {
namespace fs = std::filesystem;
using decant::test::TempDir;
using decant::test::write_file;

const std::string kIdentity = "alice@src:5432 -> bob@dst:5432";

ExitCode load_error(ResumeState& state) {
  try {
    state.load();
  } catch (const Error& e) {
    return e.code();
  }
  return ExitCode::ok;
}

TEST(ResumeState, FreshDirectoryHasNoState) {
  TempDir tmp;
  ResumeState state(tmp.path() / "state", kIdentity);
  EXPECT_FALSE(state.exists());
  EXPECT_EQ(state.dir(), tmp.path() / "state");
}

TEST(ResumeState, ResetCreatesTheDirectoryAndAnEmptyState) {
  TempDir tmp;
  fs::path dir = tmp.path() / "nested" / "state";
  ResumeState state(dir, kIdentity);
  state.reset();
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_TRUE(fs::exists(dir / "journal"));
  EXPECT_TRUE(state.exists());
  EXPECT_FALSE(state.done("anything"));

  ResumeState again(dir, kIdentity);
  ASSERT_NO_THROW(again.load());
  EXPECT_FALSE(again.done("anything"));
}

TEST(ResumeState, MarkDonePersistsForANewObject) {
  TempDir tmp;
  {
    ResumeState state(tmp.path(), kIdentity);
    state.reset();
    state.mark_done("db:app:schema");
    state.mark_done("table:app.public.t", nlohmann::json{{"rows", 42}, {"digest", "abc"}});
    EXPECT_TRUE(state.done("db:app:schema"));
  }
  ResumeState loaded(tmp.path(), kIdentity);
  ASSERT_NO_THROW(loaded.load());
  EXPECT_TRUE(loaded.done("db:app:schema"));
  EXPECT_TRUE(loaded.done("table:app.public.t"));
  EXPECT_FALSE(loaded.done("table:app.public.u"));
  auto v = loaded.get("table:app.public.t");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["rows"], 42);
  EXPECT_EQ((*v)["digest"], "abc");
  EXPECT_EQ(loaded.get("db:app:schema"), nlohmann::json(true));
  EXPECT_FALSE(loaded.get("missing").has_value());
  EXPECT_FALSE(fs::exists(tmp.path() / "journal.tmp"));
}

TEST(ResumeState, MarkDoneOverwritesAValue) {
  TempDir tmp;
  {
    ResumeState state(tmp.path(), kIdentity);
    state.reset();
    state.mark_done("k", 1);
    state.mark_done("k", 2);
  }
  ResumeState loaded(tmp.path(), kIdentity);
  loaded.load();
  EXPECT_EQ(loaded.get("k"), nlohmann::json(2));
}

TEST(ResumeState, ResetForgetsEarlierSteps) {
  TempDir tmp;
  {
    ResumeState state(tmp.path(), kIdentity);
    state.reset();
    state.mark_done("old step");
  }
  {
    ResumeState state(tmp.path(), kIdentity);
    state.load();
    ASSERT_TRUE(state.done("old step"));
    state.reset();
    EXPECT_FALSE(state.done("old step"));
  }
  ResumeState loaded(tmp.path(), kIdentity);
  loaded.load();
  EXPECT_FALSE(loaded.done("old step"));
}

TEST(ResumeState, LoadOnMissingDirectoryIsNothingToResume) {
  TempDir tmp;
  ResumeState state(tmp.path() / "does-not-exist", kIdentity);
  EXPECT_EQ(load_error(state), ExitCode::nothing_to_resume);
  ResumeState empty_dir(tmp.path(), kIdentity);  // exists, but holds no journal
  EXPECT_EQ(load_error(empty_dir), ExitCode::nothing_to_resume);
}

TEST(ResumeState, LoadForAnotherIdentityIsNothingToResumeAndKeepsTheState) {
  TempDir tmp;
  {
    ResumeState state(tmp.path(), kIdentity);
    state.reset();
    state.mark_done("step");
  }
  ResumeState other(tmp.path(), "alice@src:5432 -> carol@elsewhere:5432");
  EXPECT_EQ(load_error(other), ExitCode::nothing_to_resume);
  EXPECT_FALSE(other.done("step"));

  ResumeState same(tmp.path(), kIdentity);
  ASSERT_NO_THROW(same.load());
  EXPECT_TRUE(same.done("step"));
}

TEST(ResumeState, RemoveDeletesTheDirectory) {
  TempDir tmp;
  fs::path dir = tmp.path() / "state";
  ResumeState state(dir, kIdentity);
  state.reset();
  state.mark_done("step");
  ASSERT_TRUE(fs::exists(dir));
  state.remove();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(state.exists());
  ResumeState loaded(dir, kIdentity);
  EXPECT_EQ(load_error(loaded), ExitCode::nothing_to_resume);
}

TEST(ResumeState, CorruptStateIsLocalIo) {
  const std::string header = "{\"identity\":\"" + std::string("alice@src:5432 -> bob@dst:5432") + "\",\"version\":2}\n";
  for (const std::string& text :
       {std::string(""), std::string("not json at all\n"), std::string("\x01\x02\x03"), std::string("[]\n"),
        std::string("{\"identity\": 5, \"version\": 2}\n"), std::string("{\"identity\": \"x\"}\n"),
        // a torn record may only be the last one
        header + "{\"k\":\"a\",\"v\":tr\n{\"k\":\"b\",\"v\":true}\n",
        header + "{\"k\":\"a\",\"v\":true}\n[1,2]\n{\"k\":\"b\",\"v\":true}\n"}) {
    SCOPED_TRACE(text);
    TempDir tmp;
    write_file(tmp.path() / "journal", text);
    ResumeState state(tmp.path(), kIdentity);
    EXPECT_TRUE(state.exists());
    ExitCode code = ExitCode::ok;
    try {
      code = load_error(state);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "load() threw a non-decant exception: " << e.what();
      continue;
    }
    EXPECT_EQ(code, ExitCode::local_io);
  }
}

TEST(ResumeState, ATornLastRecordIsIgnoredAndTheJournalGoesOnAfterIt) {
  TempDir tmp;
  {
    ResumeState state(tmp.path(), kIdentity);
    state.reset();
    state.mark_done("kept", 1);
  }
  // A crash in the middle of an append leaves half a line.
  {
    std::ofstream out(tmp.path() / "journal", std::ios::app | std::ios::binary);
    out << "{\"k\":\"torn\",\"v\":{\"rows\":4";
  }
  {
    ResumeState state(tmp.path(), kIdentity);
    ASSERT_NO_THROW(state.load());
    EXPECT_TRUE(state.done("kept"));
    EXPECT_FALSE(state.done("torn"));
    state.mark_done("after", 2);
  }
  ResumeState loaded(tmp.path(), kIdentity);
  ASSERT_NO_THROW(loaded.load());
  EXPECT_EQ(loaded.get("after"), nlohmann::json(2));
  EXPECT_FALSE(loaded.done("torn"));
}

TEST(ResumeState, AStepAppendsOneLineWhateverCameBefore) {
  TempDir tmp;
  ResumeState state(tmp.path(), kIdentity);
  state.reset();
  for (int i = 0; i < 5000; ++i) state.mark_done("table/public.t" + std::to_string(i), nlohmann::json{{"rows", i}});
  auto before = fs::file_size(tmp.path() / "journal");
  state.mark_done("table/public.last", nlohmann::json{{"rows", 1}});
  auto after = fs::file_size(tmp.path() / "journal");
  // The 5001st step writes its own line only: the journal is never rewritten.
  EXPECT_EQ(after - before, std::string("{\"k\":\"table/public.last\",\"v\":{\"rows\":1}}\n").size());
}

TEST(ResumeState, ABatchOfStepsIsRecordedTogether) {
  TempDir tmp;
  {
    ResumeState state(tmp.path(), kIdentity);
    state.reset();
    state.mark_done({{"a", 1}, {"b", nlohmann::json{{"digest", "x"}}}});
    EXPECT_TRUE(state.done("a"));
    EXPECT_TRUE(state.done("b"));
  }
  ResumeState loaded(tmp.path(), kIdentity);
  loaded.load();
  EXPECT_EQ(loaded.get("a"), nlohmann::json(1));
  EXPECT_EQ((*loaded.get("b"))["digest"], "x");
}

TEST(ResumeState, ResetWhereNoDirectoryCanBeMadeIsLocalIo) {
  TempDir tmp;
  write_file(tmp.path() / "a-file", "x");
  ResumeState state(tmp.path() / "a-file" / "state", kIdentity);
  try {
    state.reset();
    FAIL() << "reset() did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::local_io);
    EXPECT_FALSE(e.hint().empty());
  }
}

TEST(ResumeState, ConcurrentMarkDoneLosesNothing) {
  TempDir tmp;
  {
    ResumeState state(tmp.path(), kIdentity);
    state.reset();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&state, t] {
        for (int i = 0; i < 25; ++i) state.mark_done("t" + std::to_string(t) + ":" + std::to_string(i), i);
      });
    for (auto& th : threads) th.join();
  }
  ResumeState loaded(tmp.path(), kIdentity);
  loaded.load();
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 25; ++i) {
      auto key = "t" + std::to_string(t) + ":" + std::to_string(i);
      ASSERT_TRUE(loaded.done(key)) << key;
      EXPECT_EQ(loaded.get(key), nlohmann::json(i));
    }
}

}  // namespace
}  // namespace decant::engine

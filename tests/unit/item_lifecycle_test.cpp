#include "engine/item_lifecycle.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "engine/progress.hpp"
#include "engine/resume_state.hpp"
#include "test_support.hpp"

namespace decant::engine {
namespace {
using decant::test::TempDir;

// Rows in memory: a "server" the lifecycle moves rows between.
using Rows = std::vector<std::string>;

class VectorSource : public RowSource {
 public:
  explicit VectorSource(const Rows& rows) : rows_(rows) {}
  bool next(std::string_view& row) override {
    if (at_ == rows_.size()) return false;
    row = rows_[at_++];
    return true;
  }

 private:
  const Rows& rows_;
  size_t at_ = 0;
};

// Stores rows; `bend` changes what it stores, as a faulty target might.
class VectorSink : public RowSink {
 public:
  VectorSink(Rows& into, std::function<std::optional<std::string>(std::string_view)> bend)
      : into_(into), bend_(std::move(bend)) {}
  void write(std::string_view row) override {
    auto stored = bend_ ? bend_(row) : std::optional<std::string>(row);
    if (stored) into_.push_back(*stored);
    ++written_;
  }
  uint64_t finish() override { return written_; }

 private:
  Rows& into_;
  std::function<std::optional<std::string>(std::string_view)> bend_;
  uint64_t written_ = 0;
};

class ItemLifecycleTest : public ::testing::Test {
 protected:
  ItemLifecycleTest() : state_(tmp_.path() / "state", "src -> dst"), report_("test", "src", "dst") { state_.reset(); }

  ItemSpec item(const std::string& name, std::function<std::optional<std::string>(std::string_view)> bend = {}) {
    ItemSpec spec;
    spec.group = "db";
    spec.name = name;
    spec.kind = "table";
    spec.resume_key = "db/table/" + name;
    spec.prepare = [this] {
      ++prepared_;
      target_.clear();
    };
    spec.source = [this] { return std::make_unique<VectorSource>(source_); };
    spec.sink = [this, bend] { return std::make_unique<VectorSink>(target_, bend); };
    spec.readback = [this] { return std::make_unique<VectorSource>(target_); };
    return spec;
  }

  TempDir tmp_;
  ResumeState state_;
  Report report_;
  Rows source_{"row 1", "row 2", "row 3"};
  Rows target_;
  int prepared_ = 0;
};

TEST_F(ItemLifecycleTest, ANewItemIsMovedVerifiedRecordedAndReported) {
  ItemLifecycle lifecycle(state_, report_);
  auto r = lifecycle.run(item("t"));
  EXPECT_TRUE(r.verified) << r.problem;
  EXPECT_EQ(r.rows, 3u);
  EXPECT_EQ(r.source_digest, r.target_digest);
  EXPECT_EQ(target_, source_);
  auto record = state_.get("db/table/t");
  ASSERT_TRUE(record);
  EXPECT_EQ((*record)["rows"], 3);
  EXPECT_EQ((*record)["digest"], r.source_digest);
  EXPECT_TRUE(report_.all_verified());
}

TEST_F(ItemLifecycleTest, ALostRowIsADifferenceAndIsNotRecorded) {
  ItemLifecycle lifecycle(state_, report_);
  auto r = lifecycle.run(item("t", [](std::string_view row) -> std::optional<std::string> {
    if (row == "row 2") return std::nullopt;
    return std::string(row);
  }));
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.problem, "the row counts differ: the source has 3, the target stored 3 and holds 2") << r.problem;
  EXPECT_FALSE(state_.done("db/table/t"));
  EXPECT_FALSE(report_.all_verified());
}

TEST_F(ItemLifecycleTest, ABentValueWithEqualCountsSaysTheContentsDiffer) {
  ItemLifecycle lifecycle(state_, report_);
  auto r = lifecycle.run(item("t", [](std::string_view row) -> std::optional<std::string> {
    return row == "row 2" ? std::string("row 2!") : std::string(row);
  }));
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.problem.find("the contents differ"), std::string::npos) << r.problem;
  EXPECT_NE(r.problem.find("hold the same number of rows (3)"), std::string::npos) << r.problem;
}

TEST_F(ItemLifecycleTest, AnItemFinishedEarlierIsCheckedAgainNotMovedAgain) {
  {
    ItemLifecycle first(state_, report_);
    first.run(item("t"));
  }
  Report again_report("test", "src", "dst");
  ItemLifecycle again(state_, again_report);
  prepared_ = 0;
  auto spec = item("t");
  spec.source = []() -> std::unique_ptr<RowSource> { throw std::logic_error("the source must not be read again"); };
  auto r = again.run(spec);
  EXPECT_TRUE(r.verified) << r.problem;
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(prepared_, 0);

  // The target changed since: caught.
  target_[1] = "row 2, edited";
  Report third_report("test", "src", "dst");
  ItemLifecycle third(state_, third_report);
  auto changed = third.run(spec);
  EXPECT_FALSE(changed.verified);
  EXPECT_NE(changed.problem.find("changed since an earlier run finished it"), std::string::npos) << changed.problem;
}

TEST_F(ItemLifecycleTest, OtherChecksAndRecordChecksCanFailAnItem) {
  ItemLifecycle lifecycle(state_, report_);
  auto spec = item("t");
  spec.other_checks = [](bool) { return std::string("the index sets differ"); };
  auto r = lifecycle.run(spec);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.problem, "the index sets differ");

  auto kept = item("u");
  kept.add_to_record = [](nlohmann::json& record) { record["file"] = "size 10"; };
  lifecycle.run(kept);
  EXPECT_EQ((*state_.get("db/table/u"))["file"], "size 10");
  kept.check_record = [](const nlohmann::json& record) {
    return record["file"] == "size 10" ? std::string() : std::string("changed");
  };
  EXPECT_TRUE(lifecycle.run(kept).verified);
  kept.check_record = [](const nlohmann::json&) { return std::string("the dump file changed"); };
  auto changed = lifecycle.run(kept);
  EXPECT_FALSE(changed.verified);
  EXPECT_EQ(changed.problem, "the dump file changed");
}

TEST_F(ItemLifecycleTest, ABatchIsRecordedOnlyOnceCommitted) {
  ItemLifecycle lifecycle(state_, report_);
  EXPECT_THROW(lifecycle.run_batch({item("a"), item("b")}, [] { throw std::runtime_error("commit failed"); }),
               std::runtime_error);
  EXPECT_FALSE(state_.done("db/table/a"));
  EXPECT_FALSE(state_.done("db/table/b"));
  bool committed = false;
  auto reports = lifecycle.run_batch({item("a"), item("b")}, [&] { committed = true; });
  EXPECT_TRUE(committed);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_TRUE(reports[0].verified && reports[1].verified);
  EXPECT_TRUE(state_.done("db/table/a"));
  EXPECT_TRUE(state_.done("db/table/b"));
}

TEST_F(ItemLifecycleTest, ProgressShowsTheItemFinished) {
  ProgressBoard board;
  auto& progress = board.add("db.t", 100);
  ItemLifecycle lifecycle(state_, report_);
  auto spec = item("t");
  spec.progress = &progress;
  lifecycle.run(spec);
  EXPECT_EQ(progress.state.load(), 2);
  EXPECT_EQ(progress.rows.load(), 3u);
}

}  // namespace
}  // namespace decant::engine

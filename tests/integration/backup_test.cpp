// `decant backup` on real FerretDB servers: a backup restores byte for byte; every kind of
// damage (a flipped bit, a truncated, removed or swapped chunk, another backup's or a
// changed manifest) and a wrong key is caught with its own exit code, naming the item; a
// create killed with SIGKILL is never listed complete and --resume finishes it; prune keeps
// what it must; rotate-keys lets the new key alone restore. The chunks are checked with
// Debian's age and zstd CLIs too.
#include <gtest/gtest.h>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "process/process.hpp"
#include "crypto/age.hpp"
#include "fixtures.hpp"
#include "mongo_server.hpp"
#include "pg_server.hpp"
#include "s3_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

constexpr const char* kPassword = "s3cret-backup-pw";

// Every test on a local directory and on S3 (versitygw).
class BackupTest : public BackupFixture<FerretDb> {
 protected:
  BackupTest() : BackupFixture("decant-backup-test", FerretDb::Options{"root", kPassword, false}) {}

  void load_source() const {
    std::vector<std::string> docs;
    for (int i = 0; i < 4000; ++i)
      docs.push_back(fmt::format(
          R"({{"_id": {}, "name": "build {} ✓", "at": {{"$date": {{"$numberLong": "{}"}}}}, "raw": {{"$binary": {{"base64": "AAEA", "subType": "00"}}}}, "tags": ["x", {}], "f": 0.1}})",
          i, i, int64_t{1700000000000} + i, i));
    source_->insert("circle_ghe", "builds", docs);
    source_->command("circle_ghe", R"({"createIndexes": "builds", "indexes": [{"key": {"name": 1}, "name": "by_name", "unique": true}]})");
    source_->command("circle_ghe", R"({"create": "recent", "capped": true, "size": 65536, "max": 10})");
    source_->insert("circle_ghe", "recent", {R"({"i": 1})", R"({"i": 2})"});
    source_->command("circle_ghe", R"({"create": "nothing_yet"})");
    source_->insert("other", "settings", {R"({"_id": "a", "v": {"nested": [1, 2, 3]}})"});
  }

  // Twelve collections of 3000 documents, to stop a backup between two of them.
  void load_many() const {
    for (int c = 0; c < 12; ++c) {
      std::vector<std::string> docs;
      for (int i = 0; i < 3000; ++i) docs.push_back(fmt::format(R"({{"_id": {}, "line": "chunk {} line {}"}})", i, c, i));
      source_->insert("bulk", fmt::format("chunk_{:02}", c), docs);
    }
  }

  std::vector<std::string> create_args(const std::string& reason = "daily") const {
    return {"backup", "create", "--repo", repository_->url(), "--mongo", source_->uri(), "-r", key_.recipient().encoded(),
            "--reason", reason, "--chunk-mib", "1", "--state-dir", (work_ / "state").string()};
  }
  // Creates a backup; returns its id.
  std::string create(const std::string& reason = "daily") const {
    auto r = decant(create_args(reason));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(contains(r.out + r.err, kPassword));
    std::string id = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }
  RunResult verify(const std::string& id, const std::vector<std::string>& more = {}) const {
    std::vector<std::string> args{"backup", "verify", "--repo", repository_->url(), "--id", id, "-i", (work_ / "key.txt").string()};
    args.insert(args.end(), more.begin(), more.end());
    return decant(args);
  }
  RunResult restore(const std::string& id, const std::vector<std::string>& more = {}) const {
    std::vector<std::string> args{"backup", "restore", "--repo", repository_->url(), "--id", id,
                                  "--mongo", target_->uri(), "-i", (work_ / "key.txt").string()};
    args.insert(args.end(), more.begin(), more.end());
    return decant(args);
  }
  json list() const {
    auto r = decant({"backup", "list", "--repo", repository_->url(), "--output", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  std::vector<fs::path> chunks(const std::string& id) const {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(repo_ / "backups" / id / "data"))
      if (e.is_regular_file()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  void expect_restored() const {
    for (const auto& [db, coll] : {std::pair{"circle_ghe", "builds"}, {"circle_ghe", "recent"}, {"other", "settings"}}) {
      EXPECT_EQ(target_->documents(db, coll), source_->documents(db, coll)) << coll;
      EXPECT_EQ(target_->indexes(db, coll), source_->indexes(db, coll)) << coll;
    }
    EXPECT_EQ(target_->natural_order("circle_ghe", "recent"), source_->natural_order("circle_ghe", "recent"));
    // Every collection with its options, the empty one too.
    EXPECT_EQ(target_->collections("circle_ghe"), source_->collections("circle_ghe"));
  }
};

TEST_P(BackupTest, CreatesListsVerifiesAndRestoresByteForByte) {
  load_source();
  std::string id = create();
  auto entries = list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["id"], id);
  EXPECT_EQ(entries[0]["state"], "complete");
  EXPECT_EQ(entries[0]["rows"], 4003);
  EXPECT_TRUE(entries[0]["verified_at"].is_null());
  ASSERT_EQ(entries[0]["recipients"].size(), 1u);

  // Nothing in the repository is plaintext or names a secret; the chunks open with the
  // age and zstd CLIs and hold the documents.
  for (const auto& e : fs::recursive_directory_iterator(repo_)) {
    if (!e.is_regular_file()) continue;
    std::string bytes = read_file(e.path());
    EXPECT_FALSE(contains(bytes, kPassword)) << e.path();
    EXPECT_FALSE(contains(bytes, "build 17")) << e.path();
    if (e.path().extension() == ".age") {
      EXPECT_EQ(bytes.rfind("age-encryption.org/v1\n", 0), 0u) << e.path();
    }
  }
  std::string plain;
  for (const auto& chunk : chunks(id)) {
    auto r = run_process({{"sh", "-c", "age -d -i \"$1\" \"$2\" | zstd -dc", "sh", (work_ / "key.txt").string(), chunk.string()}});
    ASSERT_EQ(r.exit_status, 0) << r.errors;
    plain += r.output;
  }
  EXPECT_TRUE(contains(plain, "build 17 ✓"));

  auto quick = decant({"backup", "verify", "--repo", repository_->url(), "--quick"});
  EXPECT_EQ(quick.exit_code, 0) << quick.err;
  auto full = verify(id);
  EXPECT_EQ(full.exit_code, 0) << full.err;
  EXPECT_TRUE(list()[0]["verified_at"].is_string());

  auto restored = restore(id);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  expect_restored();
  EXPECT_EQ(restore(id).exit_code, code_of(ExitCode::target_not_empty));  // not empty now
  EXPECT_EQ(restore(id, {"--drop"}).exit_code, 0);
  expect_restored();

  // A scratch restore refuses the server the backup came from.
  auto onto_source = verify(id, {"--restore-mongo", source_->uri()});
  EXPECT_EQ(onto_source.exit_code, code_of(ExitCode::same_server)) << onto_source.err;
  EXPECT_FALSE(contains(onto_source.out + onto_source.err, kPassword));
  // Nor does it replace anything: a server holding the backup's collections is refused.
  auto onto_full = verify(id, {"--restore-mongo", target_->uri()});
  EXPECT_EQ(onto_full.exit_code, code_of(ExitCode::target_not_empty)) << onto_full.err;
  FerretDb scratch_server;
  auto scratch = verify(id, {"--restore-mongo", scratch_server.uri()});
  EXPECT_EQ(scratch.exit_code, 0) << scratch.err;
  EXPECT_EQ(scratch_server.documents("circle_ghe", "builds"), source_->documents("circle_ghe", "builds"));
  EXPECT_EQ(list()[0]["verified_how"], "restore");

  // Exported as a mongodump directory, it restores without the backup format.
  auto exported = decant({"backup", "export", "--repo", repository_->url(), "--id", id, "--format", "mongodump", "--out",
                              (work_ / "dump").string(), "-i", (work_ / "key.txt").string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(work_ / "dump" / "circle_ghe" / "builds.bson"));
  EXPECT_TRUE(fs::exists(work_ / "dump" / "circle_ghe" / "builds.metadata.json"));
  auto from_dump = decant({"mongo", "restore", "--dir", (work_ / "dump").string(), "--target", target_->uri(), "--drop"});
  ASSERT_EQ(from_dump.exit_code, 0) << from_dump.err;
  expect_restored();

  // Another key opens nothing.
  write_file(work_ / "other.txt", crypto::AgeIdentity::generate().encoded() + "\n");
  auto wrong = decant({"backup", "restore", "--repo", repository_->url(), "--id", id, "--mongo", target_->uri(),
                           "--drop", "-i", (work_ / "other.txt").string()});
  EXPECT_EQ(wrong.exit_code, code_of(ExitCode::backup_key)) << wrong.err;
  std::string other = (work_ / "other.txt").string(), recipient = key_.recipient().encoded();
  auto wrong_export = decant({"backup", "export", "--repo", repository_->url(), "--id", id, "--out",
                              (work_ / "other-dump").string(), "-i", other});
  EXPECT_EQ(wrong_export.exit_code, code_of(ExitCode::backup_key)) << wrong_export.err;
  auto wrong_rotation = decant({"backup", "rotate-keys", "--repo", repository_->url(), "-i", other, "-r", recipient});
  EXPECT_EQ(wrong_rotation.exit_code, code_of(ExitCode::backup_key)) << wrong_rotation.err;
  // A resume with nothing recorded in its state directory.
  auto nothing = restore(id, {"--drop", "--resume", "--state-dir", (work_ / "no-restore-state").string()});
  EXPECT_EQ(nothing.exit_code, code_of(ExitCode::nothing_to_resume)) << nothing.err;
}

TEST_P(BackupTest, EveryDamageIsCaughtByVerifyAndRestoreNamingTheItem) {
  load_source();
  std::string a = create();
  std::string b = create();
  auto a_chunks = chunks(a), b_chunks = chunks(b);
  ASSERT_GE(a_chunks.size(), 2u);
  // The largest chunk is one of circle_ghe.builds'.
  auto by_size = [](const fs::path& x, const fs::path& y) { return fs::file_size(x) < fs::file_size(y); };
  fs::path victim = *std::max_element(a_chunks.begin(), a_chunks.end(), by_size);
  fs::path twin = *std::max_element(b_chunks.begin(), b_chunks.end(), by_size);
  std::string original = read_file(victim);
  auto expect_caught = [&](const std::string& what, ExitCode code, const std::string& names) {
    SCOPED_TRACE(what);
    auto v = verify(a);
    EXPECT_EQ(v.exit_code, code_of(code)) << v.err;
    EXPECT_TRUE(contains(v.err, names)) << v.err;
    auto r = restore(a, {"--drop"});
    EXPECT_EQ(r.exit_code, code_of(code)) << r.err;
    EXPECT_TRUE(contains(r.err, names)) << r.err;
  };
  std::string flipped = original;
  flipped[flipped.size() / 2] ^= 0x20;
  write_file(victim, flipped);
  expect_caught("a flipped bit", ExitCode::backup_corrupt, "circle_ghe.builds");
  // Export and re-encryption read every chunk too.
  auto exported = decant({"backup", "export", "--repo", repository_->url(), "--id", a, "--out",
                          (work_ / "damaged-dump").string(), "-i", (work_ / "key.txt").string()});
  EXPECT_EQ(exported.exit_code, code_of(ExitCode::backup_corrupt)) << exported.err;
  auto rotated = decant({"backup", "rotate-keys", "--repo", repository_->url(), "--id", a, "--data", "-i",
                         (work_ / "key.txt").string(), "-r", key_.recipient().encoded()});
  EXPECT_EQ(rotated.exit_code, code_of(ExitCode::backup_corrupt)) << rotated.err;
  write_file(victim, original.substr(0, original.size() - 100));
  expect_caught("a truncated chunk", ExitCode::backup_corrupt, "circle_ghe.builds");
  // A chunk missing or of another size is a damaged backup for the quick check too (which
  // has no key, so no item names).
  auto quick = decant({"backup", "verify", "--repo", repository_->url(), "--id", a, "--quick"});
  EXPECT_EQ(quick.exit_code, code_of(ExitCode::backup_corrupt)) << quick.err;
  fs::remove(victim);
  expect_caught("a removed chunk", ExitCode::backup_corrupt, "circle_ghe.builds");
  auto quick_missing = decant({"backup", "verify", "--repo", repository_->url(), "--id", a, "--quick"});
  EXPECT_EQ(quick_missing.exit_code, code_of(ExitCode::backup_corrupt)) << quick_missing.err;
  // The same item's chunk from the other backup: valid age, other bytes.
  fs::copy_file(twin, victim, fs::copy_options::overwrite_existing);
  expect_caught("a chunk swapped in from another backup", ExitCode::backup_corrupt, "circle_ghe.builds");
  write_file(victim, original);
  EXPECT_EQ(verify(a).exit_code, 0);

  fs::path manifest = repo_ / "backups" / a / "manifest.json.age";
  std::string good_manifest = read_file(manifest);
  fs::copy_file(repo_ / "backups" / b / "manifest.json.age", manifest, fs::copy_options::overwrite_existing);
  expect_caught("another backup's manifest", ExitCode::backup_manifest, "another backup");
  std::string changed = good_manifest;
  changed[changed.size() - 30] ^= 0x01;
  write_file(manifest, changed);
  expect_caught("a changed manifest", ExitCode::backup_manifest, "changed or damaged");
  write_file(manifest, good_manifest);
  EXPECT_EQ(verify(a).exit_code, 0);
}

TEST_P(BackupTest, AKilledCreateIsNeverCompleteAndResumeFinishesIt) {
  load_many();
  auto args = create_args();
  args.insert(args.end(), {"--jobs", "1"});
  ASSERT_NO_FATAL_FAILURE(kill_once_journal_has(args, "mongo/collection/bulk.chunk_"));
  auto entries = list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["state"], "writing");
  std::string id = entries[0]["id"];
  EXPECT_NE(verify(id).exit_code, 0);
  EXPECT_NE(decant({"backup", "verify", "--repo", repository_->url(), "--quick"}).exit_code, 0);  // none complete

  args.push_back("--resume");
  auto resumed = decant(args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  entries = list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["id"], id);
  EXPECT_EQ(entries[0]["state"], "complete");
  EXPECT_EQ(entries[0]["rows"], 36000);
  auto v = verify(id);
  EXPECT_EQ(v.exit_code, 0) << v.err;
  ASSERT_EQ(restore(id).exit_code, 0);
  for (int c = 0; c < 12; ++c) {
    std::string coll = fmt::format("chunk_{:02}", c);
    EXPECT_EQ(target_->documents("bulk", coll), source_->documents("bulk", coll)) << coll;
  }
}

TEST_P(BackupTest, PruneKeepsTheNewestVerifiedPreUpgradeCompleteAndUnfinishedByTime) {
  source_->insert("circle_ghe", "builds", {R"({"_id": 1})"});
  struct Fake {
    const char* name;
    int days_old;
    const char* reason;
    const char* state;
    bool verified;
    bool deleted;
  };
  // Oldest first, as the ids sort.
  std::vector<Fake> fakes = {
      {"old verified", 60, "daily", "complete", true, true},
      {"old pre-upgrade", 55, "pre-upgrade", "complete", false, true},
      {"newest pre-upgrade", 50, "pre-upgrade", "complete", false, false},
      {"old daily", 45, "daily", "complete", false, true},
      {"abandoned", 42, "daily", "abandoned", false, true},  // replaced by a later create
      {"newest verified", 40, "daily", "complete", true, false},
      {"interrupted", 35, "daily", "writing", false, false},
      {"young daily", 1, "daily", "complete", false, false},  // the newest, unverified
  };
  std::vector<std::string> ids;
  for (const auto& f : fakes) {
    std::string id = create(f.reason);
    // The plain index entry is what prune reads: fake its age and state there.
    auto path = repo_ / "index" / (id + ".json");
    auto entry = json::parse(read_file(path));
    auto when = std::chrono::system_clock::now() - std::chrono::hours(24 * f.days_old);
    entry["created"] = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::time_point_cast<std::chrono::seconds>(when));
    entry["state"] = f.state;
    entry["verified_at"] = f.verified ? json("2026-01-01T00:00:00Z") : json(nullptr);
    write_file(path, entry.dump());
    ids.push_back(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // ids sort by second
  }
  auto dry = decant({"backup", "prune", "--repo", repository_->url(), "--keep-days", "30", "--output", "json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  auto decisions = json::parse(dry.out);
  ASSERT_EQ(decisions.size(), fakes.size());
  for (size_t i = 0; i < fakes.size(); ++i) EXPECT_EQ(decisions[i]["delete"], fakes[i].deleted) << fakes[i].name;
  EXPECT_EQ(list().size(), fakes.size());  // a dry run deletes nothing

  auto applied = decant({"backup", "prune", "--repo", repository_->url(), "--keep-days", "30", "--apply"});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  auto left = list();
  std::vector<std::string> left_ids;
  for (const auto& e : left) left_ids.push_back(e["id"]);
  for (size_t i = 0; i < fakes.size(); ++i) {
    bool kept = std::find(left_ids.begin(), left_ids.end(), ids[i]) != left_ids.end();
    EXPECT_EQ(kept, !fakes[i].deleted) << fakes[i].name;
    EXPECT_EQ(fs::exists(repo_ / "backups" / ids[i]), !fakes[i].deleted) << fakes[i].name;
  }
}

TEST_P(BackupTest, AfterRotateKeysTheNewKeyAloneRestores) {
  load_source();
  std::string id = create();
  auto next = crypto::AgeIdentity::generate();
  write_file(work_ / "next.txt", next.encoded() + "\n");
  auto rotated = decant({"backup", "rotate-keys", "--repo", repository_->url(), "-i", (work_ / "key.txt").string(),
                             "-r", next.recipient().encoded(), "--data"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  auto old_key = verify(id);
  EXPECT_EQ(old_key.exit_code, code_of(ExitCode::backup_key)) << old_key.err;
  auto r = decant({"backup", "restore", "--repo", repository_->url(), "--id", id, "--mongo", target_->uri(), "-i",
                       (work_ / "next.txt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_restored();
  // No chunk is left that the old key opens.
  for (const auto& chunk : chunks(id)) {
    auto open = run_process({{"age", "-d", "-i", (work_ / "key.txt").string(), "-o", "/dev/null", chunk.string()}});
    EXPECT_NE(open.exit_status, 0) << chunk;
  }
}

// An upgrade script's gate: a complete, fully verified pre-upgrade backup newer than --max-age.
TEST_P(BackupTest, UpgradeCheckPassesOnlyWithARecentVerifiedPreUpgradeBackup) {
  std::vector<std::string> check{"upgrade-check", "--repo", repository_->url()};
  auto none = decant(check);
  if (repository_->is_s3()) {
    EXPECT_EQ(none.exit_code, code_of(ExitCode::no_recent_backup)) << none.err;
    EXPECT_TRUE(contains(none.err, "no complete pre-upgrade backup")) << none.err;
  } else {  // a directory that is not there is no repository (a mistyped --repo), not an empty one
    EXPECT_EQ(none.exit_code, code_of(ExitCode::repository)) << none.err;
  }
  load_source();
  create("daily");
  EXPECT_EQ(decant(check).exit_code, code_of(ExitCode::no_recent_backup));  // a daily one does not count
  std::string id = create("pre-upgrade");
  auto unverified = decant(check);
  EXPECT_EQ(unverified.exit_code, code_of(ExitCode::no_recent_backup)) << unverified.err;
  EXPECT_TRUE(contains(unverified.err, "never fully verified")) << unverified.err;
  ASSERT_EQ(verify(id).exit_code, 0);
  auto ok = decant(check);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, id)) << ok.out;
  // Two days later it is too old for the default 24 h, not for --max-age 3d.
  auto path = repo_ / "index" / (id + ".json");
  auto entry = json::parse(read_file(path));
  auto when = std::chrono::system_clock::now() - std::chrono::hours(48);
  entry["created"] = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", std::chrono::time_point_cast<std::chrono::seconds>(when));
  write_file(path, entry.dump());
  auto old = decant(check);
  EXPECT_EQ(old.exit_code, code_of(ExitCode::no_recent_backup)) << old.err;
  EXPECT_TRUE(contains(old.err, "48.0 h old")) << old.err;
  check.insert(check.end(), {"--max-age", "3d"});
  EXPECT_EQ(decant(check).exit_code, 0);
  check.back() = "soon";
  EXPECT_EQ(decant(check).exit_code, code_of(ExitCode::usage));
}

INSTANTIATE_TEST_SUITE_P(Repositories, BackupTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) { return repository_name(param.param); });

// What an object store does that a directory does not: requests that fail, credentials
// that are wrong or expired, a bucket that is not there. Only on S3.
class S3BackupTest : public BackupTest {
 protected:
  // decant straight at `endpoint` (the store or a proxy in front of it), with `env`.
  RunResult through(std::vector<std::string> args, const std::string& endpoint,
                    const std::map<std::string, std::string>& env) const {
    args.insert(args.end(), {"--s3-endpoint", endpoint});
    return run_decant(args, env);
  }
  std::string last_line(const std::string& out) const {
    std::string id = out.substr(out.rfind('\n', out.size() - 2) + 1);
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }
};

TEST_P(S3BackupTest, AStoreThatFailsSomeRequestsLosesNothing) {
  load_source();
  load_many();
  const S3Server& store = *repository_->server();
  FaultyProxy proxy(store.endpoint(), {.fail_every = 5, .drop_every = 7, .only_method = "", .expired_token = false});
  auto r = through(create_args(), proxy.endpoint(), store.env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(proxy.failed(), 5);
  EXPECT_TRUE(contains(r.err, "retrying")) << r.err;
  std::string id = last_line(r.out);
  // Read straight from the store: everything the backup says it stored is there and whole.
  auto verified = verify(id);
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  auto restored = restore(id);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  expect_restored();
  // And read through the failing proxy too.
  auto again = through({"backup", "verify", "--repo", repository_->url(), "--id", id, "-i", (work_ / "key.txt").string()},
                       proxy.endpoint(), store.env());
  EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST_P(S3BackupTest, AStoreThatRefusesEveryWriteLeavesNothingComplete) {
  load_source();
  const S3Server& store = *repository_->server();
  FaultyProxy proxy(store.endpoint(), {.fail_every = 1, .drop_every = 0, .only_method = "PUT", .expired_token = false});
  auto r = through(create_args(), proxy.endpoint(), store.env());
  EXPECT_EQ(r.exit_code, code_of(ExitCode::repository)) << r.err;
  EXPECT_TRUE(contains(r.err, "HTTP 500 InternalError")) << r.err;
  for (const auto& e : list()) EXPECT_NE(e["state"], "complete");
  // Nothing was started, so there is nothing to resume; once the store is well, the same
  // command makes the backup.
  auto resumed_args = create_args();
  resumed_args.push_back("--resume");
  EXPECT_EQ(decant(resumed_args).exit_code, code_of(ExitCode::nothing_to_resume));
  auto again = decant(create_args());
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(list().back()["state"], "complete");
}

TEST_P(S3BackupTest, WrongSecretExpiredTokenMissingBucketAndNoStoreEachSayWhat) {
  const S3Server& store = *repository_->server();
  std::vector<std::string> listing{"backup", "list", "--repo", repository_->url()};
  const std::string wrong_secret = "not-the-secret-at-all";
  auto wrong = through(listing, store.endpoint(), store.env(wrong_secret));
  EXPECT_EQ(wrong.exit_code, code_of(ExitCode::auth)) << wrong.err;
  EXPECT_TRUE(contains(wrong.err, "refused the credentials")) << wrong.err;
  EXPECT_TRUE(contains(wrong.err, "SignatureDoesNotMatch")) << wrong.err;
  EXPECT_FALSE(contains(wrong.out + wrong.err, wrong_secret));

  FaultyProxy expired(store.endpoint(), {.fail_every = 0, .drop_every = 0, .only_method = "", .expired_token = true});
  auto env = store.env();
  env["AWS_SESSION_TOKEN"] = "an-old-session-token";
  auto old = through(listing, expired.endpoint(), env);
  EXPECT_EQ(old.exit_code, code_of(ExitCode::auth)) << old.err;
  EXPECT_TRUE(contains(old.err, "session token has expired")) << old.err;
  EXPECT_FALSE(contains(old.out + old.err, "an-old-session-token"));

  auto no_bucket = through({"backup", "list", "--repo", "s3://no-such-bucket/x"}, store.endpoint(), store.env());
  EXPECT_EQ(no_bucket.exit_code, code_of(ExitCode::repository)) << no_bucket.err;
  EXPECT_TRUE(contains(no_bucket.err, "bucket no-such-bucket does not exist")) << no_bucket.err;

  auto no_store = through(listing, "http://127.0.0.1:" + std::to_string(free_port()), store.env());
  EXPECT_EQ(no_store.exit_code, code_of(ExitCode::unreachable)) << no_store.err;

  auto no_credentials = through(listing, store.endpoint(), {{"AWS_ACCESS_KEY_ID", ""}, {"HOME", work_.string()}});
  EXPECT_EQ(no_credentials.exit_code, code_of(ExitCode::auth)) << no_credentials.err;
  EXPECT_TRUE(contains(no_credentials.err, "no S3 credentials")) << no_credentials.err;
}

INSTANTIATE_TEST_SUITE_P(Repositories, S3BackupTest, ::testing::Values(true),
                         [](const ::testing::TestParamInfo<bool>& param) { return repository_name(param.param); });

}  // namespace
}  // namespace decant::test

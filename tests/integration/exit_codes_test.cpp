// Every command raises each exit code it declares (src/cli/*_command.cpp), and no other
// (run_decant checks every run of every test against the declarations). The cheap ones are
// reached here, against real servers: a command line CLI11 refuses, a closed or silent
// loopback port, an S3 store without the bucket or without credentials, a repository that
// cannot be used or holds a damaged index entry. The rest need a full setup an existing
// test already has: kReached names it, and the ledger test checks that every declared pair
// is named there, and every name is a test that exists.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "crypto/age.hpp"
#include "mongo_server.hpp"
#include "pg_server.hpp"
#include "s3_server.hpp"

namespace decant::test {
namespace {

namespace fs = std::filesystem;
using ExitCode::auth, ExitCode::backup_corrupt, ExitCode::backup_key, ExitCode::backup_manifest,
    ExitCode::cluster_failed, ExitCode::cluster_mismatch, ExitCode::copy_failed, ExitCode::interrupted,
    ExitCode::local_io, ExitCode::missing_tool, ExitCode::no_recent_backup, ExitCode::nothing_to_resume,
    ExitCode::ok, ExitCode::privileges, ExitCode::repository, ExitCode::same_server, ExitCode::target_not_empty,
    ExitCode::tls, ExitCode::unreachable, ExitCode::unsupported_target, ExitCode::usage, ExitCode::verify_failed;

struct Reached {
  std::string_view command;
  ExitCode code;
  std::string_view test;  // Suite.Name whose body makes `command` exit `code`; or kUnreached
};

// A declared pair no test reaches yet: listed, so that it is a known gap, not a silent one.
constexpr std::string_view kUnreached = "";
constexpr std::string_view kUsage = "ExitCodesTest.EveryCommandRefusesAnUnknownOptionAndItsHelpListsItsCodes";
constexpr std::string_view kClosed = "ExitCodesTest.AClosedPortIsUnreachable";
constexpr std::string_view kSilent = "ExitCodesTest.ASecondSignalWhileWaitingForASilentServerIsInterrupted";
constexpr std::string_view kS3 = "ExitCodesTest.AMissingBucketOrNoCredentialsEachHaveTheirCode";
constexpr std::string_view kLocal = "ExitCodesTest.AnUnusableRepositoryOrADamagedIndexEntryEachHaveTheirCode";
constexpr std::string_view kTools = "ExitCodesTest.AMissingKubectlIsAMissingTool";

// Where each declared (command, code) is reached, 2 (usage) aside: kUsage reaches it for
// every command. 1 (internal) is a bug: no test reaches it on purpose.
constexpr Reached kReached[] = {
    {"pg copy", ok, "PgCopyTest.CopiesTheWholeInstanceAndVerifiesIt"},
    {"pg copy", unreachable, kClosed},
    {"pg copy", auth, "PgCopyTest.WrongPasswordIsAnAuthenticationErrorAndNeverShown"},
    {"pg copy", missing_tool, "PgCopyTest.MissingOrTooOldPgDumpIsReported"},
    {"pg copy", privileges, "PgCopyTest.TargetLoginWithoutPrivilegesIsRefused"},
    {"pg copy", target_not_empty, "PgCopyTest.RefusesANonEmptyTargetAndTouchesNothing"},
    {"pg copy", verify_failed, "PgCopyTest.ResumeVerifiesTablesFinishedEarlierAndNamesADifference"},
    {"pg copy", copy_failed, "PgCopyTest.ResumeRefusesASourceWhoseSchemaChanged"},
    {"pg copy", interrupted, kSilent},
    {"pg copy", local_io, "PgCopyTest.FullDiskStopsWithAClearErrorAndResumeFinishesOnceThereIsRoom"},
    {"pg copy", nothing_to_resume, "PgCopyTest.ResumeWithoutAnInterruptedCopyIsRefused"},
    {"pg copy", tls, "PgCopyTest.TlsWithVerifiedCertificateWorksAndABadOneIsATlsError"},
    {"pg copy", same_server, "PgCopyTest.ATargetThatIsTheSourceIsRefusedWhateverItsSpelling"},

    {"mongo copy", ok, "MongoCopyTest.CopiesCollectionsDocumentsAndIndexesByteForByte"},
    {"mongo copy", unreachable, kClosed},
    {"mongo copy", auth, "MongoCopyTest.AuthenticationFailuresAreReportedWithoutThePassword"},
    {"mongo copy", privileges, kUnreached},
    {"mongo copy", target_not_empty, "MongoCopyTest.RefusesANonEmptyTargetCollectionUnlessDrop"},
    {"mongo copy", verify_failed, "MongoCopyTest.ADocumentChangedOnTheTargetIsCaughtOnResume"},
    {"mongo copy", copy_failed, kUnreached},
    {"mongo copy", interrupted, kSilent},
    {"mongo copy", local_io, kUnreached},
    {"mongo copy", nothing_to_resume, kUnreached},
    {"mongo copy", tls, "MongoCopyTest.TlsWithAVerifiedCertificateWorksAndABadOneIsATlsError"},
    {"mongo copy", same_server, "MongoCopyTest.TheSourceUnderAnotherAddressIsRefusedAsTargetBeforeAnythingIsWritten"},

    {"mongo dump", ok, "MongoDumpTest.DumpIsTheMongodumpLayoutAndMatchesTheSourceByteForByte"},
    {"mongo dump", unreachable, kClosed},
    {"mongo dump", auth, kUnreached},
    {"mongo dump", privileges, kUnreached},
    {"mongo dump", verify_failed, "MongoDumpTest.AnInterruptedDumpResumesAndAFileChangedSinceIsCaught"},
    {"mongo dump", copy_failed, kUnreached},
    {"mongo dump", interrupted, kSilent},
    {"mongo dump", local_io, "MongoDumpTest.AStateDirectoryThatCannotBeCreatedIsOneLineAndExit11"},
    {"mongo dump", nothing_to_resume, kUnreached},
    {"mongo dump", tls, kUnreached},

    {"mongo restore", ok, "MongoDumpTest.DumpThenRestoreReproducesTheDatabase"},
    {"mongo restore", unreachable, kClosed},
    {"mongo restore", auth, kUnreached},
    {"mongo restore", privileges, kUnreached},
    {"mongo restore", target_not_empty, "MongoDumpTest.AnInterruptedRestoreResumesAndChecksFinishedCollectionsAgain"},
    {"mongo restore", verify_failed, "MongoDumpTest.ADumpFileReplacedBeforeARestoreResumesIsCaught"},
    {"mongo restore", copy_failed, "MongoDumpTest.ATruncatedFileIsNamedAndNothingIsReportedVerified"},
    {"mongo restore", interrupted, kSilent},
    {"mongo restore", local_io, kUnreached},
    {"mongo restore", nothing_to_resume, "MongoDumpTest.AnInterruptedRestoreResumesAndChecksFinishedCollectionsAgain"},
    {"mongo restore", tls, kUnreached},

    {"plan", ok, "PlanTest.FindsTheReleaseTheDatabasesAndTheTargetsAndIsReady"},
    {"plan", unreachable, "PlanTest.AnUnreachableTargetIsABlockerFromDecantAndFromTheCluster"},
    {"plan", auth, "PlanTest.TheTargetsPasswordNeverShowsAndAWrongOneIsABlocker"},
    {"plan", missing_tool, "PlanTest.BadInputGetsOneLineAndItsOwnExitCode"},
    {"plan", privileges, "PlanTest.AUserWithoutTheRightsMigrateNeedsIsBlockedBeforeAnyDowntime"},
    {"plan", target_not_empty, "PlanTest.ANonEmptyTargetBlocksUnlessItWouldBeReplaced"},
    {"plan", copy_failed, kUnreached},
    {"plan", interrupted, kUnreached},
    {"plan", tls, kUnreached},
    {"plan", same_server, "PlanTest.ATargetThatIsTheSourceIsABlocker"},
    {"plan", cluster_mismatch, "PlanTest.BadInputGetsOneLineAndItsOwnExitCode"},
    {"plan", cluster_failed, kUnreached},
    {"plan", unsupported_target, "PlanTest.APostgresqlMajorTheReleaseDoesNotSupportBlocksUnlessAccepted"},

    {"migrate", ok, "MigrateTest.MovesBothDatabasesPointsTheReleaseAtThemAndRollsBack"},
    {"migrate", unreachable, kUnreached},
    {"migrate", auth, kUnreached},
    {"migrate", missing_tool, kTools},
    {"migrate", privileges, kUnreached},
    {"migrate", target_not_empty, kUnreached},
    {"migrate", verify_failed, kUnreached},
    {"migrate", copy_failed, kUnreached},
    {"migrate", interrupted, kUnreached},
    {"migrate", local_io, kUnreached},
    {"migrate", nothing_to_resume, "MigrateTest.MovesBothDatabasesPointsTheReleaseAtThemAndRollsBack"},
    {"migrate", tls, kUnreached},
    {"migrate", same_server, kUnreached},
    {"migrate", cluster_mismatch, kUnreached},
    {"migrate", cluster_failed, "MigrateTest.AChartThatCannotBeAppliedScalesTheApplicationBackUp"},
    {"migrate", repository, kUnreached},
    {"migrate", unsupported_target, "MigrateTest.AnUnsupportedPostgresqlMajorBlocksUnlessAcceptedAndTheReportSaysSo"},

    {"backup create", ok, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup create", unreachable, kClosed},
    {"backup create", auth, kS3},
    {"backup create", missing_tool, kUnreached},
    {"backup create", privileges, kUnreached},
    {"backup create", verify_failed, kUnreached},
    {"backup create", copy_failed, kUnreached},
    {"backup create", interrupted, kSilent},
    {"backup create", local_io, kLocal},
    {"backup create", nothing_to_resume, "S3BackupTest.AStoreThatRefusesEveryWriteLeavesNothingComplete"},
    {"backup create", tls, kUnreached},
    {"backup create", backup_manifest, kUnreached},
    {"backup create", repository, "S3BackupTest.AStoreThatRefusesEveryWriteLeavesNothingComplete"},

    {"backup list", ok, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup list", unreachable, kClosed},
    {"backup list", auth, "S3BackupTest.WrongSecretExpiredTokenMissingBucketAndNoStoreEachSayWhat"},
    {"backup list", interrupted, kSilent},
    {"backup list", local_io, kLocal},
    {"backup list", backup_manifest, kLocal},
    {"backup list", repository, "S3BackupTest.WrongSecretExpiredTokenMissingBucketAndNoStoreEachSayWhat"},

    {"backup verify", ok, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup verify", unreachable, kClosed},
    {"backup verify", auth, kS3},
    {"backup verify", missing_tool, kUnreached},
    {"backup verify", privileges, kUnreached},
    {"backup verify", target_not_empty, kUnreached},
    {"backup verify", verify_failed, kUnreached},
    {"backup verify", copy_failed, kUnreached},
    {"backup verify", interrupted, kSilent},
    {"backup verify", local_io, kLocal},
    {"backup verify", tls, kUnreached},
    {"backup verify", same_server, kUnreached},
    {"backup verify", backup_key, kUnreached},
    {"backup verify", backup_corrupt, "BackupTest.EveryDamageIsCaughtByVerifyAndRestoreNamingTheItem"},
    {"backup verify", backup_manifest, kLocal},
    {"backup verify", repository, kS3},

    {"backup restore", ok, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup restore", unreachable, kClosed},
    {"backup restore", auth, kS3},
    {"backup restore", missing_tool, kUnreached},
    {"backup restore", privileges, kUnreached},
    {"backup restore", target_not_empty, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup restore", verify_failed, kUnreached},
    {"backup restore", copy_failed, "PgExtensionsTest.BackupRestoreKeepsTheVersionTheBackupWasTakenWith"},
    {"backup restore", interrupted, kSilent},
    {"backup restore", local_io, kLocal},
    {"backup restore", nothing_to_resume, kUnreached},
    {"backup restore", tls, kUnreached},
    {"backup restore", same_server, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup restore", backup_key, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup restore", backup_corrupt, "BackupTest.EveryDamageIsCaughtByVerifyAndRestoreNamingTheItem"},
    {"backup restore", backup_manifest, kLocal},
    {"backup restore", repository, kS3},

    {"backup prune", ok, "BackupTest.PruneKeepsTheNewestVerifiedPreUpgradeCompleteAndUnfinishedByTime"},
    {"backup prune", unreachable, kClosed},
    {"backup prune", auth, kS3},
    {"backup prune", interrupted, kSilent},
    {"backup prune", local_io, kLocal},
    {"backup prune", backup_manifest, kLocal},
    {"backup prune", repository, kS3},

    {"backup rotate-keys", ok, "BackupTest.AfterRotateKeysTheNewKeyAloneRestores"},
    {"backup rotate-keys", unreachable, kClosed},
    {"backup rotate-keys", auth, kS3},
    {"backup rotate-keys", interrupted, kSilent},
    {"backup rotate-keys", local_io, kLocal},
    {"backup rotate-keys", backup_key, kUnreached},
    {"backup rotate-keys", backup_corrupt, kUnreached},
    {"backup rotate-keys", backup_manifest, kLocal},
    {"backup rotate-keys", repository, kS3},

    {"backup export", ok, "BackupTest.CreatesListsVerifiesAndRestoresByteForByte"},
    {"backup export", unreachable, kClosed},
    {"backup export", auth, kS3},
    {"backup export", verify_failed, kUnreached},
    {"backup export", interrupted, kSilent},
    {"backup export", local_io, kLocal},
    {"backup export", backup_key, kUnreached},
    {"backup export", backup_corrupt, kUnreached},
    {"backup export", backup_manifest, kLocal},
    {"backup export", repository, kS3},

    {"backup schedule", ok, kLocal},
    {"backup schedule", local_io, kLocal},

    {"upgrade-check", ok, "BackupTest.UpgradeCheckPassesOnlyWithARecentVerifiedPreUpgradeBackup"},
    {"upgrade-check", unreachable, kClosed},
    {"upgrade-check", auth, kS3},
    {"upgrade-check", interrupted, kSilent},
    {"upgrade-check", local_io, kLocal},
    {"upgrade-check", backup_manifest, kLocal},
    {"upgrade-check", repository, kS3},
    {"upgrade-check", no_recent_backup, kLocal},

    {"exit-codes", ok, kUsage},
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The body of every test in tests/integration, by "Suite.Name".
std::map<std::string, std::string> test_bodies() {
  std::map<std::string, std::string> out;
  static const std::regex head(R"(\nTEST(?:_F|_P)?\((\w+), (\w+)\))");
  for (const auto& e : fs::directory_iterator(fs::path(DECANT_SOURCE_DIR) / "tests/integration")) {
    if (e.path().extension() != ".cpp") continue;
    std::string text = slurp(e.path());
    std::vector<std::pair<std::string, size_t>> starts;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), head); it != std::sregex_iterator(); ++it)
      starts.emplace_back((*it)[1].str() + "." + (*it)[2].str(), static_cast<size_t>(it->position() + it->length()));
    for (size_t i = 0; i < starts.size(); ++i) {
      size_t end = i + 1 < starts.size() ? starts[i + 1].second : text.size();
      out[starts[i].first] = text.substr(starts[i].second, end - starts[i].second);
    }
  }
  return out;
}

TEST(ExitCodes, EveryDeclaredCodeIsReachedByANamedTestOrListedAsAGap) {
  auto bodies = test_bodies();
  std::set<std::pair<std::string, int>> listed;
  std::vector<std::string> gaps;
  for (const auto& r : kReached) {
    std::string command(r.command);
    const CommandExitCodes* declared = cli::command_exit_codes(command);
    ASSERT_NE(declared, nullptr) << command;
    EXPECT_TRUE(declared->codes.contains(r.code)) << command << " does not declare " << exit_code_name(r.code);
    EXPECT_TRUE(listed.insert({command, static_cast<int>(r.code)}).second) << command << " " << exit_code_name(r.code);
    if (r.test.empty()) {
      gaps.push_back(command + ": " + std::string(exit_code_name(r.code)));
      continue;
    }
    auto body = bodies.find(std::string(r.test));
    ASSERT_NE(body, bodies.end()) << r.test << " is not a test in tests/integration";
    // The named test must expect this code (a success as `exit_code, 0)`).
    static constexpr std::string_view kEnumerators[] = {
        "ok",          "internal",       "usage",       "unreachable",      "auth",           "missing_tool",
        "privileges",  "target_not_empty", "verify_failed", "copy_failed",   "interrupted",    "local_io",
        "nothing_to_resume", "tls",      "same_server", "cluster_mismatch", "cluster_failed", "backup_key",
        "backup_corrupt", "backup_manifest", "repository", "no_recent_backup", "unsupported_target"};
    std::string enumerator = "ExitCode::" + std::string(kEnumerators[static_cast<int>(r.code)]);
    bool names_it = (r.code == ok && body->second.find("exit_code, 0)") != std::string::npos) ||
                    body->second.find(enumerator + ")") != std::string::npos ||
                    body->second.find(enumerator + ",") != std::string::npos;
    EXPECT_TRUE(names_it) << r.test << " never expects " << exit_code_name(r.code) << " (of " << command << ")";
  }
  for (const auto& c : cli::command_exit_codes())
    for (ExitCode code : c.codes.codes()) {
      if (code == ExitCode::internal || code == usage) continue;
      EXPECT_TRUE(listed.count({std::string(c.command), static_cast<int>(code)}))
          << c.command << " declares " << static_cast<int>(code) << " (" << exit_code_name(code)
          << "): name the test that reaches it in kReached, or list it there as a gap";
    }
  std::string all;
  for (const auto& g : gaps) all += "\n  " + g;
  RecordProperty("gaps", static_cast<int>(gaps.size()));
  std::cout << gaps.size() << " declared code(s) no test reaches yet:" << all << "\n";
}

// A loopback port that nothing listens on.
std::string closed_port() { return std::to_string(free_port()); }

// A socket that accepts connections and never answers, like a firewalled host.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    ::listen(fd_, 64);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  std::string port() const { return std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class ExitCodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = make_temp_dir("decant_exit_codes");
    key_ = crypto::AgeIdentity::generate();
    write_file(work_ / "key.txt", key_.encoded() + "\n");
    fs::create_directories(work_ / "dump" / "db");
    write_file(work_ / "dump" / "db" / "c.bson", "");
  }
  void TearDown() override { fs::remove_all(work_); }
  static void write_file(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

  // Each repository command with `repo` (and what it needs besides), up to its first look
  // at the repository; create's PostgreSQL source is `pg`.
  std::map<std::string, std::vector<std::string>> repository_commands(const std::string& repo, const std::string& pg) {
    std::string key = (work_ / "key.txt").string(), recipient = key_.recipient().encoded();
    std::string out = (work_ / "export").string();
    return {
        {"backup create", {"backup", "create", "--repo", repo, "--pg", pg, "-r", recipient}},
        {"backup list", {"backup", "list", "--repo", repo}},
        {"backup verify", {"backup", "verify", "--repo", repo, "-i", key}},
        {"backup restore", {"backup", "restore", "--repo", repo, "--id", "20260101T000000Z-0000", "--mongo",
                            "mongodb://127.0.0.1:1/", "-i", key}},
        {"backup prune", {"backup", "prune", "--repo", repo}},
        {"backup rotate-keys", {"backup", "rotate-keys", "--repo", repo, "-i", key, "-r", recipient}},
        {"backup export", {"backup", "export", "--repo", repo, "--id", "20260101T000000Z-0000", "--out", out, "-i", key}},
        {"upgrade-check", {"upgrade-check", "--repo", repo}},
    };
  }
  std::vector<std::string> with_endpoint(std::vector<std::string> args, const std::string& endpoint) {
    args.insert(args.end(), {"--s3-endpoint", endpoint});
    return args;
  }

  fs::path work_;
  crypto::AgeIdentity key_ = crypto::AgeIdentity::generate();
};

TEST_F(ExitCodesTest, EveryCommandRefusesAnUnknownOptionAndItsHelpListsItsCodes) {
  for (const auto& c : cli::command_exit_codes()) {
    SCOPED_TRACE(c.command);
    std::vector<std::string> args;
    std::istringstream words{std::string(c.command)};
    for (std::string w; words >> w;) args.push_back(w);
    auto help = run_decant([&] { auto a = args; a.push_back("--help"); return a; }());
    EXPECT_EQ(help.exit_code, code_of(ExitCode::ok)) << help.err;
    EXPECT_NE(help.out.find(exit_codes_footer(c.codes)), std::string::npos) << help.out;
    auto bad = run_decant([&] { auto a = args; a.push_back("--no-such-option"); return a; }());
    EXPECT_EQ(bad.exit_code, code_of(ExitCode::usage)) << bad.err;
  }
  auto listing = run_decant({"exit-codes"});
  EXPECT_EQ(listing.exit_code, code_of(ExitCode::ok));
  EXPECT_NE(listing.out.find("raised by: pg copy, mongo copy"), std::string::npos) << listing.out;
  auto markdown = run_decant({"exit-codes", "--markdown"});
  EXPECT_EQ(markdown.out, slurp(fs::path(DECANT_SOURCE_DIR) / "docs/exit-codes.md"));
  auto json = nlohmann::json::parse(run_decant({"exit-codes", "--json"}).out);
  for (const auto& c : cli::command_exit_codes()) {
    std::vector<int> codes;
    for (ExitCode code : c.codes.codes()) codes.push_back(static_cast<int>(code));
    EXPECT_EQ(json["commands"][std::string(c.command)].get<std::vector<int>>(), codes) << c.command;
  }
}

TEST_F(ExitCodesTest, AClosedPortIsUnreachable) {
  std::string port = closed_port();
  std::string pg = "host=127.0.0.1 port=" + port + " user=postgres";
  std::string mongo = "mongodb://127.0.0.1:" + port + "/?serverSelectionTimeoutMS=1000";
  std::map<std::string, std::vector<std::string>> runs{
      {"pg copy", {"pg", "copy", "--source", pg, "--target", pg}},
      {"mongo copy", {"mongo", "copy", "--source", mongo, "--target", mongo}},
      {"mongo dump", {"mongo", "dump", "--source", mongo, "--out", (work_ / "out").string()}},
      {"mongo restore", {"mongo", "restore", "--dir", (work_ / "dump").string(), "--target", mongo}},
  };
  for (auto& [command, args] : repository_commands("s3://bucket/x", pg))
    runs[command] = with_endpoint(args, "http://127.0.0.1:" + port);
  runs["backup create"] = repository_commands((work_ / "repo").string(), pg)["backup create"];
  std::map<std::string, std::string> credentials{{"AWS_ACCESS_KEY_ID", "id"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};
  for (const auto& [command, args] : runs) {
    SCOPED_TRACE(command);
    auto r = run_decant(args, credentials);
    EXPECT_EQ(r.exit_code, code_of(ExitCode::unreachable)) << r.err;
  }
}

TEST_F(ExitCodesTest, ASecondSignalWhileWaitingForASilentServerIsInterrupted) {
  SilentServer silent;
  std::string pg = "host=127.0.0.1 port=" + silent.port() + " user=postgres";
  std::string mongo = "mongodb://127.0.0.1:" + silent.port() + "/";
  std::map<std::string, std::vector<std::string>> runs{
      {"pg copy", {"pg", "copy", "--source", pg, "--target", pg}},
      {"mongo copy", {"mongo", "copy", "--source", mongo, "--target", mongo}},
      {"mongo dump", {"mongo", "dump", "--source", mongo, "--out", (work_ / "out").string()}},
      {"mongo restore", {"mongo", "restore", "--dir", (work_ / "dump").string(), "--target", mongo}},
  };
  for (auto& [command, args] : repository_commands("s3://bucket/x", pg))
    runs[command] = with_endpoint(args, "http://127.0.0.1:" + silent.port());
  runs["backup create"] = repository_commands((work_ / "repo").string(), pg)["backup create"];
  std::map<std::string, std::string> credentials{{"AWS_ACCESS_KEY_ID", "id"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};
  for (const auto& [command, args] : runs) {
    SCOPED_TRACE(command);
    fs::path out = work_ / ("run-" + std::to_string(std::hash<std::string>{}(command)));
    fs::create_directories(out);
    BackgroundDecant run(args, out, credentials);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ASSERT_TRUE(run.running()) << command << " did not wait for the silent server: " << run.err();
    run.kill(SIGINT);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    run.kill(SIGINT);
    EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
  }
}

TEST_F(ExitCodesTest, AMissingBucketOrNoCredentialsEachHaveTheirCode) {
  S3Server store;
  for (auto& [command, args] : repository_commands("s3://no-such-bucket/x", "host=127.0.0.1 port=1 user=postgres")) {
    SCOPED_TRACE(command);
    auto no_credentials =
        run_decant(with_endpoint(args, store.endpoint()), {{"AWS_ACCESS_KEY_ID", ""}, {"HOME", work_.string()}});
    EXPECT_EQ(no_credentials.exit_code, code_of(ExitCode::auth)) << no_credentials.err;
    if (command == "backup create") continue;  // it reaches its source first
    auto no_bucket = run_decant(with_endpoint(args, store.endpoint()), store.env());
    EXPECT_EQ(no_bucket.exit_code, code_of(ExitCode::repository)) << no_bucket.err;
  }
}

TEST_F(ExitCodesTest, AnUnusableRepositoryOrADamagedIndexEntryEachHaveTheirCode) {
  write_file(work_ / "a-file", "not a directory");
  std::string closed_pg = "host=127.0.0.1 port=" + closed_port() + " user=postgres";
  for (auto& [command, args] : repository_commands((work_ / "a-file" / "repo").string(), closed_pg)) {
    SCOPED_TRACE(command);
    auto r = run_decant(args);
    EXPECT_EQ(r.exit_code, code_of(ExitCode::local_io)) << r.err;
  }
  fs::path repo = work_ / "repo";
  fs::create_directories(repo / "index");
  auto none = run_decant({"upgrade-check", "--repo", repo.string()});
  EXPECT_EQ(none.exit_code, code_of(ExitCode::no_recent_backup)) << none.err;
  write_file(repo / "index" / "20260101T000000Z-0000.json", "{\"id\": 7}");
  for (auto& [command, args] : repository_commands(repo.string(), closed_pg)) {
    if (command == "backup create") continue;  // it reaches its source first
    SCOPED_TRACE(command);
    auto r = run_decant(args);
    EXPECT_EQ(r.exit_code, code_of(ExitCode::backup_manifest)) << r.err;
  }

  std::vector<std::string> schedule{"backup", "schedule", "--repo", "s3://bucket/x", "--image", "decant:test",
                                    "--pg-secret", "pg", "--recipients-secret", "keys"};
  auto written = run_decant([&] { auto a = schedule; a.insert(a.end(), {"--out", (work_ / "jobs.yaml").string()}); return a; }());
  EXPECT_EQ(written.exit_code, code_of(ExitCode::ok)) << written.err;
  auto unwritable = run_decant([&] { auto a = schedule; a.insert(a.end(), {"--out", (work_ / "a-file" / "jobs.yaml").string()}); return a; }());
  EXPECT_EQ(unwritable.exit_code, code_of(ExitCode::local_io)) << unwritable.err;
}

TEST_F(ExitCodesTest, AMissingKubectlIsAMissingTool) {
  auto r = run_decant({"migrate", "--kubectl", (work_ / "no-kubectl").string(), "--pg-target",
                       "postgresql://u:p@127.0.0.1:1/postgres", "--state-dir", (work_ / "state").string()});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::missing_tool)) << r.err;
}

}  // namespace
}  // namespace decant::test

// Every command raises each exit code it declares (src/cli/*_command.cpp), and no other
// (run_decant checks every run of every test against the declarations). The cheap ones are
// reached here, against real servers: a command line CLI11 refuses, a closed or silent
// loopback port, an S3 store without the bucket or without credentials, a repository that
// cannot be used or holds a damaged index entry. The rest need a full setup an existing
// test already has: the ledger (kLedger) names it, and the ledger test checks that every declared pair
// is named there, and every name is a test that exists.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
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
using ExitCode::auth, ExitCode::interrupted, ExitCode::local_io, ExitCode::missing_tool, ExitCode::no_recent_backup,
    ExitCode::ok, ExitCode::repository, ExitCode::unreachable, ExitCode::usage;

struct Reached {
  std::string command;
  ExitCode code;
  std::string test;  // Suite.Name whose body makes `command` exit `code`; empty for a gap
};

// The ExitCode enumerators, in order: how the ledger and the tests spell each code.
constexpr std::string_view kEnumerators[] = {
    "ok",          "internal",       "usage",       "unreachable",      "auth",           "missing_tool",
    "privileges",  "target_not_empty", "verify_failed", "copy_failed",   "interrupted",    "local_io",
    "nothing_to_resume", "tls",      "same_server", "cluster_mismatch", "cluster_failed", "backup_key",
    "backup_corrupt", "backup_manifest", "repository", "no_recent_backup", "unsupported_target"};

// The tests of this file that reach a code for many commands, by the short name the ledger
// gives them.
const std::map<std::string, std::string, std::less<>> kShortNames = {
    {"usage", "ExitCodesTest.EveryCommandRefusesAnUnknownOptionAndItsHelpListsItsCodes"},
    {"closed", "ExitCodesTest.AClosedPortIsUnreachable"},
    {"silent", "ExitCodesTest.ASecondSignalWhileWaitingForASilentServerIsInterrupted"},
    {"s3", "ExitCodesTest.AMissingBucketOrNoCredentialsEachHaveTheirCode"},
    {"local", "ExitCodesTest.AnUnusableRepositoryOrADamagedIndexEntryEachHaveTheirCode"},
    {"tools", "ExitCodesTest.AMissingKubectlIsAMissingTool"}};

// Where each declared (command, code) is reached, 2 (usage) aside: "usage" reaches it for
// every command. 1 (internal) is a bug: no test reaches it on purpose. A row a pair:
// the command, the code (its enumerator), the test that reaches it: Suite.Name, a short name
// above, or "-" for a declared pair no test reaches yet (listed, so that it is a known gap,
// not a silent one).
constexpr std::string_view kLedger = R"(
pg copy              ok                   PgCopyTest.CopiesTheWholeInstanceAndVerifiesIt
pg copy              unreachable          closed
pg copy              auth                 PgCopyTest.WrongPasswordIsAnAuthenticationErrorAndNeverShown
pg copy              missing_tool         PgCopyTest.MissingOrTooOldPgDumpIsReported
pg copy              privileges           PgCopyTest.TargetLoginWithoutPrivilegesIsRefused
pg copy              target_not_empty     PgCopyTest.RefusesANonEmptyTargetAndTouchesNothing
pg copy              verify_failed        PgCopyTest.ResumeVerifiesTablesFinishedEarlierAndNamesADifference
pg copy              copy_failed          PgCopyTest.ResumeRefusesASourceWhoseSchemaChanged
pg copy              interrupted          silent
pg copy              local_io             PgCopyTest.FullDiskStopsWithAClearErrorAndResumeFinishesOnceThereIsRoom
pg copy              nothing_to_resume    PgCopyTest.ResumeWithoutAnInterruptedCopyIsRefused
pg copy              tls                  PgCopyTest.TlsWithVerifiedCertificateWorksAndABadOneIsATlsError
pg copy              same_server          PgCopyTest.ATargetThatIsTheSourceIsRefusedWhateverItsSpelling

mongo copy           ok                   MongoCopyTest.CopiesCollectionsDocumentsAndIndexesByteForByte
mongo copy           unreachable          closed
mongo copy           auth                 MongoCopyTest.AuthenticationFailuresAreReportedWithoutThePassword
mongo copy           privileges           -
mongo copy           target_not_empty     MongoCopyTest.RefusesANonEmptyTargetCollectionUnlessDrop
mongo copy           verify_failed        MongoCopyTest.ADocumentChangedOnTheTargetIsCaughtOnResume
mongo copy           copy_failed          -
mongo copy           interrupted          silent
mongo copy           local_io             -
mongo copy           nothing_to_resume    ExitCodesTest.MongoCommandsSayAWrongPasswordAnUnverifiedCertificateAndNothingToResume
mongo copy           tls                  MongoCopyTest.TlsWithAVerifiedCertificateWorksAndABadOneIsATlsError
mongo copy           same_server          MongoCopyTest.TheSourceUnderAnotherAddressIsRefusedAsTargetBeforeAnythingIsWritten

mongo dump           ok                   MongoDumpTest.DumpIsTheMongodumpLayoutAndMatchesTheSourceByteForByte
mongo dump           unreachable          closed
mongo dump           auth                 ExitCodesTest.MongoCommandsSayAWrongPasswordAnUnverifiedCertificateAndNothingToResume
mongo dump           privileges           -
mongo dump           verify_failed        MongoDumpTest.AnInterruptedDumpResumesAndAFileChangedSinceIsCaught
mongo dump           copy_failed          -
mongo dump           interrupted          silent
mongo dump           local_io             MongoDumpTest.AStateDirectoryThatCannotBeCreatedIsOneLineAndExit11
mongo dump           nothing_to_resume    ExitCodesTest.MongoCommandsSayAWrongPasswordAnUnverifiedCertificateAndNothingToResume
mongo dump           tls                  ExitCodesTest.MongoCommandsSayAWrongPasswordAnUnverifiedCertificateAndNothingToResume

mongo restore        ok                   MongoDumpTest.DumpThenRestoreReproducesTheDatabase
mongo restore        unreachable          closed
mongo restore        auth                 ExitCodesTest.MongoCommandsSayAWrongPasswordAnUnverifiedCertificateAndNothingToResume
mongo restore        privileges           -
mongo restore        target_not_empty     MongoDumpTest.AnInterruptedRestoreResumesAndChecksFinishedCollectionsAgain
mongo restore        verify_failed        MongoDumpTest.ADumpFileReplacedBeforeARestoreResumesIsCaught
mongo restore        copy_failed          MongoDumpTest.ATruncatedFileIsNamedAndNothingIsReportedVerified
mongo restore        interrupted          silent
mongo restore        local_io             -
mongo restore        nothing_to_resume    MongoDumpTest.AnInterruptedRestoreResumesAndChecksFinishedCollectionsAgain
mongo restore        tls                  ExitCodesTest.MongoCommandsSayAWrongPasswordAnUnverifiedCertificateAndNothingToResume

plan                 ok                   PlanTest.FindsTheReleaseTheDatabasesAndTheTargetsAndIsReady
plan                 unreachable          PlanTest.AnUnreachableTargetIsABlockerFromDecantAndFromTheCluster
plan                 auth                 PlanTest.TheTargetsPasswordNeverShowsAndAWrongOneIsABlocker
plan                 missing_tool         PlanTest.BadInputGetsOneLineAndItsOwnExitCode
plan                 privileges           PlanTest.AUserWithoutTheRightsMigrateNeedsIsBlockedBeforeAnyDowntime
plan                 target_not_empty     PlanTest.ANonEmptyTargetBlocksUnlessItWouldBeReplaced
plan                 copy_failed          -
plan                 interrupted          ExitCodesTest.PlanAndMigrateStoppedWhileKubectlHangsAreInterrupted
plan                 tls                  -
plan                 same_server          PlanTest.ATargetThatIsTheSourceIsABlocker
plan                 cluster_mismatch     PlanTest.BadInputGetsOneLineAndItsOwnExitCode
plan                 cluster_failed       ExitCodesTest.AClusterCallThatFailsIsAClusterStepFailure
plan                 unsupported_target   PlanTest.APostgresqlMajorTheReleaseDoesNotSupportBlocksUnlessAccepted

migrate              ok                   MigrateTest.MovesBothDatabasesPointsTheReleaseAtThemAndRollsBack
migrate              unreachable          PlanTest.MigrateStopsAtTheFirstBlockerWithItsCodeAndChangesNothing
migrate              auth                 PlanTest.MigrateStopsAtTheFirstBlockerWithItsCodeAndChangesNothing
migrate              missing_tool         tools
migrate              privileges           -
migrate              target_not_empty     PlanTest.MigrateStopsAtTheFirstBlockerWithItsCodeAndChangesNothing
migrate              verify_failed        -
migrate              copy_failed          -
migrate              interrupted          ExitCodesTest.PlanAndMigrateStoppedWhileKubectlHangsAreInterrupted
migrate              local_io             -
migrate              nothing_to_resume    MigrateTest.MovesBothDatabasesPointsTheReleaseAtThemAndRollsBack
migrate              tls                  -
migrate              same_server          PlanTest.MigrateStopsAtTheFirstBlockerWithItsCodeAndChangesNothing
migrate              cluster_mismatch     MigrateTest.DryRunPrintsEveryCommandAndChangesNothing
migrate              cluster_failed       MigrateTest.AChartThatCannotBeAppliedScalesTheApplicationBackUp
migrate              repository           -
migrate              unsupported_target   MigrateTest.AnUnsupportedPostgresqlMajorBlocksUnlessAcceptedAndTheReportSaysSo

backup create        ok                   BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup create        unreachable          closed
backup create        auth                 s3
backup create        missing_tool         ExitCodesTest.BackupCreateSaysAMissingPgDumpAndARefusedTls
backup create        privileges           -
backup create        verify_failed        -
backup create        copy_failed          -
backup create        interrupted          silent
backup create        local_io             local
backup create        nothing_to_resume    S3BackupTest.AStoreThatRefusesEveryWriteLeavesNothingComplete
backup create        tls                  ExitCodesTest.BackupCreateSaysAMissingPgDumpAndARefusedTls
backup create        backup_manifest      -
backup create        repository           S3BackupTest.AStoreThatRefusesEveryWriteLeavesNothingComplete

backup list          ok                   BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup list          unreachable          closed
backup list          auth                 S3BackupTest.WrongSecretExpiredTokenMissingBucketAndNoStoreEachSayWhat
backup list          interrupted          silent
backup list          local_io             local
backup list          backup_manifest      local
backup list          repository           S3BackupTest.WrongSecretExpiredTokenMissingBucketAndNoStoreEachSayWhat

backup verify        ok                   BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup verify        unreachable          closed
backup verify        auth                 s3
backup verify        missing_tool         -
backup verify        privileges           -
backup verify        target_not_empty     -
backup verify        verify_failed        -
backup verify        copy_failed          -
backup verify        interrupted          silent
backup verify        local_io             local
backup verify        tls                  -
backup verify        same_server          -
backup verify        backup_key           BackupTest.AfterRotateKeysTheNewKeyAloneRestores
backup verify        backup_corrupt       BackupTest.EveryDamageIsCaughtByVerifyAndRestoreNamingTheItem
backup verify        backup_manifest      local
backup verify        repository           s3

backup restore       ok                   BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup restore       unreachable          closed
backup restore       auth                 s3
backup restore       missing_tool         -
backup restore       privileges           -
backup restore       target_not_empty     BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup restore       verify_failed        -
backup restore       copy_failed          PgExtensionsTest.BackupRestoreKeepsTheVersionTheBackupWasTakenWith
backup restore       interrupted          silent
backup restore       local_io             local
backup restore       nothing_to_resume    BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup restore       tls                  -
backup restore       same_server          BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup restore       backup_key           BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup restore       backup_corrupt       BackupTest.EveryDamageIsCaughtByVerifyAndRestoreNamingTheItem
backup restore       backup_manifest      local
backup restore       repository           s3

backup prune         ok                   BackupTest.PruneKeepsTheNewestVerifiedPreUpgradeCompleteAndUnfinishedByTime
backup prune         unreachable          closed
backup prune         auth                 s3
backup prune         interrupted          silent
backup prune         local_io             local
backup prune         backup_manifest      local
backup prune         repository           s3

backup rotate-keys   ok                   BackupTest.AfterRotateKeysTheNewKeyAloneRestores
backup rotate-keys   unreachable          closed
backup rotate-keys   auth                 s3
backup rotate-keys   interrupted          silent
backup rotate-keys   local_io             local
backup rotate-keys   backup_key           BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup rotate-keys   backup_corrupt       BackupTest.EveryDamageIsCaughtByVerifyAndRestoreNamingTheItem
backup rotate-keys   backup_manifest      local
backup rotate-keys   repository           s3

backup export        ok                   BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup export        unreachable          closed
backup export        auth                 s3
backup export        verify_failed        -
backup export        interrupted          silent
backup export        local_io             local
backup export        backup_key           BackupTest.CreatesListsVerifiesAndRestoresByteForByte
backup export        backup_corrupt       BackupTest.EveryDamageIsCaughtByVerifyAndRestoreNamingTheItem
backup export        backup_manifest      local
backup export        repository           s3

backup schedule      ok                   local
backup schedule      local_io             local

upgrade-check        ok                   BackupTest.UpgradeCheckPassesOnlyWithARecentVerifiedPreUpgradeBackup
upgrade-check        unreachable          closed
upgrade-check        auth                 s3
upgrade-check        interrupted          silent
upgrade-check        local_io             local
upgrade-check        backup_manifest      local
upgrade-check        repository           s3
upgrade-check        no_recent_backup     local

exit-codes           ok                   usage
)";

// kLedger's rows; a row that does not parse fails the test that reads it.
std::vector<Reached> reached() {
  std::vector<Reached> out;
  std::istringstream in{std::string(kLedger)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream row(line);
    std::vector<std::string> words{std::istream_iterator<std::string>(row), std::istream_iterator<std::string>()};
    if (words.empty()) continue;
    EXPECT_GE(words.size(), 3u) << "not a command, a code and a test: " << line;
    if (words.size() < 3) continue;
    std::string test = words.back();
    const auto* code = std::find(std::begin(kEnumerators), std::end(kEnumerators), words[words.size() - 2]);
    EXPECT_NE(code, std::end(kEnumerators)) << "no such exit code: " << line;
    if (code == std::end(kEnumerators)) continue;
    if (auto s = kShortNames.find(test); s != kShortNames.end()) test = s->second;
    if (test == "-") test.clear();
    std::string command = words[0];
    for (size_t i = 1; i + 2 < words.size(); ++i) command += " " + words[i];
    out.push_back({command, static_cast<ExitCode>(code - std::begin(kEnumerators)), test});
  }
  return out;
}

// The body of every test in tests/integration, by "Suite.Name".
std::map<std::string, std::string> test_bodies() {
  std::map<std::string, std::string> out;
  static const std::regex head(R"(\nTEST(?:_F|_P)?\((\w+), (\w+)\))");
  for (const auto& e : fs::directory_iterator(fs::path(DECANT_SOURCE_DIR) / "tests/integration")) {
    if (e.path().extension() != ".cpp") continue;
    std::string text = read_file(e.path());
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
  auto ledger = reached();
  ASSERT_FALSE(ledger.empty());
  for (const auto& r : ledger) {
    const std::string& command = r.command;
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
          << "): name the test that reaches it in kLedger, or list it there as a gap";
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
  // Every command that connects to a server or a store, each aimed at 127.0.0.1:port;
  // mongo_options: the query of the MongoDB URI ("?...").
  std::map<std::string, std::vector<std::string>> commands_against(const std::string& port,
                                                                   const std::string& mongo_options = "") {
    std::string pg = "host=127.0.0.1 port=" + port + " user=postgres";
    std::string mongo = "mongodb://127.0.0.1:" + port + "/" + mongo_options;
    std::map<std::string, std::vector<std::string>> runs{
        {"pg copy", {"pg", "copy", "--source", pg, "--target", pg}},
        {"mongo copy", {"mongo", "copy", "--source", mongo, "--target", mongo}},
        {"mongo dump", {"mongo", "dump", "--source", mongo, "--out", (work_ / "out").string()}},
        {"mongo restore", {"mongo", "restore", "--dir", (work_ / "dump").string(), "--target", mongo}},
    };
    for (auto& [command, args] : repository_commands("s3://bucket/x", pg))
      runs[command] = with_endpoint(args, "http://127.0.0.1:" + port);
    runs["backup create"] = repository_commands((work_ / "repo").string(), pg)["backup create"];
    return runs;
  }
  // Credentials for a store that never checks them.
  const std::map<std::string, std::string> credentials_{{"AWS_ACCESS_KEY_ID", "id"}, {"AWS_SECRET_ACCESS_KEY", "secret"}};

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
  EXPECT_EQ(markdown.out, read_file(fs::path(DECANT_SOURCE_DIR) / "docs/exit-codes.md"));
  auto json = nlohmann::json::parse(run_decant({"exit-codes", "--json"}).out);
  for (const auto& c : cli::command_exit_codes()) {
    std::vector<int> codes;
    for (ExitCode code : c.codes.codes()) codes.push_back(static_cast<int>(code));
    EXPECT_EQ(json["commands"][std::string(c.command)].get<std::vector<int>>(), codes) << c.command;
  }
}

TEST_F(ExitCodesTest, AClosedPortIsUnreachable) {
  auto runs = commands_against(closed_port(), "?serverSelectionTimeoutMS=1000");
  for (const auto& [command, args] : runs) {
    SCOPED_TRACE(command);
    auto r = run_decant(args, credentials_);
    EXPECT_EQ(r.exit_code, code_of(ExitCode::unreachable)) << r.err;
  }
}

TEST_F(ExitCodesTest, ASecondSignalWhileWaitingForASilentServerIsInterrupted) {
  SilentServer silent;
  auto runs = commands_against(silent.port());
  for (const auto& [command, args] : runs) {
    SCOPED_TRACE(command);
    fs::path out = work_ / ("run-" + std::to_string(std::hash<std::string>{}(command)));
    fs::create_directories(out);
    BackgroundDecant run(args, out, credentials_);
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
  // A file where the repository should be: no command can use it.
  for (auto& [command, args] : repository_commands((work_ / "a-file").string(), closed_pg)) {
    SCOPED_TRACE(command);
    auto r = run_decant(args);
    EXPECT_EQ(r.exit_code, code_of(ExitCode::local_io)) << r.err;
  }
  // Only create makes a repository: for every other command a mistyped --repo is one, not
  // an empty repository made on the spot.
  for (auto& [command, args] : repository_commands((work_ / "a-file" / "repo").string(), closed_pg)) {
    SCOPED_TRACE(command);
    auto r = run_decant(args);
    EXPECT_EQ(r.exit_code, code_of(command == "backup create" ? ExitCode::local_io : ExitCode::repository)) << r.err;
  }
  for (auto& [command, args] : repository_commands((work_ / "no-such-repo").string(), closed_pg)) {
    if (command == "backup create") continue;
    SCOPED_TRACE(command);
    auto r = run_decant(args);
    EXPECT_EQ(r.exit_code, code_of(ExitCode::repository)) << r.err;
    EXPECT_NE(r.err.find("there is no backup repository at " + (work_ / "no-such-repo").string()), std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(work_ / "no-such-repo"));
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
                       "postgresql://u:p@127.0.0.1:1/postgres", "--state-dir", (work_ / "state").string(),
                       "--data-path", "local"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::missing_tool)) << r.err;
}

// MongoDB commands against real servers: a wrong password, a certificate decant cannot
// verify, and a --resume with nothing recorded each get their own code.
TEST_F(ExitCodesTest, MongoCommandsSayAWrongPasswordAnUnverifiedCertificateAndNothingToResume) {
  FerretDb secured{FerretDb::Options{.user = "u", .password = "right-Pw-1"}};
  FerretDb tls_only{FerretDb::Options{.user = "", .password = "", .tls = true}};
  FerretDb plain;
  std::string wrong = "mongodb://u:wrong-Pw-1@127.0.0.1:" + std::to_string(secured.port()) + "/?authSource=admin";
  std::string unverified =
      "mongodb://127.0.0.1:" + std::to_string(tls_only.port()) + "/?tls=true&serverSelectionTimeoutMS=3000";
  std::string out = (work_ / "out").string(), dump = (work_ / "dump").string();
  for (const auto& [code, uri] : {std::pair{ExitCode::auth, wrong}, std::pair{ExitCode::tls, unverified}}) {
    SCOPED_TRACE(uri);
    auto dumped = run_decant({"mongo", "dump", "--source", uri, "--out", out});
    EXPECT_EQ(dumped.exit_code, code_of(code)) << dumped.err;
    auto restored = run_decant({"mongo", "restore", "--dir", dump, "--target", uri});
    EXPECT_EQ(restored.exit_code, code_of(code)) << restored.err;
  }
  auto no_dump = run_decant({"mongo", "dump", "--source", plain.uri(), "--out", out, "--resume", "--state-dir",
                             (work_ / "dump-state").string()});
  EXPECT_EQ(no_dump.exit_code, code_of(ExitCode::nothing_to_resume)) << no_dump.err;
  // The connection strings from the environment (env:NAME), as an in-cluster Job passes a
  // Secret's: the copy reaches both servers before it finds nothing to resume.
  auto no_copy = run_decant({"mongo", "copy", "--source", "env:DECANT_SOURCE", "--target", "env:DECANT_TARGET",
                             "--resume", "--state-dir", (work_ / "copy-state").string()},
                            {{"DECANT_SOURCE", plain.uri()}, {"DECANT_TARGET", secured.uri()}});
  EXPECT_EQ(no_copy.exit_code, code_of(ExitCode::nothing_to_resume)) << no_copy.err;
  auto unset = run_decant({"mongo", "copy", "--source", "env:DECANT_UNSET_SOURCE", "--target", secured.uri()});
  EXPECT_EQ(unset.exit_code, code_of(ExitCode::usage)) << unset.err;
  EXPECT_NE(unset.err.find("DECANT_UNSET_SOURCE is not set"), std::string::npos) << unset.err;
}

// backup create against a real PostgreSQL: no pg_dump where --pg-bin points, and TLS
// required of a server that offers none.
TEST_F(ExitCodesTest, BackupCreateSaysAMissingPgDumpAndARefusedTls) {
  PgServer pg;
  std::string recipient = key_.recipient().encoded(), repo = (work_ / "repo").string();
  auto no_tool = run_decant({"backup", "create", "--repo", repo, "--pg", pg.conninfo(), "--pg-bin",
                             (work_ / "no-bin").string(), "-r", recipient});
  EXPECT_EQ(no_tool.exit_code, code_of(ExitCode::missing_tool)) << no_tool.err;
  auto no_tls = run_decant({"backup", "create", "--repo", repo, "--pg", pg.conninfo() + " sslmode=require", "-r",
                            recipient});
  EXPECT_EQ(no_tls.exit_code, code_of(ExitCode::tls)) << no_tls.err;
}

// Alive: in the process table and not a zombie (orphans here may wait for a reaper).
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

// A kubectl that writes its pid to `pid_file` and then hangs, as one waiting on an API
// server that does not answer.
fs::path hanging_kubectl(const fs::path& dir, const fs::path& pid_file) {
  fs::path kubectl = dir / ("hanging-kubectl-" + pid_file.stem().string());
  {
    std::ofstream script(kubectl);
    script << "#!/bin/sh\necho $$ > " << pid_file.string() << ".tmp\nmv " << pid_file.string() << ".tmp "
           << pid_file.string() << "\nexec sleep 300\n";
  }
  fs::permissions(kubectl, fs::perms::owner_all);
  return kubectl;
}

// The pid the hanging kubectl of `run` wrote; 0 when it did not start within 20 s.
pid_t hanging_child(BackgroundDecant& run, const fs::path& pid_file) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!fs::exists(pid_file) && run.running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return fs::exists(pid_file) ? std::stoi(read_file(pid_file)) : 0;
}

// True once `pid` is gone, within 5 s.
bool ends(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (alive(pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  bool ended = !alive(pid);
  if (!ended) ::kill(pid, SIGKILL);
  return ended;
}

// A decant killed with SIGKILL cannot end its children itself: its guard does, so that no
// pg_dump or port-forward goes on writing or holding a port without it. Also when decant
// was started with its standard input closed (its guard's pipe then takes that descriptor).
TEST_F(ExitCodesTest, AKilledDecantTakesItsChildrenWithIt) {
  for (const bool stdin_closed : {false, true}) {
    SCOPED_TRACE(stdin_closed ? "stdin closed" : "stdin open");
    std::string name = stdin_closed ? "killed-closed" : "killed";
    fs::path pid_file = work_ / (name + ".pid");
    fs::path out = work_ / name;
    fs::create_directories(out);
    std::vector<std::string> argv{"/bin/sh", "-c", stdin_closed ? "exec \"$0\" \"$@\" <&-" : "exec \"$0\" \"$@\"",
                                  DECANT_BINARY, "plan", "--kubectl", hanging_kubectl(work_, pid_file).string(),
                                  "--pg-target", "postgresql://u:p@127.0.0.1:1/postgres"};
    pid_t decant = 0;
    ASSERT_EQ(spawn_to_files(decant, argv, out / "stdout", out / "stderr"), 0);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!fs::exists(pid_file) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(fs::exists(pid_file)) << "decant did not start its kubectl: " << read_file(out / "stderr");
    pid_t child = std::stoi(read_file(pid_file));
    ASSERT_TRUE(alive(child));
    ::kill(decant, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(decant, &status, 0), decant);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    EXPECT_TRUE(ends(child)) << "the child " << child << " outlived decant";
  }
}

// plan and migrate stopped (SIGINT) while kubectl hangs: interrupted, their kubectl ended.
TEST_F(ExitCodesTest, PlanAndMigrateStoppedWhileKubectlHangsAreInterrupted) {
  for (const std::string command : {"plan", "migrate"}) {
    SCOPED_TRACE(command);
    fs::path pid_file = work_ / (command + ".pid");
    fs::path out = work_ / ("stopped-" + command);
    fs::create_directories(out);
    std::vector<std::string> args{command, "--kubectl", hanging_kubectl(work_, pid_file).string(), "--pg-target",
                                  "postgresql://u:p@127.0.0.1:1/postgres"};
    if (command == "migrate") args.insert(args.end(), {"--state-dir", (out / "state").string(), "--data-path", "local"});
    BackgroundDecant run(args, out);
    pid_t child = hanging_child(run, pid_file);
    ASSERT_NE(child, 0) << "decant did not start its kubectl: " << run.err();
    run.kill(SIGINT);
    EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
    EXPECT_TRUE(ends(child)) << "the child " << child << " outlived the stop";
  }
}

// A kubectl that reports its version but fails every call to the cluster with an error
// of its own (no refusal, no missing object, no lost connection): a failed cluster step.
TEST_F(ExitCodesTest, AClusterCallThatFailsIsAClusterStepFailure) {
  fs::path tool = work_ / "failing-tool";
  {
    std::ofstream script(tool);
    script << "#!/bin/sh\ncase \"$*\" in *version*) echo v3.22.0 ;; *) echo 'error: etcdserver: leader changed' >&2; "
              "exit 1 ;; esac\n";
  }
  fs::permissions(tool, fs::perms::owner_all);
  auto r = run_decant({"plan", "--kubectl", tool.string(), "--helm", tool.string(), "--pg-target",
                       "postgresql://u:p@127.0.0.1:1/postgres"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::cluster_failed)) << r.out << r.err;
  EXPECT_NE(r.err.find("leader changed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace decant::test

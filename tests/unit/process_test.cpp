#include "process/process.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <csignal>
#include <sstream>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "process/run_context.hpp"
#include "test_support.hpp"

namespace decant {
namespace {
namespace fs = std::filesystem;
using decant::test::ScopedEnv;
using decant::test::TempDir;

ProcessResult sh(const std::string& script, std::map<std::string, std::string> env = {},
                 std::optional<std::string> stdout_path = std::nullopt) {
  return run_process({{"/bin/sh", "-c", script}, std::move(env), std::move(stdout_path)});
}

TEST(RunProcess, CapturesStdoutAndStderrSeparately) {
  auto r = sh("printf 'to out\\n'; printf 'to err\\n' >&2; printf 'more out'");
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "to out\nmore out");
  EXPECT_EQ(r.errors, "to err\n");
}

TEST(RunProcess, ReturnsTheExitStatus) {
  EXPECT_EQ(sh("exit 0").exit_status, 0);
  EXPECT_EQ(sh("exit 3").exit_status, 3);
  EXPECT_EQ(sh("echo partial; exit 42").exit_status, 42);
  EXPECT_EQ(sh("echo partial; exit 42").output, "partial\n");
}

TEST(RunProcess, KilledBySignalIs128PlusSignal) {
  EXPECT_EQ(sh("kill -TERM $$").exit_status, 128 + 15);
  EXPECT_EQ(sh("kill -KILL $$").exit_status, 128 + 9);
}

TEST(RunProcess, ArgumentsArePassedVerbatimWithoutAShell) {
  auto r = run_process({{"/bin/sh", "-c", "printf '[%s]' \"$@\"", "sh", "a b", "$HOME", "'q'", ""}, {}, std::nullopt});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "[a b][$HOME]['q'][]");
}

TEST(RunProcess, ProgramIsLookedUpInPath) {
  auto r = run_process({{"sh", "-c", "printf ok"}, {}, std::nullopt});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "ok");
}

TEST(RunProcess, ExtraEnvReachesTheChild) {
  auto r = sh("printf %s \"$FOO\"", {{"FOO", "bar baz"}});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "bar baz");
}

TEST(RunProcess, ExtraEnvReplacesAnInheritedValueAndKeepsTheRest) {
  ScopedEnv foo("DECANT_TEST_FOO", "outer");
  ScopedEnv keep("DECANT_TEST_KEEP", "kept");
  auto r = sh("env | grep -c '^DECANT_TEST_FOO='; printf '%s %s' \"$DECANT_TEST_FOO\" \"$DECANT_TEST_KEEP\"",
              {{"DECANT_TEST_FOO", "inner"}});
  EXPECT_EQ(r.output, "1\ninner kept");
  // Our own environment is untouched.
  EXPECT_STREQ(std::getenv("DECANT_TEST_FOO"), "outer");
}

TEST(RunProcess, ExtraEnvDoesNotDuplicateAVariable) {
  // Without a shell in between (a shell would merge duplicates): the raw environment.
  ScopedEnv foo("DECANT_TEST_FOO", "outer");
  auto r = run_process({{"env"}, {{"DECANT_TEST_FOO", "inner"}}, std::nullopt});
  ASSERT_EQ(r.exit_status, 0);
  size_t count = 0;
  for (auto p = r.output.find("DECANT_TEST_FOO="); p != std::string::npos; p = r.output.find("DECANT_TEST_FOO=", p + 1))
    ++count;
  EXPECT_EQ(count, 1u) << r.output;
  EXPECT_NE(r.output.find("DECANT_TEST_FOO=inner\n"), std::string::npos);
}

// Makes our own stdin a pipe holding `data` (already at EOF) for the scope.
class ScopedStdin {
 public:
  explicit ScopedStdin(const std::string& data) {
    saved_ = ::dup(0);
    int fds[2];
    if (saved_ < 0 || ::pipe(fds) != 0) throw std::runtime_error("pipe");
    if (::write(fds[1], data.data(), data.size()) != static_cast<ssize_t>(data.size()))
      throw std::runtime_error("write");
    ::close(fds[1]);
    ::dup2(fds[0], 0);
    ::close(fds[0]);
  }
  ~ScopedStdin() {
    ::dup2(saved_, 0);
    ::close(saved_);
  }
  ScopedStdin(const ScopedStdin&) = delete;
  ScopedStdin& operator=(const ScopedStdin&) = delete;

 private:
  int saved_ = -1;
};

TEST(RunProcess, ChildDoesNotInheritOurStdin) {
  ScopedStdin stdin_with_data("our stdin, not the child's\n");
  auto r = sh("cat");
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "");
}

TEST(RunProcess, StdinDataReachesTheChildAndThenItsEnd) {
  ProcessSpec spec({"/bin/sh", "-c", "cat; echo end"});
  spec.stdin_data = "secret line\nsecond\n";
  auto r = run_process(spec);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "secret line\nsecond\nend\n");
}

TEST(RunProcess, StdinDataLargerThanAPipeBufferFlows) {
  ProcessSpec spec({"/bin/sh", "-c", "wc -c"});
  spec.stdin_data = std::string(1 << 20, 'x');
  auto r = run_process(spec);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(std::stol(r.output), 1 << 20);
}

TEST(RunProcess, AChildThatReadsOneLineOfItsStdinNeedNotReadTheRest) {
  ProcessSpec spec({"/bin/sh", "-c", "read -r line; echo \"got $line\""});
  spec.stdin_data = "first\n" + std::string(1 << 20, 'y');
  auto r = run_process(spec);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "got first\n");
}

TEST(BackgroundProcess, WaitsForAMatchingLineWhileTheChildRunsOn) {
  BackgroundProcess child(ProcessSpec({"/bin/sh", "-c", "echo starting; sleep 0.2; echo 'listening on 4711'; sleep 30"}));
  auto line = child.wait_for_line([](std::string_view l) { return l.starts_with("listening"); }, std::chrono::seconds(10));
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "listening on 4711");
  EXPECT_FALSE(child.exited());
}

TEST(BackgroundProcess, AChildThatExitsFirstEndsTheWaitWithItsErrors) {
  BackgroundProcess child(ProcessSpec({"/bin/sh", "-c", "echo 'error: no such pod' >&2; exit 3"}));
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(child.wait_for_line([](std::string_view) { return true; }, std::chrono::seconds(20)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  for (int i = 0; i < 100 && !child.exited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(child.exit_status(), 3);
  EXPECT_EQ(child.errors(), "error: no such pod\n");
}

TEST(BackgroundProcess, ATimeoutGivesNothingAndDestructionEndsTheGroup) {
  TempDir dir;
  auto marker = dir.path() / "grandchild";
  {
    BackgroundProcess child(ProcessSpec({"/bin/sh", "-c", "(sleep 0.5; touch " + marker.string() + ") & sleep 30"}));
    EXPECT_FALSE(child.wait_for_line([](std::string_view) { return true; }, std::chrono::milliseconds(100)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_FALSE(fs::exists(marker)) << "the child's group outlived it";
}

TEST(BackgroundProcess, OutputBeyondAPipeBufferIsDrainedSoTheChildNeverBlocks) {
  BackgroundProcess child(ProcessSpec({"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' 'x'; echo; echo done"}));
  auto line = child.wait_for_line([](std::string_view l) { return l == "done"; }, std::chrono::seconds(10));
  EXPECT_TRUE(line);
}

TEST(RunProcess, ReadsBothStreamsUntilBothAreClosed) {
  // stdout closes long before stderr is written: stderr must still be read.
  auto r = sh("printf out; exec 1>&-; sleep 0.2; printf err >&2");
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "out");
  EXPECT_EQ(r.errors, "err");
  // ... and the other way round.
  auto r2 = sh("printf err >&2; exec 2>&-; sleep 0.2; printf out");
  EXPECT_EQ(r2.output, "out");
  EXPECT_EQ(r2.errors, "err");
}

TEST(RunProcess, LargeOutputOnBothStreamsDoesNotDeadlock) {
  // Far more than a pipe buffer on each stream, interleaved.
  auto r = sh("i=0; while [ $i -lt 400 ]; do "
              "printf '%0512d' 0; printf '%0512d' 1 >&2; i=$((i+1)); done");
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, std::string(400 * 512, '0'));
  ASSERT_EQ(r.errors.size(), 400u * 512u);
  EXPECT_EQ(r.errors.substr(0, 512), std::string(511, '0') + "1");
}

TEST(RunProcess, StdoutPathWritesToTheFile) {
  TempDir tmp;
  fs::path out = tmp.path() / "out.txt";
  decant::test::write_file(out, "old content that must be replaced entirely\n");
  auto r = sh("printf 'line1\\nline2\\n'; printf 'diag' >&2", {}, out.string());
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(decant::test::read_file(out), "line1\nline2\n");
  EXPECT_EQ(r.output, "");        // not captured as well
  EXPECT_EQ(r.errors, "diag");    // stderr still captured
}

TEST(RunProcess, UnwritableStdoutPathIsLocalIo) {
  TempDir tmp;
  decant::test::write_file(tmp.path() / "file", "x");
  try {
    sh("echo hi", {}, (tmp.path() / "file" / "out.txt").string());
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::local_io);
  }
}

TEST(RunProcess, MissingProgramIsMissingTool) {
  for (const std::string program : {"decant-no-such-program-4711", "/nonexistent/dir/pg_dump"}) {
    SCOPED_TRACE(program);
    try {
      run_process({{program, "--version"}, {}, std::nullopt});
      FAIL() << "no exception";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::missing_tool);
      EXPECT_NE(std::string(e.what()).find(program), std::string::npos) << e.what();
    }
  }
}

TEST(RunProcess, NonExecutableFileIsMissingTool) {
  TempDir tmp;
  decant::test::write_file(tmp.path() / "not-executable", "#!/bin/sh\necho hi\n", false);
  try {
    run_process({{(tmp.path() / "not-executable").string()}, {}, std::nullopt});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::missing_tool);
  }
}

TEST(ProgramVersionLine, IsTheFirstLineOfVersionOutput) {
  TempDir tmp;
  fs::path tool = tmp.path() / "tool";
  decant::test::write_file(tool,
                           "#!/bin/sh\n[ \"$1\" = --version ] || exit 9\n"
                           "echo 'tool (PostgreSQL) 16.2'\necho 'second line'\n",
                           true);
  EXPECT_EQ(program_version_line(tool.string()), std::optional<std::string>("tool (PostgreSQL) 16.2"));
}

TEST(ProgramVersionLine, FailureOrMissingProgramIsNullopt) {
  TempDir tmp;
  fs::path failing = tmp.path() / "failing";
  decant::test::write_file(failing, "#!/bin/sh\necho 'x (PostgreSQL) 16.2'\nexit 1\n", true);
  EXPECT_EQ(program_version_line(failing.string()), std::nullopt);
  EXPECT_EQ(program_version_line((tmp.path() / "absent").string()), std::nullopt);
}

}  // namespace
}  // namespace decant

namespace decant {
namespace {
namespace fs = std::filesystem;
using decant::test::ScopedEnv;
using decant::test::TempDir;

TEST(RunProcess, ChildrenRunInTheCLocaleWhateverTheUsersLanguage) {
  ScopedEnv language("LANGUAGE", "de");
  ScopedEnv lang("LANG", "de_DE.UTF-8");
  ScopedEnv all("LC_ALL", "de_DE.UTF-8");
  auto r = run_process({{"/bin/sh", "-c", "printf '%s|%s|%s' \"$LC_ALL\" \"$LC_MESSAGES\" \"${LANGUAGE-unset}\""}});
  EXPECT_EQ(r.output, "C|C|unset");
}

TEST(RunProcess, AChildLeadsItsOwnProcessGroup) {
  auto r = run_process({{"/bin/sh", "-c", "ps -o pgid= -p $$; echo $$"}});
  ASSERT_EQ(r.exit_status, 0) << r.errors;
  std::istringstream in(r.output);
  long pgid = 0, pid = 0;
  in >> pgid >> pid;
  EXPECT_EQ(pgid, pid);
  EXPECT_NE(pgid, static_cast<long>(::getpgrp()));
}

TEST(RunProcess, ATimeoutKillsTheWholeGroup) {
  TempDir tmp;
  fs::path marker = tmp.path() / "grandchild-survived";
  auto started = std::chrono::steady_clock::now();
  ProcessSpec spec({"/bin/sh", "-c", "(sleep 1; touch " + marker.string() + ") & sleep 30"});
  spec.timeout = std::chrono::milliseconds(300);
  auto r = run_process(spec);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_status, 128 + SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(fs::exists(marker)) << "the grandchild in the child's group outlived the timeout";
}

TEST(RunProcess, AStoppedRunEndsTheChildAndItsGroupAtOnce) {
  RunContext context;
  TempDir tmp;
  fs::path marker = tmp.path() / "grandchild-survived";
  ProcessSpec spec({"/bin/sh", "-c", "(sleep 1; touch " + marker.string() + ") & sleep 30"});
  spec.context = &context;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    context.request_stop(StopReason::signal);
  });
  auto started = std::chrono::steady_clock::now();
  auto r = run_process(spec);
  stopper.join();
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.exit_status, 128 + SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(fs::exists(marker));
  // Nothing new starts once the run has stopped.
  try {
    run_process(spec);
    FAIL() << "a child started after the stop";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::interrupted);
  }
}

TEST(RunProcess, AChildThatIgnoresSigtermGetsSigkillOnTheNextRound) {
  RunContext context;
  ProcessSpec spec({"/bin/sh", "-c", "trap '' TERM; sleep 30"});
  spec.context = &context;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    context.request_stop(StopReason::signal);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    context.repeat_stop_hooks();
  });
  auto r = run_process(spec);
  stopper.join();
  EXPECT_EQ(r.exit_status, 128 + SIGKILL);
  EXPECT_TRUE(r.stopped);
}

LineFilter drop_lines_with(std::string word) {
  return [word](std::string_view line) -> std::optional<std::string> {
    if (line.find(word) != std::string_view::npos) return std::nullopt;
    return std::string(line);
  };
}

TEST(RunPipeline, StreamsTheProducersLinesThroughTheFilterIntoTheConsumer) {
  auto r = run_pipeline({{"/bin/sh", "-c", "printf 'keep 1\\ndrop 2\\nkeep 3\\nlast without newline'; echo warn >&2"}},
                        drop_lines_with("drop"), {{"/bin/sh", "-c", "cat; echo consumer-err >&2"}});
  EXPECT_EQ(r.producer.exit_status, 0);
  EXPECT_EQ(r.consumer.exit_status, 0);
  EXPECT_EQ(r.consumer.output, "keep 1\nkeep 3\nlast without newline");
  EXPECT_EQ(r.producer.errors, "warn\n");
  EXPECT_EQ(r.consumer.errors, "consumer-err\n");
  EXPECT_EQ(r.producer.output, "");
}

TEST(RunPipeline, APrologueComesFirstAndAnEpilogueOnlyAfterASuccessfulProducer) {
  auto ok = run_pipeline({{"/bin/sh", "-c", "echo body"}}, drop_lines_with("never"), {{"cat"}}, "BEGIN;\n",
                         "ROLLBACK;\n");
  EXPECT_EQ(ok.consumer.output, "BEGIN;\nbody\nROLLBACK;\n");
  auto failed = run_pipeline({{"/bin/sh", "-c", "echo body; exit 1"}}, drop_lines_with("never"),
                             {{"/bin/sh", "-c", "cat; echo clean-end"}}, "BEGIN;\n", "COMMIT;\n");
  EXPECT_EQ(failed.consumer.output.find("COMMIT"), std::string::npos);
  EXPECT_EQ(failed.consumer.output.find("clean-end"), std::string::npos);
}

TEST(RunPipeline, MoreThanAPipeBufferFlowsWithoutDeadlock) {
  auto r = run_pipeline({{"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done"}},
                        drop_lines_with("never"), {{"/bin/sh", "-c", "wc -l"}});
  EXPECT_EQ(r.consumer.exit_status, 0);
  EXPECT_EQ(r.consumer.output.substr(r.consumer.output.find_first_not_of(' ')), "20000\n");
}

TEST(RunPipeline, AFailedProducerNeverGivesTheConsumerACleanEnd) {
  // psql --single-transaction commits at EOF: a truncated script must never reach EOF.
  TempDir tmp;
  fs::path committed = tmp.path() / "committed";
  auto r = run_pipeline({{"/bin/sh", "-c", "echo 'part of a script'; exit 3"}}, drop_lines_with("never"),
                        {{"/bin/sh", "-c", "cat >/dev/null && touch " + committed.string()}});
  EXPECT_EQ(r.producer.exit_status, 3);
  EXPECT_EQ(r.consumer.exit_status, 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(committed));
}

TEST(RunPipeline, AFailedConsumerStopsTheProducer) {
  auto started = std::chrono::steady_clock::now();
  auto r = run_pipeline({{"/bin/sh", "-c", "while :; do echo endless; done"}}, drop_lines_with("never"),
                        {{"/bin/sh", "-c", "head -c 10 >/dev/null; echo 'psql: error' >&2; exit 3"}});
  EXPECT_EQ(r.consumer.exit_status, 3);
  EXPECT_EQ(r.consumer.errors, "psql: error\n");
  EXPECT_NE(r.producer.exit_status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(RunPipeline, AMissingConsumerStartsNothing) {
  TempDir tmp;
  fs::path ran = tmp.path() / "producer-ran";
  EXPECT_THROW(run_pipeline({{"/bin/sh", "-c", "touch " + ran.string()}}, drop_lines_with("x"),
                            {{"decant-no-such-psql-4711"}}),
               Error);
  EXPECT_FALSE(fs::exists(ran));
}

}  // namespace
}  // namespace decant

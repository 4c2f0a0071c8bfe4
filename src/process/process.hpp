#pragma once
// Runs child programs (pg_dump, pg_restore, psql; later kubectl, helm) without a shell.
// - Secrets go to a child through its environment, never its argv, which every user can
//   read in `ps`.
// - Children run with LC_ALL=C and LC_MESSAGES=C (LANGUAGE removed): their messages are
//   the same whatever the user's locale, so decant can read them.
// - Each child leads its own process group. When the run stops (run_context), the group
//   gets SIGTERM, then SIGKILL; so does it after `timeout`.
// - stdin and stdout can be streamed: a producer's output, filtered line by line, feeds a
//   consumer's input (pg_restore's script into psql).
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace decant {

class RunContext;

struct ProcessResult {
  int exit_status = -1;   // exit code, or 128 + signal number
  std::string output;     // stdout (when not redirected to a file or streamed on)
  std::string errors;     // stderr, as the child wrote it
  bool timed_out = false;  // killed after ProcessSpec::timeout
  bool stopped = false;    // killed because the run stopped
};

struct ProcessSpec {
  ProcessSpec() = default;
  ProcessSpec(std::vector<std::string> args, std::map<std::string, std::string> env = {},
              std::optional<std::string> stdout_to = std::nullopt,
              std::optional<std::chrono::milliseconds> time_limit = std::nullopt)
      : argv(std::move(args)), extra_env(std::move(env)), stdout_path(std::move(stdout_to)), timeout(time_limit) {}

  std::vector<std::string> argv;
  std::map<std::string, std::string> extra_env;  // added to (or replacing in) our environment
  std::optional<std::string> stdout_path;        // write stdout to this file instead of capturing
  std::optional<std::chrono::milliseconds> timeout;
  RunContext* context = nullptr;                 // whose stop ends the child; nullptr: the process's
  // Written to the child's stdin, which is then closed (a secret for `kubectl apply -f -`
  // or a probe that reads its password). Without it, stdin is /dev/null.
  std::optional<std::string> stdin_data;
};

// Runs a child to its end, its stdin /dev/null or `stdin_data`. Throws Error(missing_tool) when argv[0]
// cannot be executed, Error(local_io) when stdout_path cannot be written.
ProcessResult run_process(const ProcessSpec& spec);

// Decides what of a producer's output line (without its '\n') reaches the consumer:
// the line itself, another text, or nothing (nullopt).
using LineFilter = std::function<std::optional<std::string>(std::string_view line)>;

struct PipelineResult {
  ProcessResult producer;  // its output is empty: it went to the consumer
  ProcessResult consumer;
};

// Runs `producer | filter | consumer`. When one side fails, the other is stopped too.
// `prologue` reaches the consumer first; `epilogue` last, and only if the producer succeeded.
PipelineResult run_pipeline(const ProcessSpec& producer, const LineFilter& filter, const ProcessSpec& consumer,
                            const std::string& prologue = {}, const std::string& epilogue = {});

// A child that runs beside decant until it is destroyed (kubectl port-forward): its
// output is drained all along, so that it never blocks on a full pipe. Destroying it
// kills its process group; so does a stop of the run.
class BackgroundProcess {
 public:
  // Throws Error(missing_tool) when argv[0] cannot be executed.
  explicit BackgroundProcess(const ProcessSpec& spec);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // Waits until a line of stdout satisfies `match` (and returns it), the child exits, or
  // `timeout` passes (nullopt then; see exited() and errors()).
  std::optional<std::string> wait_for_line(const std::function<bool(std::string_view)>& match,
                                           std::chrono::milliseconds timeout);
  bool exited();
  int exit_status();
  // What it wrote to stderr so far.
  std::string errors();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// First line of `program --version`, or nullopt when it cannot run (within 10 s).
std::optional<std::string> program_version_line(const std::string& program);

}  // namespace decant

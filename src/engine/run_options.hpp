#pragma once
// The options every long command takes from its command line, in one place: the frame
// (run_frame.hpp) runs by them and the CLI registers them once (cli/commands.hpp).
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace decant::engine {

struct RunOptions {
  int jobs = 0;  // --jobs; 0: one per CPU
  bool resume = false;
  std::optional<std::string> state_dir;    // --state-dir; default under $XDG_STATE_HOME/decant
  // --state-on-target: the journal on the target server (as the command's Endpoints say),
  // where it outlives the machine or pod the run is on; --state-dir keeps working files only.
  bool state_on_target = false;
  // --resume-run ID: resume the run named ID when the state holds it, else start it anew
  // under that name: for a run that its own replacement repeats (a Kubernetes Job's next pod).
  std::optional<std::string> resume_run;
  // --forget-run (with --resume-run and --state-on-target): copy nothing; drop the journal
  // on the target when it records that run complete (migrate, once the release points at
  // the targets and nothing can ask for the run again), else leave it as it is.
  bool forget_run = false;
  std::optional<std::string> report_path;  // --report
  // --report-lines: the report also on standard output as report_lines.hpp cuts it (a copy in
  // a Job's pod, whose log is its only way back to the CLI).
  bool report_lines = false;
  // Handed the report as it is written, whatever the outcome (migrate keeps its copies').
  std::function<void(const nlohmann::json&)> on_report;
  std::chrono::milliseconds progress_interval{10000};
  // How the report and the resume state name the source when its address is not its own
  // (migrate's copies read through a port-forward whose local port changes from run to
  // run): a resumed run finds its state whatever the port.
  std::optional<std::string> source_name;
};

}  // namespace decant::engine

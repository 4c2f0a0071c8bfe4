#include "common/signals.hpp"

#include <csignal>

#include "common/error.hpp"

namespace decant {
namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed pipe (e.g. `decant ... | head`) must not kill us mid-copy.
  std::signal(SIGPIPE, SIG_IGN);
}

bool interrupted() { return g_interrupted != 0; }

void throw_if_interrupted() {
  if (interrupted())
    throw Error(ExitCode::interrupted, "interrupted",
                "run the same command with --resume to continue where it stopped");
}

}  // namespace decant

#pragma once
// SIGINT and SIGTERM stop the process's run (process/run_context.hpp): running statements
// are cancelled, child process groups signalled, loops end at their next check, and the
// command exits with ExitCode::interrupted, leaving a state that --resume finishes. If
// it has not exited within the grace period (a call that cannot be cancelled, such as a
// MongoDB index build), the last words run and the process exits anyway; a second
// signal does that at once. The resume state never depends on a clean exit: it is an
// append-only journal whose torn last record is ignored.
#include <sys/types.h>

#include <chrono>
#include <functional>

#include "process/run_context.hpp"

namespace decant {

inline constexpr std::chrono::milliseconds kStopGrace{4000};

void install_signal_handlers();

// What must still happen if the process is ended by the grace period or a second
// signal: writing the --report. Called on the watcher thread; `fn` must be thread-safe.
// Cleared by passing nullptr.
void set_last_words(std::function<void()> fn);
// Puts `fn` before the last words already set (a run inside another, migrate's copies, says
// its own, then the outer run's); returns those, for set_last_words when it ends.
std::function<void()> add_last_words(std::function<void()> fn);

// The thread that prints the command's final line calls this first: true when it may go
// on; false when the watcher is already ending the process (the caller then waits).
bool claim_exit();

// Starts the guard: a small process of its own that outlives decant and kills every
// registered child process group when decant ends without reaping them (SIGKILL, a
// crash), so that no pg_dump, psql or kubectl port-forward goes on without it. Call it
// first, while the process has one thread.
void start_child_guard();

// Child process groups that the signal handler kills with SIGKILL when it must end the
// process at once (async-signal-safe bookkeeping; see process/process.cpp), and that the
// guard kills should decant die without doing so.
void register_child_group(pid_t pgid);
void unregister_child_group(pid_t pgid);

}  // namespace decant

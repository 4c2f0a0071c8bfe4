#pragma once
// SIGINT/SIGTERM set a flag that long loops poll: the copy stops at a clean point,
// leaving its resume state intact, and decant exits with ExitCode::interrupted.
namespace decant {
void install_interrupt_handlers();
bool interrupted();
void throw_if_interrupted();  // throws Error(interrupted)
}  // namespace decant

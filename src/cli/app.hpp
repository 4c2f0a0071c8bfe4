#pragma once
// The command line: parses it, runs the chosen command, turns errors into one line on
// stderr and a documented exit code.
namespace decant::cli {
int run(int argc, char** argv);
}  // namespace decant::cli

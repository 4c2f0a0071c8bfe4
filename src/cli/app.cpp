#include "cli/app.hpp"

#include <fmt/core.h>

#include <cstring>
#include <string>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "decant/version.hpp"

namespace decant::cli {
namespace {

// Overwrites passwords in our own argv so that `ps` shows none: "user:secret@" in a
// URI and "password=secret" in a key=value string become x's.
void scrub_passwords(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (char* scheme = std::strstr(a, "://")) {
      char* at = std::strchr(scheme + 3, '@');
      char* colon = std::strchr(scheme + 3, ':');
      char* slash = std::strchr(scheme + 3, '/');
      if (at && colon && colon < at && (!slash || at < slash))
        for (char* p = colon + 1; p < at; ++p) *p = 'x';
    }
    for (char* p = std::strstr(a, "password="); p; p = std::strstr(p + 1, "password=")) {
      char* v = p + 9;
      char quote = (*v == '\'' ) ? *v++ : 0;
      for (; *v && (quote ? *v != quote : *v != ' ' && *v != '&'); ++v) *v = 'x';
    }
  }
}

}  // namespace

int run(int argc, char** argv) {
  install_interrupt_handlers();
  CLI::App app{"decant: move self-hosted platform databases to external servers, fast and verified"};
  app.set_version_flag("--version", std::string("decant ") + kVersion);
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log each step in detail");
  auto* pg = app.add_subcommand("pg", "PostgreSQL commands");
  pg->require_subcommand(1);
  Runner pg_copy = add_pg_copy(*pg);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::usage);
  }
  scrub_passwords(argc, argv);
  log::set_verbose(verbose);

  try {
    if (pg->got_subcommand("copy")) return pg_copy();
    return static_cast<int>(ExitCode::usage);
  } catch (const Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "decant: error: {}\n", e.one_line());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    fmt::print(stderr, "decant: internal error: {}; please report it\n", e.what());
    return static_cast<int>(ExitCode::internal);
  }
}

}  // namespace decant::cli

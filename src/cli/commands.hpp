#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace decant::cli {
// Each command registers its subcommand and returns the function that runs it.
using Runner = std::function<int()>;
Runner add_pg_copy(CLI::App& pg);
Runner add_mongo_copy(CLI::App& mongo);
Runner add_mongo_dump(CLI::App& mongo);
Runner add_mongo_restore(CLI::App& mongo);
}  // namespace decant::cli

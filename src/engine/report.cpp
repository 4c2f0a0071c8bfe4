#include "engine/report.hpp"

#include <fmt/core.h>

#include "common/error.hpp"
#include "common/log.hpp"
#include "engine/progress.hpp"

namespace decant::engine {

Report::Report(std::string command, std::string source, std::string target)
    : command_(std::move(command)), source_(std::move(source)), target_(std::move(target)) {}


GroupReport& Report::group(const std::string& name) {
  for (auto& g : groups_)
    if (g.name == name) return g;
  groups_.push_back(GroupReport{name, 0, {}});
  return groups_.back();
}

void Report::add_item(const std::string& group_name, ItemReport item) {
  std::lock_guard lock(mutex_);
  group(group_name).items.push_back(std::move(item));
}

void Report::set_group_seconds(const std::string& group_name, double seconds) {
  std::lock_guard lock(mutex_);
  group(group_name).seconds = seconds;
}

void Report::add_check(const std::string& what, bool ok, const std::string& detail) {
  std::lock_guard lock(mutex_);
  checks_.push_back({{"what", what}, {"ok", ok}, {"detail", detail}});
}

void Report::add_left_out(const std::string& what) {
  std::lock_guard lock(mutex_);
  left_out_.push_back(what);
}

void Report::add_note(const std::string& note) {
  std::lock_guard lock(mutex_);
  notes_.push_back(note);
}

std::vector<std::string> Report::problems() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& g : groups_)
    for (const auto& i : g.items)
      if (!i.verified) out.push_back(fmt::format("{} {}.{}: {}", i.kind, g.name, i.name, i.problem));
  for (const auto& c : checks_)
    if (!c["ok"].get<bool>()) out.push_back(c["what"].get<std::string>() + ": " + c["detail"].get<std::string>());
  return out;
}

bool Report::all_verified() const { return problems().empty(); }

namespace {

// A group of collections (MongoDB) is summed up one line per collection: there are few, and
// each is a unit of work; a group of tables (a database) in one line.
bool holds_collections(const GroupReport& g) {
  for (const auto& i : g.items)
    if (i.kind == "collection" || i.kind == "view") return true;
  return false;
}

}  // namespace

void Report::print_summary(std::FILE* out) const {
  std::lock_guard lock(mutex_);
  bool databases_header = false, collections_header = false;
  for (const auto& g : groups_) {
    if (holds_collections(g)) continue;
    if (!databases_header)
      fmt::print(out, "\n{:<28} {:>11} {:>14} {:>11} {:>9}  {}\n", "database", "tables", "rows", "bytes", "seconds",
                 "verified");
    databases_header = true;
    uint64_t rows = 0, bytes = 0;
    size_t tables = 0, ok = 0, total = 0;
    for (const auto& i : g.items) {
      ++total;
      if (i.verified) ++ok;
      if (i.kind != "table") continue;
      ++tables;
      rows += i.rows;
      bytes += i.bytes;
    }
    std::string verified = ok == total ? "yes" : fmt::format("NO ({} of {} differ)", total - ok, total);
    fmt::print(out, "{:<28} {:>11} {:>14} {:>11} {:>9.1f}  {}\n", g.name, tables, rows, human_bytes(bytes),
               g.seconds, verified);
  }
  for (const auto& g : groups_) {
    if (!holds_collections(g)) continue;
    if (!collections_header)
      fmt::print(out, "\n{:<40} {:>12} {:>11} {:>9}  {}\n", "collection", "documents", "bytes", "seconds", "verified");
    collections_header = true;
    for (const auto& i : g.items)
      fmt::print(out, "{:<40} {:>12} {:>11} {:>9.1f}  {}\n", g.name + "." + i.name + (i.kind == "view" ? " (view)" : ""),
                 i.rows, human_bytes(i.bytes), i.seconds, i.verified ? "yes" : "NO: " + i.problem);
  }
  if (!databases_header && !collections_header)
    fmt::print(out, "\n{:<28} {:>11} {:>14} {:>11} {:>9}  {}\n", "database", "tables", "rows", "bytes", "seconds",
               "verified");
  for (const auto& c : checks_)
    fmt::print(out, "{:<28} {}\n", c["what"].get<std::string>(),
               c["ok"].get<bool>() ? "verified" : "DIFFERS: " + c["detail"].get<std::string>());
  if (!left_out_.empty()) {
    fmt::print(out, "\nleft out ({}):\n", left_out_.size());
    for (const auto& l : left_out_) fmt::print(out, "  - {}\n", l);
  }
  if (!notes_.empty()) {
    fmt::print(out, "\n");
    for (const auto& n : notes_) fmt::print(out, "{}\n", n);
  }
  std::fflush(out);
}

// The report's fields are the members' own names.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ItemReport, name, kind, rows, bytes, seconds, verified, resumed, source_digest,
                                   target_digest, problem)

nlohmann::json Report::to_json(int exit_code, const std::string& error) const {
  std::lock_guard lock(mutex_);
  nlohmann::json groups = nlohmann::json::array();
  bool verified = true;
  for (const auto& g : groups_) {
    nlohmann::json items = nlohmann::json::array();
    uint64_t rows = 0, bytes = 0;
    bool group_ok = true;
    for (const auto& i : g.items) {
      items.push_back(i);
      group_ok = group_ok && i.verified;
      if (i.kind == "table" || i.kind == "collection") {
        rows += i.rows;
        bytes += i.bytes;
      }
    }
    verified = verified && group_ok;
    groups.push_back({{"name", g.name},
                      {"rows", rows},
                      {"bytes", bytes},
                      {"seconds", g.seconds},
                      {"verified", group_ok},
                      {"items", items}});
  }
  for (const auto& c : checks_) verified = verified && c["ok"].get<bool>();
  nlohmann::json out = details_;
  out.update({{"command", command_}, {"source", source_},     {"target", target_},
              {"databases", groups}, {"checks", checks_},     {"left_out", left_out_}, {"notes", notes_},
              {"verified", verified && exit_code == 0}, {"exit_code", exit_code}, {"error", error}});
  return out;
}

void Report::set_detail(const std::string& key, nlohmann::json value) {
  std::lock_guard lock(mutex_);
  details_[key] = std::move(value);
}

void conclude(const Report& report, double seconds, const std::string& done, const std::string& again_hint) {
  report.print_summary(stdout);
  auto problems = report.problems();
  fmt::print("\n{} in {}\n", problems.empty() ? done : fmt::format("{} DIFFERENCE(S) FOUND", problems.size()),
             human_duration(seconds));
  std::fflush(stdout);
  if (problems.empty()) return;
  for (const auto& p : problems) log::warn("{}", p);
  throw Error(ExitCode::verify_failed,
              fmt::format("verification found {} difference(s), first: {}", problems.size(), problems.front()),
              "see the summary above; " + again_hint);
}

}  // namespace decant::engine

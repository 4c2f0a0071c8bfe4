#pragma once
// What a run did, per group (a database) and item (a table, collection, or other copied
// object), with the verification outcome. Printed as a summary table and written as JSON.
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace decant::engine {

struct ItemReport {
  std::string name;
  std::string kind = "table";  // table, large objects, sequences, ...
  uint64_t rows = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  bool verified = false;
  bool resumed = false;  // finished by an earlier run
  std::string source_digest;
  std::string target_digest;
  std::string problem;  // why verification failed, if it did

  // An item found as it should be, nothing measured yet (a view, an empty item, a
  // stored item read back whole): the caller adds what it measured.
  static ItemReport verified_item(std::string name, std::string kind) {
    ItemReport r;
    r.name = std::move(name);
    r.kind = std::move(kind);
    r.verified = true;
    return r;
  }
};

struct GroupReport {
  std::string name;
  double seconds = 0;
  std::vector<ItemReport> items;
};

class Report {
 public:
  Report(std::string command, std::string source, std::string target);

  void add_item(const std::string& group, ItemReport item);
  void set_group_seconds(const std::string& group, double seconds);
  // A check outside any table (roles, a database's settings): ok or a problem.
  void add_check(const std::string& what, bool ok, const std::string& detail = {});
  void add_left_out(const std::string& what);
  // Something the user should know about how the run went (which tools it used).
  void add_note(const std::string& note);
  // A field of the command's own in the JSON report ("phases", "release"); the common
  // fields keep their meaning.
  void set_detail(const std::string& key, nlohmann::json value);

  bool all_verified() const;
  std::vector<std::string> problems() const;  // one line per failed check

  void print_summary(std::FILE* out) const;
  nlohmann::json to_json(int exit_code, const std::string& error) const;

 private:
  GroupReport& group(const std::string& name);

  mutable std::mutex mutex_;
  std::string command_, source_, target_;
  std::vector<GroupReport> groups_;
  std::vector<nlohmann::json> checks_;
  std::vector<std::string> left_out_;
  std::vector<std::string> notes_;
  nlohmann::json details_ = nlohmann::json::object();
};

// Prints the summary and the verdict ("<done> in 12s" or the number of differences);
// throws Error(verify_failed), naming the first difference, when anything differs.
void conclude(const Report& report, double seconds, const std::string& done, const std::string& again_hint);


}  // namespace decant::engine

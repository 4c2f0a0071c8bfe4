#include "pg/index_builds.hpp"

#include <fmt/format.h>

#include <set>
#include <string>
#include <utility>

namespace decant::pg {
namespace {

std::string text_array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Which of the indexes (by quoted qualified name) exist already.
std::set<std::string> existing_indexes(Connection& conn, const std::vector<const IndexBuild*>& builds) {
  std::vector<std::string> names;
  for (const auto* b : builds)
    if (b->create_index) names.push_back(b->qualified);
  std::set<std::string> out;
  if (names.empty()) return out;
  auto r = conn.exec_params("SELECT n FROM unnest($1::text[]) n WHERE pg_catalog.to_regclass(n) IS NOT NULL",
                            {text_array_literal(names)});
  for (int i = 0; i < r.rows(); ++i) out.insert(r.text(i, 0));
  return out;
}

// Which (table, constraint name) pairs exist already.
std::set<std::pair<std::string, std::string>> existing_constraints(Connection& conn,
                                                                   const std::vector<const IndexBuild*>& builds) {
  std::vector<std::string> tables, names;
  for (const auto* b : builds)
    for (const auto& step : b->finish)
      if (!step.constraint.empty()) {
        tables.push_back(b->table);
        names.push_back(step.constraint);
      }
  std::set<std::pair<std::string, std::string>> out;
  if (names.empty()) return out;
  auto r = conn.exec_params(
      "SELECT t, c FROM unnest($1::text[], $2::text[]) AS x(t, c) WHERE EXISTS (SELECT 1 FROM "
      "pg_catalog.pg_constraint WHERE conrelid = pg_catalog.to_regclass(t) AND conname = c)",
      {text_array_literal(tables), text_array_literal(names)});
  for (int i = 0; i < r.rows(); ++i) out.emplace(r.text(i, 0), r.text(i, 1));
  return out;
}

std::string tablespace_sql(Connection& conn, const std::string& tablespace) {
  return "SET LOCAL default_tablespace = " + (tablespace.empty() ? std::string("''") : conn.quote_ident(tablespace));
}

std::string create_statements(Connection& target, const std::vector<const IndexBuild*>& builds,
                              bool look_for_existing = true) {
  auto existing = look_for_existing ? existing_indexes(target, builds) : std::set<std::string>();
  std::string sql;
  for (const auto* b : builds) {
    if (!b->create_index || existing.count(b->qualified)) continue;
    sql += tablespace_sql(target, b->tablespace) + "; " + *b->create_index + "; ";
  }
  return sql;
}

std::string finish_statements(Connection& target, const std::vector<const IndexBuild*>& builds,
                              bool look_for_existing = true) {
  auto existing = look_for_existing ? existing_constraints(target, builds)
                                    : std::set<std::pair<std::string, std::string>>();
  std::string sql;
  for (const auto* b : builds)
    for (const auto& step : b->finish) {
      if (!step.constraint.empty() && existing.count({b->table, step.constraint})) continue;  // an earlier run's
      sql += tablespace_sql(target, step.tablespace) + "; " + step.sql + "; ";
    }
  return sql;
}

// One round trip; synchronous_commit on: a build is recorded as done only once durable.
void run_in_transaction(Connection& target, const std::string& statements) {
  if (statements.empty()) return;
  target.exec("BEGIN; SET LOCAL synchronous_commit = on; " + statements + "COMMIT");
}

}  // namespace

void create_indexes(Connection& target, const std::vector<const IndexBuild*>& builds) {
  run_in_transaction(target, create_statements(target, builds));
}

void finish_tables(Connection& target, const std::vector<const IndexBuild*>& builds) {
  run_in_transaction(target, finish_statements(target, builds));
}

void build_and_finish(Connection& target, const std::vector<const IndexBuild*>& builds) {
  // The constraints are looked up before the indexes exist: ADD CONSTRAINT ... USING
  // INDEX needs its index, which the first part of the same transaction creates.
  std::string finish = finish_statements(target, builds);
  run_in_transaction(target, create_statements(target, builds) + finish);
}

void build_and_finish_new(Connection& target, const std::vector<const IndexBuild*>& builds) {
  std::string statements = create_statements(target, builds, false) + finish_statements(target, builds, false);
  if (!statements.empty()) target.exec(statements);
}

}  // namespace decant::pg

#pragma once
// The data phase of `pg copy`: every table's rows, index builds, large objects and
// sequences, on the run's workers, each worker with one source session in the database's
// snapshot and one target session.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/run_frame.hpp"
#include "pg/conninfo.hpp"
#include "pg/database_run.hpp"

namespace decant::pg {

struct DataCopyContext {
  const ConnInfo& source;
  const ConnInfo& target;
  engine::RunFrame& frame;
  std::vector<std::unique_ptr<DatabaseRun>>& databases;
  bool binary = false;  // same major on both ends: COPY BINARY where the types allow
  bool resume = false;
  std::function<bool(const std::string&)> can_own;  // roles the target login can act as
  std::string login;
};

class DataCopy {
 public:
  explicit DataCopy(DataCopyContext context);
  ~DataCopy();
  void run();

 private:
  struct WorkerSessions;
  struct TableTask;
  void schedule(engine::TaskPool& pool);
  std::vector<TableTask> table_tasks();
  engine::ItemSpec table_item(WorkerSessions& s, DatabaseRun& db, const TableInfo& table,
                              engine::ProgressItem& progress, bool in_batch);
  void copy_tables(int worker, const TableTask& task, engine::TaskPool& pool);
  void schedule_builds(DatabaseRun& db, const std::vector<uint32_t>& table_oids, bool batch, engine::TaskPool& pool);
  void copy_large_objects(int worker, DatabaseRun& db);
  void copy_sequences(int worker, DatabaseRun& db);
  WorkerSessions& sessions(int worker, const DatabaseRun& db);

  const ConnInfo& source_info_;
  const ConnInfo& target_info_;
  engine::RunFrame& frame_;
  std::vector<std::unique_ptr<DatabaseRun>>& databases_;
  bool binary_;
  bool resume_;
  std::function<bool(const std::string&)> can_own_;
  std::string login_;
  std::vector<WorkerSessions> workers_;
};

}  // namespace decant::pg

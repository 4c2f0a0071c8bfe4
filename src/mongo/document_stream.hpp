#pragma once
// A collection's documents as engine rows: each row is one document's raw BSON bytes,
// so field order and every BSON type travel untouched and hash identically on both ends.
#include <string>
#include <vector>

#include "engine/stream.hpp"
#include "mongo/client.hpp"

namespace decant::mongo {

class FindSource : public engine::RowSource {
 public:
  FindSource(mongoc_client_t* client, const std::string& db, const std::string& collection, std::string where);
  bool next(std::string_view& row) override;

 private:
  CollectionPtr collection_;
  CursorPtr cursor_;
  std::string where_;
};

// Unordered bulk inserts in batches (by count and size), as mongorestore does.
class InsertSink : public engine::RowSink {
 public:
  InsertSink(mongoc_client_t* client, const std::string& db, const std::string& collection, std::string where);
  void write(std::string_view row) override;
  uint64_t finish() override;

 private:
  void flush();
  CollectionPtr collection_;
  std::string where_;
  std::vector<std::string> batch_;
  size_t batch_bytes_ = 0;
  uint64_t inserted_ = 0;
};

}  // namespace decant::mongo

#pragma once
// The mongodump directory layout, as mongodump writes it and mongorestore reads it:
// OUT/DB/NAME.bson (the documents) and OUT/DB/NAME.metadata.json (options, indexes), NAME
// escaped as mongodump escapes it (archive/dump_names), ".gz" after each with gzip.
// `mongo dump` and `backup export` both write it through this class.
#include <filesystem>
#include <string>

#include "engine/item_lifecycle.hpp"

namespace decant::archive {

// One path component ("", ".", ".." and names with '/' are not): what a database's
// directory may be called.
bool is_directory_name(const std::string& name);

class MongodumpLayout {
 public:
  MongodumpLayout(std::filesystem::path out_dir, bool gzip);

  struct Files {
    std::filesystem::path documents;
    std::filesystem::path metadata;
  };
  // The collection's files; creates its database's directory (Error(local_io) when it
  // cannot).
  Files collection(const std::string& db, const std::string& name) const;
  // The metadata.json as mongodump writes it, written atomically.
  void write_metadata(const Files& files, const std::string& metadata_json) const;
  // Makes `spec` write the documents file and verify it by reading it back, as
  // mongorestore will.
  void write_documents(engine::ItemSpec& spec, const Files& files) const;

 private:
  std::filesystem::path out_dir_;
  bool gzip_;
};

}  // namespace decant::archive

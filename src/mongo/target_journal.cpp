#include "mongo/target_journal.hpp"

#include <fmt/core.h>

#include <string_view>

#include "common/error.hpp"

namespace decant::mongo {
namespace {

constexpr const char* kCollection = "journal";

class TargetJournal final : public engine::JournalStore {
 public:
  explicit TargetJournal(const Uri& target) : pool_(target), display_(target.display()) {}

  std::optional<std::string> read() override {
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kCollection));
    Bson filter, opts = Bson::from_json(R"({"sort": {"_id": 1}})");
    CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
    std::optional<std::string> text;
    next_ = 0;
    for (const auto& doc : drain(cursor.get(), pool_.where(), "reading the resume journal")) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc.get(), "lines") && BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t size = 0;
        const char* lines = bson_iter_utf8(&it, &size);
        if (!text) text.emplace();
        text->append(lines, size);
      }
      if (bson_iter_init_find(&it, doc.get(), "_id") && BSON_ITER_HOLDS_INT64(&it))
        next_ = std::max(next_, bson_iter_int64(&it) + 1);
    }
    return text;
  }

  // Not atomic as one write: the old lines go first, so that a crash leaves no journal
  // (a run that starts anew) or the new one, never a mix.
  void replace(const std::string& text) override {
    drop();
    next_ = 0;
    append(text);
  }

  void append(const std::string& lines) override {
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kCollection));
    Bson doc;
    BSON_APPEND_INT64(doc.get(), "_id", next_);
    BSON_APPEND_UTF8(doc.get(), "lines", lines.c_str());
    bson_error_t error;
    if (!mongoc_collection_insert_one(coll.get(), doc.get(), nullptr, nullptr, &error))
      fail(error, pool_.where(), "writing the resume journal");
    ++next_;
  }

  void remove() override {
    drop();
    // MongoDB drops a database with its last collection, FerretDB does not; a login without
    // dropDatabase (readWrite) leaves that empty database.
    try {
      auto client = pool_.acquire();
      run_command(client.get(), kStateDatabase, Bson::from_json(R"({"dropDatabase": 1})"), pool_.where());
    } catch (const Error&) {
    }
  }

  std::string where() const override {
    return fmt::format("the database {} of the target {}", kStateDatabase, display_);
  }

 private:
  // The collection, not the database: readWrite allows it (dropDatabase needs dbAdmin), and
  // the database goes with its last collection.
  void drop() {
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kCollection));
    bson_error_t error;
    constexpr uint32_t kNamespaceNotFound = 26;  // no journal: nothing to drop
    if (!mongoc_collection_drop(coll.get(), &error) && error.code != kNamespaceNotFound &&
        std::string_view(error.message).find("ns not found") == std::string_view::npos)
      fail(error, pool_.where(), "removing the resume journal");
  }

  ClientPool pool_;
  std::string display_;
  int64_t next_ = 0;  // the _id of the next append
};

}  // namespace

std::unique_ptr<engine::JournalStore> target_journal(const Uri& target) {
  return std::make_unique<TargetJournal>(target);
}

}  // namespace decant::mongo

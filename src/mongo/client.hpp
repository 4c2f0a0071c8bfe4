#pragma once
// RAII wrappers for the MongoDB C driver (libmongoc/libbson): a Bson owns a bson_t, a
// ClientPool owns a mongoc_client_pool_t and lends clients to worker threads. Driver
// errors become decant::Error with an exit code and a message without credentials.
#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "common/c_handle.hpp"

namespace decant::mongo {

// Readies the MongoDB driver: its messages go to decant's verbose log, and it leaves no
// file behind however the process ends. decant calls it first thing, for every command
// (the driver sets itself up when loaded); later calls do nothing.
void init_driver();

// A bson_t we own (or a read-only view of one we do not).
// (Not a unique_ptr: bson_t carries an alignment attribute that templates drop.)
class Bson {
 public:
  Bson() : doc_(bson_new()) {}
  explicit Bson(bson_t* owned) : doc_(owned) {}
  Bson(Bson&& other) noexcept : doc_(other.doc_) { other.doc_ = nullptr; }
  Bson& operator=(Bson&& other) noexcept {
    if (this != &other) {
      if (doc_) bson_destroy(doc_);
      doc_ = other.doc_;
      other.doc_ = nullptr;
    }
    return *this;
  }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  ~Bson() {
    if (doc_) bson_destroy(doc_);
  }
  static Bson copy_of(const bson_t* doc) { return Bson(bson_copy(doc)); }
  static Bson from_json(const std::string& json);  // canonical or relaxed extended JSON
  const bson_t* get() const { return doc_; }
  bson_t* get() { return doc_; }
  std::string json() const;  // canonical extended JSON, for comparisons and messages
  std::string_view bytes() const { return {reinterpret_cast<const char*>(bson_get_data(doc_)), doc_->len}; }

 private:
  bson_t* doc_;
};

class Uri {
 public:
  // Throws Error(usage) on a malformed connection string; `role` names it in messages.
  static Uri parse(const std::string& text, const std::string& role);
  // The same, as written: without the timeouts and appname decant sets for its own
  // connections (for what decant hands on, such as a Helm release's values).
  static Uri parse_as_written(const std::string& text, const std::string& role);
  const mongoc_uri_t* get() const { return uri_.get(); }
  // hosts and user, never the password
  std::string display() const;
  const std::string& role() const { return role_; }

 private:
  CHandle<mongoc_uri_t, mongoc_uri_destroy> uri_;
  std::string role_;
};

class ClientPool {
 public:
  explicit ClientPool(const Uri& uri);
  // A client borrowed from the pool, returned when the lease ends.
  class Lease {
   public:
    Lease(mongoc_client_pool_t* pool, mongoc_client_t* client) : pool_(pool), client_(client) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), client_(o.client_) { o.client_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (client_) mongoc_client_pool_push(pool_, client_);
    }
    mongoc_client_t* get() const { return client_; }

   private:
    mongoc_client_pool_t* pool_;
    mongoc_client_t* client_;
  };
  Lease acquire() const;
  const std::string& where() const { return where_; }

 private:
  CHandle<mongoc_client_pool_t, mongoc_client_pool_destroy> pool_;
  std::string where_;
};

using CollectionPtr = CHandle<mongoc_collection_t, mongoc_collection_destroy>;
using CursorPtr = CHandle<mongoc_cursor_t, mongoc_cursor_destroy>;
using DatabasePtr = CHandle<mongoc_database_t, mongoc_database_destroy>;

// Throws the decant::Error a driver error stands for. `where` is "source host:port".
[[noreturn]] void fail(const bson_error_t& error, const std::string& where, const std::string& doing);

// Runs `command` on `db` and returns the reply; throws on error.
Bson run_command(mongoc_client_t* client, const std::string& db, const Bson& command, const std::string& where);
// The server's isMaster reply (what "hello" answers, on every version).
Bson hello(mongoc_client_t* client, const std::string& where);
// Reaches the server (and authenticates): a bad host, password or certificate shows here.
void ping(mongoc_client_t* client, const std::string& where);
// buildInfo's version ("7.0.14"; FerretDB answers with the MongoDB version it speaks).
std::string server_version(mongoc_client_t* client, const std::string& where);
// The featureCompatibilityVersion ("7.0"), or "" when the server does not say.
std::string feature_compatibility_version(mongoc_client_t* client, const std::string& where);

// What a server says about itself, to tell whether two URIs reach the same server
// whatever their addresses (127.0.0.1 or localhost, two port-forwards to one pod).
struct ServerIdentity {
  std::string process_id;          // hello's topologyVersion.processId (MongoDB 4.4+), new for each process
  std::string host;                // serverStatus: the host name (MongoDB's ends in ":port")
  int64_t pid = 0;                 // serverStatus
  int64_t started_ms = 0;          // serverStatus localTime - uptimeMillis: when the process started
  std::string set_name;            // hello: the replica set's name
  std::vector<std::string> hosts;  // hello: the set's members (hosts, passives, arbiters)
};
// From the replies to hello/isMaster and serverStatus (nullptr when it was refused: it needs
// clusterMonitor on MongoDB).
ServerIdentity server_identity(const bson_t* hello, const bson_t* server_status);
// Asks the server; never throws for a refused serverStatus.
ServerIdentity identify_server(mongoc_client_t* client, const std::string& where);
// Why `target` is the server `source` is, or a member of its replica set; nullopt when
// they differ or nothing tells.
std::optional<std::string> same_server(const ServerIdentity& source, const ServerIdentity& target);

// A field of `doc` by its dotted path: its string ("" when absent or not a string), its
// number as an integer (0 when absent or not a number).
std::string utf8_field(const bson_t* doc, const char* path);
int64_t int64_field(const bson_t* doc, const char* path);

// Every document a cursor yields, copied; throws on a cursor error.
std::vector<Bson> drain(mongoc_cursor_t* cursor, const std::string& where, const std::string& doing);

}  // namespace decant::mongo

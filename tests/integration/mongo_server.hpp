#pragma once
// Test harness: a real MongoDB wire-protocol server (FerretDB 1.24 on its SQLite
// backend) on a temporary directory and a free loopback port, started for a test and
// stopped after it.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace decant::test {

std::string ferretdb_binary();  // $FERRETDB or build/tools/ferretdb

// Inserts JSON documents into db.collection of the MongoDB at `uri`; its documents (their
// bytes in hex), sorted (a pod's server, in the real-node tests).
void insert_documents(const std::string& uri, const std::string& db, const std::string& collection,
                      const std::vector<std::string>& json_docs);
std::vector<std::string> sorted_documents(const std::string& uri, const std::string& db, const std::string& collection);

class FerretDb {
 public:
  struct Options {
    std::string user;      // with a user: authentication on (SCRAM), user created in admin
    std::string password;
    bool tls = false;  // TLS only, with a self-signed certificate for 127.0.0.1
    std::string host = "127.0.0.1";  // the address it listens on (not with tls)
  };
  explicit FerretDb(Options options);
  FerretDb() : FerretDb(Options{}) {}
  ~FerretDb();
  FerretDb(const FerretDb&) = delete;
  FerretDb& operator=(const FerretDb&) = delete;

  int port() const { return port_; }
  // mongodb://[user:password@]HOST:port/ (+ authSource=admin with a user)
  std::string uri() const;
  std::filesystem::path certificate() const { return dir_ / "server.crt"; }

  // Runs a command given as extended JSON; returns the reply as canonical JSON.
  std::string command(const std::string& db, const std::string& json) const;
  void insert(const std::string& db, const std::string& collection, const std::vector<std::string>& json_docs) const;
  // Every document's raw bytes (hex), sorted: equal on two servers iff byte for byte equal.
  std::vector<std::string> documents(const std::string& db, const std::string& collection) const;
  // Documents' raw bytes (hex) in the order a plain find returns them.
  std::vector<std::string> natural_order(const std::string& db, const std::string& collection) const;
  // Index specs (the _id index too) as canonical JSON without "v"/"ns", sorted.
  std::vector<std::string> indexes(const std::string& db, const std::string& collection) const;
  std::vector<std::string> collections(const std::string& db) const;

 private:
  std::filesystem::path dir_;
  Options options_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace decant::test

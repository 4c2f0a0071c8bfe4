#include "mongo_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "mongo/catalog.hpp"
#include "mongo/client.hpp"
#include "mongo/document_stream.hpp"
#include "process/process.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ferretdb_binary() {
  const char* b = std::getenv("FERRETDB");
  return b && *b ? b : FERRETDB_DEFAULT;
}

namespace {
bool port_open(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

struct Client {
  explicit Client(const std::string& uri) : parsed(mongo::Uri::parse(uri, "test")), pool(parsed) {}
  mongo::Uri parsed;
  mongo::ClientPool pool;
};
}  // namespace

FerretDb::FerretDb(Options options) : options_(std::move(options)) {
  dir_ = make_temp_dir("decant-ferretdb");
  fs::create_directories(dir_ / "data");
  port_ = free_port();
  std::string listen = "--listen-addr=" + options_.host + ":" + std::to_string(port_);
  if (options_.tls) {
    auto r = run_process({{"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                           "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                           (dir_ / "server.key").string(), "-out", (dir_ / "server.crt").string()},
                          {},
                          {}});
    if (r.exit_status != 0) throw std::runtime_error("openssl: " + r.errors);
    listen = "--listen-addr=";
  }
  std::vector<std::string> args{ferretdb_binary(),
                                "--handler=sqlite",
                                "--sqlite-url=file:" + (dir_ / "data").string() + "/",
                                listen,
                                "--debug-addr=-",  // no metrics listener: one port less to collide
                                "--state-dir=" + dir_.string(),
                                "--telemetry=disable",
                                "--log-level=error"};
  if (options_.tls) {
    args.push_back("--listen-tls=127.0.0.1:" + std::to_string(port_));
    args.push_back("--listen-tls-cert-file=" + (dir_ / "server.crt").string());
    args.push_back("--listen-tls-key-file=" + (dir_ / "server.key").string());
  }
  if (!options_.user.empty()) {
    args.push_back("--test-enable-new-auth");
    args.push_back("--setup-database=admin");
    args.push_back("--setup-username=" + options_.user);
    args.push_back("--setup-password=" + options_.password);
  }
  if (spawn_to_files(pid_, args, dir_ / "ferretdb.log", dir_ / "ferretdb.log") != 0)
    throw std::runtime_error("cannot start " + args[0] + " (run scripts/install-ferretdb.sh)");
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!port_open(options_.host, port_)) {
    if (std::chrono::steady_clock::now() > deadline || ::waitpid(pid_, nullptr, WNOHANG) == pid_)
      throw std::runtime_error("FerretDB did not start: " + read_file(dir_ / "ferretdb.log"));
    std::this_thread::sleep_for(20ms);
  }
}

FerretDb::~FerretDb() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string FerretDb::uri() const {
  std::string auth = options_.user.empty() ? "" : options_.user + ":" + options_.password + "@";
  std::string query;
  if (!options_.user.empty()) query += "&authSource=admin";
  if (options_.tls) query += "&tls=true&tlsCAFile=" + certificate().string();
  if (!query.empty()) query[0] = '?';
  return "mongodb://" + auth + options_.host + ":" + std::to_string(port_) + "/" + query;
}

std::string FerretDb::command(const std::string& db, const std::string& json) const {
  Client c(uri());
  auto lease = c.pool.acquire();
  return mongo::run_command(lease.get(), db, mongo::Bson::from_json(json), "test server").json();
}

void insert_documents(const std::string& uri, const std::string& db, const std::string& collection,
                      const std::vector<std::string>& json_docs) {
  Client c(uri);
  auto lease = c.pool.acquire();
  mongo::InsertSink sink(lease.get(), db, collection, "test server");
  for (const auto& j : json_docs) sink.write(mongo::Bson::from_json(j).bytes());
  if (sink.finish() != json_docs.size()) throw std::runtime_error("insert lost documents");
}

// The collection's documents (their bytes in hex) in the server's natural order.
std::vector<std::string> natural_order_at(const std::string& uri, const std::string& db, const std::string& collection) {
  Client c(uri);
  auto lease = c.pool.acquire();
  mongo::FindSource source(lease.get(), db, collection, "test server");
  std::vector<std::string> out;
  std::string_view row;
  while (source.next(row)) out.push_back(hex(row));
  return out;
}

std::vector<std::string> sorted_documents(const std::string& uri, const std::string& db, const std::string& collection) {
  auto out = natural_order_at(uri, db, collection);
  std::sort(out.begin(), out.end());
  return out;
}

void FerretDb::insert(const std::string& db, const std::string& collection,
                      const std::vector<std::string>& json_docs) const {
  insert_documents(uri(), db, collection, json_docs);
}

std::vector<std::string> FerretDb::documents(const std::string& db, const std::string& collection) const {
  return sorted_documents(uri(), db, collection);
}

std::vector<std::string> FerretDb::indexes(const std::string& db, const std::string& collection) const {
  Client c(uri());
  auto lease = c.pool.acquire();
  // Its own strict form, not decant's normalized fingerprint: the spec as the server
  // lists it, but for the fields that name the server.
  std::vector<std::string> out;
  for (const auto& spec : mongo::list_index_specs(lease.get(), db, collection, "test server")) {
    mongo::Bson portable;
    bson_copy_to_excluding_noinit(spec.get(), portable.get(), "v", "ns", nullptr);
    out.push_back(portable.json());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> FerretDb::natural_order(const std::string& db, const std::string& collection) const {
  return natural_order_at(uri(), db, collection);
}

std::vector<std::string> FerretDb::collections(const std::string& db) const {
  Client c(uri());
  auto lease = c.pool.acquire();
  std::vector<std::string> out;
  for (const auto& info : mongo::list_collections(lease.get(), db, "test server"))
    out.push_back(info.name + (info.is_view ? " (view) " : " ") + info.options.json());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace decant::test

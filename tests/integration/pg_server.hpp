#pragma once
// Test harness: real PostgreSQL 15 servers on temporary directories and free loopback
// ports, started for a test and stopped after it; and decant run as a real process.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "ports.hpp"

namespace decant::test {

std::string pg_bin_dir();  // $PG_BIN or /usr/lib/postgresql/15/bin
// Where the servers of other majors live: $DECANT_PG_CACHE or /var/cache/decant/pg
// (scripts/install-pg-versions.sh), <major>/bin; the 17 client tools in 17-client/bin.
std::string pg_cache_dir();
// The server programs (initdb, pg_ctl) of `major`: Debian's for 15, the cache's otherwise.
std::string server_bin_dir(int major);
// pg_dump/pg_dumpall/psql able to read a server of `major`: Debian's 15, or the 17 client.
std::string client_bin_dir(int major);
// True when the server programs of `major` are installed.
bool server_available(int major);
std::filesystem::path make_temp_dir(const std::string& prefix);

// A test's scratch directory (make_temp_dir), removed with all it holds when it goes out of
// scope, whether the test passed or not. A path itself, so `dir / "state"` reads as before.
class ScratchDir : public std::filesystem::path {
 public:
  explicit ScratchDir(const std::string& prefix) : std::filesystem::path(make_temp_dir(prefix)) {}
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

class PgServer {
 public:
  struct Options {
    bool password_auth = false;  // scram-sha-256 for every user but postgres
    bool tls_only = false;       // a self-signed certificate for localhost; no plain TCP
    int major = 15;              // 15: Debian's server; 12, 13, 14, 16, 17: from pg_cache_dir()
    // Extension files its installation offers besides the packaged ones (see
    // pg_installation.hpp): extension_bundle(...) or write_extension(...) directories.
    std::vector<std::filesystem::path> extensions = {};
    bool tls = false;  // a self-signed certificate for localhost; plain TCP too (unless tls_only)
    // ssl_min_protocol_version / ssl_max_protocol_version ("TLSv1.2"), when set.
    std::string tls_min_protocol = {}, tls_max_protocol = {};
    // A pod network (TestCluster::kPodNetwork) whose gateway address the server also listens
    // on: password logins from that network's pods, none from the gateway itself, which is
    // this machine (its loopback stays the harness's).
    std::string pod_network = {}, pod_gateway = {};
  };
  explicit PgServer(Options options);
  PgServer() : PgServer(Options{}) {}
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  int major() const { return major_; }
  // The directory of its Unix-domain socket (a libpq "host" that is a path).
  std::string socket_dir() const { return dir_.string(); }
  std::string conninfo(const std::string& db = "postgres", const std::string& user = "postgres") const;
  std::string uri(const std::string& db = "postgres", const std::string& user = "postgres") const;

  // Runs SQL (several statements allowed) through libpq; throws std::runtime_error.
  void exec(const std::string& sql, const std::string& db = "postgres") const;
  std::vector<std::vector<std::optional<std::string>>> query(const std::string& sql,
                                                             const std::string& db = "postgres") const;
  std::string value(const std::string& sql, const std::string& db = "postgres") const;
  bool database_exists(const std::string& db) const;
  // The server's self-signed certificate (with tls_only), to use as sslrootcert.
  std::filesystem::path certificate() const { return dir_ / "server.crt"; }

 private:
  std::filesystem::path dir_;
  std::string bin_dir_;
  int port_ = 0;
  int major_ = 15;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// An exit code as a test compares it: code_of(ExitCode::same_server).
constexpr int code_of(ExitCode code) { return static_cast<int>(code); }

// The command `args` runs, as its declaration names it ("backup create"); empty for none.
std::string command_of(const std::vector<std::string>& args);
// Fails the running test when decant ran with `args` exited with a code its command does
// not declare (src/cli/*_command.cpp). A signal's 128 + N is not decant's.
void expect_declared(const std::vector<std::string>& args, int exit_code, const std::string& err);

// Runs the decant binary under test with `args`; its exit code is checked with expect_declared.
RunResult run_decant(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});

// A decant process running in the background, its output going to files.
class BackgroundDecant {
 public:
  BackgroundDecant(const std::vector<std::string>& args, const std::filesystem::path& out_dir,
                   const std::map<std::string, std::string>& env = {});
  ~BackgroundDecant();
  pid_t pid() const { return pid_; }
  void kill(int signal);
  int wait();  // exit code (checked with expect_declared), or 128 + signal
  bool running();
  std::string out() const;
  std::string err() const;

 private:
  pid_t pid_ = -1;
  std::vector<std::string> args_;
  std::filesystem::path out_dir_;
  bool reaped_ = false;
  bool checked_ = false;
  int status_ = 0;
};

// Starts `argv` (argv[0]: a path) with its stdout to the file `out` and its stderr to `err`
// (both to it when they are the same file), and `env` added to this process's environment:
// posix_spawn's result, 0 when it started (its pid in `pid`).
int spawn_to_files(pid_t& pid, const std::vector<std::string>& argv, const std::filesystem::path& out,
                   const std::filesystem::path& err, const std::map<std::string, std::string>& env = {});

std::string read_file(const std::filesystem::path& path);
// The keys of the steps a resume journal (<state dir>/journal) records, in order.
std::vector<std::string> journal_keys(const std::filesystem::path& state_dir);

}  // namespace decant::test

#include "pg_server.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "cli/commands.hpp"
#include "process/process.hpp"
#include "pg_installation.hpp"

extern char** environ;

namespace decant::test {
namespace fs = std::filesystem;

namespace {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

bool running_as_root() { return geteuid() == 0; }

// initdb and postgres refuse to run as root: run them as the postgres user then.
std::vector<std::string> as_server_user(std::vector<std::string> argv) {
  if (!running_as_root()) return argv;
  argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return argv;
}

void chown_to_server_user(const fs::path& p) {
  if (!running_as_root()) return;
  if (passwd* pw = getpwnam("postgres")) {
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown " + p.string());
  }
}

void run_checked(const std::vector<std::string>& argv) {
  auto r = run_process({argv, {}, std::nullopt});
  if (r.exit_status != 0) throw std::runtime_error(argv[0] + " failed: " + r.errors + r.output);
}

// A fresh data directory of `major`, as initdb leaves it. initdb takes over a second and a
// copy of its output a third of that; a test process starts dozens of servers, so it runs
// initdb once per major and copies the result for every server.
class InitdbTemplates {
 public:
  ~InitdbTemplates() {
    std::error_code ec;
    for (const auto& [major, dir] : dirs_) fs::remove_all(dir, ec);
  }
  void make_data_dir(int major, const fs::path& data) {
    std::lock_guard lock(mutex_);
    auto it = dirs_.find(major);
    if (it == dirs_.end()) {
      fs::path dir = make_temp_dir("decant-initdb-" + std::to_string(major));
      chown_to_server_user(dir);
      run_checked(as_server_user({server_bin_dir(major) + "/initdb", "-D", (dir / "data").string(), "-U", "postgres",
                                  "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"}));
      it = dirs_.emplace(major, dir).first;
    }
    // cp -a keeps the server user's ownership and the 0700 the server insists on.
    run_checked({"cp", "-a", (it->second / "data").string(), data.string()});
  }

 private:
  std::mutex mutex_;
  std::map<int, fs::path> dirs_;
};

InitdbTemplates& initdb_templates() {
  static InitdbTemplates templates;
  return templates;
}

}  // namespace

std::string pg_bin_dir() {
  const char* dir = std::getenv("PG_BIN");
  return dir && *dir ? dir : "/usr/lib/postgresql/15/bin";
}

std::string pg_cache_dir() {
  const char* dir = std::getenv("DECANT_PG_CACHE");
  return dir && *dir ? dir : "/var/cache/decant/pg";
}

std::string server_bin_dir(int major) {
  return major == 15 ? pg_bin_dir() : pg_cache_dir() + "/" + std::to_string(major) + "/bin";
}

std::string client_bin_dir(int major) { return major <= 15 ? pg_bin_dir() : pg_cache_dir() + "/17-client/bin"; }

bool server_available(int major) { return fs::exists(server_bin_dir(major) + "/initdb"); }

fs::path make_temp_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + ".XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
  return tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(*this, ec);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> journal_keys(const fs::path& state_dir) {
  std::vector<std::string> keys;
  std::istringstream in(read_file(state_dir / "journal"));
  std::string line;
  std::getline(in, line);  // the header: which run the journal belongs to
  while (std::getline(in, line)) {
    auto step = nlohmann::json::parse(line, nullptr, false);
    if (step.is_object() && step.contains("k") && step["k"].is_string()) keys.push_back(step["k"]);
  }
  return keys;
}

PgServer::PgServer(Options options) : major_(options.major) {
  if (!server_available(major_))
    throw std::runtime_error("no PostgreSQL " + std::to_string(major_) + " server in " + server_bin_dir(major_) +
                             ": run scripts/install-pg-versions.sh");
  for (const auto& e : options.extensions)
    if (e.empty()) throw std::runtime_error("an extension bundle is not installed: run scripts/install-pg-extensions.sh");
  bin_dir_ = installation_bin_dir(major_, options.extensions);
  bool tls = options.tls || options.tls_only;
  dir_ = make_temp_dir("decant-pg");
  chown_to_server_user(dir_);
  port_ = free_port();
  fs::path data = dir_ / "data";
  initdb_templates().make_data_dir(major_, data);
  if (tls) {
    run_checked({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost", "-keyout", (data / "server.key").string(), "-out",
                 (data / "server.crt").string()});
    fs::permissions(data / "server.key", fs::perms::owner_read | fs::perms::owner_write);
    chown_to_server_user(data / "server.key");
    chown_to_server_user(data / "server.crt");
    fs::copy_file(data / "server.crt", dir_ / "server.crt");
  }
  {
    std::ofstream hba(data / "pg_hba.conf");
    hba << "local all all trust\n";
    if (!options.pod_network.empty())
      hba << "host all all " << options.pod_gateway << "/32 reject\nhost all all " << options.pod_network
          << " scram-sha-256\n";
    if (options.tls_only) {
      hba << "hostssl all all 127.0.0.1/32 trust\n";
    } else if (options.password_auth) {
      hba << "host all postgres 127.0.0.1/32 trust\n";
      hba << "host all all 127.0.0.1/32 scram-sha-256\n";
    } else {
      hba << "host all all 127.0.0.1/32 trust\n";
    }
  }
  {
    std::ofstream conf(data / "postgresql.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1" << (options.pod_gateway.empty() ? "" : "," + options.pod_gateway)
         << "'\nport = " << port_ << "\nunix_socket_directories = '" << dir_.string()
         << "'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 128MB\n"
         << "max_connections = 100\nlog_min_messages = warning\nmax_wal_size = 2GB\n";
    if (tls) conf << "ssl = on\n";
    if (!options.tls_min_protocol.empty()) conf << "ssl_min_protocol_version = '" << options.tls_min_protocol << "'\n";
    if (!options.tls_max_protocol.empty()) conf << "ssl_max_protocol_version = '" << options.tls_max_protocol << "'\n";
  }
  run_checked(as_server_user(
      {bin_dir_ + "/pg_ctl", "-D", data.string(), "-w", "-t", "60", "-l", (dir_ / "server.log").string(), "start"}));
}

PgServer::~PgServer() {
  try {
    run_process({as_server_user({bin_dir_ + "/pg_ctl", "-D", (dir_ / "data").string(), "-m", "immediate", "-w",
                                 "stop"}),
                 {},
                 std::nullopt});
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgServer::conninfo(const std::string& db, const std::string& user) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user='" + user + "' dbname='" + db + "'";
}

std::string PgServer::uri(const std::string& db, const std::string& user) const {
  return "postgresql://" + user + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::vector<std::vector<std::optional<std::string>>> PgServer::query(const std::string& sql,
                                                                     const std::string& db) const {
  std::unique_ptr<PGconn, ConnDeleter> conn(PQconnectdb(conninfo(db).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, ResultDeleter> res(PQexec(conn.get(), sql.c_str()));
  auto st = PQresultStatus(res.get());
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
    throw std::runtime_error(std::string(PQresultErrorMessage(res.get())) + " in: " + sql.substr(0, 200));
  std::vector<std::vector<std::optional<std::string>>> rows;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    std::vector<std::optional<std::string>> row;
    for (int c = 0; c < PQnfields(res.get()); ++c)
      row.push_back(PQgetisnull(res.get(), r, c) ? std::nullopt
                                                 : std::optional<std::string>(PQgetvalue(res.get(), r, c)));
    rows.push_back(std::move(row));
  }
  return rows;
}

void PgServer::exec(const std::string& sql, const std::string& db) const { query(sql, db); }

std::string PgServer::value(const std::string& sql, const std::string& db) const {
  auto rows = query(sql, db);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return "";
  return *rows[0][0];
}

bool PgServer::database_exists(const std::string& db) const {
  return value("SELECT count(*) FROM pg_database WHERE datname = '" + db + "'") == "1";
}

std::string command_of(const std::vector<std::string>& args) {
  std::string command;
  for (const auto& a : args) {
    if (a.empty() || a[0] == '-') {
      if (command.empty()) continue;  // -v before the command
      break;
    }
    command += command.empty() ? a : " " + a;
    if (a != "pg" && a != "mongo" && a != "backup") break;
  }
  return command;
}

void expect_declared(const std::vector<std::string>& args, int exit_code, const std::string& err) {
  if (exit_code >= 128 || exit_code < 0) return;
  std::string command = command_of(args);
  const CommandExitCodes* declared = cli::command_exit_codes(command);
  if (!declared) return;  // no such command: CLI11 refused it (2)
  if (declared->codes.contains(exit_code)) return;
  ADD_FAILURE() << "decant " << command << " exited " << exit_code << " ("
                << (exit_code < static_cast<int>(exit_codes().size()) ? exit_code_name(static_cast<ExitCode>(exit_code))
                                                                     : "not in the table")
                << "), which it does not declare (src/cli): " << err;
}

RunResult run_decant(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  ProcessSpec spec;
  spec.argv = {DECANT_BINARY};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.extra_env = env;
  auto r = run_process(spec);
  expect_declared(args, r.exit_status, r.errors);
  return {r.exit_status, r.output, r.errors};
}

BackgroundDecant::BackgroundDecant(const std::vector<std::string>& args, const fs::path& out_dir,
                                   const std::map<std::string, std::string>& env)
    : args_(args), out_dir_(out_dir) {
  std::vector<std::string> argv{DECANT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  if (spawn_to_files(pid_, argv, out_dir / "stdout", out_dir / "stderr", env) != 0)
    throw std::runtime_error("cannot start decant");
}

int spawn_to_files(pid_t& pid, const std::vector<std::string>& argv, const fs::path& out, const fs::path& err,
                   const std::map<std::string, std::string>& env) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> cenv;
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err == out)
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  else
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

BackgroundDecant::~BackgroundDecant() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
}

void BackgroundDecant::kill(int signal) { ::kill(pid_, signal); }

bool BackgroundDecant::running() {
  if (reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = status;
    return false;
  }
  return true;
}

int BackgroundDecant::wait() {
  if (!reaped_) {
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  int code = WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  if (!checked_) expect_declared(args_, code, err());
  checked_ = true;
  return code;
}

std::string BackgroundDecant::out() const { return read_file(out_dir_ / "stdout"); }
std::string BackgroundDecant::err() const { return read_file(out_dir_ / "stderr"); }

}  // namespace decant::test

#include "pg_installation.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "process/process.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace fs = std::filesystem;

namespace {

void make_readable_dir(const fs::path& dir) {
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                           fs::perms::others_exec);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

class Installations {
 public:
  ~Installations() {
    std::error_code ec;
    for (const auto& [key, dir] : roots_) fs::remove_all(dir, ec);
    for (const auto& dir : written_) fs::remove_all(dir, ec);
  }

  std::string bin_dir(int major, const std::vector<fs::path>& extension_dirs) {
    if (extension_dirs.empty()) return server_bin_dir(major);
    std::string key = std::to_string(major);
    for (const auto& d : extension_dirs) key += "|" + d.string();
    std::lock_guard lock(mutex_);
    auto it = roots_.find(key);
    if (it == roots_.end()) it = roots_.emplace(key, make(major, extension_dirs)).first;
    return (it->second / (major == 15 ? fs::path("lib/postgresql/15/bin") : fs::path("bin"))).string();
  }

  fs::path remember(fs::path dir) {
    std::lock_guard lock(mutex_);
    written_.push_back(dir);
    return dir;
  }

 private:
  // scripts/pg-installation.sh makes it (the demo's servers use it too).
  static fs::path make(int major, const std::vector<fs::path>& extension_dirs) {
    fs::path root = make_temp_dir("decant-pg-install-" + std::to_string(major));
    make_readable_dir(root);
    std::vector<std::string> argv{"bash", std::string(DECANT_SOURCE_DIR) + "/scripts/pg-installation.sh",
                                  std::to_string(major), root.string()};
    for (const auto& d : extension_dirs) argv.push_back(d.string());
    auto r = run_process({argv, {{"DECANT_PG_CACHE", pg_cache_dir()}}, std::nullopt});
    if (r.exit_status != 0) throw std::runtime_error("pg-installation.sh failed: " + r.errors);
    return root;
  }

  std::mutex mutex_;
  std::map<std::string, fs::path> roots_;
  std::vector<fs::path> written_;
};

Installations& installations() {
  static Installations all;
  return all;
}

}  // namespace

fs::path extension_bundle(const std::string& name, const std::string& version) {
  fs::path dir = fs::path(pg_cache_dir()) / "extensions" / (name + "-" + version);
  return fs::exists(dir / (name + ".control")) ? dir : fs::path();
}

fs::path write_extension(const std::string& name, const std::string& default_version,
                         const std::vector<ExtensionVersion>& versions) {
  fs::path dir = installations().remember(make_temp_dir("decant-ext-" + name));
  make_readable_dir(dir);
  write_text(dir / (name + ".control"), "default_version = '" + default_version + "'\ncomment = 'decant test extension " +
                                            name + "'\nrelocatable = false\nschema = public\n");
  for (const auto& v : versions) {
    if (!v.install_sql.empty()) write_text(dir / (name + "--" + v.version + ".sql"), v.install_sql);
    if (!v.update_from.empty())
      write_text(dir / (name + "--" + v.update_from + "--" + v.version + ".sql"), v.update_sql);
  }
  return dir;
}

std::string installation_bin_dir(int major, const std::vector<fs::path>& extension_dirs) {
  return installations().bin_dir(major, extension_dirs);
}

}  // namespace decant::test

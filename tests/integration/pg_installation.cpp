#include "pg_installation.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "pg_server.hpp"

namespace decant::test {
namespace fs = std::filesystem;

namespace {

// Where a packaged installation keeps its server programs, shared files and modules,
// relative to one prefix: the server finds the other two from its own path.
struct Layout {
  fs::path prefix;
  fs::path bin, share, lib;
};

Layout packaged_layout(int major) {
  fs::path bin = server_bin_dir(major);
  if (major == 15) {  // Debian: /usr/lib/postgresql/15/bin, /usr/share/postgresql/15, /usr/lib/postgresql/15/lib
    fs::path tail = "lib/postgresql/15/bin";
    std::string b = bin.lexically_normal().string();
    if (b.size() <= tail.string().size() || b.compare(b.size() - tail.string().size(), std::string::npos, tail.string()) != 0)
      throw std::runtime_error("PG_BIN " + b + " is not laid out as Debian's: cannot add extensions to it");
    return {fs::path(b.substr(0, b.size() - tail.string().size())), tail, "share/postgresql/15", "lib/postgresql/15/lib"};
  }
  return {bin.parent_path(), "bin", "share/postgresql", "lib"};
}

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

// "pg_partman.control" -> "pg_partman"; "" for any other file.
std::string control_of(const fs::path& file) {
  return file.extension() == ".control" && file.stem().string().find("--") == std::string::npos ? file.stem().string()
                                                                                                : "";
}

// The extension a script or secondary control file belongs to ("pg_partman--4.5.1.sql").
std::string extension_of(const fs::path& file) {
  std::string name = file.filename().string();
  auto dashes = name.find("--");
  if (dashes != std::string::npos) return name.substr(0, dashes);
  return control_of(file);
}

std::string default_version_in(const std::string& control) {
  std::istringstream in(control);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("default_version", 0) != 0) continue;
    auto open = line.find('\''), close = line.rfind('\'');
    if (open != std::string::npos && close > open) return line.substr(open + 1, close - open - 1);
  }
  return "";
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
    auto layout = packaged_layout(major);
    auto it = roots_.find(key);
    if (it == roots_.end()) it = roots_.emplace(key, make(major, layout, extension_dirs)).first;
    return (it->second / layout.bin).string();
  }

  fs::path remember(fs::path dir) {
    std::lock_guard lock(mutex_);
    written_.push_back(dir);
    return dir;
  }

 private:
  static fs::path make(int major, const Layout& from, const std::vector<fs::path>& extension_dirs) {
    fs::path root = make_temp_dir("decant-pg-install-" + std::to_string(major));
    make_readable_dir(root);
    // Server programs: hard links (a symbolic link would lead the server back to the
    // packaged share/), or copies across file systems.
    make_readable_dir(root / from.bin);
    for (const auto& e : fs::directory_iterator(from.prefix / from.bin)) {
      if (!e.is_regular_file()) continue;
      std::error_code ec;
      fs::create_hard_link(e.path(), root / from.bin / e.path().filename(), ec);
      if (ec) fs::copy_file(e.path(), root / from.bin / e.path().filename());
    }
    make_readable_dir((root / from.lib).parent_path());
    fs::create_directory_symlink(from.prefix / from.lib, root / from.lib);
    make_readable_dir(root / from.share / "extension");
    for (const auto& e : fs::directory_iterator(from.prefix / from.share))
      if (e.path().filename() != "extension") fs::create_symlink(e.path(), root / from.share / e.path().filename());

    // The extensions the directories bring replace the packaged ones of the same name.
    std::map<std::string, std::vector<std::string>> controls;  // extension -> control texts, last = default
    std::map<fs::path, fs::path> files;                          // file name -> where it comes from
    for (const auto& dir : extension_dirs)
      for (const auto& e : fs::directory_iterator(dir))
        if (std::string ext = control_of(e.path()); !ext.empty()) controls[ext];
    for (const auto& e : fs::directory_iterator(from.prefix / from.share / "extension"))
      if (!controls.count(extension_of(e.path()))) files[e.path().filename()] = e.path();
    for (const auto& dir : extension_dirs) {
      for (const auto& e : fs::directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        if (std::string ext = control_of(e.path()); !ext.empty())
          controls[ext].push_back(read_file(e.path()));
        else
          files[e.path().filename()] = e.path();
      }
    }
    fs::path ext_dir = root / from.share / "extension";
    for (const auto& [name, source] : files) fs::create_symlink(source, ext_dir / name);
    for (const auto& [ext, texts] : controls) {
      write_text(ext_dir / (ext + ".control"), texts.back());
      // The other directories' default versions stay installable: a secondary control
      // file per version, which may not name a default version or a directory.
      for (size_t i = 0; i + 1 < texts.size(); ++i) {
        std::string version = default_version_in(texts[i]), kept;
        std::istringstream in(texts[i]);
        for (std::string line; std::getline(in, line);)
          if (line.rfind("default_version", 0) != 0 && line.rfind("directory", 0) != 0) kept += line + "\n";
        if (!version.empty() && version != default_version_in(texts.back()))
          write_text(ext_dir / (ext + "--" + version + ".control"), kept);
      }
    }
    (void)major;
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

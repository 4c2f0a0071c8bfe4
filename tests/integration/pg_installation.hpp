#pragma once
// Test harness: PostgreSQL installations that offer extensions their packages do not, so
// that a test can give a source and a target different versions of one extension, as two
// real servers of an operator have: scripts/pg-installation.sh makes them.
#include <filesystem>
#include <string>
#include <vector>

namespace decant::test {

// A bundle of scripts/install-pg-extensions.sh ("pg_partman", "4.5.1"): a directory of
// extension files. Empty when it is not installed.
std::filesystem::path extension_bundle(const std::string& name, const std::string& version);

// One version of an extension written by a test: its install script (and an update
// script from `update_from`, when set).
struct ExtensionVersion {
  std::string version;
  std::string install_sql;
  std::string update_from;
  std::string update_sql;
};
// Writes extension `name`'s control file (default `default_version`) and scripts into a new
// directory (removed at exit) and returns it.
std::filesystem::path write_extension(const std::string& name, const std::string& default_version,
                                      const std::vector<ExtensionVersion>& versions);

// The server programs' directory of an installation of `major` that offers, besides its
// packaged extensions, the files of `extension_dirs`. Where several directories hold a
// control file of one extension, the last one's is the default and the others' versions
// stay installable (as secondary control files). Made once per process and set of
// directories; removed at exit. With no directories: the packaged installation.
std::string installation_bin_dir(int major, const std::vector<std::filesystem::path>& extension_dirs);

}  // namespace decant::test

// What the loader tests share: copying fixtures into a plugin directory,
// scanning it, and checking a refusal's state and message.
#pragma once

#include "plugins/plugin_loader.h"
#include "temp_dir.h"

#include <doctest/doctest.h>

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using tails_server::core::PluginLoader;
using tails_server::core::PluginRecord;
using tails_server::core::PluginState;
using tails_server::test::TempDir;

inline const fs::path kFixtureDir = TAILS_SERVER_FIXTURE_DIR;

// Copies fixture `file_name` into `directory` with mode 0644, so that the
// tests do not depend on the umask the fixtures were built with.
inline fs::path copy_fixture(const std::string& file_name, const fs::path& directory,
                      const std::string& as = {}) {
  fs::path target = directory / (as.empty() ? file_name : as);
  fs::copy_file(kFixtureDir / file_name, target, fs::copy_options::overwrite_existing);
  fs::permissions(target, fs::perms(0644));
  return target;
}

// A temporary plugin directory holding copies of some fixtures, scanned once.
struct Scan {
  TempDir dir{"tails-server-loader-test"};
  PluginLoader loader;

  explicit Scan(const std::vector<std::string>& fixtures) {
    for (const auto& fixture : fixtures) copy_fixture(fixture, dir.path());
    loader.load({dir.path()});
  }
  const PluginRecord& only() const {
    REQUIRE(loader.records().size() == 1);
    return loader.records().front();
  }
  const PluginRecord& record(const std::string& file_name) const {
    for (const auto& record : loader.records())
      if (record.file.filename() == file_name) return record;
    FAIL("no record for " << file_name);
    throw std::logic_error("unreachable");
  }
};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Checks a refusal: its state, that its message names the file, and that it
// holds each of `parts`.
inline void check_refused(const PluginRecord& record, PluginState state,
                   const std::vector<std::string>& parts) {
  INFO("file: " << record.file.string());
  INFO("message: " << record.message);
  CHECK(to_string(record.state) == to_string(state));
  CHECK_FALSE(record.service);
  CHECK(contains(record.message, "'" + record.file.string() + "'"));
  for (const auto& part : parts) CHECK_MESSAGE(contains(record.message, part), "missing: " << part);
}

// Whether the library at `file` is mapped in this process now.
inline bool is_resident(const fs::path& file) {
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!handle) return false;
  dlclose(handle);
  return true;
}

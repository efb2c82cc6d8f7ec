// The Host the core lends to plugins, doing real work on this system.
#pragma once

#include <tails_server/host.h>

#include <filesystem>
#include <string>

namespace tails_server::core {

class SystemHost : public Host {
 public:
  // `root` is "/" in production; tests pass a temporary directory, and every
  // system path a plugin names lies under it.
  explicit SystemHost(std::filesystem::path root = "/");

  std::filesystem::path path(std::string_view absolute) const override;
  void write_file(std::string_view file, std::string_view content, const FileSpec& spec) override;
  void make_directory(std::string_view directory, const FileSpec& spec) override;
  void remove_file(std::string_view file) override;
  std::optional<std::string> read_file(std::string_view file, std::size_t max_bytes) override;
  bool exists(std::string_view path) const override;
  bool user_exists(std::string_view user) const override;
  bool group_exists(std::string_view group) const override;
  RunResult run(const std::vector<std::string>& argv, const RunOptions& options) override;
  std::string random_password(std::size_t length) override;
  void log(LogLevel level, std::string_view message) override;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

// Random bytes from the kernel (getrandom). Throws HostError.
std::string random_bytes(std::size_t count);

}  // namespace tails_server::core

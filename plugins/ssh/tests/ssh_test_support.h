// What the ssh plugin's tests share: a temporary root sshd accepts (not
// below /tmp), the core's ServiceManager on it with the built plugin, keys
// made with ssh-keygen, and the admin account removed again if a test made it.
#pragma once

#include "service_process.h"
#include "temp_dir.h"

#include "config/daemon_config.h"
#include "host/system_host.h"
#include "services/service_manager.h"

#include <filesystem>
#include <memory>
#include <string>

namespace ssh_test {

inline constexpr const char* admin_user = "tails-server-admin";

std::string read_text(const std::filesystem::path& file);
unsigned mode_of(const std::filesystem::path& file);

// A key pair made by ssh-keygen: `private_key` and `private_key`.pub.
struct KeyPair {
  std::filesystem::path private_key;
  std::string public_line;  // the .pub file's contents
};
KeyPair make_key(const std::filesystem::path& directory, const std::string& name, const std::string& type = "ed25519");

class Fixture {
 public:
  Fixture();
  ~Fixture();
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  std::filesystem::path root() const { return tmp_->path(); }
  tails_server::core::ServiceManager& manager() { return *manager_; }
  std::string run(const std::string& command, const std::vector<std::string>& arguments,
                  const std::string& secret = "") {
    return manager_->run_command("ssh", command, arguments, secret);
  }

 private:
  bool user_existed_;
  bool privsep_existed_;
  std::unique_ptr<tails_server::test::TempDir> tmp_;
  std::unique_ptr<tails_server::core::SystemHost> host_;
  std::unique_ptr<tails_server::core::ServiceManager> manager_;
};

}  // namespace ssh_test

#include "ssh_test_support.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace ssh_test {

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

unsigned mode_of(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

KeyPair make_key(const fs::path& directory, const std::string& name, const std::string& type) {
  KeyPair pair{directory / name, {}};
  auto result = tails_server::test::run_program(
      {"ssh-keygen", "-q", "-t", type, "-N", "", "-C", name + "@elsewhere", "-f", pair.private_key.string()}, "",
      60s);
  if (result.exit_code != 0) throw std::runtime_error("ssh-keygen failed: " + result.output);
  pair.public_line = read_text(pair.private_key.string() + ".pub");
  return pair;
}

Fixture::Fixture()
    : user_existed_(::getpwnam(admin_user) != nullptr), privsep_existed_(fs::exists("/run/sshd")) {
  ::setenv("TMPDIR", TAILS_SERVER_SSH_TEST_TMP, 1);
  tmp_ = std::make_unique<tails_server::test::TempDir>("tails-server-ssh-test-root");
  fs::create_directory(tmp_->path() / "etc");  // exists on every real system
  // sshd -t needs its privilege separation directory, compiled in as
  // /run/sshd. Left in place: the package's own unit makes it the same way.
  if (!privsep_existed_) fs::create_directory("/run/sshd");
  host_ = std::make_unique<tails_server::core::SystemHost>(tmp_->path());
  tails_server::core::DaemonConfig config;
  config.plugin_dirs = {TAILS_SERVER_PLUGIN_OUTPUT_DIR};
  config.root = tmp_->path();
  config.state_dir = tmp_->path() / "state";
  manager_ = std::make_unique<tails_server::core::ServiceManager>(config, *host_);
}

Fixture::~Fixture() {
  if (!user_existed_ && ::getpwnam(admin_user)) tails_server::test::run_program({"userdel", admin_user}, "", 30s);
}

}  // namespace ssh_test

// The temporary policy-rc.d, on a path in a temporary directory.
#include "apt/policy_rc_d.h"

#include "temp_dir.h"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>

using namespace tails_server::core;
using tails_server::test::TempDir;

namespace {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write(const std::filesystem::path& path, const std::string& content) { std::ofstream(path) << content; }

}  // namespace

TEST_CASE("the guard puts an executable policy-rc.d that exits 101 and removes it") {
  TempDir dir("apt-policy");
  auto path = dir / "policy-rc.d";
  {
    PolicyRcDGuard guard(path);
    CHECK(guard.installed());
    std::string content = read(path);
    CHECK(content.rfind("#!/bin/sh\n", 0) == 0);
    CHECK(content.find("\nexit 101\n") != std::string::npos);
    CHECK(is_our_policy_rc_d(content));
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    CHECK((info.st_mode & 07777) == 0755);
    CHECK(std::system(path.c_str()) != 0);
    CHECK(WEXITSTATUS(std::system(path.c_str())) == 101);
  }
  CHECK_FALSE(std::filesystem::exists(path));
  // No temporary file is left next to it.
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("the guard leaves a policy-rc.d that is not ours alone") {
  TempDir dir("apt-policy");
  auto path = dir / "policy-rc.d";
  write(path, "#!/bin/sh\nexit 0\n");
  {
    PolicyRcDGuard guard(path);
    CHECK_FALSE(guard.installed());
  }
  CHECK(read(path) == "#!/bin/sh\nexit 0\n");
  CHECK_FALSE(remove_leftover_policy_rc_d(path));
  CHECK(std::filesystem::exists(path));
}

TEST_CASE("a leftover policy-rc.d of ours is recognised and replaced") {
  TempDir dir("apt-policy");
  auto path = dir / "policy-rc.d";
  write(path, policy_rc_d_script());
  {
    PolicyRcDGuard guard(path);
    CHECK(guard.installed());
  }
  CHECK_FALSE(std::filesystem::exists(path));
  write(path, policy_rc_d_script());
  CHECK(remove_leftover_policy_rc_d(path));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(remove_leftover_policy_rc_d(path));
}

TEST_CASE("the guard does not remove a policy-rc.d someone put in place of ours") {
  TempDir dir("apt-policy");
  auto path = dir / "policy-rc.d";
  {
    PolicyRcDGuard guard(path);
    write(path, "#!/bin/sh\nexit 104\n");
  }
  CHECK(read(path) == "#!/bin/sh\nexit 104\n");
}

TEST_CASE("the guard fails clearly when it cannot write") {
  CHECK_THROWS_WITH_AS(PolicyRcDGuard("/nonexistent-dir/policy-rc.d"),
                       doctest::Contains("/nonexistent-dir/policy-rc.d"), std::system_error);
}

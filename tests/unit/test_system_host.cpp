#include "host/system_host.h"

#include "temp_dir.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace tails_server;
using tails_server::test::TempDir;

namespace {
RunOptions with_input(std::string input) {
  RunOptions options;
  options.input = std::move(input);
  return options;
}
}  // namespace

TEST_CASE("Paths are rooted in the configured root") {
  core::SystemHost production;
  CHECK(production.path("/etc/x.ini") == "/etc/x.ini");
  core::SystemHost test("/tmp/root");
  CHECK(test.path("/etc/x.ini") == "/tmp/root/etc/x.ini");
  CHECK_THROWS_AS(test.path("etc/x.ini"), HostError);
}

TEST_CASE("A plugin's file calls take system paths and cannot leave the root") {
  TempDir tmp;
  core::SystemHost host(tmp.path());
  host.write_file("/etc/svc.conf", "x\n", {});
  CHECK(std::filesystem::exists(tmp / "etc/svc.conf"));
  CHECK_FALSE(std::filesystem::exists("/etc/svc.conf"));
  for (const char* bad : {"etc/svc.conf", "/etc/../../escape.conf", "/etc/./svc.conf", "/", ""})
    CHECK_THROWS_WITH_AS(host.write_file(bad, "x", {}), doctest::Contains("not a system path"), HostError);
  // A path already passed through path() is the usual mistake: named, not written twice under the root.
  const std::string rooted = host.path("/etc/svc.conf").string();
  CHECK_THROWS_WITH_AS(host.write_file(rooted, "x", {}), doctest::Contains("already lies under the host's root"),
                       HostError);
  CHECK_THROWS_AS(host.make_directory("/var/lib/../../../x", {}), HostError);
  host.make_directory("/srv/site/", {});  // a directory may end with '/'
  CHECK(std::filesystem::is_directory(tmp / "srv/site"));
  CHECK_THROWS_AS(host.remove_file("relative"), HostError);
  CHECK_THROWS_AS(host.read_file("/etc/../../etc/passwd", 4096), HostError);
  CHECK_FALSE(std::filesystem::exists(tmp.path().parent_path() / "escape.conf"));
}

TEST_CASE("exists looks under the root without following the last link and accounts are looked up") {
  TempDir tmp;
  core::SystemHost host(tmp.path());
  CHECK_FALSE(host.exists("/etc/passwd"));
  host.make_directory("/srv", {});
  std::filesystem::create_symlink("/nonexistent-target", tmp / "srv/dangling");
  CHECK(host.exists("/srv/dangling"));
  CHECK(host.exists("/srv"));
  CHECK_FALSE(host.exists("/srv/missing"));
  CHECK(host.user_exists("root"));
  CHECK(host.group_exists("nogroup"));
  CHECK_FALSE(host.user_exists("no-such-user-xyz"));
  CHECK_FALSE(host.group_exists("no-such-group-xyz"));
}

TEST_CASE("Writing a file applies its mode and owner") {
  TempDir tmp;
  core::SystemHost host(tmp.path());
  host.make_directory("/etc/svc", {"root", "root", 0750});
  host.write_file("/etc/svc/a.conf", "secret=1\n", {"nobody", "nogroup", 0600});
  struct stat st {};
  REQUIRE(::stat((tmp / "etc/svc/a.conf").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_uid == ::getpwnam("nobody")->pw_uid);
  REQUIRE(::stat((tmp / "etc/svc").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0750);
  std::ifstream in(tmp / "etc/svc/a.conf");
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "secret=1\n");
}

TEST_CASE("Writing a file for an unknown user fails and leaves the old file") {
  TempDir tmp;
  core::SystemHost host(tmp.path());
  host.make_directory("/etc", {});
  host.write_file("/etc/b", "old", {});
  CHECK_THROWS_WITH_AS(host.write_file("/etc/b", "new", {"no-such-user-xyz", "root", 0600}),
                       doctest::Contains("no-such-user-xyz"), HostError);
  std::ifstream in(tmp / "etc/b");
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "old");
}

TEST_CASE("Running a program passes stdin and returns output and status without a shell") {
  core::SystemHost host;
  auto result = host.run({"cat"}, with_input("p@ss $(id) ;\n"));
  CHECK(result.exit_code == 0);
  CHECK(result.output == "p@ss $(id) ;\n");
  CHECK(host.run({"sh", "-c", "echo out; echo err >&2; exit 3"}, {}).exit_code == 3);
  // Arguments are passed as they are: no shell expands them.
  CHECK(host.run({"echo", "$HOME", "*"}, {}).output == "$HOME *\n");
}

TEST_CASE("A program can run as another user") {
  core::SystemHost host;
  RunOptions as_nobody;
  as_nobody.user = "nobody";
  CHECK(host.run({"id", "-un"}, as_nobody).output == "nobody\n");
}

TEST_CASE("Running reports a missing program and kills a program past its timeout") {
  core::SystemHost host;
  CHECK_THROWS_WITH_AS(host.run({"/nonexistent/prog"}, {}), doctest::Contains("cannot run /nonexistent/prog"),
                       HostError);
  RunOptions slow;
  slow.timeout = std::chrono::milliseconds(300);
  CHECK_THROWS_WITH_AS(host.run({"sleep", "5"}, slow), doctest::Contains("did not finish"), HostError);
}

TEST_CASE("Running handles large input and output without deadlock") {
  core::SystemHost host;
  std::string big(1 << 20, 'x');
  auto result = host.run({"cat"}, with_input(big));
  CHECK(result.output.size() == big.size());
}

TEST_CASE("Random passwords use the unambiguous alphabet") {
  core::SystemHost host;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto password = host.random_password(20);
    CHECK(password.size() == 20);
    CHECK(password.find_first_of("0O1lI") == std::string::npos);
    seen.insert(password);
  }
  CHECK(seen.size() == 50);
}

// A service's own account owns its data directory. If that account is taken
// over, it can swap a subdirectory for a symbolic link to /etc; the next
// configure (run as root) must then neither give the link's target away nor
// write into it.
TEST_CASE("A symbolic link planted in a service's directory is never followed by make_directory") {
  TempDir tmp;
  core::SystemHost host(tmp.path());
  host.make_directory("/var/lib/svc", {"nobody", "nogroup", 0750});
  host.make_directory("/etc", {"root", "root", 0755});
  REQUIRE(::symlink((tmp / "etc").c_str(), (tmp / "var/lib/svc/tls").c_str()) == 0);
  CHECK_THROWS_WITH_AS(host.make_directory("/var/lib/svc/tls", {"nobody", "nogroup", 0700}),
                       doctest::Contains("symbolic link"), HostError);
  struct stat st {};
  REQUIRE(::stat((tmp / "etc").c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
  CHECK((st.st_mode & 07777) == 0755);
}

TEST_CASE("A symbolic link on the way to a file is never followed by write_file or remove_file") {
  TempDir tmp;
  core::SystemHost host(tmp.path());
  host.make_directory("/var/lib/svc", {"nobody", "nogroup", 0750});
  host.make_directory("/etc", {"root", "root", 0755});
  host.write_file("/etc/passwd-like", "root entry\n", {"root", "root", 0644});
  REQUIRE(::symlink((tmp / "etc").c_str(), (tmp / "var/lib/svc/tls").c_str()) == 0);
  CHECK_THROWS_WITH_AS(host.write_file("/var/lib/svc/tls/server.crt", "x", {"nobody", "nogroup", 0644}),
                       doctest::Contains("symbolic link"), HostError);
  CHECK_FALSE(std::filesystem::exists(tmp / "etc/server.crt"));
  CHECK_THROWS_WITH_AS(host.remove_file("/var/lib/svc/tls/passwd-like"), doctest::Contains("symbolic link"), HostError);
  CHECK(std::filesystem::exists(tmp / "etc/passwd-like"));
  // A link as the file itself is replaced, not written through.
  REQUIRE(::symlink((tmp / "etc/passwd-like").c_str(), (tmp / "var/lib/svc/key").c_str()) == 0);
  host.write_file("/var/lib/svc/key", "new key\n", {"root", "root", 0600});
  std::ifstream kept(tmp / "etc/passwd-like");
  CHECK(std::string(std::istreambuf_iterator<char>(kept), {}) == "root entry\n");
  CHECK(std::filesystem::is_regular_file(std::filesystem::symlink_status(tmp / "var/lib/svc/key")));
}

TEST_CASE("A program that exits without reading its input neither blocks nor kills the caller") {
  core::SystemHost host;
  // More than a pipe holds: fed through a pipe, this raised SIGPIPE in the daemon.
  RunResult result = host.run({"true"}, with_input(std::string(1 << 20, 'x')));
  CHECK(result.exit_code == 0);
  result = host.run({"sh", "-c", "exit 3"}, with_input(std::string(1 << 20, 'x')));
  CHECK(result.exit_code == 3);
}

TEST_CASE("read_file refuses a FIFO at once and a link to /dev/zero and a file beyond its cap") {
  TempDir tmp;
  core::SystemHost host(tmp.path());
  host.write_file("/var/lib/svc/server.crt", "certificate\n", {"root", "root", 0644});
  CHECK(host.read_file("/var/lib/svc/server.crt", 64) == "certificate\n");
  CHECK_FALSE(host.read_file("/var/lib/svc/missing.crt", 64).has_value());
  CHECK_THROWS_WITH_AS(host.read_file("/var/lib/svc/server.crt", 5), doctest::Contains("larger than 5 bytes"),
                       HostError);

  REQUIRE(::mkfifo(host.path("/var/lib/svc/fifo.crt").c_str(), 0644) == 0);
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(host.read_file("/var/lib/svc/fifo.crt", 4096), doctest::Contains("not a regular file"),
                       HostError);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));

  REQUIRE(::symlink("/dev/zero", host.path("/var/lib/svc/zero.crt").c_str()) == 0);
  CHECK_THROWS_WITH_AS(host.read_file("/var/lib/svc/zero.crt", 4096), doctest::Contains("symbolic link"), HostError);
  // A link on the way is not followed either.
  REQUIRE(::symlink(host.path("/var/lib/svc").c_str(), host.path("/var/lib/link").c_str()) == 0);
  CHECK_THROWS_WITH_AS(host.read_file("/var/lib/link/server.crt", 4096), doctest::Contains("symbolic link"), HostError);
}

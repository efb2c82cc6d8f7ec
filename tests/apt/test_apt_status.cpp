// The pure layer over apt's output, fed with output captured from real apt
// 2.6 and dpkg 1.21 (captures/, recorded in the sandbox with the packages
// that make-test-repo builds).
#include "apt/apt_status.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

using namespace tails_server::core;

namespace {

std::string capture(const std::string& name) {
  std::ifstream in(std::string(APT_CAPTURES_DIR) + "/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in, "missing capture " << name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

AptDiagnosis diagnose(const std::string& output, const std::string& status = "") {
  AptDiagnosis diagnosis;
  for (const auto& line : lines_of(output)) note_apt_output_line(diagnosis, line);
  for (const auto& line : lines_of(status))
    if (auto parsed = parse_apt_status_line(line)) note_apt_status_line(diagnosis, *parsed);
  return diagnosis;
}

}  // namespace

TEST_CASE("a pmstatus line gives the package and the percent and the message") {
  auto line = parse_apt_status_line("pmstatus:tails-server-test-hello:11.1111:Unpacking tails-server-test-hello (amd64)\n");
  REQUIRE(line);
  CHECK(line->kind == AptStatusKind::Package);
  CHECK(line->subject == "tails-server-test-hello");
  CHECK(line->percent == doctest::Approx(11.1111));
  CHECK(line->message == "Unpacking tails-server-test-hello (amd64)");
  auto progress = to_progress(*line, AptStage::Install);
  REQUIRE(progress);
  CHECK(progress->stage == AptStage::Install);
  CHECK(progress->percent == 11);
  CHECK(progress->package == "tails-server-test-hello");
}

TEST_CASE("a dlstatus line is download progress without a package") {
  auto line = parse_apt_status_line("dlstatus:2:49.5338:Retrieving file 2 of 2");
  REQUIRE(line);
  CHECK(line->kind == AptStatusKind::Download);
  auto progress = to_progress(*line, AptStage::Install);
  REQUIRE(progress);
  CHECK(progress->stage == AptStage::Download);
  CHECK(progress->percent == 49);
  CHECK(progress->package.empty());
  CHECK(progress->message == "Retrieving file 2 of 2");
}

TEST_CASE("an arch-qualified package and a message with colons are split right") {
  auto line = parse_apt_status_line("pmstatus:libc6:i386:42.5:Configuring libc6:i386 (i386): step: 2");
  REQUIRE(line);
  CHECK(line->subject == "libc6:i386");
  CHECK(line->percent == doctest::Approx(42.5));
  CHECK(line->message == "Configuring libc6:i386 (i386): step: 2");
}

TEST_CASE("pmerror lines are errors and not progress") {
  auto line = parse_apt_status_line(
      "pmerror:tails-server-test-badpostinst:60.0000:installed tails-server-test-badpostinst package "
      "post-installation script subprocess returned error exit status 1");
  REQUIRE(line);
  CHECK(line->kind == AptStatusKind::Error);
  CHECK_FALSE(to_progress(*line, AptStage::Install));
}

TEST_CASE("pmconffile lines become progress that names the file") {
  auto line = parse_apt_status_line("pmconffile:/etc/prosody/prosody.cfg.lua:50.0:'/etc/prosody/prosody.cfg.lua' "
                                    "'/etc/prosody/prosody.cfg.lua.dpkg-new' 1 1");
  REQUIRE(line);
  CHECK(line->kind == AptStatusKind::ConfFile);
  CHECK(line->subject == "/etc/prosody/prosody.cfg.lua");
  auto progress = to_progress(*line, AptStage::Install);
  REQUIRE(progress);
  CHECK(progress->message.find("/etc/prosody/prosody.cfg.lua") != std::string::npos);
}

TEST_CASE("malformed and unknown status lines are ignored") {
  CHECK_FALSE(parse_apt_status_line(""));
  CHECK_FALSE(parse_apt_status_line("pmstatus"));
  CHECK_FALSE(parse_apt_status_line("pmstatus:pkg"));
  CHECK_FALSE(parse_apt_status_line("pmstatus:pkg:notanumber:msg"));
  CHECK_FALSE(parse_apt_status_line("media-change:cdrom:Debian:/media/cdrom"));
  auto clamped = parse_apt_status_line("pmstatus:pkg:250:too far");
  REQUIRE(clamped);
  CHECK(clamped->percent == 100);
}

TEST_CASE("a real install status stream gives rising dpkg progress") {
  auto status = capture("install-ok.status");
  int last = -1, count = 0;
  for (const auto& text : lines_of(status)) {
    auto line = parse_apt_status_line(text);
    REQUIRE_MESSAGE(line, text);
    auto progress = to_progress(*line, AptStage::Install);
    REQUIRE(progress);
    if (progress->stage != AptStage::Install) continue;
    CHECK(progress->percent >= last);
    last = progress->percent;
    ++count;
  }
  CHECK(count == 14);
  CHECK(last == 88);  // apt never says 100: the installer does when dpkg confirms
}

TEST_CASE("a failing postinst is quoted with the package") {
  auto diagnosis = diagnose(capture("badpostinst.output"), capture("badpostinst.status"));
  REQUIRE(diagnosis.package_errors.size() == 1);
  CHECK(diagnosis.package_errors[0].first == "tails-server-test-badpostinst");
  CHECK(diagnosis.errors == std::vector<std::string>{"Sub-process /usr/bin/dpkg returned an error code (1)"});
  auto failure = explain_apt_failure("install", {"tails-server-test-badpostinst"}, diagnosis, 100);
  CHECK(failure.kind == AptErrorKind::Failed);
  CHECK(failure.message ==
        "apt-get install tails-server-test-badpostinst failed: tails-server-test-badpostinst: \"installed "
        "tails-server-test-badpostinst package post-installation script subprocess returned error exit status 1\" "
        "(E: Sub-process /usr/bin/dpkg returned an error code (1))");
}

TEST_CASE("a missing package is not available from the configured sources") {
  auto diagnosis = diagnose(capture("missing.output"));
  auto failure = explain_apt_failure("install", {"tails-server-test-nope"}, diagnosis, 100);
  CHECK(failure.kind == AptErrorKind::NotAvailable);
  CHECK(failure.message == "package tails-server-test-nope is not available from the configured apt sources");

  AptDiagnosis two;
  note_apt_output_line(two, "E: Unable to locate package foo");
  note_apt_output_line(two, "E: Package 'bar' has no installation candidate");
  CHECK(explain_apt_failure("install", {"foo", "bar"}, two, 100).message ==
        "packages foo and bar are not available from the configured apt sources");
}

TEST_CASE("a held lock names the lock and its holder when apt waited") {
  auto diagnosis = diagnose(capture("lock-wait.output"));
  CHECK(diagnosis.locked);
  CHECK(diagnosis.lock_file == "/var/lib/dpkg/lock-frontend");
  CHECK(diagnosis.lock_message ==
        "Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 423 (python3)");
  auto failure = explain_apt_failure("install", {"prosody"}, diagnosis, 100);
  CHECK(failure.kind == AptErrorKind::Locked);
  CHECK(failure.message.find("/var/lib/dpkg/lock-frontend") != std::string::npos);
  CHECK(failure.message.find("It is held by process 423 (python3)") != std::string::npos);
}

TEST_CASE("a held lock names the lock and its holder when apt did not wait") {
  auto diagnosis = diagnose(capture("lock-nowait.output"));
  auto failure = explain_apt_failure("install", {"prosody"}, diagnosis, 100);
  CHECK(failure.kind == AptErrorKind::Locked);
  CHECK(failure.message.find("It is held by process 423 (python3)") != std::string::npos);

  AptDiagnosis bare;
  note_apt_output_line(bare, "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is "
                             "another process using it?");
  auto bare_failure = explain_apt_failure("install", {"prosody"}, bare, 100);
  CHECK(bare_failure.kind == AptErrorKind::Locked);
  CHECK(bare.lock_file == "/var/lib/dpkg/lock-frontend");
}

TEST_CASE("other failures quote the E lines or the exit status") {
  AptDiagnosis diagnosis;
  note_apt_output_line(diagnosis, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem. ");
  note_apt_output_line(diagnosis, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.");
  CHECK(explain_apt_failure("install", {"nginx"}, diagnosis, 100).message ==
        "apt-get install nginx failed: E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to "
        "correct the problem.");
  CHECK(explain_apt_failure("install", {"nginx"}, {}, 1).message ==
        "apt-get install nginx failed with exit status 1 and no error message");
  CHECK(explain_apt_failure("purge", {"nginx"}, {}, -9).message == "apt-get purge nginx was killed by signal 9");
}

TEST_CASE("package names are checked before they reach apt") {
  CHECK(valid_package_name("prosody"));
  CHECK(valid_package_name("libstdc++6"));
  CHECK(valid_package_name("mumble-server"));
  CHECK(valid_package_name("lua5.4"));
  CHECK(valid_package_name("libc6:i386"));
  CHECK_FALSE(valid_package_name(""));
  CHECK_FALSE(valid_package_name("a"));
  CHECK_FALSE(valid_package_name("-oAPT::Get::Purge=1"));
  CHECK_FALSE(valid_package_name("--purge"));
  CHECK_FALSE(valid_package_name("Prosody"));
  CHECK_FALSE(valid_package_name("prosody*"));
  CHECK_FALSE(valid_package_name("prosody=0.12"));
  CHECK_FALSE(valid_package_name("prosody/bookworm"));
  CHECK_FALSE(valid_package_name("pro sody"));
  CHECK_FALSE(valid_package_name("libc6:"));
}

TEST_CASE("dpkg-query output gives each package's status") {
  auto statuses = parse_dpkg_query(
      "coreutils\tinstall ok installed\n"
      "tails-server-test-badpostinst\tinstall ok half-configured\n"
      "old-package\tdeinstall ok config-files\n"
      "gone\tunknown ok not-installed\n"
      "libc6\tunknown ok not-installed\n"
      "libc6\tinstall ok installed\n"
      "dpkg-query: a warning without a tab\n");
  CHECK(statuses.size() == 5);
  CHECK(dpkg_installed_ok(dpkg_status_of(statuses, "coreutils")));
  CHECK(dpkg_installed_ok(dpkg_status_of(statuses, "libc6:amd64")));
  CHECK(dpkg_present(dpkg_status_of(statuses, "tails-server-test-badpostinst")));
  CHECK(dpkg_broken(dpkg_status_of(statuses, "tails-server-test-badpostinst")));
  CHECK_FALSE(dpkg_installed_ok(dpkg_status_of(statuses, "tails-server-test-badpostinst")));
  CHECK_FALSE(dpkg_present(dpkg_status_of(statuses, "old-package")));
  CHECK_FALSE(dpkg_present(dpkg_status_of(statuses, "gone")));
  CHECK(dpkg_status_of(statuses, "unknown").empty());
  CHECK_FALSE(dpkg_present(""));
  CHECK(dpkg_installed_ok("hold ok installed"));
}

TEST_CASE("names are joined for sentences") {
  CHECK(join_names({}) == "");
  CHECK(join_names({"a"}) == "a");
  CHECK(join_names({"a", "b"}) == "a and b");
  CHECK(join_names({"a", "b", "c"}) == "a, b and c");
}

TEST_CASE("lock_holder names the process holding a POSIX lock on a file (from /proc/locks)") {
  char path[] = "/tmp/tails-server-lock-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  CHECK(lock_holder(path).empty());  // nobody holds it
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &lock) != 0) ::_exit(1);
    (void)!::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  std::string comm;
  std::ifstream(std::string("/proc/") + std::to_string(child) + "/comm") >> comm;
  CHECK(lock_holder(path) == "It is held by process " + std::to_string(child) + " (" + comm + ")");
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(lock_holder(path).empty());
  CHECK(lock_holder("/nonexistent/lock").empty());
  ::close(fd);
  ::close(ready[0]);
  ::close(ready[1]);
  ::unlink(path);
}

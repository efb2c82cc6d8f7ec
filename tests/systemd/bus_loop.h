// Helpers for the tests that run inside the sandbox: an sd-event loop with
// the system bus attached (as in tails-serverd), running it until something
// happens, files, shell commands and process facts.
#pragma once

#include "systemd/unit_control.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <pwd.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>

namespace tails_server::test {

class BusLoop {
 public:
  BusLoop() {
    if (sd_event_new(&event_) < 0) throw std::runtime_error("sd_event_new failed");
    if (sd_bus_open_system(&bus_) < 0) throw std::runtime_error("cannot connect to the system bus");
    if (sd_bus_attach_event(bus_, event_, SD_EVENT_PRIORITY_NORMAL) < 0)
      throw std::runtime_error("sd_bus_attach_event failed");
  }
  ~BusLoop() {
    sd_bus_flush_close_unref(bus_);
    sd_event_unref(event_);
  }
  BusLoop(const BusLoop&) = delete;
  BusLoop& operator=(const BusLoop&) = delete;

  sd_event* event() const { return event_; }
  sd_bus* bus() const { return bus_; }

  // Runs the loop until `done()` holds or `timeout` passes; returns done().
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      if (sd_event_run(event_, static_cast<uint64_t>(left.count())) < 0) return false;
    }
    return true;
  }

 private:
  sd_event* event_ = nullptr;
  sd_bus* bus_ = nullptr;
};

// The outcome of an asynchronous job: nothing (not finished), success, or the error.
struct JobOutcome {
  bool finished = false;
  std::optional<core::UnitError> error;
  core::JobDone callback() {
    return [this](std::optional<core::UnitError> e) {
      finished = true;
      error = std::move(e);
    };
  }
};

// Runs `request` (which gets a JobDone) and the loop until it reports, at
// most `timeout`. Throws if it never reports; returns the error or nothing.
inline std::optional<core::UnitError> run_job(BusLoop& loop, const std::function<void(core::JobDone)>& request,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  JobOutcome outcome;
  request(outcome.callback());
  if (!loop.run_until([&] { return outcome.finished; }, timeout))
    throw std::runtime_error("the job did not report within the time limit");
  return outcome.error;
}

// Waits on the loop for `port` to listen; returns the error or nothing.
std::optional<std::string> run_port_wait(BusLoop& loop, std::uint16_t port, std::chrono::milliseconds timeout);

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The standard output of `command` run by /bin/sh (test code only).
inline std::string sh(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, got);
  ::pclose(pipe);
  return out;
}

// The user name of process `pid`'s real uid, or "(gone)".
inline std::string process_user(std::uint32_t pid) {
  struct stat st {};
  std::string proc = "/proc/" + std::to_string(pid);
  if (::stat(proc.c_str(), &st) != 0) return "(gone)";
  const passwd* pw = ::getpwuid(st.st_uid);
  return pw ? pw->pw_name : std::to_string(st.st_uid);
}

}  // namespace tails_server::test

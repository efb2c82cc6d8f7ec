// Showing state changes: one line per StateChanged, and the progress of a
// long operation (install, enable, disable, uninstall).
#pragma once

#include "daemon_client.h"
#include "output.h"

#include <string>

namespace tails_server::cli {

using client::StateChange;

// Text from the daemon (apt's or the journal's words) on one line, without
// control characters that a terminal would obey.
std::string one_line(const std::string& text);

// "mumble: installing 45% Unpacking mumble-server", "mumble: running",
// "mumble: failed: cannot start mumble-server.service: ..."
std::string describe(const StateChange& change);

// {"service", "state", "percent" (null without progress), "message"}.
Document change_document(const StateChange& change);

// The progress of a long operation on standard output: a bar redrawn on one
// line on a terminal, else one plain line per step (a new message or a new
// 10% bucket). Nothing with --json.
class Progress {
 public:
  Progress(const std::string& service, Format format);
  ~Progress() { clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(const StateChange& change);
  // Erases the bar, so that what follows starts on a clean line.
  void clear();

 private:
  void draw(const StateChange& change);

  std::string service_;
  bool quiet_;
  bool terminal_;
  bool drawn_ = false;
  std::string state_, message_;
  int bucket_ = -2;
};

}  // namespace tails_server::cli

// A real tor for tests: offline (DisableNetwork 1, SocksPort 0), all state in
// a test's temporary directory, and a tiny blocking control-port client.
#pragma once

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace tails_server::test::keys {

class OfflineTor {
 public:
  // Starts `tor` (from $PATH, or $TOR) with DataDirectory <dir>/data (0700),
  // its log in <dir>/tor.log, and the given extra torrc lines. With
  // `control`, also a ControlSocket <dir>/data/control with cookie
  // authentication. Throws std::runtime_error if tor cannot be started.
  OfflineTor(const std::filesystem::path& dir, const std::vector<std::string>& extra_config, bool control);
  // Stops tor (SIGTERM, then SIGKILL after 10 s) and reaps it.
  ~OfflineTor();
  OfflineTor(const OfflineTor&) = delete;
  OfflineTor& operator=(const OfflineTor&) = delete;

  // Waits until `file` exists and is not empty. Throws std::runtime_error,
  // with the end of tor's log, if tor exits first or `seconds` pass.
  void wait_for_file(const std::filesystem::path& file, int seconds = 30) const;

  std::filesystem::path control_socket() const { return dir_ / "data" / "control"; }
  std::filesystem::path cookie_file() const { return dir_ / "data" / "control_auth_cookie"; }
  // tor's log so far.
  std::string log() const;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

class TorControlClient {
 public:
  // Connects to tor's control socket (waiting up to 30 s for it to appear)
  // and authenticates with the cookie: PROTOCOLINFO 1, then AUTHENTICATE
  // <cookie hex>. Throws std::runtime_error with tor's reply on failure.
  explicit TorControlClient(const OfflineTor& tor);
  ~TorControlClient();
  TorControlClient(const TorControlClient&) = delete;
  TorControlClient& operator=(const TorControlClient&) = delete;

  // Sends `line` + CRLF and returns the reply's lines (without CRLF), the
  // last one being "NNN text". Times out after 30 s with std::runtime_error.
  std::vector<std::string> command(const std::string& line);

 private:
  std::string read_line();
  int fd_ = -1;
  std::string buffer_;
};

// The status code of a reply (its last line's first three characters).
int reply_code(const std::vector<std::string>& reply);
// The reply's lines joined with " | ", for messages.
std::string reply_text(const std::vector<std::string>& reply);

}  // namespace tails_server::test::keys

// The Host interface: what the core lends a plugin to do privileged work.
//
// Plugins never touch the system directly. They write files, run programs
// and ask for secrets through this interface, so the core can root paths in a
// test directory, apply owners and modes, and keep secrets out of logs.
#pragma once

#include <tails_server/version.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace tails_server {

// A host operation failed (a file could not be written, a program could not
// be started, a user does not exist). what() says which and why.
class TAILS_SERVER_EXPORT HostError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Owner, group and mode of a file or directory the host writes.
struct FileSpec {
  std::string owner = "root";
  std::string group = "root";
  mode_t mode = 0644;
};

struct RunOptions {
  // Written to the program's standard input, then closed. Use this, never
  // argv, for passwords.
  std::string input;
  // Run as this user (and its primary group) instead of root, if not empty.
  std::string user;
  // Extra environment entries "NAME=value"; the rest is a minimal default.
  std::vector<std::string> environment;
  // Killed (SIGKILL) after this long; run() then throws HostError.
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};
};

struct RunResult {
  int exit_code = -1;  // the exit status, or 128 + signal number
  std::string output;  // standard output and standard error, interleaved
};

enum class LogLevel { Debug, Info, Warning, Error };

class TAILS_SERVER_EXPORT Host {
 public:
  virtual ~Host() = default;

  // Files are named by their system path, e.g. "/etc/mumble-server.ini":
  // absolute, without "." or ".." parts. The host puts every such path under
  // its root (a temporary directory in tests), so a plugin cannot write
  // outside it. Throws HostError for any other path.

  // The file `absolute` as it lies on this host: the path itself in
  // production, under the root in tests. For text that names a file (a
  // config value, an argument to a program); never pass it back to the
  // file calls below, which take the system path.
  virtual std::filesystem::path path(std::string_view absolute) const = 0;

  // Replaces `file` atomically: writes a temporary file beside it, applies
  // owner, group and mode, fsyncs it and renames it into place. Missing
  // parent directories are created root:root 0755. No symbolic link on the
  // way is followed. Throws HostError; the old file is then unchanged.
  virtual void write_file(std::string_view file, std::string_view content, const FileSpec& spec) = 0;

  // Creates `directory` and missing parents (parents root:root 0755), then
  // applies `spec` to `directory`. Throws HostError.
  virtual void make_directory(std::string_view directory, const FileSpec& spec) = 0;

  // Removes `file` if it exists (not directories). Throws HostError.
  virtual void remove_file(std::string_view file) = 0;

  // Reads `file` (e.g. a certificate in a directory the service's account
  // may write), following no symbolic link and never blocking: nullopt if it
  // does not exist. Throws HostError naming the file if it is a link, a FIFO,
  // a device or anything but a regular file, or larger than `max_bytes`.
  virtual std::optional<std::string> read_file(std::string_view file, std::size_t max_bytes) = 0;

  // Whether anything (a file, a directory, a link) is at `path`. The last
  // part is not followed if it is a link; links on the way are.
  virtual bool exists(std::string_view path) const = 0;

  // Whether the system has this user or this group (getpwnam_r and
  // getgrnam_r on the host's account databases).
  virtual bool user_exists(std::string_view user) const = 0;
  virtual bool group_exists(std::string_view group) const = 0;

  // Runs argv[0] (found in PATH) with the given arguments, without a shell,
  // and waits for it. Throws HostError if it cannot be started or times out;
  // a non-zero exit status is returned, not thrown. Name files in argv with
  // path().
  virtual RunResult run(const std::vector<std::string>& argv, const RunOptions& options) = 0;

  // A password of `length` characters drawn from the kernel's CSPRNG, in an
  // alphabet without look-alike characters (no 0/O, 1/l/I).
  virtual std::string random_password(std::size_t length) = 0;

  // Logs a message under the plugin's name. Never pass secrets.
  virtual void log(LogLevel level, std::string_view message) = 0;

  // ---- Since 2.3: reaching other onion services through Tor ----
  // (Appended last, with defaults, so that 2.0-2.2 plugins and hosts keep
  // working; the daemon implements them.)

  // Tor's SOCKS port, as "127.0.0.1:9050": where a service sends its
  // outgoing connections (the daemon's tor_socks setting). It belongs to
  // the tor that holds the keys given to add_onion_client_key.
  virtual std::string tor_socks_address() const { return "127.0.0.1:9050"; }

  // Hands Tor the client-authorization key for the onion service at
  // `address` ("<56 base32 characters>.onion"), so that this service can
  // reach it. `private_key` is the 52-character base32 x25519 private key
  // (secret: pass it from a command's secret, never from argv). The daemon
  // keeps it in the service's state (0600) and gives it to Tor again
  // whenever Tor restarts. Replaces an earlier key for the same address.
  // Throws HostError naming what is malformed (never quoting the key).
  virtual void add_onion_client_key(std::string_view /*address*/, std::string_view /*private_key*/) {
    throw HostError("this Tails Server does not keep onion client keys (needs SDK 2.3)");
  }
  // Forgets the key for `address` and takes it from Tor. Returns false if
  // there was none.
  virtual bool remove_onion_client_key(std::string_view /*address*/) { return false; }
  // The addresses ("<56>.onion") this service holds client keys for, sorted.
  virtual std::vector<std::string> onion_client_key_addresses() const { return {}; }
};

}  // namespace tails_server

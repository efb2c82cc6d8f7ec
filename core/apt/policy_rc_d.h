// The temporary /usr/sbin/policy-rc.d that keeps package scripts from
// starting daemons while apt runs. The postinst scripts of prosody,
// mumble-server and nginx start the daemon at once (invoke-rc.d ... start),
// with Debian's default configuration, on every interface; a policy-rc.d
// that exits 101 ("action forbidden") stops that. See
// docs/services.md#installing-the-packages.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace tails_server::core {

// The comment that marks a policy-rc.d as ours. A file holding it that is
// still there when no operation runs was left by a daemon that crashed.
inline constexpr std::string_view policy_rc_d_marker =
    "# tails-serverd: temporary policy-rc.d, present only while tails-serverd runs apt.";

// The script: the marker, then "exit 101" (action forbidden).
std::string policy_rc_d_script();

// Whether `content` is a policy-rc.d that we wrote.
bool is_our_policy_rc_d(std::string_view content);

// Removes `path` if it is a policy-rc.d of ours (left by a crashed daemon).
// Returns whether it removed one. Never removes a file without the marker.
// Throws std::system_error when the file is ours but cannot be removed.
bool remove_leftover_policy_rc_d(const std::filesystem::path& path);

// Puts our policy-rc.d at `path` for the guard's lifetime, unless a file is
// there already: then it leaves that one alone (it forbids or allows what its
// owner wants) and removes nothing later. A leftover of ours is replaced.
class PolicyRcDGuard {
 public:
  // Throws std::system_error when the file cannot be written.
  explicit PolicyRcDGuard(std::filesystem::path path);
  // Removes the file if we put it there and it is still ours.
  ~PolicyRcDGuard();
  PolicyRcDGuard(const PolicyRcDGuard&) = delete;
  PolicyRcDGuard& operator=(const PolicyRcDGuard&) = delete;

  // Whether the file at path() is the one this guard wrote.
  bool installed() const { return installed_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool installed_ = false;
};

}  // namespace tails_server::core

#include "services/system_probe.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <sys/stat.h>

namespace tails_server::core {

namespace {

struct DpkgCache {
  std::filesystem::path file;
  struct timespec mtime {};
  std::set<std::string> installed;
};

std::set<std::string> read_installed(const std::filesystem::path& status_file) {
  std::set<std::string> installed;
  std::ifstream in(status_file);
  std::string line, package;
  while (std::getline(in, line)) {
    if (line.rfind("Package: ", 0) == 0) {
      package = line.substr(9);
    } else if (line.rfind("Status: ", 0) == 0) {
      if (line == "Status: install ok installed") installed.insert(package);
    }
  }
  return installed;
}

}  // namespace

bool packages_installed(const std::vector<std::string>& packages, const std::filesystem::path& status_file) {
  static DpkgCache cache;
  struct stat st {};
  if (::stat(status_file.c_str(), &st) != 0) return false;
  if (cache.file != status_file || st.st_mtim.tv_sec != cache.mtime.tv_sec ||
      st.st_mtim.tv_nsec != cache.mtime.tv_nsec) {
    cache.file = status_file;
    cache.mtime = st.st_mtim;
    cache.installed = read_installed(status_file);
  }
  for (const auto& package : packages)
    if (!cache.installed.count(package)) return false;
  return !packages.empty();
}

namespace {

// Asks the kernel (sock_diag netlink) for listening TCP sockets of `family`.
// Returns nullopt if netlink is unavailable, so the caller can fall back.
std::optional<bool> listening_via_netlink(int family, std::uint16_t port) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<std::uint8_t>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1u << 10;  // TCP_LISTEN
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    ::close(fd);
    return std::nullopt;
  }
  alignas(nlmsghdr) char buffer[16384];
  std::optional<bool> found = false;
  for (bool done = false; !done;) {
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) {
      found = std::nullopt;
      break;
    }
    int left = static_cast<int>(got);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        found = std::nullopt;
        done = true;
        break;
      }
      auto* diag = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
      if (ntohs(diag->id.idiag_sport) == port) found = true;
    }
  }
  ::close(fd);
  return found;
}

bool listening_via_proc(std::uint16_t port) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      auto colon = local.rfind(':');
      if (colon == std::string::npos || state != "0A") continue;  // 0A = LISTEN
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) return true;
    }
  }
  return false;
}

}  // namespace

bool port_listening(std::uint16_t port) {
  auto v4 = listening_via_netlink(AF_INET, port);
  if (!v4) return listening_via_proc(port);
  if (*v4) return true;
  auto v6 = listening_via_netlink(AF_INET6, port);
  if (!v6) return listening_via_proc(port);
  return *v6;
}

}  // namespace tails_server::core

#include "services/system_probe.h"

#include "util/no_follow.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
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
  return true;
}

namespace {

// Asks the kernel (sock_diag netlink) for the TCP sockets of `family` that
// listen on `port`. nullopt if netlink is unavailable, so the caller can
// fall back.
std::optional<std::vector<Listener>> listeners_via_netlink(int family, std::uint16_t port) {
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
  std::optional<std::vector<Listener>> found = std::vector<Listener>{};
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
      if (ntohs(diag->id.idiag_sport) != port || !found) continue;
      char text[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(diag->idiag_family, diag->id.idiag_src, text, sizeof text);
      found->push_back(Listener{text, static_cast<uid_t>(diag->idiag_uid)});
    }
  }
  ::close(fd);
  return found;
}

// The same from /proc/net/tcp{,6} (hexadecimal addresses in the kernel's
// byte order, the owner's uid in the eighth column).
std::vector<Listener> listeners_via_proc(std::uint16_t port) {
  std::vector<Listener> found;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits;
      uid_t uid = 0;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid;
      auto colon = local.rfind(':');
      if (colon == std::string::npos || state != "0A") continue;  // 0A = LISTEN
      if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      std::string hex = local.substr(0, colon);
      unsigned char bytes[16] = {};
      for (std::size_t i = 0; i < hex.size() / 8 && i < 4; ++i) {
        std::uint32_t word = static_cast<std::uint32_t>(std::stoul(hex.substr(i * 8, 8), nullptr, 16));
        std::memcpy(bytes + i * 4, &word, 4);  // each word is in host order
      }
      char text[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(hex.size() == 8 ? AF_INET : AF_INET6, bytes, text, sizeof text);
      found.push_back(Listener{text, uid});
    }
  }
  return found;
}

// Whether a socket on `address` takes Tor's connections to 127.0.0.1.
bool takes_loopback(const std::string& address) {
  return address == "127.0.0.1" || address == "0.0.0.0" || address == "::" || address == "::ffff:127.0.0.1";
}

}  // namespace

std::vector<Listener> tcp_listeners(std::uint16_t port) {
  auto v4 = listeners_via_netlink(AF_INET, port);
  auto v6 = v4 ? listeners_via_netlink(AF_INET6, port) : std::nullopt;
  if (!v4 || !v6) return listeners_via_proc(port);
  v4->insert(v4->end(), v6->begin(), v6->end());
  return *v4;
}

bool port_listening(std::uint16_t port) { return !tcp_listeners(port).empty(); }

PortCheck check_port_holder(const std::vector<Listener>& listeners, uid_t service_uid) {
  PortCheck check;
  for (const auto& listener : listeners) {
    if (!takes_loopback(listener.address)) continue;
    if (listener.uid != 0 && listener.uid != service_uid) {
      check.holder = PortHolder::Stranger;
      check.stranger = "uid " + std::to_string(listener.uid) + " on " + listener.address;
      return check;
    }
    check.holder = PortHolder::Service;
  }
  return check;
}

std::optional<uid_t> process_uid(std::uint32_t pid) {
  if (pid == 0) return std::nullopt;
  try {
    auto status = no_follow::read_small_file("/proc/" + std::to_string(pid) + "/status", 16384);
    if (!status) return std::nullopt;
    auto at = status->find("\nUid:");
    if (at == std::string::npos) return std::nullopt;
    std::istringstream fields(status->substr(at + 5));
    unsigned long real = 0, effective = 0;
    if (!(fields >> real >> effective)) return std::nullopt;
    return static_cast<uid_t>(effective);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace tails_server::core

#include "services/system_probe.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace tails_server::core;

namespace {
// A socket bound to an ephemeral port on loopback; listening if asked.
struct Socket {
  int fd;
  std::uint16_t port = 0;
  Socket(int family, bool listen) {
    fd = ::socket(family, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_storage address{};
    socklen_t length;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&address);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      length = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&address);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      length = sizeof *a;
    }
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0);
    if (listen) REQUIRE(::listen(fd, 1) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                                   : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  ~Socket() { ::close(fd); }
};
}  // namespace

TEST_CASE("Port probing sees IPv4 and IPv6 listeners and not a socket that is only bound") {
  std::uint16_t closed_port;
  {
    Socket v4(AF_INET, true);
    CHECK(port_listening(v4.port));
    closed_port = v4.port;
  }
  CHECK_FALSE(port_listening(closed_port));
  Socket v6(AF_INET6, true);
  CHECK(port_listening(v6.port));
  Socket bound_only(AF_INET, false);
  CHECK_FALSE(port_listening(bound_only.port));
}

TEST_CASE("Installed packages are read from the dpkg status") {
  CHECK(packages_installed({"coreutils", "bash"}));
  CHECK_FALSE(packages_installed({"coreutils", "no-such-package-tails-server"}));
  CHECK(packages_installed({}));  // nothing for apt to fetch: the program ships with Tails Server
}

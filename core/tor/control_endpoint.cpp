#include "tor/control_endpoint.h"

#include "tor/control_reply.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace tails_server::core {

namespace {

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

ControlEndpoint parse_control_endpoint(const std::string& endpoint) {
  ControlEndpoint result;
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("expected a Tor control endpoint like unix:/run/tor/control, 127.0.0.1:9051 or "
                                 "[::1]:9051, found " + escape_for_message(endpoint) + ": " + why);
  };
  if (endpoint.rfind("unix:", 0) == 0) {
    std::string path = endpoint.substr(5);
    sockaddr_un un{};
    if (path.empty() || path[0] != '/') throw bad("the socket path must be absolute");
    if (path.size() >= sizeof un.sun_path) throw bad("the socket path is too long");
    if (path.find('\0') != std::string::npos) throw bad("the socket path holds a NUL byte");
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    std::memcpy(&result.address, &un, sizeof un);
    result.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return result;
  }
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) throw bad("no port");
  std::string host = endpoint.substr(0, colon);
  std::string port_text = endpoint.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
    throw bad("the port is not a number");
  unsigned long port = std::stoul(port_text);
  if (port == 0 || port > 65535) throw bad("the port is not from 1 to 65535");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6.sin6_addr) != 1)
      throw bad("not an IPv6 address");
    std::memcpy(&result.address, &in6, sizeof in6);
    result.length = sizeof in6;
    return result;
  }
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &in.sin_addr) != 1) throw bad("not an IPv4 address");
  std::memcpy(&result.address, &in, sizeof in);
  result.length = sizeof in;
  return result;
}

std::string read_control_cookie(const std::string& path, std::vector<std::uint8_t>& cookie) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return "cannot open the control cookie " + path + ": " + errno_text(errno);
  struct stat st {};
  std::string error;
  if (fstat(fd, &st) != 0) {
    error = "cannot stat the control cookie " + path + ": " + errno_text(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = "the control cookie " + path + " is not a regular file";
  } else if (st.st_size != 32) {
    error = "the control cookie " + path + " holds " + std::to_string(st.st_size) + " bytes, expected 32";
  } else {
    cookie.assign(33, 0);  // one more, to notice a file that grew
    ssize_t n = ::read(fd, cookie.data(), cookie.size());
    if (n != 32) error = "cannot read 32 bytes from the control cookie " + path +
                         (n < 0 ? ": " + errno_text(errno) : ", read " + std::to_string(n));
    cookie.resize(32);
  }
  ::close(fd);
  if (!error.empty()) {
    OPENSSL_cleanse(cookie.data(), cookie.size());
    cookie.clear();
  }
  return error;
}

}  // namespace tails_server::core

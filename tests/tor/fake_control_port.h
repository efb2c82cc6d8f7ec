// A tiny scripted Tor control port on a unix socket, on the test's sd-event
// loop: it speaks SAFECOOKIE like tor, then lets the test answer commands,
// hold replies, send events and drop the connection. It only covers what a
// real tor cannot do on demand; it never replaces the real-tor tests.
#pragma once

#include "temp_dir.h"
#include "tor/safecookie.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tails_server::test {

class FakeControlPort {
 public:
  // Answer for a command after authentication; "" sends nothing.
  std::function<std::string(const std::string& line)> on_command = [](const std::string&) {
    return std::string("250 OK\r\n");
  };
  bool offer_safecookie = true;  // false: PROTOCOLINFO offers only NULL
  bool know_cookie = true;       // false: SERVERHASH made with another cookie
  std::vector<std::string> received;  // every line, handshake included

  explicit FakeControlPort(sd_event* event) : event_(event) {
    cookie_ = core::safecookie::random_bytes(32);
    std::ofstream(dir_ / "cookie", std::ios::binary)
        .write(reinterpret_cast<const char*>(cookie_.data()), static_cast<std::streamsize>(cookie_.size()));
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::string path = (dir_ / "control").string();
    std::strncpy(un.sun_path, path.c_str(), sizeof un.sun_path - 1);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0 || ::listen(listener_, 4) != 0)
      throw std::runtime_error("cannot listen on " + path);
    sd_event_add_io(event_, &accept_source_, listener_, EPOLLIN, &FakeControlPort::on_accept, this);
  }
  ~FakeControlPort() {
    drop();
    sd_event_source_disable_unref(accept_source_);
    ::close(listener_);
  }

  std::string endpoint() const { return "unix:" + (dir_ / "control").string(); }
  std::string cookie_path() const { return (dir_ / "cookie").string(); }
  bool has_client() const { return client_ >= 0; }
  int connections() const { return connections_; }

  // Sends raw bytes to the connected controller.
  void send(const std::string& bytes) {
    if (client_ >= 0 && ::send(client_, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) drop();
  }
  // Closes the controller's connection, as a dying tor would.
  void drop() {
    sd_event_source_disable_unref(client_source_);
    client_source_ = nullptr;
    if (client_ >= 0) ::close(client_);
    client_ = -1;
    buffer_.clear();
  }

 private:
  static int on_accept(sd_event_source*, int, std::uint32_t, void* userdata) {
    auto* self = static_cast<FakeControlPort*>(userdata);
    int fd = ::accept4(self->listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return 0;
    self->drop();
    self->client_ = fd;
    ++self->connections_;
    sd_event_add_io(self->event_, &self->client_source_, fd, EPOLLIN, &FakeControlPort::on_read, self);
    return 0;
  }

  static int on_read(sd_event_source*, int, std::uint32_t, void* userdata) {
    auto* self = static_cast<FakeControlPort*>(userdata);
    char buffer[4096];
    ssize_t n = ::recv(self->client_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      self->drop();
      return 0;
    }
    self->buffer_.append(buffer, static_cast<std::size_t>(n));
    std::size_t end;
    while (self->client_ >= 0 && (end = self->buffer_.find("\r\n")) != std::string::npos) {
      std::string line = self->buffer_.substr(0, end);
      self->buffer_.erase(0, end + 2);
      self->received.push_back(line);
      self->send(self->answer(line));
    }
    return 0;
  }

  std::string answer(const std::string& line) {
    namespace sc = core::safecookie;
    if (line == "PROTOCOLINFO 1")
      return std::string("250-PROTOCOLINFO 1\r\n250-AUTH METHODS=") + (offer_safecookie ? "COOKIE,SAFECOOKIE" : "NULL") +
             " COOKIEFILE=\"" + cookie_path() + "\"\r\n250-VERSION Tor=\"0.0.0-fake\"\r\n250 OK\r\n";
    if (line.rfind("AUTHCHALLENGE SAFECOOKIE ", 0) == 0) {
      sc::from_hex(line.substr(25), client_nonce_);
      server_nonce_ = sc::random_bytes(32);
      std::vector<std::uint8_t> cookie = know_cookie ? cookie_ : std::vector<std::uint8_t>(32, 7);
      auto hash = sc::compute(sc::server_key, cookie, client_nonce_, server_nonce_);
      return "250 AUTHCHALLENGE SERVERHASH=" + sc::to_hex(hash) + " SERVERNONCE=" + sc::to_hex(server_nonce_) + "\r\n";
    }
    if (line.rfind("AUTHENTICATE ", 0) == 0) {
      auto expected = sc::to_hex(sc::compute(sc::client_key, cookie_, client_nonce_, server_nonce_));
      if (line.substr(13) == expected) return "250 OK\r\n";
      return "515 Authentication failed: Safe cookie response did not match expected value.\r\n";
    }
    return on_command(line);
  }

  sd_event* event_;
  TempDir dir_{"tails-server-fake-tor"};
  std::vector<std::uint8_t> cookie_, client_nonce_, server_nonce_;
  int listener_ = -1;
  int client_ = -1;
  int connections_ = 0;
  std::string buffer_;
  sd_event_source* accept_source_ = nullptr;
  sd_event_source* client_source_ = nullptr;
};

}  // namespace tails_server::test

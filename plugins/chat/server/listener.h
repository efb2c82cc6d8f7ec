// Accepting connections on the configured addresses, under a cap on live connections.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <memory>

#include "room.h"

namespace tails_server::chat {

// How many connections (HTTP, stream, WebSocket) are open, and how many may be.
struct ConnectionCount {
  std::size_t live = 0;
  std::size_t max = 0;
};

// One open connection, counted while the ticket lives; it moves from the HTTP session to the stream or
// WebSocket session that takes over the socket.
class ConnectionTicket {
 public:
  explicit ConnectionTicket(ConnectionCount& count) : count_(&count) { ++count_->live; }
  ConnectionTicket(ConnectionTicket&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
  ConnectionTicket& operator=(ConnectionTicket&&) = delete;
  ConnectionTicket(const ConnectionTicket&) = delete;
  ~ConnectionTicket() {
    if (count_ != nullptr) --count_->live;
  }

 private:
  ConnectionCount* count_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds `endpoint` (throws boost::system::system_error when it cannot).
  Listener(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Room& room,
           ConnectionCount& count);
  void run();
  void stop();

 private:
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  Room& room_;
  ConnectionCount& count_;
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace tails_server::chat

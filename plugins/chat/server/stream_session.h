// GET /stream: the no-JavaScript view. A chunked text/html response that never ends: the welcome and the
// history, then one <p> per event, and a comment every 30 s so idle circuits stay up.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <memory>
#include <string>

#include "listener.h"
#include "outbox.h"
#include "room.h"

namespace tails_server::chat {

class StreamSession : public Connection, public std::enable_shared_from_this<StreamSession> {
 public:
  // `version` is the request's HTTP version (11: chunked; 10: the body ends when the connection closes).
  StreamSession(boost::asio::ip::tcp::socket socket, Room& room, ConnectionTicket ticket, std::string token,
                unsigned version);
  ~StreamSession() override;
  void run();

  void welcome(const Guest& guest) override;
  void deliver(const EventPtr& event) override;
  void close() override;

 private:
  void queue(std::shared_ptr<const std::string> text);
  void write();
  void watch_peer();
  void keep_alive();

  boost::beast::tcp_stream stream_;
  Room& room_;
  ConnectionTicket ticket_;
  std::string token_;
  bool chunked_;
  Outbox outbox_;
  std::string header_;  // written before the first item of the outbox
  bool header_sent_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool attached_ = false;
  boost::asio::steady_timer keep_alive_timer_;
  char peer_byte_ = 0;
};

}  // namespace tails_server::chat

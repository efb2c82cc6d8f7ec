// GET /ws: a WebSocket guest. Text frames of one JSON object each (PROTOCOL.md); Beast's keep-alive pings
// keep idle connections up through Tor, and a capped outgoing queue drops a guest that stops reading.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <string>

#include "listener.h"
#include "outbox.h"
#include "room.h"

namespace tails_server::chat {

class WsSession : public Connection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(boost::asio::ip::tcp::socket socket, Room& room, ConnectionTicket ticket, std::string token);
  ~WsSession() override;
  // Answers the upgrade request, then attaches to the room.
  void run(boost::beast::http::request<boost::beast::http::string_body> request);

  void welcome(const Guest& guest) override;
  void deliver(const EventPtr& event) override;
  void close() override;

 private:
  void read();
  void handle(const std::string& frame);
  void queue(std::shared_ptr<const std::string> text);
  void write();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  Room& room_;
  ConnectionTicket ticket_;
  std::string token_;
  Outbox outbox_;
  bool writing_ = false;
  bool closed_ = false;
  bool attached_ = false;
};

}  // namespace tails_server::chat

// One HTTP connection: reads requests under size and time limits, answers them (routes.h), and hands the
// socket to a StreamSession (GET /stream) or a WsSession (GET /ws upgrade).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>

#include "listener.h"
#include "room.h"
#include "routes.h"

namespace tails_server::chat {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, Room& room, ConnectionTicket ticket);
  void run();

 private:
  void read();
  void on_read(boost::beast::error_code error);
  void handle(Request request);
  void write(Response response, bool close);
  void shut_down();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  Room& room_;
  ConnectionTicket ticket_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> pending_;
};

}  // namespace tails_server::chat

#include "http_session.h"

#include <boost/beast/websocket.hpp>
#include <chrono>

#include "http_util.h"
#include "stream_session.h"
#include "ws_session.h"

namespace tails_server::chat {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {

// A whole request (headers and body) must come within this time: a slowloris cannot hold a connection.
constexpr std::chrono::seconds kRequestTimeout{30};
constexpr std::chrono::seconds kWriteTimeout{60};
constexpr std::uint32_t kHeaderLimit = 8 * 1024;

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket socket, Room& room, ConnectionTicket ticket)
    : stream_(std::move(socket)), room_(room), ticket_(std::move(ticket)) {}

void HttpSession::run() { read(); }

void HttpSession::read() {
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(static_cast<std::uint64_t>(room_.config().max_message_bytes) * 3 + 1024);
  stream_.expires_after(kRequestTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_read(error); });
}

void HttpSession::on_read(beast::error_code error) {
  if (error == http::error::header_limit || error == http::error::body_limit) {
    write(page_response(http::status::payload_too_large, 11, "Too large", "The request is too large."), true);
    return;
  }
  if (error) {
    shut_down();
    return;
  }
  handle(parser_->release());
}

void HttpSession::handle(Request request) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target_path(target);
  const bool get = request.method() == http::verb::get;
  if (get && path == "/ws" && beast::websocket::is_upgrade(request)) {
    const std::string token = session_token(request);
    if (room_.find(token) == nullptr || !same_origin(request)) {
      write(page_response(http::status::forbidden, request.version(), "Not in the room", "Join the room first."), true);
      return;
    }
    std::make_shared<WsSession>(stream_.release_socket(), room_, std::move(ticket_), token)->run(std::move(request));
    return;
  }
  if (get && path == "/stream") {
    const std::string token = session_token(request);
    if (room_.find(token) == nullptr) {
      write(page_response(http::status::forbidden, request.version(), "Not in the room", "You are not in the room."),
            !request.keep_alive());
      return;
    }
    std::make_shared<StreamSession>(stream_.release_socket(), room_, std::move(ticket_), token, request.version())
        ->run();
    return;
  }
  const bool close = !request.keep_alive();
  write(respond(room_, request), close);
}

void HttpSession::write(Response response, bool close) {
  response.keep_alive(!close);
  response.prepare_payload();
  pending_ = std::make_shared<Response>(std::move(response));
  stream_.expires_after(kWriteTimeout);
  http::async_write(stream_, *pending_, [self = shared_from_this(), close](beast::error_code error, std::size_t) {
    self->pending_.reset();
    if (error || close) {
      self->shut_down();
      return;
    }
    self->read();
  });
}

void HttpSession::shut_down() {
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  stream_.close();
}

}  // namespace tails_server::chat

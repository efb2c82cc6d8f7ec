#include "ws_session.h"

#include <nlohmann/json.hpp>

#include "http_util.h"
#include "log.h"

namespace tails_server::chat {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;

WsSession::WsSession(net::ip::tcp::socket socket, Room& room, ConnectionTicket ticket, std::string token)
    : ws_(std::move(socket)), room_(room), ticket_(std::move(ticket)), token_(std::move(token)) {}

WsSession::~WsSession() {
  if (attached_) room_.detach(token_, this);
}

void WsSession::run(http::request<http::string_body> request) {
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = std::chrono::seconds(30);
  // A ping after 30 s without a frame from the guest; closed after 60 s without an answer.
  timeout.idle_timeout = std::chrono::seconds(60);
  timeout.keep_alive_pings = true;
  ws_.set_option(timeout);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
    set_security_headers(response);
    // Beast adds "Server: Boost.Beast/VERSION" unless a Server field is there: an empty one.
    response.set(http::field::server, "");
  }));
  // The largest JSON frame a message of max_message_bytes can take (every byte escaped as \u00XX), and some.
  ws_.read_message_max(static_cast<std::uint64_t>(room_.config().max_message_bytes) * 6 + 1024);
  ws_.text(true);
  ws_.async_accept(request, [self = shared_from_this()](beast::error_code error) {
    if (error) return;
    self->attached_ = self->room_.attach(self->token_, self.get());
    if (!self->attached_) {
      self->close();
      return;
    }
    self->read();
  });
}

void WsSession::welcome(const Guest& guest) {
  queue(std::make_shared<const std::string>(
      welcome_json(guest.name, room_.config().title, room_.config().motd, room_.history(), room_.guest_names())));
}

void WsSession::deliver(const EventPtr& event) { queue(std::shared_ptr<const std::string>(event, &event->json)); }

void WsSession::read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code error, std::size_t) {
    if (error) {
      self->close();
      return;
    }
    if (!self->ws_.got_text()) {
      self->queue(std::make_shared<const std::string>(error_json("bad-request")));
    } else {
      self->handle(beast::buffers_to_string(self->buffer_.data()));
    }
    self->buffer_.consume(self->buffer_.size());
    if (!self->closed_) self->read();
  });
}

void WsSession::handle(const std::string& frame) {
  const auto object = nlohmann::json::parse(frame, nullptr, false);
  std::string error = "bad-request";
  if (object.is_object() && object.contains("type") && object["type"].is_string()) {
    const auto& type = object["type"].get_ref<const std::string&>();
    if (type == "ping") {
      static const auto kPong = std::make_shared<const std::string>(R"({"type":"pong"})");
      queue(kPong);
      return;
    }
    if (type == "message" && object.contains("text") && object["text"].is_string()) {
      error = room_.say(token_, object["text"].get<std::string>());
    } else if (type == "rename" && object.contains("name") && object["name"].is_string()) {
      error = room_.rename(token_, object["name"].get<std::string>());
    }
  }
  if (!error.empty()) queue(std::make_shared<const std::string>(error_json(error)));
}

void WsSession::queue(std::shared_ptr<const std::string> text) {
  if (closed_) return;
  if (!outbox_.push(std::move(text))) {
    log::notice("dropped a WebSocket connection: its outgoing queue is full");
    close();
    return;
  }
  write();
}

void WsSession::write() {
  if (writing_ || closed_ || outbox_.empty()) return;
  writing_ = true;
  ws_.async_write(net::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code error, std::size_t) {
    self->writing_ = false;
    if (error) {
      self->close();
      return;
    }
    self->outbox_.pop();
    self->write();
  });
}

void WsSession::close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ignored;
  auto& socket = beast::get_lowest_layer(ws_).socket();
  socket.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace tails_server::chat

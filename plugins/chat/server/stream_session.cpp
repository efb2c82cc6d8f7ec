#include "stream_session.h"

#include <boost/beast/http.hpp>
#include <sstream>

#include "html.h"
#include "http_util.h"
#include "log.h"

namespace tails_server::chat {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {

constexpr std::chrono::seconds kKeepAlive{30};
constexpr std::chrono::seconds kWriteTimeout{60};

}  // namespace

StreamSession::StreamSession(net::ip::tcp::socket socket, Room& room, ConnectionTicket ticket, std::string token,
                             unsigned version)
    : stream_(std::move(socket)),
      room_(room),
      ticket_(std::move(ticket)),
      token_(std::move(token)),
      chunked_(version >= 11),
      keep_alive_timer_(stream_.get_executor()) {}

StreamSession::~StreamSession() {
  if (attached_) room_.detach(token_, this);
}

void StreamSession::run() {
  http::response<http::empty_body> header(http::status::ok, chunked_ ? 11 : 10);
  header.set(http::field::content_type, "text/html; charset=utf-8");
  set_security_headers(header);
  if (chunked_) {
    header.chunked(true);
  } else {
    header.keep_alive(false);
  }
  std::ostringstream text;
  text << header.base();
  header_ = text.str();
  stream_.expires_never();
  attached_ = room_.attach(token_, this);
  if (!attached_) {
    close();
    return;
  }
  watch_peer();
  keep_alive();
  write();
}

void StreamSession::welcome(const Guest& guest) {
  queue(std::make_shared<const std::string>(stream_start(room_.config(), guest.name, room_.history())));
}

void StreamSession::deliver(const EventPtr& event) { queue(std::shared_ptr<const std::string>(event, &event->html)); }

void StreamSession::queue(std::shared_ptr<const std::string> text) {
  if (closed_) return;
  if (!outbox_.push(std::move(text))) {
    log::notice("dropped a stream connection: its outgoing queue is full");
    close();
    return;
  }
  write();
}

void StreamSession::write() {
  if (writing_ || closed_ || (header_sent_ && outbox_.empty())) return;
  writing_ = true;
  stream_.expires_after(kWriteTimeout);
  auto done = [self = shared_from_this()](beast::error_code error, std::size_t) {
    self->writing_ = false;
    if (error) {
      self->close();
      return;
    }
    if (self->header_sent_) {
      self->outbox_.pop();
    } else {
      self->header_sent_ = true;
      self->header_.clear();
    }
    self->write();
  };
  if (!header_sent_) {
    net::async_write(stream_, net::buffer(header_), std::move(done));
  } else if (chunked_) {
    net::async_write(stream_, http::make_chunk(net::buffer(outbox_.front())), std::move(done));
  } else {
    net::async_write(stream_, net::buffer(outbox_.front()), std::move(done));
  }
}

// The peer sends nothing on this connection; a read ends when it closes (or misbehaves), and so do we.
void StreamSession::watch_peer() {
  stream_.async_read_some(net::buffer(&peer_byte_, 1),
                          [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
}

void StreamSession::keep_alive() {
  keep_alive_timer_.expires_after(kKeepAlive);
  keep_alive_timer_.async_wait([self = shared_from_this()](beast::error_code error) {
    if (error || self->closed_) return;
    static const auto kComment = std::make_shared<const std::string>("<!-- -->\n");
    self->queue(kComment);
    self->keep_alive();
  });
}

void StreamSession::close() {
  if (closed_) return;
  closed_ = true;
  keep_alive_timer_.cancel();
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

}  // namespace tails_server::chat

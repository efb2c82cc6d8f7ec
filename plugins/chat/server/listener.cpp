#include "listener.h"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/socket_base.hpp>

#include "http_session.h"
#include "log.h"

namespace tails_server::chat {

namespace net = boost::asio;

Listener::Listener(net::io_context& io, const net::ip::tcp::endpoint& endpoint, Room& room, ConnectionCount& count)
    : acceptor_(io), retry_(io), room_(room), count_(count) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  if (endpoint.address().is_v6()) acceptor_.set_option(net::ip::v6_only(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void Listener::run() { accept(); }

void Listener::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
}

void Listener::accept() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code error, net::ip::tcp::socket socket) {
    if (error == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (error) {
      // Out of descriptors or memory: try again a little later rather than spin.
      log::warning("accepting a connection failed: " + error.message());
      self->retry_.expires_after(std::chrono::milliseconds(200));
      self->retry_.async_wait([self](boost::system::error_code wait_error) {
        if (!wait_error) self->accept();
      });
      return;
    }
    if (self->count_.live >= self->count_.max) {
      // Logged at most once a minute: a flood must not flood the journal.
      const auto now = std::chrono::steady_clock::now();
      if (now - self->last_refusal_log_ > std::chrono::minutes(1)) {
        self->last_refusal_log_ = now;
        log::notice("refused a connection: too many connections (" + std::to_string(self->count_.max) + ")");
      }
      socket.close(error);
    } else {
      // A small send buffer: memory per connection stays bounded, and a guest that stops reading fills it
      // (and then its outgoing queue) soon.
      socket.set_option(net::socket_base::send_buffer_size(64 * 1024), error);
      socket.set_option(net::ip::tcp::no_delay(true), error);
      std::make_shared<HttpSession>(std::move(socket), self->room_, ConnectionTicket(self->count_))->run();
    }
    self->accept();
  });
}

}  // namespace tails_server::chat

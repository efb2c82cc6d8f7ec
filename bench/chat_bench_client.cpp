// The guests of bench/chat_bench.py: GUESTS WebSocket guests of the chat server in one thread (Beast), so
// that the client's own work weighs little in the figures. Guest 0 sends MESSAGES messages, one every
// INTERVAL_MS; for each, the time from its send to the receive of the last guest (guest 0 included).
// Prints "connected" once all guests are in, then one JSON line {"latencies_ms": [...], "missing": N},
// and exits when its standard input closes or gets a line.
// Usage: chat-bench-client PORT GUESTS MESSAGES INTERVAL_MS
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Guest {
  explicit Guest(net::io_context& io) : ws(io) {}
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buffer;
};

struct Bench {
  std::vector<std::unique_ptr<Guest>> guests;
  std::vector<Clock::time_point> sent;
  std::vector<Clock::time_point> latest;
  std::vector<int> seen;
};

// POST /join; returns "tschat=TOKEN".
std::string join(net::io_context& io, const tcp::endpoint& endpoint) {
  tcp::socket socket(io);
  socket.connect(endpoint);
  http::request<http::empty_body> request(http::verb::post, "/join", 11);
  request.set(http::field::host, "bench.onion");
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  const auto cookie = response[http::field::set_cookie];
  return std::string(cookie.substr(0, cookie.find(';')));
}

void read(Bench& bench, Guest& guest) {
  guest.ws.async_read(guest.buffer, [&bench, &guest](beast::error_code error, std::size_t) {
    if (error) return;
    const auto now = Clock::now();
    const std::string frame = beast::buffers_to_string(guest.buffer.data());
    guest.buffer.consume(guest.buffer.size());
    static const std::string kMarker = "\"text\":\"bench ";
    const auto at = frame.find(kMarker);
    if (at != std::string::npos) {
      const std::size_t index = std::stoul(frame.substr(at + kMarker.size()));
      if (index < bench.latest.size()) {
        if (now > bench.latest[index]) bench.latest[index] = now;
        ++bench.seen[index];
      }
    }
    read(bench, guest);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fputs("Usage: chat-bench-client PORT GUESTS MESSAGES INTERVAL_MS\n", stderr);
    return 2;
  }
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(argv[1])));
  const int guest_count = std::stoi(argv[2]);
  const int messages = std::stoi(argv[3]);
  const auto interval = std::chrono::milliseconds(std::stoi(argv[4]));
  net::io_context io;
  Bench bench;
  bench.sent.resize(messages);
  bench.latest.resize(messages);
  bench.seen.resize(messages);
  for (int n = 0; n < guest_count; ++n) {
    const std::string cookie = join(io, endpoint);
    auto guest = std::make_unique<Guest>(io);
    guest->ws.next_layer().connect(endpoint);
    guest->ws.set_option(websocket::stream_base::decorator(
        [cookie](websocket::request_type& request) { request.set(http::field::cookie, cookie); }));
    guest->ws.handshake("bench.onion", "/ws");
    read(bench, *guest);
    bench.guests.push_back(std::move(guest));
  }
  std::cout << "connected" << std::endl;

  net::steady_timer timer(io);
  std::string outgoing;
  int next = 0;
  std::function<void()> send_next = [&] {
    if (next == messages) {
      timer.expires_after(std::chrono::seconds(2));
      timer.async_wait([&](beast::error_code) { io.stop(); });
      return;
    }
    outgoing = "{\"type\":\"message\",\"text\":\"bench " + std::to_string(next) + " " + std::string(100, 'x') + "\"}";
    bench.sent[next] = Clock::now();
    ++next;
    bench.guests[0]->ws.async_write(net::buffer(outgoing), [&](beast::error_code error, std::size_t) {
      if (error) return io.stop();
      timer.expires_after(interval);
      timer.async_wait([&](beast::error_code) { send_next(); });
    });
  };
  send_next();
  io.run();

  int missing = 0;
  std::string latencies;
  for (int n = 0; n < messages; ++n) {
    if (bench.seen[n] != guest_count) {
      ++missing;
      continue;
    }
    const double ms = std::chrono::duration<double, std::milli>(bench.latest[n] - bench.sent[n]).count();
    latencies += (latencies.empty() ? "" : ",") + std::to_string(ms);
  }
  std::cout << "{\"latencies_ms\": [" << latencies << "], \"missing\": " << missing << "}" << std::endl;
  std::string line;
  std::getline(std::cin, line);
  return 0;
}

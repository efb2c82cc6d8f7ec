// tails-server-chat: the server of the ephemeral chat service (PROTOCOL.md). One room, in memory only, on
// the loopback addresses its JSON configuration names; one thread.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "room.h"

namespace net = boost::asio;
using namespace tails_server::chat;

namespace {

constexpr int kExitUsage = 2;

const char kUsage[] =
    "Usage: tails-server-chat --config FILE\n"
    "       tails-server-chat --check-config FILE\n"
    "       tails-server-chat --help\n"
    "Runs the one room of the ephemeral chat service on the addresses FILE (JSON) names.\n"
    "--check-config validates FILE and exits 0, or names what is wrong and exits 2.\n"
    "Nothing is written anywhere: messages, names and history live in memory only.\n";

std::string endpoint_text(const ListenAddress& listen) {
  const bool v6 = listen.address.find(':') != std::string::npos;
  return (v6 ? "[" + listen.address + "]" : listen.address) + ":" + std::to_string(listen.port);
}

// Listens and runs until SIGTERM or SIGINT. The listeners and the signal set go before the io_context.
int run(net::io_context& io, Room& room, ConnectionCount& count, const Config& config) {
  std::vector<std::shared_ptr<Listener>> listeners;
  for (const auto& listen : config.listen) {
    const net::ip::tcp::endpoint endpoint(net::ip::make_address(listen.address), listen.port);
    try {
      listeners.push_back(std::make_shared<Listener>(io, endpoint, room, count));
    } catch (const boost::system::system_error& error) {
      log::error("cannot listen on " + endpoint_text(listen) + ": " + error.code().message());
      return 1;
    }
    log::info("listening on " + endpoint_text(listen));
  }
  for (auto& listener : listeners) listener->run();

  net::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (error) return;
    log::info("stopping: the room and its history are wiped");
    for (auto& listener : listeners) listener->stop();
    room.close_all();
    io.stop();
  });
  io.run();
  return 0;
}

int serve(const Config& config) {
  ConnectionCount count;
  count.max = static_cast<std::size_t>(config.max_users) * 4 + 16;
  auto io = std::make_unique<net::io_context>(1);
  Room room(*io, config);
  const int code = run(*io, room, count, config);
  room.close_all();
  // The handlers the io_context still holds own sessions, which detach from the room as they go: the
  // io_context goes first, while the room (now without guests or timers) is still there.
  io.reset();
  return code;
}

// No core dump and no ptrace by the same user: the room's memory stays in the process.
void harden_process() {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  rlimit core{0, 0};
  setrlimit(RLIMIT_CORE, &core);
  // Up to max_users * 4 + 16 connections: take the hard limit of descriptors (systemd's soft one is 1024).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

}  // namespace

int main(int argc, char** argv) {
  harden_process();
  std::signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc != 3 || (std::strcmp(argv[1], "--config") != 0 && std::strcmp(argv[1], "--check-config") != 0)) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  Config config;
  try {
    config = load_config(argv[2]);
  } catch (const ConfigError& error) {
    log::error(error.what());
    return kExitUsage;
  }
  if (std::strcmp(argv[1], "--check-config") == 0) {
    std::printf("config %s: valid\n", argv[2]);
    return 0;
  }
  try {
    return serve(config);
  } catch (const std::exception& error) {
    log::error(std::string("stopped: ") + error.what());
    return 1;
  }
}

// The one room: its guests (token, unique name, rate bucket, live connections), the in-memory history and
// the broadcast of events to every live connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "event.h"

namespace tails_server::chat {

struct Guest;

// A live connection of a guest: a WebSocket or a no-JavaScript stream.
class Connection {
 public:
  virtual ~Connection() = default;
  // Queues what a connection sends first (name, title, MOTD, history, guests). Called by Room::attach.
  virtual void welcome(const Guest& guest) = 0;
  // Queues an event; never blocks. A connection over its queue's cap closes itself.
  virtual void deliver(const EventPtr& event) = 0;
  // Closes the connection soon (the guest left or the server stops); it calls Room::detach when it goes.
  virtual void close() = 0;
};

struct Guest {
  std::string token;
  std::string name;
  bool joined = false;  // a live connection has opened once and "joined" was broadcast
  std::vector<Connection*> connections;
  double tokens = 0;  // the rate bucket
  std::chrono::steady_clock::time_point refilled;
  std::unique_ptr<boost::asio::steady_timer> grace;
  unsigned generation = 0;
};

class Room {
 public:
  Room(boost::asio::io_context& io, Config config);

  const Config& config() const { return config_; }
  const std::deque<EventPtr>& history() const { return history_; }
  // The names of the guests in the room, in no particular order.
  std::vector<std::string> guest_names() const;

  // Creates a guest with a random unique name; nullptr when the room is full (max_users guests). The guest
  // joins when its first connection attaches; one that never does is forgotten after a minute.
  const Guest* create_guest();
  // The guest with this session token, or nullptr.
  const Guest* find(const std::string& token) const;

  // A connection of the guest opens: its welcome, then "joined" to all if it is the guest's first.
  // False (nothing done) when the token names no guest.
  bool attach(const std::string& token, Connection* connection);
  // A connection goes. When a guest's last one goes, it leaves after a grace of 5 s without a new one.
  void detach(const std::string& token, Connection* connection);

  // What a guest sends. Each returns "" when done, else an error code (too-long, throttled, bad-request,
  // name-taken, bad-name, not-in-room): nothing is broadcast then.
  std::string say(const std::string& token, std::string text);
  std::string rename(const std::string& token, std::string name);
  // The guest leaves now: its connections close and "left" is broadcast.
  void leave(const std::string& token);

  // Closes every connection, forgets every guest and the history (the server stops).
  void close_all();

 private:
  Guest* find_mutable(const std::string& token);
  bool take_token(Guest& guest);
  void broadcast(const EventPtr& event);
  void start_grace(Guest& guest, std::chrono::seconds delay);
  void remove(const std::string& token);
  void log_count() const;

  boost::asio::io_context& io_;
  Config config_;
  std::unordered_map<std::string, Guest> guests_;                // by token
  std::unordered_map<std::string, std::string> tokens_by_name_;  // by name_key()
  std::deque<EventPtr> history_;
  std::size_t history_bytes_ = 0;
  std::size_t joined_count_ = 0;
};

}  // namespace tails_server::chat

#include "room.h"

#include <algorithm>

#include "log.h"
#include "names.h"
#include "random.h"
#include "text.h"

namespace tails_server::chat {
namespace {

constexpr std::chrono::seconds kLeaveGrace{5};
constexpr std::chrono::seconds kFirstConnectionGrace{15};
// One guest's live connections: a stream or a WebSocket, and room to reconnect.
constexpr std::size_t kMaxConnectionsPerGuest = 4;
// The history's texts together, whatever `history` says: each welcome copies them.
constexpr std::size_t kMaxHistoryBytes = 1024 * 1024;

}  // namespace

Room::Room(boost::asio::io_context& io, Config config) : io_(io), config_(std::move(config)) {}

std::vector<std::string> Room::guest_names() const {
  std::vector<std::string> names;
  for (const auto& [token, guest] : guests_) {
    if (guest.joined) names.push_back(guest.name);
  }
  return names;
}

const Guest* Room::create_guest() {
  if (guests_.size() >= static_cast<std::size_t>(config_.max_users)) {
    log::notice("refused a guest: room full (max-users " + std::to_string(config_.max_users) + ")");
    return nullptr;
  }
  // Guests made by /join that never connected hold a place for a while:
  // only a quarter of the room (at least 4) may be such.
  std::size_t waiting = guests_.size() - joined_count_;
  if (waiting >= std::max<std::size_t>(4, static_cast<std::size_t>(config_.max_users) / 4)) {
    log::notice("refused a guest: too many guests that never connected");
    return nullptr;
  }
  std::string token = random_token();
  while (guests_.count(token) != 0) token = random_token();
  Guest& guest = guests_[token];
  guest.token = token;
  guest.name = random_name([this](const std::string& name) { return tokens_by_name_.count(name_key(name)) != 0; });
  tokens_by_name_[name_key(guest.name)] = token;
  guest.tokens = config_.rate_burst;
  guest.refilled = std::chrono::steady_clock::now();
  guest.grace = std::make_unique<boost::asio::steady_timer>(io_);
  start_grace(guest, kFirstConnectionGrace);
  return &guest;
}

const Guest* Room::find(const std::string& token) const {
  auto it = guests_.find(token);
  return it == guests_.end() ? nullptr : &it->second;
}

Guest* Room::find_mutable(const std::string& token) {
  auto it = guests_.find(token);
  return it == guests_.end() ? nullptr : &it->second;
}

bool Room::attach(const std::string& token, Connection* connection) {
  Guest* guest = find_mutable(token);
  if (guest == nullptr || guest->connections.size() >= kMaxConnectionsPerGuest) return false;
  guest->grace->cancel();
  ++guest->generation;
  guest->connections.push_back(connection);
  const bool first = !guest->joined;
  guest->joined = true;
  connection->welcome(*guest);
  if (first) {
    ++joined_count_;
    broadcast(make_status(Event::Kind::kJoin, guest->name));
    log_count();
  }
  return true;
}

void Room::detach(const std::string& token, Connection* connection) {
  Guest* guest = find_mutable(token);
  if (guest == nullptr) return;
  auto& connections = guest->connections;
  connections.erase(std::remove(connections.begin(), connections.end(), connection), connections.end());
  if (connections.empty()) start_grace(*guest, kLeaveGrace);
}

void Room::start_grace(Guest& guest, std::chrono::seconds delay) {
  const unsigned generation = ++guest.generation;
  guest.grace->expires_after(delay);
  guest.grace->async_wait([this, token = guest.token, generation](const boost::system::error_code& error) {
    if (error) return;
    const Guest* guest = find(token);
    if (guest != nullptr && guest->generation == generation && guest->connections.empty()) remove(token);
  });
}

bool Room::take_token(Guest& guest) {
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - guest.refilled).count();
  guest.refilled = now;
  guest.tokens = std::min<double>(config_.rate_burst, guest.tokens + seconds * config_.rate_per_minute / 60.0);
  if (guest.tokens < 1.0) return false;
  guest.tokens -= 1.0;
  return true;
}

std::string Room::say(const std::string& token, std::string text) {
  Guest* guest = find_mutable(token);
  if (guest == nullptr || !guest->joined) return "not-in-room";
  if (text.size() > static_cast<std::size_t>(config_.max_message_bytes)) return "too-long";
  if (text.empty() || !is_valid_utf8(text) || has_control_chars(text, "\n\t")) return "bad-request";
  if (!take_token(*guest)) return "throttled";
  auto event = make_message(guest->name, std::move(text));
  if (config_.history > 0) {
    history_.push_back(event);
    history_bytes_ += event->text.size();
    while (history_.size() > static_cast<std::size_t>(config_.history) || history_bytes_ > kMaxHistoryBytes) {
      history_bytes_ -= history_.front()->text.size();
      history_.pop_front();
    }
  }
  broadcast(event);
  return {};
}

std::string Room::rename(const std::string& token, std::string name) {
  Guest* guest = find_mutable(token);
  if (guest == nullptr || !guest->joined) return "not-in-room";
  if (check_name(name) != NameCheck::kOk) return "bad-name";
  if (name == guest->name) return {};
  const std::string key = name_key(name);
  auto owner = tokens_by_name_.find(key);
  if (owner != tokens_by_name_.end() && owner->second != token) return "name-taken";
  if (!take_token(*guest)) return "throttled";
  tokens_by_name_.erase(name_key(guest->name));
  tokens_by_name_[key] = token;
  std::string old_name = std::exchange(guest->name, std::move(name));
  broadcast(make_status(Event::Kind::kRename, guest->name, std::move(old_name)));
  return {};
}

void Room::leave(const std::string& token) {
  Guest* guest = find_mutable(token);
  if (guest == nullptr) return;
  for (Connection* connection : guest->connections) connection->close();
  remove(token);
}

void Room::remove(const std::string& token) {
  auto it = guests_.find(token);
  if (it == guests_.end()) return;
  Guest& guest = it->second;
  guest.grace->cancel();
  const bool joined = guest.joined;
  std::string name = std::move(guest.name);
  tokens_by_name_.erase(name_key(name));
  guests_.erase(it);
  if (joined) {
    --joined_count_;
    broadcast(make_status(Event::Kind::kLeave, std::move(name)));
    log_count();
  }
}

void Room::broadcast(const EventPtr& event) {
  std::vector<Connection*> targets;
  for (const auto& [token, guest] : guests_) {
    targets.insert(targets.end(), guest.connections.begin(), guest.connections.end());
  }
  for (Connection* connection : targets) connection->deliver(event);
}

void Room::close_all() {
  for (auto& [token, guest] : guests_) {
    guest.grace->cancel();
    for (Connection* connection : guest.connections) connection->close();
  }
  guests_.clear();
  tokens_by_name_.clear();
  history_.clear();
  history_bytes_ = 0;
  joined_count_ = 0;
}

void Room::log_count() const { log::info(std::to_string(joined_count_) + (joined_count_ == 1 ? " guest" : " guests")); }

}  // namespace tails_server::chat

// A connection's capped queue of outgoing texts. Over the cap the connection is dropped, so a guest that
// stops reading costs bounded memory and never stalls the others (writes are asynchronous).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

namespace tails_server::chat {

class Outbox {
 public:
  static constexpr std::size_t kMaxBytes = 256 * 1024;
  static constexpr std::size_t kMaxItems = 1000;

  // Queues `text`; false when the queue would go over its cap (the caller drops the connection).
  bool push(std::shared_ptr<const std::string> text) {
    if (items_.size() + 1 > kMaxItems || bytes_ + text->size() > kMaxBytes) return false;
    bytes_ += text->size();
    items_.push_back(std::move(text));
    return true;
  }
  bool empty() const { return items_.empty(); }
  const std::string& front() const { return *items_.front(); }
  void pop() {
    bytes_ -= items_.front()->size();
    items_.pop_front();
  }
  void clear() {
    items_.clear();
    bytes_ = 0;
  }

 private:
  std::deque<std::shared_ptr<const std::string>> items_;
  std::size_t bytes_ = 0;
};

}  // namespace tails_server::chat

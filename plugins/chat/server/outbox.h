// A connection's capped queue of outgoing texts. Over the cap the connection is dropped, so a guest that
// stops reading costs bounded memory and never stalls the others (writes are asynchronous).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <utility>

namespace tails_server::chat {

class Outbox {
 public:
  static constexpr std::size_t kMaxBytes = 256 * 1024;
  static constexpr std::size_t kMaxItems = 1000;

  // Queues `text`; false when the queue would go over its cap (the caller drops the connection). A text
  // queued when the queue is empty always fits and does not count: a welcome with a long history may be
  // larger than the cap, and the events after it must still fit.
  bool push(std::shared_ptr<const std::string> text) {
    const bool counted = !items_.empty();
    if (counted && (items_.size() + 1 > kMaxItems || bytes_ + text->size() > kMaxBytes)) return false;
    if (counted) bytes_ += text->size();
    items_.emplace_back(std::move(text), counted);
    return true;
  }
  bool empty() const { return items_.empty(); }
  const std::string& front() const { return *items_.front().first; }
  void pop() {
    if (items_.front().second) bytes_ -= items_.front().first->size();
    items_.pop_front();
  }

 private:
  std::deque<std::pair<std::shared_ptr<const std::string>, bool>> items_;  // a text, and whether it counts
  std::size_t bytes_ = 0;
};

}  // namespace tails_server::chat

#include "server/token_channel.h"

namespace hearth::server {

void TokenChannel::push(const engine::TokenEvent& ev) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(ev);
  }
  cv_.notify_one();
}

void TokenChannel::finish(const engine::GenerationResult& result) {
  {
    std::lock_guard lock(mutex_);
    done_ = result;
  }
  cv_.notify_one();
}

TokenChannel::Batch TokenChannel::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty() || (done_ && !done_taken_); });
  Batch batch;
  batch.events.swap(events_);
  if (done_ && !done_taken_) {
    batch.done = done_;
    done_taken_ = true;
  }
  return batch;
}

}  // namespace hearth::server

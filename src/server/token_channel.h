// Hands one request's tokens from the scheduler thread to the HTTP worker
// that writes the response. The scheduler's callbacks must never block, so
// they only append under a short lock and notify; the worker waits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/scheduler.h"

namespace hearth::server {

class TokenChannel {
 public:
  TokenChannel() : cancel_(std::make_shared<std::atomic<bool>>(false)) {}

  // Scheduler thread.
  void push(const engine::TokenEvent& ev);
  void finish(const engine::GenerationResult& result);

  struct Batch {
    std::vector<engine::TokenEvent> events;
    std::optional<engine::GenerationResult> done;  // set once, with the last batch
  };
  // Waits up to `timeout` for tokens or the end and takes what arrived.
  Batch take(std::chrono::milliseconds timeout);

  // The flag given to the engine: set when the client goes away.
  const std::shared_ptr<std::atomic<bool>>& cancel_flag() const { return cancel_; }
  void cancel() { cancel_->store(true); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<engine::TokenEvent> events_;
  std::optional<engine::GenerationResult> done_;
  bool done_taken_ = false;
  std::shared_ptr<std::atomic<bool>> cancel_;
};

}  // namespace hearth::server

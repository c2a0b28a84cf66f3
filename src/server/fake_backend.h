// A Backend for tests of the HTTP layer: no model, a tiny scheduler thread
// that decodes up to n_slots requests in lockstep and emits "w0 ", "w1 ", ...
// Prompts are bytes (id = byte + 1, BOS = 0); chat messages render as
// "role: content\n" lines. Only used by *_test.cpp.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "server/backend.h"
#include "util/error.h"

namespace hearth::server::testing {

class FakeBackend : public Backend {
 public:
  struct Options {
    int32_t n_slots = 2;
    int32_t max_queue = 8;
    int32_t n_ctx = 256;
    std::chrono::milliseconds token_delay{1};
    int32_t eos_after = -1;  // >= 0: finish with Stop after this many tokens
  };

  explicit FakeBackend(Options o) : opt_(o) {
    info_.name = "fake-model";
    info_.path = "/models/fake-model.gguf";
    info_.architecture = "llama";
    info_.quantization = "Q8_0";
    info_.n_embd = 4;
    info_.n_vocab = 300;
    info_.n_params = 1234567;
    info_.n_ctx_train = 2048;
    worker_ = std::thread([this] { loop(); });
  }
  ~FakeBackend() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      cancel_all_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  const ModelInfo& info() const override { return info_; }
  std::vector<TokenId> encode(const std::string& text) const override {
    std::vector<TokenId> ids{0};
    for (unsigned char c : text) ids.push_back(static_cast<TokenId>(c) + 1);
    return ids;
  }
  std::vector<TokenId> chat_tokens(const json& messages) const override {
    std::string text;
    for (const auto& m : messages) {
      if (m["content"] == "RAISE") throw Error("template error: bad message");
      text += m["role"].get<std::string>() + ": " + m["content"].get<std::string>() + "\n";
    }
    return encode(text + "assistant:");
  }
  std::string token_piece(TokenId id) const override {
    std::string piece = "w";
    piece.append(std::to_string(id - 100)).append(" ");  // append(): GCC 12's -Wrestrict misfires on +
    return piece;
  }
  int32_t n_ctx() const override { return opt_.n_ctx; }

  bool submit(engine::GenerationRequest request, engine::Scheduler::TokenCallback on_token,
              engine::Scheduler::DoneCallback on_done) override {
    std::lock_guard lock(mutex_);
    if (stopping_ || static_cast<int32_t>(queue_.size()) >= opt_.max_queue) return false;
    queue_.push_back(Job{std::move(request), std::move(on_token), std::move(on_done), 0,
                         std::chrono::steady_clock::now()});
    last_request_ = queue_.back().req;
    cv_.notify_all();
    return true;
  }
  std::vector<float> embed(const std::vector<TokenId>& tokens) override {
    if (tokens.size() > static_cast<size_t>(opt_.n_ctx)) throw Error("too long");
    return {0.5f, 0.5f, 0.5f, static_cast<float>(tokens.size())};
  }
  engine::SchedulerStats stats() const override {
    std::lock_guard lock(mutex_);
    return {opt_.n_slots, static_cast<int32_t>(active_.size()), static_cast<int32_t>(queue_.size())};
  }
  void shutdown(bool cancel) override {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    if (cancel) cancel_all_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return active_.empty() && queue_.empty(); });
  }

  // The last request submitted (for checking parsed parameters).
  engine::GenerationRequest last_request() const {
    std::lock_guard lock(mutex_);
    return last_request_;
  }
  int cancelled_count() const {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

 private:
  struct Job {
    engine::GenerationRequest req;
    engine::Scheduler::TokenCallback on_token;
    engine::Scheduler::DoneCallback on_done;
    int32_t generated;
    std::chrono::steady_clock::time_point queued;
    std::string text = {};
  };

  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      while (static_cast<int32_t>(active_.size()) < opt_.n_slots && !queue_.empty()) {
        active_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (active_.empty()) {
        if (stopping_) {
          cv_.notify_all();
          return;
        }
        cv_.wait(lock);
        continue;
      }
      lock.unlock();
      std::this_thread::sleep_for(opt_.token_delay);
      lock.lock();
      for (size_t i = 0; i < active_.size();) {
        Job& j = active_[i];
        engine::GenerationResult r;
        bool finished = false;
        if (cancel_all_ || (j.req.cancel && j.req.cancel->load())) {
          r.finish = engine::FinishReason::Cancelled;
          ++cancelled_;
          finished = true;
        } else if (opt_.eos_after >= 0 && j.generated >= opt_.eos_after) {
          r.finish = engine::FinishReason::Stop;
          finished = true;
        } else if (j.req.max_tokens >= 0 && j.generated >= j.req.max_tokens) {
          r.finish = engine::FinishReason::Length;
          finished = true;
        } else {
          engine::TokenEvent ev;
          ev.id = 100 + j.generated;
          ev.text = token_piece(ev.id);
          ev.logprob = -0.5f;
          for (int32_t k = 0; k < j.req.top_logprobs; ++k) ev.top.push_back({ev.id + k, token_piece(ev.id + k), -0.5f - k});
          j.on_token(ev);
          j.text += ev.text;
          ++j.generated;
        }
        if (finished) {
          r.text = j.text;
          r.prompt_tokens = static_cast<int32_t>(j.req.prompt.size());
          r.completion_tokens = j.generated;
          r.ttft_s = 0.001;
          r.generation_s = 0.002;
          j.on_done(r);
          active_.erase(active_.begin() + static_cast<long>(i));
          cv_.notify_all();
        } else {
          ++i;
        }
      }
    }
  }

  Options opt_;
  ModelInfo info_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<Job> active_;
  engine::GenerationRequest last_request_;
  bool stopping_ = false;
  bool cancel_all_ = false;
  int cancelled_ = 0;
  std::thread worker_;
};

}  // namespace hearth::server::testing

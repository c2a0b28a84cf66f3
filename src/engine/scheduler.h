// Continuous batching: several generation requests decoded together, one
// batched forward pass per step. A request joins (its prompt is processed) or
// leaves (finished, cancelled) between steps; each slot keeps its KV cache
// after a request ends, so a follow-up request that starts with the same
// tokens (the next turn of a chat) only processes what is new.
//
// The scheduler owns one thread that runs the model; callbacks run on it and
// must return quickly (hand the text to another thread, don't block on I/O).
//
//   engine::Scheduler sched(model, {.n_slots = 4});
//   auto result = sched.generate(request, [](const engine::TokenEvent& ev) { send(ev.text); return true; });
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace hearth {
class Model;
}

namespace hearth::engine {

struct TokenLogprob {
  TokenId id = -1;
  std::string text;  // the token's piece (special tokens as their text)
  float logprob = 0;
};

struct GenerationRequest {
  std::vector<TokenId> prompt;  // tokenized, BOS and template tokens included; not empty
  SamplingParams sampling;
  int32_t max_tokens = -1;  // < 0: until end of generation or a full context
  // Generation ends where the text reaches one of these; the stop string
  // itself is not part of the output.
  std::vector<std::string> stop;
  bool ignore_eos = false;  // don't stop at end-of-generation tokens
  // < 0: no log-probabilities; 0..20: the chosen token's log-probability and
  // this many most likely alternatives (before sampling filters, as OpenAI).
  int32_t top_logprobs = -1;
  // Set to true (any thread) to stop the request at the next step: a client
  // that went away. May be null.
  std::shared_ptr<std::atomic<bool>> cancel;
};

// One generated token; or, with id -1, text held back until the end and
// released when the request finishes.
struct TokenEvent {
  TokenId id = -1;
  // Text this token releases: complete UTF-8 only, and text that might be
  // the start of a stop string is held back until it is known not to be
  // (so it may be empty, and may hold the text of earlier tokens).
  std::string text;
  float logprob = 0;               // when requested
  std::vector<TokenLogprob> top;   // when requested, most likely first
};

enum class FinishReason { Stop, Length, Cancelled, Error };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "cancelled", "error"

struct GenerationResult {
  FinishReason finish = FinishReason::Stop;
  std::string text;            // everything generated (the stop string excluded)
  std::string error;           // for FinishReason::Error
  int32_t prompt_tokens = 0;   // prompt length
  int32_t cached_tokens = 0;   // prompt tokens found in the slot's KV cache (not processed again)
  int32_t completion_tokens = 0;
  double queue_s = 0;          // waiting for a slot
  double ttft_s = 0;           // from start of processing to the first token
  double generation_s = 0;     // first token to last
};

struct SchedulerOptions {
  int32_t n_slots = 1;       // requests decoded together
  int32_t n_ctx = 0;         // context (KV positions) per slot; 0: Session::kDefaultCtx or the model's
  int threads = 0;           // 0: physical cores
  int32_t max_queue = 64;    // requests waiting for a slot beyond this are refused
};

struct SchedulerStats {
  int32_t n_slots = 0;
  int32_t slots_busy = 0;
  int32_t queue_depth = 0;
};

class Scheduler {
 public:
  using TokenCallback = std::function<void(const TokenEvent&)>;
  using DoneCallback = std::function<void(const GenerationResult&)>;

  Scheduler(const Model& model, const SchedulerOptions& options);
  ~Scheduler();  // cancels what is still running and joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Returns false (and calls nothing) when the queue is
  // full or the scheduler is shutting down. Otherwise on_token is called for
  // each generated token and on_done exactly once, all on the scheduler
  // thread. Requests that can never run (prompt longer than a slot's context,
  // bad token ids) finish at once with FinishReason::Error.
  bool submit(GenerationRequest request, TokenCallback on_token, DoneCallback on_done);

  // submit() and wait. Throws hearth::Error when the queue is full.
  GenerationResult generate(GenerationRequest request, TokenCallback on_token = {});

  // Mean-pooled, L2-normalised final hidden states of `tokens` (one
  // n_embd vector), computed between decode steps. Throws hearth::Error for
  // an empty or too long input, or when shutting down.
  std::vector<float> embed(const std::vector<TokenId>& tokens);

  SchedulerStats stats() const;
  int32_t n_ctx() const;  // per slot

  // Stops taking requests; with cancel, running and queued requests end with
  // FinishReason::Cancelled, else they run to the end. Returns when all are done.
  void shutdown(bool cancel);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::engine

#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/text_stream.h"
#include "kernels/thread_pool.h"
#include "model/model.h"
#include "model/session.h"
#include "util/error.h"

namespace hearth::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Tokens one step puts through the model at most: every decoding slot's next
// token, then prompt tokens of joining requests up to this budget. A long
// prompt is processed over several steps so the others keep streaming.
constexpr int32_t kStepTokens = 256;

// How many leading tokens a and b share, at most `limit`.
size_t common_prefix(const std::vector<TokenId>& a, const std::vector<TokenId>& b, size_t limit) {
  const size_t n = std::min({a.size(), b.size(), limit});
  return static_cast<size_t>(std::mismatch(a.begin(), a.begin() + n, b.begin()).first - a.begin());
}

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "error";
}

struct Scheduler::Impl {
  struct Pending {
    GenerationRequest request;
    TokenCallback on_token;
    DoneCallback on_done;
    Clock::time_point queued;
  };
  struct EmbedJob {
    std::vector<TokenId> tokens;
    std::promise<std::vector<float>> result;
  };
  struct Slot {
    int32_t seq = 0;
    bool busy = false;
    std::vector<TokenId> cached;  // tokens in this slot's KV cache, in order
    std::optional<Pending> job;
    std::unique_ptr<Sampler> sampler;
    std::unique_ptr<TextStream> text;
    size_t fed = 0;            // prompt tokens in the cache
    TokenId next = -1;         // sampled, not yet evaluated
    GenerationResult result;
    Clock::time_point started, first_token;
  };

  Impl(const Model& m, const SchedulerOptions& o)
      : model(m),
        tok(m.tokenizer()),
        options(o),
        pool(o.threads > 0 ? o.threads : ThreadPool::default_threads()),
        session(m, o.n_ctx, &pool, std::max(1, o.n_slots)) {
    slots.resize(session.n_seq());
    for (int32_t i = 0; i < session.n_seq(); ++i) slots[i].seq = i;
    thread = std::thread([this] { loop(); });
  }

  const Model& model;
  const Tokenizer& tok;
  SchedulerOptions options;
  ThreadPool pool;
  Session session;
  std::unique_ptr<Session> embed_session;  // made on first use
  std::vector<Slot> slots;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;
  std::deque<EmbedJob> embeds;
  bool stopping = false;
  bool cancel_all = false;
  int32_t busy = 0;
  std::thread thread;

  void loop();
  void start(Slot& slot, Pending job);
  void step();
  void emit_token(Slot& slot, const float* logits);
  void finish(Slot& slot, FinishReason why, std::string error = {});
  void run_embed(EmbedJob& job);
};

Scheduler::Scheduler(const Model& model, const SchedulerOptions& options)
    : impl_(std::make_unique<Impl>(model, options)) {}

Scheduler::~Scheduler() { shutdown(true); }

bool Scheduler::submit(GenerationRequest request, TokenCallback on_token, DoneCallback on_done) {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping || static_cast<int32_t>(impl_->queue.size()) >= impl_->options.max_queue) return false;
  impl_->queue.push_back({std::move(request), std::move(on_token), std::move(on_done), Clock::now()});
  impl_->cv.notify_all();
  return true;
}

GenerationResult Scheduler::generate(GenerationRequest request, TokenCallback on_token) {
  std::promise<GenerationResult> done;
  auto future = done.get_future();
  if (!submit(std::move(request), std::move(on_token), [&done](const GenerationResult& r) { done.set_value(r); })) {
    throw Error("the request queue is full");
  }
  return future.get();
}

std::vector<float> Scheduler::embed(const std::vector<TokenId>& tokens) {
  if (tokens.empty()) throw Error("nothing to embed: the input has no tokens");
  if (static_cast<int32_t>(tokens.size()) > impl_->session.n_ctx()) {
    throw Error("the input has " + std::to_string(tokens.size()) + " tokens, more than the context size " +
                std::to_string(impl_->session.n_ctx()));
  }
  std::future<std::vector<float>> result;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) throw Error("the server is shutting down");
    impl_->embeds.push_back({tokens, {}});
    result = impl_->embeds.back().result.get_future();
    impl_->cv.notify_all();
  }
  return result.get();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(impl_->mu);
  return {static_cast<int32_t>(impl_->slots.size()), impl_->busy, static_cast<int32_t>(impl_->queue.size())};
}

int32_t Scheduler::n_ctx() const { return impl_->session.n_ctx(); }

void Scheduler::shutdown(bool cancel) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    if (cancel) impl_->cancel_all = true;
    impl_->cv.notify_all();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Scheduler::Impl::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] {
        return busy > 0 || !embeds.empty() || (!queue.empty() && busy < static_cast<int32_t>(slots.size())) ||
               stopping;
      });
      if (cancel_all) {
        // Queued requests end below, as cancelled ones do.
        for (EmbedJob& e : embeds) e.result.set_exception(std::make_exception_ptr(Error("the server is shutting down")));
        embeds.clear();
      }
      if (stopping && busy == 0 && queue.empty() && embeds.empty()) return;
    }
    // Embeddings run between decode steps.
    for (;;) {
      std::optional<EmbedJob> job;
      {
        std::lock_guard lock(mu);
        if (embeds.empty()) break;
        job.emplace(std::move(embeds.front()));
        embeds.pop_front();
      }
      run_embed(*job);
    }
    // Queued requests take free slots: the slot whose cache shares the
    // longest prefix with the prompt (a chat's next turn finds its own).
    std::vector<Pending> cancelled;
    for (;;) {
      std::optional<Pending> job;
      Slot* best = nullptr;
      {
        std::lock_guard lock(mu);
        // Requests cancelled while they waited (the client went away, or
        // shutdown with cancel) end here, without taking a slot.
        for (auto it = queue.begin(); it != queue.end();) {
          if (cancel_all || (it->request.cancel && it->request.cancel->load())) {
            cancelled.push_back(std::move(*it));
            it = queue.erase(it);
          } else {
            ++it;
          }
        }
        if (queue.empty() || busy == static_cast<int32_t>(slots.size())) break;
        job.emplace(std::move(queue.front()));
        queue.pop_front();
        size_t best_prefix = 0;
        for (Slot& s : slots) {
          if (s.busy) continue;
          const size_t common = common_prefix(s.cached, job->request.prompt, SIZE_MAX);
          if (!best || common > best_prefix || (common == best_prefix && s.cached.size() < best->cached.size())) {
            best = &s;
            best_prefix = common;
          }
        }
        best->busy = true;
        ++busy;
      }
      start(*best, std::move(*job));
    }
    for (Pending& p : cancelled) {
      GenerationResult r;
      r.finish = FinishReason::Cancelled;
      r.prompt_tokens = static_cast<int32_t>(p.request.prompt.size());
      r.queue_s = seconds(p.queued, Clock::now());
      if (p.on_done) p.on_done(r);
    }
    step();
  }
}

void Scheduler::Impl::start(Slot& slot, Pending job) {
  slot.job.emplace(std::move(job));
  slot.result = {};
  slot.started = Clock::now();
  GenerationRequest& req = slot.job->request;
  slot.result.prompt_tokens = static_cast<int32_t>(req.prompt.size());
  slot.result.queue_s = seconds(slot.job->queued, slot.started);

  if (req.prompt.empty()) return finish(slot, FinishReason::Error, "the prompt is empty");
  if (static_cast<int32_t>(req.prompt.size()) >= session.n_ctx()) {
    return finish(slot, FinishReason::Error,
                  "the prompt has " + std::to_string(req.prompt.size()) + " tokens; the context holds " +
                      std::to_string(session.n_ctx()) + " (prompt and reply together)");
  }
  for (const TokenId t : req.prompt) {
    if (t < 0 || t >= tok.n_vocab()) return finish(slot, FinishReason::Error, "token id " + std::to_string(t) + " is out of range");
  }
  // Reuse the cached prefix; at least the last prompt token is evaluated
  // again, for its logits.
  const size_t common = common_prefix(slot.cached, req.prompt, req.prompt.size() - 1);
  session.truncate(static_cast<int32_t>(common), slot.seq);
  slot.cached.resize(common);
  slot.fed = common;
  slot.result.cached_tokens = static_cast<int32_t>(common);
  slot.next = -1;
  slot.sampler = std::make_unique<Sampler>(req.sampling, tok.n_vocab());
  for (const TokenId t : req.prompt) slot.sampler->accept(t);
  slot.text = std::make_unique<TextStream>(req.stop);
}

void Scheduler::Impl::step() {
  std::vector<SeqTokens> batch;
  std::vector<Slot*> owners;
  int32_t budget = kStepTokens;
  // Decoding slots first (one token each), then prompt chunks.
  for (int pass = 0; pass < 2; ++pass) {
    for (Slot& s : slots) {
      if (!s.busy || !s.job) continue;
      const bool cancelled = cancel_all || (s.job->request.cancel && s.job->request.cancel->load());
      if (cancelled) {
        if (pass == 0) finish(s, FinishReason::Cancelled);
        continue;
      }
      const bool decoding = s.next >= 0;
      if (decoding != (pass == 0)) continue;
      if (decoding) {
        batch.push_back({s.seq, {&s.next, 1}});
        --budget;
      } else {
        const auto& p = s.job->request.prompt;
        const int32_t n = std::min<int32_t>(budget, static_cast<int32_t>(p.size() - s.fed));
        if (n <= 0) continue;
        batch.push_back({s.seq, {p.data() + s.fed, static_cast<size_t>(n)}});
        budget -= n;
      }
      owners.push_back(&s);
    }
  }
  if (batch.empty()) return;
  std::span<const float> logits;
  try {
    logits = session.eval_batch(batch);
  } catch (const std::exception& e) {
    for (Slot* s : owners) finish(*s, FinishReason::Error, e.what());
    return;
  }
  const size_t n_vocab = tok.n_vocab();
  for (size_t i = 0; i < owners.size(); ++i) {
    Slot& s = *owners[i];
    s.cached.insert(s.cached.end(), batch[i].tokens.begin(), batch[i].tokens.end());
    if (s.next < 0) {
      s.fed += batch[i].tokens.size();
      if (s.fed < s.job->request.prompt.size()) continue;  // more prompt to go
    }
    emit_token(s, logits.data() + i * n_vocab);
  }
}

void Scheduler::Impl::emit_token(Slot& slot, const float* logits) {
  const GenerationRequest& req = slot.job->request;
  const TokenId id = slot.sampler->sample(logits);
  const auto now = Clock::now();
  if (slot.result.completion_tokens == 0) {
    slot.first_token = now;
    slot.result.ttft_s = seconds(slot.started, now);
  }
  if (tok.is_eog(id) && !req.ignore_eos) return finish(slot, FinishReason::Stop);
  slot.sampler->accept(id);
  ++slot.result.completion_tokens;

  TokenEvent ev;
  ev.id = id;
  ev.text = slot.text->push(tok.token_to_piece(id));
  if (req.top_logprobs >= 0) {
    const int32_t n = tok.n_vocab();
    const float mx = *std::max_element(logits, logits + n);
    double sum = 0;
    for (int32_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(logits[j] - mx));
    const float log_z = mx + static_cast<float>(std::log(sum));
    ev.logprob = logits[id] - log_z;
    const int32_t k = std::min(req.top_logprobs, n);
    std::vector<int32_t> ids(n);
    for (int32_t j = 0; j < n; ++j) ids[j] = j;
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    for (int32_t j = 0; j < k; ++j) ev.top.push_back({ids[j], tok.token_to_piece(ids[j], true), logits[ids[j]] - log_z});
  }
  if (slot.job->on_token) slot.job->on_token(ev);
  if (slot.text->stopped()) return finish(slot, FinishReason::Stop);
  if (req.max_tokens >= 0 && slot.result.completion_tokens >= req.max_tokens) return finish(slot, FinishReason::Length);
  if (session.n_past(slot.seq) >= session.n_ctx()) return finish(slot, FinishReason::Length);
  slot.next = id;
}

void Scheduler::Impl::finish(Slot& slot, FinishReason why, std::string error) {
  if (slot.text && why != FinishReason::Error) {
    std::string rest = slot.text->finish();
    if (!rest.empty() && slot.job->on_token) {
      TokenEvent ev;  // id -1: held-back text released at the end
      ev.text = std::move(rest);
      slot.job->on_token(ev);
    }
  }
  GenerationResult& r = slot.result;
  r.finish = why;
  r.error = std::move(error);
  if (slot.text) r.text = slot.text->text();
  if (r.completion_tokens > 0) r.generation_s = seconds(slot.first_token, Clock::now());
  Pending job = std::move(*slot.job);
  slot.job.reset();
  slot.sampler.reset();
  slot.text.reset();
  slot.next = -1;
  if (session.n_past(slot.seq) != static_cast<int32_t>(slot.cached.size())) {
    // A failed evaluation leaves the cache in an unknown state: forget it.
    session.truncate(0, slot.seq);
    slot.cached.clear();
  }
  {
    // Free the slot first: a client that sees its request done then sees
    // the slot free in stats().
    std::lock_guard lock(mu);
    slot.busy = false;
    --busy;
    cv.notify_all();
  }
  if (job.on_done) job.on_done(r);
}

void Scheduler::Impl::run_embed(EmbedJob& job) {
  try {
    if (!embed_session) embed_session = std::make_unique<Session>(model, session.n_ctx(), &pool, 1);
    job.result.set_value(embed_session->embed(job.tokens));
  } catch (...) {
    job.result.set_exception(std::current_exception());
  }
}

}  // namespace hearth::engine

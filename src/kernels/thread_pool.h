// A fixed pool of worker threads for the forward pass. run() is called many
// times per token (once per matmul), so hand-off must cost around a
// microsecond: workers spin briefly on an atomic generation counter before
// sleeping, and the calling thread takes part as thread 0.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace hearth {

class ThreadPool {
 public:
  // n_threads >= 1 counts the calling thread (n_threads - 1 workers are started).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) on every thread (the caller is index 0)
  // and returns when all have finished. Not re-entrant.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into contiguous chunks, one per thread; fn(begin, end).
  // The split depends only on n and size(), never on timing.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // Physical cores of this machine (fallback: hardware_concurrency).
  static int default_threads();

 private:
  struct State;
  int n_threads_;
  std::unique_ptr<State> state_;
};

}  // namespace hearth

// A fixed pool of worker threads for the forward pass. run() is called many
// times per token (once per matmul), so hand-off must cost around a
// microsecond: workers spin briefly on an atomic generation counter before
// sleeping, and the calling thread takes part as thread 0.
#pragma once

#include <cstddef>
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

  // While worker `thread` (1 .. size()-1) waits for the next job, it
  // prefetches [p, p + bytes) into its caches, a few lines at a time (it
  // takes a job as soon as one comes, and goes on with the rest when idle
  // again). Decoding uses it to read the start of the weights this worker
  // will multiply next while the caller does the single-threaded work
  // between two matmuls. Call from the thread that calls run(); a new
  // request replaces the previous one (bytes = 0: none; at most 16 MiB of
  // it are prefetched). Only a hint:
  // nothing is read through p (any address is harmless).
  void prefetch_while_idle(int thread, const void* p, size_t bytes);

  // Physical cores of this machine (fallback: hardware_concurrency).
  static int default_threads();

 private:
  struct State;
  int n_threads_;
  std::unique_ptr<State> state_;
};

}  // namespace hearth

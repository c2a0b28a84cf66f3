#include "kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace hearth {
namespace {

TEST(ThreadPool, DefaultThreadsIsPositive) {
  const int n = ThreadPool::default_threads();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(ThreadPool, SizeCountsCaller) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(3).size(), 3);
  EXPECT_EQ(ThreadPool(0).size(), 1);  // clamped
}

TEST(ThreadPool, RunCallsEveryIndexOnceWithCallerAsZero) {
  for (int n = 1; n <= 4; ++n) {
    ThreadPool pool(n);
    std::vector<std::atomic<int>> calls(n);
    std::atomic<int> bad_count{0};
    const auto caller = std::this_thread::get_id();
    std::atomic<bool> zero_on_caller{false};
    pool.run([&](int i, int t) {
      if (t != n) bad_count++;
      calls[i]++;
      if (i == 0) zero_on_caller = std::this_thread::get_id() == caller;
    });
    EXPECT_EQ(bad_count.load(), 0);
    EXPECT_TRUE(zero_on_caller.load());
    for (int i = 0; i < n; ++i) EXPECT_EQ(calls[i].load(), 1) << "pool " << n << " index " << i;
  }
}

// Idle prefetch requests are only hints: workers still take every job (a
// request far larger than any gap between jobs must not hold them up), and
// addresses that are not mapped are harmless.
TEST(ThreadPool, IdlePrefetchNeverHoldsUpOrBreaksJobs) {
  ThreadPool pool(3);
  std::vector<uint8_t> buffer(64 << 20, 1);
  const void* unmapped = reinterpret_cast<const void*>(uintptr_t{1} << 46);
  for (const void* p : {static_cast<const void*>(buffer.data()), unmapped}) {
    for (int t = -1; t <= pool.size(); ++t) pool.prefetch_while_idle(t, p, p == unmapped ? size_t{1} << 40 : buffer.size());
    std::vector<int64_t> per_thread(3 * 16, 0);
    for (int r = 0; r < 2000; ++r) {
      pool.run([&](int i, int) { per_thread[static_cast<size_t>(i) * 16] += r; });
      if (r % 100 == 0) pool.prefetch_while_idle(1 + r / 100 % 2, p, 4096);  // replaced mid-way
    }
    for (int i = 0; i < 3; ++i) EXPECT_EQ(per_thread[static_cast<size_t>(i) * 16], 1999 * 2000 / 2);
    // Idle long enough for the workers to fall asleep with a request left.
    pool.prefetch_while_idle(1, p, size_t{1} << 30);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<int> ran{0};
    pool.run([&](int, int) { ran++; });
    EXPECT_EQ(ran.load(), 3);
  }
}

// Many back-to-back jobs, as in decoding: every job must see every thread and
// run() must not return before all are done.
TEST(ThreadPool, ManyRapidRuns) {
  for (int n : {2, 3}) {
    ThreadPool pool(n);
    const int runs = n <= static_cast<int>(std::thread::hardware_concurrency()) ? 20000 : 1000;
    std::vector<int64_t> per_thread(static_cast<size_t>(n) * 16, 0);  // padded: one cache line each
    for (int r = 0; r < runs; ++r) {
      pool.run([&](int i, int) { per_thread[static_cast<size_t>(i) * 16] += r; });
    }
    const int64_t expect = static_cast<int64_t>(runs) * (runs - 1) / 2;
    for (int i = 0; i < n; ++i) EXPECT_EQ(per_thread[static_cast<size_t>(i) * 16], expect) << "index " << i;
  }
}

// Jobs separated by pauses long enough for the workers to go to sleep.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(3);
  for (int r = 0; r < 20; ++r) {
    std::atomic<int> count{0};
    pool.run([&](int, int) { count++; });
    EXPECT_EQ(count.load(), 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(r % 2 ? 2 : 0));
  }
}

// Pauses around the workers' spin time, so waking races with falling asleep;
// a lost wake-up would hang here.
TEST(ThreadPool, NoLostWakeUps) {
  ThreadPool pool(2);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pause_us(0, 120);
  std::atomic<int> count{0};
  const int runs = 1500;
  for (int r = 0; r < runs; ++r) {
    pool.run([&](int, int) { count++; });
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
  }
  EXPECT_EQ(count.load(), 2 * runs);
}

TEST(ThreadPool, DestroysIdleAndFreshPools) {
  for (int r = 0; r < 50; ++r) {
    ThreadPool fresh(4);  // destroyed before the workers may even have started
  }
  ThreadPool pool(2);
  pool.run([](int, int) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers asleep
}

TEST(ThreadPool, ParallelForCoversRangeExactlyOnce) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 4, 5, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::mutex mutex;
      std::vector<std::pair<int64_t, int64_t>> chunks;
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        ASSERT_LT(b, e);
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        std::lock_guard<std::mutex> lock(mutex);
        chunks.emplace_back(b, e);
      });
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "threads " << threads << " n " << n << " i " << i;
      }
      EXPECT_LE(chunks.size(), static_cast<size_t>(std::min<int64_t>(n, threads)));
      // The split depends only on n and the pool size.
      std::vector<std::pair<int64_t, int64_t>> again;
      pool.parallel_for(n, [&](int64_t b, int64_t e) {
        std::lock_guard<std::mutex> lock(mutex);
        again.emplace_back(b, e);
      });
      std::sort(chunks.begin(), chunks.end());
      std::sort(again.begin(), again.end());
      EXPECT_EQ(chunks, again);
    }
  }
}

TEST(ThreadPool, ExceptionFromWorkerIsRethrownOnCaller) {
  ThreadPool pool(3);
  std::atomic<int> finished{0};
  EXPECT_THROW(pool.run([&](int i, int) {
    if (i == 2) throw std::runtime_error("worker failed");
    finished++;
  }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 2);  // the others ran to completion
  // The pool is still usable and the error does not come back.
  std::atomic<int> count{0};
  pool.run([&](int, int) { count++; });
  EXPECT_EQ(count.load(), 3);
}

TEST(ThreadPool, ExceptionFromCallerWaitsForWorkers) {
  ThreadPool pool(2);
  std::atomic<bool> worker_done{false};
  try {
    pool.run([&](int i, int) {
      if (i == 0) throw std::logic_error("caller failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      worker_done = true;
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "caller failed");
  }
  EXPECT_TRUE(worker_done.load());
}

TEST(ThreadPool, ExceptionFromEveryThreadGivesOne) {
  ThreadPool pool(4);
  for (int r = 0; r < 10; ++r) {
    EXPECT_THROW(pool.run([](int, int) { throw std::runtime_error("all failed"); }), std::runtime_error);
  }
  EXPECT_THROW(pool.parallel_for(10, [](int64_t b, int64_t) {
    if (b > 0) throw std::out_of_range("chunk failed");
  }),
               std::out_of_range);
}

TEST(ThreadPool, NestedRunExecutesInline) {
  ThreadPool pool(2);
  std::atomic<int> inner_calls{0};
  std::atomic<int> bad_inner{0};
  pool.run([&](int, int) {
    pool.run([&](int i, int t) {
      if (i != 0 || t != 1) bad_inner++;
      inner_calls++;
    });
  });
  EXPECT_EQ(inner_calls.load(), 2);  // once per outer thread
  EXPECT_EQ(bad_inner.load(), 0);
}

}  // namespace
}  // namespace hearth

#include "kernels/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hearth {
namespace {

// Tells the core we are spinning (saves power, frees the sibling hyperthread).
// PAUSE is part of baseline x86-64, so this is no ISA-specific code.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long an idle worker spins before sleeping. Between two matmuls of one
// token the gap is a few microseconds, so a spinning worker picks up the next
// job without a futex wake-up (which costs several microseconds); after a
// whole token's worth of silence it sleeps and stops burning the core.
constexpr auto kWorkerSpin = std::chrono::microseconds(50);
// The caller spins this many rounds (tens of microseconds) waiting for the
// workers before it starts yielding its core: that matters only when threads
// outnumber free cores and a worker has been descheduled.
constexpr int kCallerSpinRounds = 1024;

// Cache lines an idle worker prefetches between two looks for a new job.
constexpr size_t kIdlePrefetchLines = 8;
// Most of one request that is prefetched: more would not stay in the caches
// anyway, and an idle worker goes to sleep only once it is done.
constexpr size_t kMaxIdlePrefetchBytes = 16 << 20;

// One worker's prefetch_while_idle request, written by the caller and read
// by the worker as a seqlock: `version` is odd while the caller writes.
struct alignas(64) PrefetchRequest {
  std::atomic<uint64_t> version{0};
  std::atomic<const char*> p{nullptr};
  std::atomic<size_t> bytes{0};

  void publish(const void* ptr, size_t n) {
    const uint64_t v = version.load(std::memory_order_relaxed);
    version.store(v + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    p.store(static_cast<const char*>(ptr), std::memory_order_relaxed);
    bytes.store(n, std::memory_order_relaxed);
    version.store(v + 2, std::memory_order_release);
  }

  // Reads the current request and its version (*seen); false while it is
  // being written.
  bool read(uint64_t* seen, const char** ptr, size_t* n) const {
    const uint64_t v = version.load(std::memory_order_acquire);
    if (v & 1) return false;
    *ptr = p.load(std::memory_order_relaxed);
    *n = bytes.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (version.load(std::memory_order_relaxed) != v) return false;
    *seen = v;
    return true;
  }
};

// A worker's progress through its current request (addresses as integers:
// a request is any range, mapped or not, and is never dereferenced).
struct IdlePrefetch {
  uint64_t version = 0;
  uintptr_t next = 0, end = 0;

  // Issues a few prefetches of the newest request; false when there is
  // nothing left to do.
  bool step(const PrefetchRequest& request) {
    if (request.version.load(std::memory_order_relaxed) != version) {
      const char* p;
      size_t n;
      uint64_t v;
      if (!request.read(&v, &p, &n)) return true;  // being written: look again
      version = v;
      next = reinterpret_cast<uintptr_t>(p);
      end = next + std::min<uintptr_t>(n, UINTPTR_MAX - next);
    }
    if (next >= end) return false;
    for (size_t i = 0; i < kIdlePrefetchLines && next < end; ++i, next += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(next), 0, 2);
    }
    return true;
  }
};

}  // namespace

struct ThreadPool::State {
  // Written by the caller before it bumps `generation`, read by the workers
  // after they see the bump (release/acquire through `generation`).
  const std::function<void(int, int)>* fn = nullptr;

  // Each field the threads hammer sits on its own cache line.
  alignas(64) std::atomic<uint32_t> generation{0};  // one bump per job
  alignas(64) std::atomic<int> pending{0};          // workers still on the current job
  alignas(64) std::atomic<int> sleepers{0};         // workers in (or entering) cv.wait
  alignas(64) std::atomic<bool> busy{false};        // a run() is in progress
  std::atomic<bool> stop{false};

  std::mutex mutex;  // only for the sleep/wake path
  std::condition_variable cv;

  std::mutex error_mutex;
  std::exception_ptr error;  // the first exception any thread's fn threw

  std::vector<std::thread> workers;
  std::unique_ptr<PrefetchRequest[]> prefetch;  // one per thread (0 unused)

  void run_task(int index, int n_threads) {
    try {
      (*fn)(index, n_threads);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }

  // Returns the first generation different from `seen`. Meanwhile the
  // worker prefetches what it was asked to (prefetch_while_idle), then
  // spins, then sleeps.
  uint32_t wait_for_job(uint32_t seen, IdlePrefetch& idle, const PrefetchRequest& request) {
    for (bool spun_out = false; !spun_out;) {
      for (;;) {
        const uint32_t g = generation.load(std::memory_order_acquire);
        if (g != seen) return g;
        if (!idle.step(request)) break;
      }
      const auto deadline = std::chrono::steady_clock::now() + kWorkerSpin;
      for (uint32_t i = 1;; ++i) {
        const uint32_t g = generation.load(std::memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if (i % 64 != 0) continue;
        if (idle.step(request)) break;  // a new request: prefetch again
        if (std::chrono::steady_clock::now() > deadline) {
          spun_out = true;
          break;
        }
      }
    }
    // Sleep. The seq_cst increment of `sleepers` before re-reading
    // `generation` pairs with the caller's bump-then-read-sleepers in wake():
    // either we see the new generation here, or the caller sees us counted
    // and notifies under the mutex we hold until cv.wait releases it.
    std::unique_lock<std::mutex> lock(mutex);
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    uint32_t g;
    while ((g = generation.load(std::memory_order_seq_cst)) == seen) cv.wait(lock);
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return g;
  }

  void worker_loop(int index, int n_threads) {
    uint32_t seen = 0;
    IdlePrefetch idle;
    for (;;) {
      seen = wait_for_job(seen, idle, prefetch[index]);
      if (stop.load(std::memory_order_acquire)) return;
      run_task(index, n_threads);
      pending.fetch_sub(1, std::memory_order_release);
    }
  }

  // Publishes a new generation and wakes any sleeping workers.
  void wake() {
    generation.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) > 0) {
      // Taking the mutex orders us after a worker that is between counting
      // itself and cv.wait, so the notify cannot slip in before it sleeps.
      { std::lock_guard<std::mutex> lock(mutex); }
      cv.notify_all();
    }
  }

  void shutdown() {
    stop.store(true, std::memory_order_release);
    wake();
    for (auto& t : workers) t.join();
    workers.clear();
  }
};

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)), state_(std::make_unique<State>()) {
  state_->prefetch = std::make_unique<PrefetchRequest[]>(static_cast<size_t>(n_threads_));
  state_->workers.reserve(static_cast<size_t>(n_threads_ - 1));
  try {
    for (int i = 1; i < n_threads_; ++i) {
      state_->workers.emplace_back([s = state_.get(), i, n = n_threads_] { s->worker_loop(i, n); });
    }
  } catch (...) {
    state_->shutdown();  // the destructor will not run: join the workers already started
    throw;
  }
}

ThreadPool::~ThreadPool() { state_->shutdown(); }

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  State& s = *state_;
  // A nested run() from inside fn, or a second thread calling run() at the
  // same time, would deadlock or corrupt the job; such calls simply run fn
  // alone on the calling thread instead (fn must work for any thread count).
  if (n_threads_ == 1 || s.busy.exchange(true, std::memory_order_acquire)) {
    fn(0, 1);
    return;
  }
  s.fn = &fn;
  s.pending.store(n_threads_ - 1, std::memory_order_relaxed);
  s.wake();  // seq_cst bump: also publishes fn and pending

  s.run_task(0, n_threads_);

  for (int i = 0; s.pending.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kCallerSpinRounds) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  s.fn = nullptr;
  std::exception_ptr error = std::exchange(s.error, nullptr);  // all workers are done with it
  s.busy.store(false, std::memory_order_release);
  if (error) std::rethrow_exception(error);
}

void ThreadPool::prefetch_while_idle(int thread, const void* p, size_t bytes) {
  if (thread < 1 || thread >= n_threads_) return;
  state_->prefetch[thread].publish(p, std::min(bytes, kMaxIdlePrefetchBytes));
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    fn(0, n);
    return;
  }
  run([&](int i, int t) {
    // Balanced contiguous chunks; sizes differ by at most one.
    const int64_t begin = n * i / t;
    const int64_t end = n * (i + 1) / t;
    if (begin < end) fn(begin, end);
  });
}

namespace {

// CPUs this process may run on (a container or taskset may restrict them).
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  return cpus;
}

bool read_int_file(const std::string& path, long& value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> value);
}

// Distinct (package, core) pairs among `cpus`, from sysfs; 0 when unreadable.
int count_cores_sysfs(const std::vector<int>& cpus) {
  std::set<std::pair<long, long>> cores;
  for (int c : cpus) {
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/";
    long core = 0, package = 0;
    if (!read_int_file(dir + "core_id", core)) return 0;
    if (!read_int_file(dir + "physical_package_id", package)) package = 0;
    cores.emplace(package, core);
  }
  return static_cast<int>(cores.size());
}

// The same from /proc/cpuinfo ("processor", "physical id", "core id").
int count_cores_cpuinfo(const std::vector<int>& cpus) {
  std::ifstream in("/proc/cpuinfo");
  if (!in) return 0;
  std::set<int> allowed(cpus.begin(), cpus.end());
  std::set<std::pair<long, long>> cores;
  long processor = -1, package = 0, core = -1;
  auto flush = [&] {
    if (processor >= 0 && core >= 0 && (allowed.empty() || allowed.count(static_cast<int>(processor)))) {
      cores.emplace(package, core);
    }
    processor = -1, package = 0, core = -1;
  };
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      flush();  // blank line ends a processor's block
      continue;
    }
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::istringstream value(line.substr(colon + 1));
    if (key == "processor") value >> processor;
    else if (key == "physical id") value >> package;
    else if (key == "core id") value >> core;
  }
  flush();
  return static_cast<int>(cores.size());
}

int detect_physical_cores() {
  const std::vector<int> cpus = allowed_cpus();
  if (!cpus.empty()) {
    if (int n = count_cores_sysfs(cpus); n > 0) return n;
  }
  if (int n = count_cores_cpuinfo(cpus); n > 0) return n;
  if (!cpus.empty()) return static_cast<int>(cpus.size());
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int ThreadPool::default_threads() {
  static const int n = detect_physical_cores();
  return n;
}

}  // namespace hearth

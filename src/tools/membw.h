// Memory read bandwidth, STREAM-style: threads sum disjoint slices of a
// buffer far larger than the last-level cache. Token generation reads every
// weight once per token, so this bounds its speed (the roofline).
#pragma once

#include <cstddef>
#include <vector>

namespace hearth {
class ThreadPool;
}

namespace hearth::tools {

struct MembwResult {
  size_t bytes = 0;           // buffer size
  int threads = 0;
  std::vector<double> gbps;   // one per pass, 1 GB = 1e9 bytes
  double median_gbps = 0;
};

// Reads `bytes` (rounded down to whole 4 KiB pages; at least one) `passes`
// times after one untimed warm-up pass, each pass split over the pool's
// threads. The buffer is touched first by the thread that later reads it.
MembwResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes);

double median(std::vector<double> values);

}  // namespace hearth::tools

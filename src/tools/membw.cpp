#include "tools/membw.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "util/huge_page_buffer.h"

namespace hearth::tools {
namespace {

// Every slice is a whole number of these (the widest loop body).
constexpr size_t kStep = 256;

// XOR-folds [p, p + n): one load per 64 bytes and no arithmetic dependency
// chain long enough to limit a core below its memory bandwidth. Built for the
// widest ISA the CPU has (target attributes; the rest of the file stays
// baseline x86-64, like the kernels).
__attribute__((target("avx512f"))) uint64_t fold_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += kStep) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
  }
  const __m512i a = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, a);
  uint64_t r = 0;
  for (const uint64_t l : lanes) r ^= l;
  return r;
}

__attribute__((target("avx2"))) uint64_t fold_avx2(const uint8_t* p, size_t n) {
  __m256i a[8];
  for (auto& x : a) x = _mm256_setzero_si256();
  for (size_t i = 0; i < n; i += kStep) {
    for (int k = 0; k < 8; ++k) {
      a[k] = _mm256_xor_si256(a[k], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32 * k)));
    }
  }
  alignas(32) uint64_t lanes[4] = {};
  for (const auto& x : a) {
    alignas(32) uint64_t l[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(l), x);
    for (int k = 0; k < 4; ++k) lanes[k] ^= l[k];
  }
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

uint64_t fold_sse2(const uint8_t* p, size_t n) {
  __m128i a[8];
  for (auto& x : a) x = _mm_setzero_si128();
  for (size_t i = 0; i < n; i += kStep) {
    for (int k = 0; k < 16; ++k) {
      a[k & 7] = _mm_xor_si128(a[k & 7], _mm_load_si128(reinterpret_cast<const __m128i*>(p + i + 16 * k)));
    }
  }
  uint64_t r = 0;
  for (const auto& x : a) {
    alignas(16) uint64_t l[2];
    _mm_store_si128(reinterpret_cast<__m128i*>(l), x);
    r ^= l[0] ^ l[1];
  }
  return r;
}

using FoldFn = uint64_t (*)(const uint8_t*, size_t);

FoldFn pick_fold() {
  using kernels::Isa;
  if (kernels::cpu_supports(Isa::Avx512)) return fold_avx512;
  if (kernels::cpu_supports(Isa::Avx2)) return fold_avx2;
  return fold_sse2;
}

}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

MembwResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int passes) {
  const int n_threads = pool.size();
  bytes = std::max<size_t>(bytes / 4096 * 4096, 4096);
  // Huge pages (as the model's weights use) keep TLB misses and the
  // prefetchers' stops at 4 KiB page boundaries out of what is measured.
  const HugePageBuffer buffer(bytes);

  // Thread t reads [begin(t), begin(t + 1)); slices are whole kStep units.
  const auto begin = [&](int t) { return bytes / kStep * t / n_threads * kStep; };
  uint8_t* base = buffer.data();
  pool.run([&](int t, int) { std::memset(base + begin(t), 0x5A + t, begin(t + 1) - begin(t)); });

  const FoldFn fold = pick_fold();
  std::atomic<uint64_t> sink{0};
  MembwResult result;
  result.bytes = begin(n_threads);
  result.threads = n_threads;
  for (int pass = -1; pass < std::max(1, passes); ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int t, int) { sink ^= fold(base + begin(t), begin(t + 1) - begin(t)); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass >= 0) result.gbps.push_back(static_cast<double>(result.bytes) / s / 1e9);
  }
  // The atomic sink keeps the folds from being optimised away.
  result.median_gbps = median(result.gbps);
  return result;
}

}  // namespace hearth::tools

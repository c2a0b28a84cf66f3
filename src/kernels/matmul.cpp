// matmul / get_row driver: argument checks, choosing the kernel table for the
// active ISA, splitting the work over threads and tiling it for the kernels.
// The arithmetic itself is in matmul_<isa>.cpp.
#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "kernels/matmul_table.h"
#include "kernels/packed_layout.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"
#include "util/error.h"

namespace hearth::kernels {
namespace {

using detail::TypeKernels;

// Below this many multiply-adds per thread, waking the pool costs more than
// it saves: a hand-off is about 1 us, in which one Zen 4 core does ~20K F32
// multiply-adds of a small decode matmul (tiny models have 64 x 64 matrices).
// Changes only speed: results do not depend on the split.
constexpr int64_t kMinWorkPerThread = 32 * 1024;

// Activations of one token block are swept once per weight tile; keep the
// block about this size so it stays in L2 (1 MiB on Zen 4 / 5) while the
// weight rows stream through L1. Each token block streams the weights once
// more from memory: quantized activations take ~1.1 bytes per element, so
// this is ~230 tokens of a 2048-wide matrix, ~65 of a 5632-wide one.
constexpr int64_t kTokenBlockBytes = 512 * 1024;

// Dense prefill goes in column blocks of kChunkCols: a block of a long
// token block's F32 activations (kChunkTokenBlockBytes) stays in L2, and the
// tiles' accumulators wait in an L2 buffer (about kChunkAccBytes per thread)
// between column blocks. Without it a token block would hold only
// 256 KiB / (4 * cols) tokens, and the weights would stream from memory once
// per 11 - 32 tokens.
constexpr int64_t kChunkCols = 512;
constexpr int64_t kChunkTokenBlockBytes = 256 * 1024;
constexpr int64_t kChunkAccBytes = 256 * 1024;

// Each thread owns a contiguous share of a hand-off's row tiles and takes
// them from the front in chunks (run_row_chunks), so its weights stream as
// one long run, as the hardware prefetchers like it; a thread done with its
// share takes the back half of the largest share left (the machine is
// shared: one thread may be slowed down). A chunk is a quarter of what is
// left of the share (fewer claims early, finer ones near the end, where
// stealing needs them), at least kMinChunkBytes of weights, and when several
// tokens go through it (prefill) at most kMaxBatchChunkBytes, so that its
// weights stay in L2 across its token blocks. (A TinyLlama-sized Q4_0 matrix
// decoded from memory, 2 threads: ~4 % faster than guided chunks taken in
// turn from one shared counter.)
constexpr int64_t kMinChunkBytes = 64 * 1024;
constexpr int64_t kMaxBatchChunkBytes = 512 * 1024;

// The decode kernels prefetch about this far ahead in their rows; the start of a new
// stream is fetched here, before its first tile, and so are the rows this far
// ahead of each tile when a few tokens (up to kStreamingMaxTokens: several
// sequences decoded together) go through the tiles: hardware prefetchers do
// not follow a tile's short rows (the SmolLM2-360M server at 4 slots spent
// most of its time waiting on them).
constexpr size_t kDecodePrefetchBytes = 12 * 1024;
constexpr int64_t kStreamingMaxTokens = 8;

// How much of its next rows a waiting worker prefetches (prefetch_next): about
// what memory delivers to one core during the single-threaded work between
// two matmuls of a decode step, and well within its L2.
constexpr size_t kIdlePrefetchBytes = 256 * 1024;

// Most products one matmul_many call computes together.
constexpr size_t kMaxJobs = 4;

// Quantizing activations is split over the threads from this many elements.
constexpr int64_t kMinParallelQuantize = 16 * 1024;

// 64-byte aligned scratch (the kernels' activation layouts assume it), kept
// between calls.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }
  uint8_t* get(size_t n) {
    if (n > capacity_) {
      std::free(data_);
      capacity_ = (n + 4095) & ~static_cast<size_t>(4095);
      data_ = static_cast<uint8_t*>(std::aligned_alloc(64, capacity_));
      if (data_ == nullptr) {
        capacity_ = 0;
        throw Error("matmul: out of memory for " + std::to_string(n) + " bytes of activations");
      }
    }
    return data_;
  }

 private:
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

using FindFn = const TypeKernels* (*)(GgmlType);
// Indexed by Isa.
constexpr FindFn kFinders[] = {detail::find_scalar_kernels, detail::find_avx2_kernels,
                               detail::find_avx512_kernels};

// The same for packed rows (null: that ISA has none).
constexpr FindFn kPackedFinders[] = {nullptr, nullptr, detail::find_avx512_packed_kernels};

// The kernels for `type` that `finders` (indexed by Isa; null: none) give
// the active ISA, or else the best lower ISA (a type may not have SIMD
// kernels everywhere yet); nullptr if none. *isa (optional) gets the ISA
// they belong to.
const TypeKernels* find_in(const FindFn (&finders)[3], GgmlType type, Isa* isa = nullptr) {
  for (int i = static_cast<int>(active_isa()); i >= 0; --i) {
    if (finders[i] == nullptr) continue;
    if (const TypeKernels* k = finders[i](type)) {
      if (isa != nullptr) *isa = static_cast<Isa>(i);
      return k;
    }
  }
  return nullptr;
}

const TypeKernels* find_kernels(GgmlType type, Isa* isa = nullptr) { return find_in(kFinders, type, isa); }

// Kernels reading packed rows of `type` natively; nullptr if none (packed
// rows are then unpacked tile by tile).
const TypeKernels* find_packed_kernels(GgmlType type) { return find_in(kPackedFinders, type); }

std::string describe_type(GgmlType type) {
  const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  if (!traits) return "with id " + std::to_string(static_cast<uint32_t>(type));
  return std::string(traits->name);
}

// "F32, F16, BF16": the types some kernel handles (for error messages).
std::string supported_list() {
  std::string list;
  for (uint32_t id = 0; id < 64; ++id) {
    const auto traits = ggml_type_traits(id);
    if (!traits || find_kernels(static_cast<GgmlType>(id)) == nullptr) continue;
    if (!list.empty()) list += ", ";
    list += traits->name;
  }
  return list;
}

// Kernels for w, after checking that w describes memory they can read. For
// packed rows: the packed kernels, or (*unpack set) the GGUF-layout ones.
const TypeKernels& checked_kernels(const WeightMatrix& w, const char* what, bool* unpack = nullptr) {
  if (unpack != nullptr) *unpack = false;
  if (w.packed) {
    if (!has_packed_layout(w.type)) {
      throw Error(std::string(what) + ": weight type " + describe_type(w.type) + " has no packed layout");
    }
    if (const TypeKernels* packed = find_packed_kernels(w.type); packed != nullptr) {
      checked_kernels(WeightMatrix{w.type, w.data, w.rows, w.cols, w.row_bytes, false}, what);
      return *packed;
    }
    if (unpack != nullptr) *unpack = true;
  }
  const TypeKernels* k = find_kernels(w.type);
  if (k == nullptr) {
    throw Error(std::string(what) + ": weight type " + describe_type(w.type) + " is not supported (supported: " +
                supported_list() + ")");
  }
  if (w.rows < 0 || w.cols < 0) {
    throw Error(std::string(what) + ": weight matrix has negative shape " + std::to_string(w.rows) + " x " +
                std::to_string(w.cols));
  }
  const auto traits = ggml_type_traits(static_cast<uint32_t>(w.type));
  if (w.cols % traits->block_elems != 0) {
    throw Error(std::string(what) + ": " + std::to_string(w.cols) + " columns is not a multiple of the " +
                std::string(traits->name) + " block size " + std::to_string(traits->block_elems));
  }
  const uint64_t min_row_bytes = static_cast<uint64_t>(w.cols) / traits->block_elems * traits->block_bytes;
  if (w.row_bytes < min_row_bytes) {
    throw Error(std::string(what) + ": row stride of " + std::to_string(w.row_bytes) + " bytes is less than the " +
                std::to_string(min_row_bytes) + " bytes of one " + std::string(traits->name) + " row");
  }
  if (w.data == nullptr && w.rows > 0 && w.cols > 0) throw Error(std::string(what) + ": weight matrix has no data");
  return *k;
}

std::atomic<bool>& exact_weights_flag() {
  static std::atomic<bool> flag{[] {
    const char* env = std::getenv("HEARTH_EXACT_WEIGHTS");
    return env != nullptr && *env != '\0' && std::string(env) != "0";
  }()};
  return flag;
}

// How a matmul computes: F32/F16/BF16 tiles on F32 activations; integer
// tiles on activations quantized per token; or (exact-weights mode for a
// quantized type) F32 tiles on weight rows decoded to F32 a tile at a time.
enum class Mode { Dense, Quantized, DecodedRows };

struct Job {
  const TypeKernels* k;  // the kernels doing the arithmetic
  Mode mode;
  const uint8_t* w;
  size_t row_bytes;
  int64_t rows, cols;
  const float* x;
  bool unpack;          // packed rows without packed kernels: unpacked a tile at a time
  GgmlType type;        // the weights' type (for unpack)
  const uint8_t* xq;    // Mode::Quantized: token t's activations at xq + t * xq_row_bytes
  size_t xq_row_bytes;
  detail::RowToF32Fn decode;  // Mode::DecodedRows: the weight type's decoder
  float* y;
  int64_t n_tokens;
  int64_t token_block;  // multiple of k->tile_tokens
  bool chunked;         // Mode::Dense in column blocks (run_chunked)
};

// Rows [r0, r1) x tokens [t0, t1) of a dense matmul in column blocks. Loops:
// token blocks; panels of rows whose accumulators fit kChunkAccBytes;
// column blocks; token tiles (their activation block stays in L1); row
// tiles. Each (row, token) still sees its columns in order, first to last,
// through the same kernel operations as one whole-row tile call.
void run_chunked(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const int mr = j.k->tile_rows;
  const int mt = j.k->tile_tokens;
  const int64_t tile_floats = static_cast<int64_t>(mr) * mt * j.k->acc_floats;
  const int64_t max_token_tiles = (j.token_block + mt - 1) / mt;
  const int64_t panel_tiles =
      std::max<int64_t>(1, kChunkAccBytes / (max_token_tiles * tile_floats * static_cast<int64_t>(sizeof(float))));
  thread_local AlignedBuffer acc_buffer;
  float* acc = reinterpret_cast<float*>(
      acc_buffer.get(static_cast<size_t>(panel_tiles * max_token_tiles * tile_floats) * sizeof(float)));
  for (int64_t tb = t0; tb < t1; tb += j.token_block) {
    const int64_t te = std::min(t1, tb + j.token_block);
    for (int64_t rp = r0; rp < r1; rp += panel_tiles * mr) {
      const int64_t rpe = std::min(r1, rp + panel_tiles * mr);
      for (int64_t c0 = 0; c0 < j.cols; c0 += kChunkCols) {
        const int64_t c1 = std::min(j.cols, c0 + kChunkCols);
        const int mode = (c0 == 0 ? detail::kChunkFirst : 0) | (c1 == j.cols ? detail::kChunkLast : 0);
        for (int64_t t = tb; t < te; t += mt) {
          const int nt = static_cast<int>(std::min<int64_t>(mt, te - t));
          for (int64_t r = rp; r < rpe; r += mr) {
            const int nr = static_cast<int>(std::min<int64_t>(mr, rpe - r));
            float* a = acc + (((r - rp) / mr) * max_token_tiles + (t - tb) / mt) * tile_floats;
            j.k->chunk[nr - 1][nt - 1](j.w + static_cast<size_t>(r) * j.row_bytes, j.row_bytes, j.x + t * j.cols,
                                       j.cols, c0, c1, a, mode, j.y + t * j.rows + r, j.rows);
          }
        }
      }
    }
  }
}

// Rows [r0, r1) x tokens [t0, t1). Loops: token blocks (activations stay in
// L2), then tiles of tile_rows weight rows, then that block's tokens in tiles
// of tile_tokens (the weight rows stay in L1). Edge tiles use the smaller
// kernel shapes, which compute each (row, token) exactly like the full ones.
// `continues`: the rows right before r0 were this thread's previous range
// (their prefetches ran ahead into this one).
void run_range(const Job& j, int64_t r0, int64_t r1, int64_t t0, int64_t t1, bool continues = false) {
  if (j.chunked) {
    run_chunked(j, r0, r1, t0, t1);
    return;
  }
  // Decoding one or a few tokens streams the weights from memory once for
  // all of them: fetch the start of a new stream here, and (a few tokens;
  // one token goes row by row, one stream) each row tile's successors ahead.
  const bool streaming = j.mode != Mode::DecodedRows && t1 - t0 <= kStreamingMaxTokens;
  if (streaming && !continues) {
    const uint8_t* start = j.w + static_cast<size_t>(r0) * j.row_bytes;
    const size_t bytes = std::min(kDecodePrefetchBytes, static_cast<size_t>(r1 - r0) * j.row_bytes);
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(start + off);
  }
  if (t1 - t0 == 1 && j.mode == Mode::Quantized && !j.unpack && j.k->decode_rows != nullptr) {
    j.k->decode_rows(j.w + static_cast<size_t>(r0) * j.row_bytes, j.row_bytes, j.xq + t0 * j.xq_row_bytes, j.cols,
                     j.y + t0 * j.rows + r0, r1 - r0);
    return;
  }
  if (t1 - t0 == 1 && j.mode == Mode::Dense) {
    // Dense decoding, too, goes a row at a time: one linear weight stream
    // (F16 TinyLlama tg64, alternating: 21.6-21.7 -> 22.3-22.4 t/s).
    for (int64_t r = r0; r < r1; ++r) {
      j.k->tile[0][0](j.w + static_cast<size_t>(r) * j.row_bytes, j.row_bytes, j.x + t0 * j.cols, j.cols,
                      j.y + t0 * j.rows + r, j.rows);
    }
    return;
  }
  const int mr = j.k->tile_rows;
  const int mt = j.k->tile_tokens;
  // DecodedRows: this thread's F32 copy of the current row tile, decoded once
  // per token block. Reused across calls to save allocations.
  thread_local std::vector<float> decoded;
  if (j.mode == Mode::DecodedRows) decoded.resize(static_cast<size_t>(mr * j.cols));
  // j.unpack: this thread's GGUF-layout copy of the current row tile.
  thread_local std::vector<uint8_t> unpacked;
  const size_t unpacked_row_bytes = j.unpack ? quant_row_bytes(j.type, j.cols) : 0;
  if (j.unpack) unpacked.resize(static_cast<size_t>(mr) * unpacked_row_bytes);
  for (int64_t tb = t0; tb < t1; tb += j.token_block) {
    const int64_t te = std::min(t1, tb + j.token_block);
    for (int64_t r = r0; r < r1; r += mr) {
      const int nr = static_cast<int>(std::min<int64_t>(mr, r1 - r));
      const uint8_t* w = j.w + static_cast<size_t>(r) * j.row_bytes;
      if (streaming && t1 - t0 > 1) {
        const uint8_t* next = w + kDecodePrefetchBytes;
        for (size_t off = 0; off < static_cast<size_t>(nr) * j.row_bytes; off += 64) __builtin_prefetch(next + off);
      }
      size_t w_stride = j.row_bytes;
      if (j.unpack) {
        for (int i = 0; i < nr; ++i) {
          detail::unpack_row(j.type, w + i * j.row_bytes, unpacked.data() + i * unpacked_row_bytes, j.cols);
        }
        w = unpacked.data();
        w_stride = unpacked_row_bytes;
      }
      if (j.mode == Mode::DecodedRows) {
        for (int i = 0; i < nr; ++i) j.decode(w + i * w_stride, j.cols, decoded.data() + i * j.cols);
        w = reinterpret_cast<const uint8_t*>(decoded.data());
        w_stride = static_cast<size_t>(j.cols) * sizeof(float);
      }
      for (int64_t t = tb; t < te; t += mt) {
        const int nt = static_cast<int>(std::min<int64_t>(mt, te - t));
        float* y = j.y + t * j.rows + r;
        if (j.mode == Mode::Quantized) {
          j.k->qtile[nr - 1][nt - 1](w, w_stride, j.xq + t * j.xq_row_bytes, j.xq_row_bytes, j.cols, y, j.rows);
        } else {
          j.k->tile[nr - 1][nt - 1](w, w_stride, j.x + t * j.cols, j.cols, y, j.rows);
        }
      }
    }
  }
}

}  // namespace

bool exact_weights() { return exact_weights_flag().load(std::memory_order_relaxed); }

void set_exact_weights(bool exact) { exact_weights_flag().store(exact, std::memory_order_relaxed); }

bool supports(GgmlType type) { return find_kernels(type) != nullptr; }

Isa kernel_isa(GgmlType type) {
  Isa isa = Isa::Scalar;
  find_kernels(type, &isa);
  return isa;
}

namespace {

// Everything a matmul does before the work is split: the checks, the
// computing mode, quantizing the activations (into xq, unless `shared_xq`
// already holds them in this job's format) and the token blocking. False
// when there is nothing to compute.
bool prepare(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool, AlignedBuffer& xq,
             const Job* shared_xq, Job& job) {
  bool unpack = false;
  const TypeKernels& k = checked_kernels(w, "matmul", &unpack);
  if (n_tokens < 0) throw Error("matmul: negative token count " + std::to_string(n_tokens));
  if (w.rows == 0 || n_tokens == 0) return false;
  if (w.cols == 0) {
    std::fill(y, y + w.rows * n_tokens, 0.0f);
    return false;
  }

  job = Job{&k,     Mode::Dense, static_cast<const uint8_t*>(w.data), w.row_bytes, w.rows, w.cols, x, unpack,
            w.type, nullptr,     0,       nullptr, y, n_tokens, 0, false};
  const int threads = pool ? pool->size() : 1;
  int64_t token_bytes = w.cols * static_cast<int64_t>(sizeof(float));
  if (k.act_type != GgmlType::F32) {
    if (exact_weights()) {
      job.mode = Mode::DecodedRows;
      job.decode = k.to_f32;
      job.k = find_kernels(GgmlType::F32);
    } else {
      // Each token's row is quantized on its own, so its result does not
      // depend on the other tokens of the batch.
      job.mode = Mode::Quantized;
      job.xq_row_bytes = k.act_row_bytes ? k.act_row_bytes(w.cols) : quant_row_bytes(k.act_type, w.cols);
      token_bytes = static_cast<int64_t>(job.xq_row_bytes);
      if (shared_xq && shared_xq->mode == Mode::Quantized && shared_xq->x == x && shared_xq->cols == w.cols &&
          shared_xq->n_tokens == n_tokens && shared_xq->k->act_type == k.act_type &&
          shared_xq->k->quantize_act == k.quantize_act && shared_xq->xq_row_bytes == job.xq_row_bytes) {
        job.xq = shared_xq->xq;  // the same input in the same format: quantized once
      } else {
        uint8_t* buf = xq.get(job.xq_row_bytes * static_cast<size_t>(n_tokens));
        job.xq = buf;
        // One captured pointer, so std::function stores the lambda inline.
        struct {
          const Job* job;
          const TypeKernels* k;
          uint8_t* buf;
        } q{&job, &k, buf};
        auto quantize = [&q](int64_t t0, int64_t t1) {
          for (int64_t t = t0; t < t1; ++t) {
            const float* in = q.job->x + t * q.job->cols;
            uint8_t* out = q.buf + t * q.job->xq_row_bytes;
            if (q.k->quantize_act) {
              q.k->quantize_act(in, q.job->cols, out);
            } else {
              quantize_activations(q.k->act_type, in, out, q.job->cols);
            }
          }
        };
        if (threads > 1 && n_tokens > 1 && n_tokens * w.cols >= kMinParallelQuantize) {
          pool->parallel_for(n_tokens, quantize);
        } else {
          quantize(0, n_tokens);
        }
      }
    }
  }
  // Token blocks of about kTokenBlockBytes, evened out, in whole token tiles.
  const int64_t mt = job.k->tile_tokens;
  job.chunked = job.mode == Mode::Dense && job.k->acc_floats > 0 && n_tokens > mt && w.cols > kChunkCols;
  const int64_t block_bytes = job.chunked ? kChunkTokenBlockBytes : kTokenBlockBytes;
  if (job.chunked) token_bytes = kChunkCols * static_cast<int64_t>(sizeof(float));
  const int64_t max_block = std::max<int64_t>(1, block_bytes / token_bytes / mt) * mt;
  const int64_t n_blocks = (n_tokens + max_block - 1) / max_block;
  job.token_block = ((n_tokens + n_blocks - 1) / n_blocks + mt - 1) / mt * mt;
  return true;
}

// Whether a job's work is split over row tiles (else over token tiles: too
// few rows to go round, e.g. a tiny output layer during prefill).
bool split_by_rows(const Job& job, int threads) {
  const int64_t row_tiles = (job.rows + job.k->tile_rows - 1) / job.k->tile_rows;
  const int64_t token_tiles = (job.n_tokens + job.k->tile_tokens - 1) / job.k->tile_tokens;
  return row_tiles >= threads || token_tiles <= row_tiles;
}

// Tiles [begin, end) that one thread still owns, in one word, so that its
// owner (taking from the front) and a thief (from the back) claim them with
// one compare-and-swap. On a cache line of its own.
struct alignas(64) TileRange {
  std::atomic<uint64_t> bits{0};
  static uint64_t pack(int64_t b, int64_t e) { return static_cast<uint64_t>(b) | (static_cast<uint64_t>(e) << 32); }
  static int64_t begin(uint64_t r) { return static_cast<int64_t>(r & 0xffffffffu); }
  static int64_t end(uint64_t r) { return static_cast<int64_t>(r >> 32); }
};

// The first row tile of thread t's share when a hand-off of `total` tiles
// is split over n threads (run_row_chunks; prefetch_next reads ahead there).
int64_t share_begin(int64_t total, int t, int n) { return total * t / n; }

// TileRanges for up to this many threads live on the stack of run_row_chunks
// (re-entrant: a matmul may run inside another pool job); more go on the heap.
constexpr int kStackRanges = 16;

// Runs the row tiles of `jobs` on the pool in one hand-off (see
// kMinChunkBytes); a chunk never spans two jobs. Which thread computes a
// tile never changes its bits.
void run_row_chunks(const Job* jobs, size_t n_jobs, ThreadPool* pool) {
  struct Split {
    const Job* jobs;
    size_t n_jobs;
    int n_threads;
    int64_t first_tile[kMaxJobs + 1];  // prefix sums of each job's row tiles
    int64_t min_tiles[kMaxJobs], max_tiles[kMaxJobs];
    TileRange* ranges;  // one per thread
  } split{jobs, n_jobs, pool->size(), {0}, {}, {}, nullptr};
  for (size_t i = 0; i < n_jobs; ++i) {
    const Job& job = jobs[i];
    const int64_t tile_bytes = job.k->tile_rows * static_cast<int64_t>(job.row_bytes);
    split.first_tile[i + 1] = split.first_tile[i] + (job.rows + job.k->tile_rows - 1) / job.k->tile_rows;
    split.min_tiles[i] = std::max<int64_t>(1, (kMinChunkBytes + tile_bytes - 1) / tile_bytes);
    split.max_tiles[i] = job.n_tokens == 1 ? INT64_MAX : std::max(split.min_tiles[i], kMaxBatchChunkBytes / tile_bytes);
  }
  const int64_t total = split.first_tile[n_jobs];
  if (total > UINT32_MAX) {  // beyond TileRange's 32-bit halves (no real matrix has 2^34 rows)
    for (size_t i = 0; i < n_jobs; ++i) run_range(jobs[i], 0, jobs[i].rows, 0, jobs[i].n_tokens);
    return;
  }
  TileRange stack_ranges[kStackRanges];
  std::unique_ptr<TileRange[]> heap_ranges;
  if (split.n_threads > kStackRanges) heap_ranges = std::make_unique<TileRange[]>(static_cast<size_t>(split.n_threads));
  split.ranges = heap_ranges ? heap_ranges.get() : stack_ranges;
  for (int t = 0; t < split.n_threads; ++t) {
    split.ranges[t].bits.store(
        TileRange::pack(share_begin(total, t, split.n_threads), share_begin(total, t + 1, split.n_threads)),
        std::memory_order_relaxed);
  }
  // The workers' prefetch_next requests were for these rows: done with.
  for (int t = 1; t < split.n_threads; ++t) pool->prefetch_while_idle(t, nullptr, 0);
  // ThreadPool::run publishes the ranges to the workers.
  pool->run([&split](int self, int) {
    const Split& s = split;
    TileRange& own = s.ranges[self];
    size_t last_job = kMaxJobs;
    int64_t last_end = -1;
    for (;;) {
      uint64_t r = own.bits.load(std::memory_order_relaxed);
      const int64_t b = TileRange::begin(r), e = TileRange::end(r);
      if (b < e) {  // the next chunk from the front of our own tiles
        size_t i = 0;
        while (b >= s.first_tile[i + 1]) ++i;
        const int64_t n = std::clamp((e - b) / 4, s.min_tiles[i], s.max_tiles[i]);
        const int64_t ce = std::min({e, b + n, s.first_tile[i + 1]});
        if (!own.bits.compare_exchange_weak(r, TileRange::pack(ce, e), std::memory_order_relaxed)) continue;
        const Job& job = s.jobs[i];
        const int64_t mr = job.k->tile_rows;
        // A chunk right after our previous one continues its weight stream.
        const bool continues = i == last_job && b == last_end;
        run_range(job, (b - s.first_tile[i]) * mr, std::min(job.rows, (ce - s.first_tile[i]) * mr), 0, job.n_tokens,
                  continues);
        last_job = i;
        last_end = ce;
        continue;
      }
      // Ours are done: take the back half of the largest share left. (All
      // s.n_threads shares: run() may give this function fewer threads.)
      int victim = -1;
      int64_t most = 0;
      for (int t = 0; t < s.n_threads; ++t) {
        const uint64_t v = s.ranges[t].bits.load(std::memory_order_relaxed);
        if (t != self && TileRange::end(v) - TileRange::begin(v) > most) {
          most = TileRange::end(v) - TileRange::begin(v);
          victim = t;
        }
      }
      if (victim < 0) return;
      uint64_t v = s.ranges[victim].bits.load(std::memory_order_relaxed);
      const int64_t vb = TileRange::begin(v), ve = TileRange::end(v);
      if (vb >= ve) continue;
      const int64_t mid = ve - (ve - vb + 1) / 2;
      if (!s.ranges[victim].bits.compare_exchange_weak(v, TileRange::pack(vb, mid), std::memory_order_relaxed)) {
        continue;
      }
      // Only this thread writes its own range while it is empty.
      own.bits.store(TileRange::pack(mid, ve), std::memory_order_relaxed);
    }
  });
}

void execute(const Job& job, ThreadPool* pool) {
  const int threads = pool ? pool->size() : 1;
  const int64_t work = job.rows * job.cols * job.n_tokens;
  if (threads == 1 || work < 2 * kMinWorkPerThread) {
    run_range(job, 0, job.rows, 0, job.n_tokens);
  } else if (split_by_rows(job, threads)) {
    run_row_chunks(&job, 1, pool);
  } else {
    // The lambda captures one pointer so std::function stores it inline.
    pool->parallel_for((job.n_tokens + job.k->tile_tokens - 1) / job.k->tile_tokens, [&job](int64_t b, int64_t e) {
      const int64_t mt = job.k->tile_tokens;
      run_range(job, 0, job.rows, b * mt, std::min(job.n_tokens, e * mt));
    });
  }
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool) {
  // Quantized activations of this call; thread_local so that repeated calls
  // reuse the allocation (workers only read it while this thread waits).
  thread_local AlignedBuffer xq;
  Job job;
  if (prepare(w, x, n_tokens, y, pool, xq, nullptr, job)) execute(job, pool);
}

void matmul_many(std::span<const MatmulOutput> products, const float* x, int64_t n_tokens, ThreadPool* pool) {
  if (products.size() > kMaxJobs) {
    throw Error("matmul_many: at most " + std::to_string(kMaxJobs) + " products at once");
  }
  thread_local AlignedBuffer xq[kMaxJobs];
  Job jobs[kMaxJobs];
  size_t n_jobs = 0;
  for (const MatmulOutput& p : products) {
    if (prepare(*p.w, x, n_tokens, p.y, pool, xq[n_jobs], n_jobs ? &jobs[0] : nullptr, jobs[n_jobs])) ++n_jobs;
  }
  const int threads = pool ? pool->size() : 1;
  int64_t work = 0;
  bool rows_everywhere = true;
  for (size_t i = 0; i < n_jobs; ++i) {
    work += jobs[i].rows * jobs[i].cols * jobs[i].n_tokens;
    rows_everywhere = rows_everywhere && split_by_rows(jobs[i], threads);
  }
  if (threads > 1 && work >= 2 * kMinWorkPerThread && rows_everywhere) {
    run_row_chunks(jobs, n_jobs, pool);  // one hand-off for all of them
    return;
  }
  for (size_t i = 0; i < n_jobs; ++i) execute(jobs[i], pool);
}

void prefetch_next(std::span<const WeightMatrix* const> next, int64_t n_tokens, ThreadPool* pool) {
  if (pool == nullptr || pool->size() == 1 || next.empty() || next.size() > kMaxJobs ||
      n_tokens > kStreamingMaxTokens) {
    return;
  }
  // The row tiles of run_row_chunks, and each worker's first one.
  int64_t first_tile[kMaxJobs + 1] = {0};
  int64_t tile_rows[kMaxJobs];
  for (size_t i = 0; i < next.size(); ++i) {
    const TypeKernels* k = next[i]->packed ? find_packed_kernels(next[i]->type) : find_kernels(next[i]->type);
    if (k == nullptr) k = find_kernels(next[i]->type);  // packed rows unpacked tile by tile
    if (k == nullptr || next[i]->rows <= 0) return;
    tile_rows[i] = k->tile_rows;
    first_tile[i + 1] = first_tile[i] + (next[i]->rows + k->tile_rows - 1) / k->tile_rows;
  }
  const int n = pool->size();
  const int64_t total = first_tile[next.size()];
  for (int t = 1; t < n; ++t) {
    const int64_t tile = share_begin(total, t, n);
    size_t i = 0;
    while (i + 1 < next.size() && tile >= first_tile[i + 1]) ++i;
    const WeightMatrix& w = *next[i];
    const int64_t row = std::min(w.rows, (tile - first_tile[i]) * tile_rows[i]);
    const size_t left = static_cast<size_t>(w.rows - row) * w.row_bytes;
    pool->prefetch_while_idle(t, static_cast<const uint8_t*>(w.data) + static_cast<size_t>(row) * w.row_bytes,
                              std::min(left, kIdlePrefetchBytes));
  }
}

bool prefers_packed(GgmlType type) { return has_packed_layout(type) && find_packed_kernels(type) != nullptr; }

void get_row(const WeightMatrix& w, int64_t row, float* out) {
  const TypeKernels& k = checked_kernels(w, "get_row");
  if (row < 0 || row >= w.rows) {
    throw Error("get_row: row " + std::to_string(row) + " is out of range (the matrix has " +
                std::to_string(w.rows) + " rows)");
  }
  if (w.cols == 0) return;
  const uint8_t* data = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(row) * w.row_bytes;
  if (w.packed) {
    detail::packed_to_f32(w.type, data, w.cols, out);
  } else {
    k.to_f32(data, w.cols, out);
  }
}

}  // namespace hearth::kernels

#include "model/model.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "util/error.h"

namespace hearth {
namespace {

std::string shape_of(int64_t cols, int64_t rows) {
  return "[" + std::to_string(cols) + ", " + std::to_string(rows) + "]";
}

// Looks tensors up by name and checks them against the shapes the
// hyper-parameters imply, so that the forward pass can trust every size.
class TensorBinder {
 public:
  explicit TensorBinder(const gguf::File& file) : file_(file) {}

  const gguf::TensorInfo* find(const std::string& name) const { return file_.find_tensor(name); }

  const gguf::TensorInfo& require(const std::string& name) const {
    const auto* t = file_.find_tensor(name);
    if (!t) throw Error(file_.path() + ": tensor \"" + name + "\" is missing");
    return *t;
  }

  // A 2-D weight with `cols` inputs and `rows` outputs (ggml shape [cols, rows]).
  WeightMatrix matrix(const std::string& name, int64_t cols, int64_t rows) const {
    return matrix(require(name), cols, rows);
  }

  WeightMatrix matrix(const gguf::TensorInfo& t, int64_t cols, int64_t rows) const {
    if (t.dims.size() != 2 || t.dims[0] != cols || t.dims[1] != rows) {
      throw Error(file_.path() + ": tensor \"" + t.name + "\" has shape " + t.shape_string() +
                  ", expected " + shape_of(cols, rows));
    }
    if (!kernels::supports(t.type)) {
      throw Error(file_.path() + ": tensor \"" + t.name + "\" has type " +
                  std::string(type_name(t.type)) + ", which this version of Hearth cannot compute with");
    }
    WeightMatrix w;
    w.type = t.type;
    w.data = t.data;
    w.rows = rows;
    w.cols = cols;
    w.row_bytes = static_cast<size_t>(t.n_bytes / static_cast<uint64_t>(rows));
    return w;
  }

  // A 1-D vector of n values (norm weights), decoded to F32.
  std::vector<float> vector(const std::string& name, int64_t n) const {
    const auto& t = require(name);
    if (t.dims.size() != 1 || t.dims[0] != n) {
      throw Error(file_.path() + ": tensor \"" + name + "\" has shape " + t.shape_string() +
                  ", expected [" + std::to_string(n) + "]");
    }
    const WeightMatrix w = matrix_1d(t, n);
    std::vector<float> out(static_cast<size_t>(n));
    kernels::get_row(w, 0, out.data());
    return out;
  }

 private:
  WeightMatrix matrix_1d(const gguf::TensorInfo& t, int64_t n) const {
    if (!kernels::supports(t.type)) {
      throw Error(file_.path() + ": tensor \"" + t.name + "\" has unsupported type " +
                  std::string(type_name(t.type)));
    }
    return WeightMatrix{t.type, t.data, 1, n, static_cast<size_t>(t.n_bytes)};
  }

  const gguf::File& file_;
};

// A matrix to pack while copying: its bytes [offset, offset + bytes) of the
// data section, and where its packed rows go (dst_offset in the packed
// buffer, one every dst_row_bytes).
struct CopyRegion {
  size_t offset;
  size_t bytes;
  const WeightMatrix* w;
  size_t dst_offset = 0;
  size_t dst_row_bytes = 0;
};

// Copies the data section to dst, except the regions in `packed` (which do
// not overlap): those are packed row by row into packed_dst. Work goes out
// in pieces of about 4 MiB to one thread per core: faulting in (zeroing) the
// new pages and copying is CPU-bound, ~0.25 s for 600 MB on two cores.
void copy_section(const uint8_t* section, size_t section_bytes, uint8_t* dst, uint8_t* packed_dst,
                  std::vector<CopyRegion> packed) {
  constexpr size_t kPiece = 4 << 20;
  struct Piece {
    size_t offset, bytes;
    const CopyRegion* region;  // rows to pack, or null: plain copy
  };
  std::vector<Piece> pieces;
  auto add_copy = [&](size_t begin, size_t end) {
    for (size_t b = begin; b < end; b += kPiece) pieces.push_back({b, std::min(kPiece, end - b), nullptr});
  };
  std::sort(packed.begin(), packed.end(), [](const CopyRegion& a, const CopyRegion& b) { return a.offset < b.offset; });
  size_t done = 0;
  for (const CopyRegion& r : packed) {
    add_copy(done, r.offset);
    const size_t rows_per_piece = std::max<size_t>(1, kPiece / r.w->row_bytes);
    const size_t piece_bytes = rows_per_piece * r.w->row_bytes;
    for (size_t b = 0; b < r.bytes; b += piece_bytes) {
      pieces.push_back({r.offset + b, std::min(piece_bytes, r.bytes - b), &r});
    }
    done = r.offset + r.bytes;
  }
  add_copy(done, section_bytes);
  std::atomic<size_t> next{0};
  auto copy_pieces = [&] {
    for (size_t i; (i = next.fetch_add(1)) < pieces.size();) {
      const Piece& p = pieces[i];
      if (p.region == nullptr) {
        std::memcpy(dst + p.offset, section + p.offset, p.bytes);
        continue;
      }
      const CopyRegion& r = *p.region;
      WeightMatrix rows = *r.w;
      rows.data = section + p.offset;
      rows.rows = static_cast<int64_t>(p.bytes / r.w->row_bytes);
      const size_t first_row = (p.offset - r.offset) / r.w->row_bytes;
      kernels::pack_rows(rows, packed_dst + r.dst_offset + first_row * r.dst_row_bytes, r.dst_row_bytes);
    }
  };
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&] {
    try {
      copy_pieces();
    } catch (...) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = pieces.size();
    }
  };
  const size_t n_threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 16);
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  std::unique_ptr<Model> m(new Model(gguf::File::open(path)));
  m->hp_ = read_hparams(m->file_);
  HParams& hp = m->hp_;
  const TensorBinder bind(m->file_);

  // The vocabulary size is the embedding's row count.
  const auto& embd = bind.require("token_embd.weight");
  if (embd.dims.size() != 2 || embd.dims[0] != hp.n_embd || embd.dims[1] < 1 ||
      embd.dims[1] > (1 << 24)) {
    throw Error(path + ": tensor \"token_embd.weight\" has shape " + embd.shape_string() +
                ", expected [" + std::to_string(hp.n_embd) + ", n_vocab]");
  }
  hp.n_vocab = static_cast<int32_t>(embd.dims[1]);
  m->token_embd_ = bind.matrix(embd, hp.n_embd, hp.n_vocab);
  m->output_norm_ = bind.vector("output_norm.weight", hp.n_embd);
  if (const auto* out = bind.find("output.weight")) {
    m->output_ = bind.matrix(*out, hp.n_embd, hp.n_vocab);
  } else {
    m->output_ = m->token_embd_;  // tied embeddings
  }
  if (bind.find("rope_freqs.weight")) {
    m->rope_freqs_ = bind.vector("rope_freqs.weight", hp.n_rot / 2);
    for (const float f : m->rope_freqs_) {
      if (!(f > 0) || !std::isfinite(f)) {
        throw Error(path + ": tensor \"rope_freqs.weight\" holds a non-positive factor");
      }
    }
  }

  m->layers_.resize(static_cast<size_t>(hp.n_layer));
  for (int32_t il = 0; il < hp.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    LayerWeights& L = m->layers_[static_cast<size_t>(il)];
    L.attn_norm = bind.vector(b + "attn_norm.weight", hp.n_embd);
    L.wq = bind.matrix(b + "attn_q.weight", hp.n_embd, hp.q_dim());
    L.wk = bind.matrix(b + "attn_k.weight", hp.n_embd, hp.kv_dim());
    L.wv = bind.matrix(b + "attn_v.weight", hp.n_embd, hp.v_dim());
    L.wo = bind.matrix(b + "attn_output.weight", hp.q_dim(), hp.n_embd);
    if (hp.traits.qkv_bias) {
      L.bq = bind.vector(b + "attn_q.bias", hp.q_dim());
      L.bk = bind.vector(b + "attn_k.bias", hp.kv_dim());
      L.bv = bind.vector(b + "attn_v.bias", hp.v_dim());
    }
    if (hp.traits.qk_norm) {
      L.q_norm = bind.vector(b + "attn_q_norm.weight", hp.head_dim);
      L.k_norm = bind.vector(b + "attn_k_norm.weight", hp.head_dim);
    }
    L.ffn_norm = bind.vector(b + "ffn_norm.weight", hp.n_embd);
    L.w_gate = bind.matrix(b + "ffn_gate.weight", hp.n_embd, hp.n_ff);
    L.w_up = bind.matrix(b + "ffn_up.weight", hp.n_embd, hp.n_ff);
    L.w_down = bind.matrix(b + "ffn_down.weight", hp.n_ff, hp.n_embd);
  }

  if (options.load_tokenizer) {
    m->tokenizer_ = Tokenizer::from_gguf(m->file_);
    if (m->tokenizer_->n_vocab() != hp.n_vocab) {
      throw Error(path + ": the tokenizer has " + std::to_string(m->tokenizer_->n_vocab()) +
                  " tokens but token_embd.weight has " + std::to_string(hp.n_vocab) + " rows");
    }
  }
  // Only once the file checked out: the weights are read in full.
  m->place_weights(options.weights, options.pack_weights);
  return m;
}

void Model::place_weights(WeightMemory where, bool pack) {
  if (where == WeightMemory::Default) {
    const char* env = std::getenv("HEARTH_MMAP");
    const bool mapped = (env && std::string(env) == "1") || !HugePageBuffer::available();
    where = mapped ? WeightMemory::Mapped : WeightMemory::HugePages;
  }
  if (file_.tensors().empty()) return;
  const gguf::TensorInfo& first = file_.tensors().front();
  const uint8_t* section = first.data - first.offset;  // start of the data section
  const size_t section_bytes = file_.file_size() - file_.data_offset();
  if (where == WeightMemory::Mapped) {
    // Map the pages in one call rather than faulting them in one by one
    // during the first forward pass (time to first token).
    file_.prefault();
    return;
  }
  // A copy in huge pages: decoding streams every weight once per token, and
  // from 4 KiB page-cache pages the CPU's prefetchers stall at each page.
  // Matrices whose type the kernels read faster packed are packed on the way.
  std::vector<WeightMatrix*> matrices = {&token_embd_, &output_};
  for (LayerWeights& L : layers_) {
    for (WeightMatrix* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) matrices.push_back(w);
  }
  if (const char* env = std::getenv("HEARTH_PACK"); env != nullptr && std::string(env) == "0") pack = false;
  std::vector<CopyRegion> packed;
  for (const WeightMatrix* w : matrices) {
    if (pack && !w->packed && kernels::prefers_packed(w->type)) {
      const size_t offset = static_cast<size_t>(static_cast<const uint8_t*>(w->data) - section);
      const bool seen = std::any_of(packed.begin(), packed.end(), [&](const CopyRegion& r) { return r.offset == offset; });
      if (!seen) packed.push_back({offset, static_cast<size_t>(w->rows) * w->row_bytes, w});
    }
  }
  // Packed matrices get a buffer of their own, rows at 64-byte boundaries
  // (GGUF aligns tensors to 32 bytes; rows may be any size).
  size_t packed_bytes = 0;
  for (CopyRegion& r : packed) {
    r.dst_row_bytes = (r.w->row_bytes + 63) / 64 * 64;
    r.dst_offset = packed_bytes;
    packed_bytes += static_cast<size_t>(r.w->rows) * r.dst_row_bytes;
  }
  weights_ = HugePageBuffer(section_bytes);  // packed regions stay untouched (never faulted in)
  packed_weights_ = HugePageBuffer(packed_bytes);
  copy_section(section, section_bytes, weights_.data(), packed_weights_.data(), packed);
  file_.drop_tensor_pages();
  for (WeightMatrix* w : matrices) {
    const size_t offset = static_cast<size_t>(static_cast<const uint8_t*>(w->data) - section);
    const auto r = std::find_if(packed.begin(), packed.end(), [&](const CopyRegion& p) { return p.offset == offset; });
    if (r == packed.end()) {
      w->data = weights_.data() + offset;
    } else {
      w->data = packed_weights_.data() + r->dst_offset;
      w->row_bytes = r->dst_row_bytes;
      w->packed = true;
    }
  }
}

const Tokenizer& Model::tokenizer() const {
  if (!tokenizer_) throw Error(file_.path() + ": the model was loaded without its tokenizer");
  return *tokenizer_;
}

}  // namespace hearth

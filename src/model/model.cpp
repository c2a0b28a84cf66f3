#include "model/model.h"

#include <algorithm>
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
  m->place_weights(options.weights);
  return m;
}

void Model::place_weights(WeightMemory where) {
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
  weights_ = HugePageBuffer(section_bytes);
  // One thread per core: faulting in (zeroing) the new pages and copying
  // is CPU-bound, ~0.25 s for 600 MB on two cores.
  const size_t n_threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 16);
  const size_t chunk = (section_bytes / n_threads + 4095) / 4096 * 4096;
  std::vector<std::thread> copiers;
  for (size_t begin = 0; begin < section_bytes; begin += chunk) {
    copiers.emplace_back([this, section, begin, n = std::min(chunk, section_bytes - begin)] {
      std::memcpy(weights_.data() + begin, section + begin, n);
    });
  }
  for (std::thread& t : copiers) t.join();
  file_.drop_tensor_pages();
  auto relocate = [&](WeightMatrix& w) {
    w.data = weights_.data() + (static_cast<const uint8_t*>(w.data) - section);
  };
  relocate(token_embd_);
  relocate(output_);
  for (LayerWeights& L : layers_) {
    for (WeightMatrix* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) relocate(*w);
  }
}

const Tokenizer& Model::tokenizer() const {
  if (!tokenizer_) throw Error(file_.path() + ": the model was loaded without its tokenizer");
  return *tokenizer_;
}

}  // namespace hearth

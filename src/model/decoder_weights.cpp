#include "model/decoder_weights.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "model/tensor_lookup.h"

namespace loom {
namespace {

// Tensor look-ups that remember what was used, so unused tensors can be refused.
class TensorReader {
 public:
  explicit TensorReader(const gguf::GgufFile& file) : file_(file) {}

  bool has(const std::string& name) const { return has_tensor(file_, name); }
  const gguf::TensorInfo* info(const std::string& name) const { return file_.find_tensor(name); }

  kernels::WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols) {
    used_.insert(name);
    return weight_matrix(file_, name, rows, cols);
  }
  std::vector<float> vector(const std::string& name, int64_t n) {
    used_.insert(name);
    return weight_vector(file_, name, n);
  }
  std::vector<float> optional_vector(const std::string& name, int64_t n) {
    return has(name) ? vector(name, n) : std::vector<float>{};
  }
  // name.weight (rows, cols) and, when the file has it, name.bias (rows).
  Linear linear(const std::string& name, int64_t rows, int64_t cols) {
    return {matrix(name + ".weight", rows, cols), optional_vector(name + ".bias", rows)};
  }
  NormWeights norm(const std::string& name, int64_t n) {
    return {vector(name + ".weight", n), optional_vector(name + ".bias", n)};
  }

  void refuse_unused(const std::string& arch) const {
    for (const gguf::TensorInfo& t : file_.tensors()) {
      if (used_.count(t.name) != 0) continue;
      fail("{}: tensor '{}' is not part of loom's {} model (refused rather than ignored)",
           file_.path(), t.name, arch);
    }
  }

 private:
  const gguf::GgufFile& file_;
  std::set<std::string> used_;
};

std::string blk(int64_t layer, const char* name) {
  return fmt::format("blk.{}.{}", layer, name);
}

// Rows [first, first + n) of w: a view (rows are stored one after another in any type).
kernels::WeightMatrix row_range(const kernels::WeightMatrix& w, int64_t first, int64_t n) {
  kernels::WeightMatrix view = w;
  view.rows = n;
  view.data = static_cast<const uint8_t*>(w.data) + first * row_bytes(w.type, w.cols);
  return view;
}

// Splits a fused projection's rows into parts of the given sizes (and its bias alike).
std::vector<Linear> split_rows(const Linear& fused, std::initializer_list<int64_t> sizes) {
  std::vector<Linear> parts;
  int64_t first = 0;
  for (int64_t n : sizes) {
    Linear part{row_range(fused.w, first, n), {}};
    if (!fused.bias.empty())
      part.bias.assign(fused.bias.begin() + first, fused.bias.begin() + first + n);
    parts.push_back(std::move(part));
    first += n;
  }
  return parts;
}

void load_attention(TensorReader& t, const ModelConfig& c, const ArchSpec& spec, int64_t l,
                    DecoderLayerWeights& w) {
  const int64_t q = c.q_dim();
  const int64_t kv = c.kv_dim();
  if (t.has(blk(l, "attn_qkv.weight"))) {
    std::vector<Linear> parts =
        split_rows(t.linear(blk(l, "attn_qkv"), q + 2 * kv, c.n_embd), {q, kv, kv});
    w.wq = std::move(parts[0]);
    w.wk = std::move(parts[1]);
    w.wv = std::move(parts[2]);
  } else {
    w.wq = t.linear(blk(l, "attn_q"), q, c.n_embd);
    w.wk = t.linear(blk(l, "attn_k"), kv, c.n_embd);
    w.wv = t.linear(blk(l, "attn_v"), kv, c.n_embd);
  }
  w.wo = t.linear(blk(l, "attn_output"), c.n_embd, q);
  if (spec.qk_norm) {
    w.q_norm = t.vector(blk(l, "attn_q_norm.weight"), c.head_dim);
    w.k_norm = t.vector(blk(l, "attn_k_norm.weight"), c.head_dim);
  }
  if (spec.post_norms) w.attn_post_norm = t.norm(blk(l, "post_attention_norm"), c.n_embd);
}

void load_feed_forward(TensorReader& t, const ModelConfig& c, const ArchSpec& spec, int64_t l,
                       DecoderLayerWeights& w) {
  const bool gated = spec.ffn != FfnKind::kGelu;
  const gguf::TensorInfo* up = t.info(blk(l, "ffn_up.weight"));
  // Phi-3 stores gate and up as one matrix of 2 n_ff rows: gate first.
  if (gated && !t.has(blk(l, "ffn_gate.weight")) && up != nullptr && up->shape.size() == 2 &&
      up->shape[1] == 2 * c.n_ff) {
    std::vector<Linear> parts =
        split_rows(t.linear(blk(l, "ffn_up"), 2 * c.n_ff, c.n_embd), {c.n_ff, c.n_ff});
    w.gate = std::move(parts[0]);
    w.up = std::move(parts[1]);
  } else {
    if (gated) w.gate = t.linear(blk(l, "ffn_gate"), c.n_ff, c.n_embd);
    w.up = t.linear(blk(l, "ffn_up"), c.n_ff, c.n_embd);
  }
  w.down = t.linear(blk(l, "ffn_down"), c.n_embd, c.n_ff);
  if (spec.post_norms) w.ffn_post_norm = t.norm(blk(l, "post_ffw_norm"), c.n_embd);
}

// Repacks every matrix on every core: packing is a copy bound by memory and page faults,
// and done on one thread it made start-up slower than the reference's. Largest first, so
// the last matrix taken is a small one.
void prepare_all_for_matmul(std::vector<Linear*> linears, int64_t& packed_bytes) {
  std::stable_sort(linears.begin(), linears.end(), [](const Linear* a, const Linear* b) {
    return a->w.rows * a->w.cols > b->w.rows * b->w.cols;
  });
  std::atomic<size_t> next{0};
  std::atomic<int64_t> total{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  ThreadPool pool;  // one thread per core
  pool.run([&](int, int) {
    int64_t bytes = 0;
    try {  // the pool's workers must not throw: keep the first error for the caller
      for (size_t i = next++; i < linears.size(); i = next++) {
        linears[i]->w = prepare_for_matmul(std::move(linears[i]->w), bytes);
      }
    } catch (...) {
      const std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      next = linears.size();
    }
    total += bytes;
  });
  if (error) std::rethrow_exception(error);
  packed_bytes += total;
}

}  // namespace

bool packs_in_background(const DecoderWeights& w, const Linear& l) {
  const DType type = l.w.type;
  const bool deferred_type =
      type == DType::Q8_0 || type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K;
  return deferred_type && &l != &w.output;
}

std::vector<Linear*> DecoderWeights::projections() {
  std::vector<Linear*> all;
  for (DecoderLayerWeights& layer : layers) {
    for (Linear* linear : layer.linears()) all.push_back(linear);
  }
  all.push_back(&output);
  return all;
}

std::vector<const Linear*> DecoderWeights::projections() const {
  std::vector<const Linear*> all;
  for (const DecoderLayerWeights& layer : layers) {
    for (const Linear* linear : layer.linears()) all.push_back(linear);
  }
  all.push_back(&output);
  return all;
}

std::vector<const Linear*> DecoderLayerWeights::linears() const {
  std::vector<const Linear*> all = {&wq, &wk, &wv, &wo, &up, &down};
  if (gate.w.rows > 0) all.push_back(&gate);
  return all;
}

std::vector<Linear*> DecoderLayerWeights::linears() {
  std::vector<Linear*> all = {&wq, &wk, &wv, &wo, &up, &down};
  if (gate.w.rows > 0) all.push_back(&gate);
  return all;
}

DecoderWeights load_decoder_weights(const gguf::GgufFile& file, const ModelConfig& c,
                                    const ArchSpec& spec, int64_t& packed_bytes) {
  TensorReader t(file);
  DecoderWeights w;
  w.token_embd = t.matrix("token_embd.weight", c.n_vocab, c.n_embd);
  if (spec.learned_positions) {
    w.position_embd = t.matrix("position_embd.weight", c.n_ctx_train, c.n_embd);
  }
  if (spec.embedding_norm) w.embd_norm = t.norm("token_embd_norm", c.n_embd);
  if (spec.rope_freq_factors) w.rope_freqs = t.vector("rope_freqs.weight", c.n_rot / 2);
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    DecoderLayerWeights& layer = w.layers[static_cast<size_t>(l)];
    layer.attn_norm = t.norm(blk(l, "attn_norm"), c.n_embd);
    load_attention(t, c, spec, l, layer);
    layer.ffn_norm = t.norm(blk(l, "ffn_norm"), c.n_embd);
    load_feed_forward(t, c, spec, l, layer);
  }
  w.output_norm = t.norm("output_norm", c.n_embd);
  w.output = t.has("output.weight") ? t.linear("output", c.n_vocab, c.n_embd)
                                    : Linear{w.token_embd, {}};  // tied embeddings
  t.refuse_unused(spec.name);

  // The token embedding is only looked up row by row (get_row), so it stays as stored.
  std::vector<Linear*> linears = w.projections();
  std::erase_if(linears, [&](const Linear* l) { return packs_in_background(w, *l); });
  prepare_all_for_matmul(linears, packed_bytes);
  return w;
}

}  // namespace loom

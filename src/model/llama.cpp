#include "model/llama.h"

#include <atomic>
#include <cmath>

#include "core/error.h"
#include "core/memory.h"
#include "gguf/gguf_file.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "model/forward_scratch.h"
#include "model/tensor_lookup.h"

namespace loom {
namespace {

std::string layer_tensor(int64_t layer, const char* name) {
  return fmt::format("blk.{}.{}.weight", layer, name);
}

int64_t matrix_bytes(const kernels::WeightMatrix& w) {
  return w.rows * row_bytes(w.type, w.cols);
}

// fn(t) for every token of a batch, the tokens split over the pool in ranges. Each
// token's result is the same on any thread.
template <typename Fn>
void for_each_token(ThreadPool& pool, int64_t n, Fn&& fn) {
  pool.parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) fn(t);
  });
}

}  // namespace

LlamaTransformer::LlamaTransformer(std::shared_ptr<const gguf::GgufFile> file, ModelConfig config)
    : Transformer(std::move(config)), file_(std::move(file)) {
  const ModelConfig& c = config_;
  const gguf::GgufFile& f = *file_;
  if (c.n_vocab <= 0) {
    const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
    if (embd == nullptr || embd->shape.size() != 2) {
      fail("{}: required tensor 'token_embd.weight' is missing", f.path());
    }
    config_.n_vocab = embd->shape[1];
  }
  weights_.token_embd = weight_matrix(f, "token_embd.weight", c.n_vocab, c.n_embd);
  weights_.layers.resize(static_cast<size_t>(c.n_layer));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    LlamaLayerWeights& w = weights_.layers[l];
    w.attn_norm = weight_vector(f, layer_tensor(l, "attn_norm"), c.n_embd);
    w.wq = weight_matrix(f, layer_tensor(l, "attn_q"), c.q_dim(), c.n_embd);
    w.wk = weight_matrix(f, layer_tensor(l, "attn_k"), c.kv_dim(), c.n_embd);
    w.wv = weight_matrix(f, layer_tensor(l, "attn_v"), c.kv_dim(), c.n_embd);
    w.wo = weight_matrix(f, layer_tensor(l, "attn_output"), c.n_embd, c.q_dim());
    w.ffn_norm = weight_vector(f, layer_tensor(l, "ffn_norm"), c.n_embd);
    w.w_gate = weight_matrix(f, layer_tensor(l, "ffn_gate"), c.n_ff, c.n_embd);
    w.w_up = weight_matrix(f, layer_tensor(l, "ffn_up"), c.n_ff, c.n_embd);
    w.w_down = weight_matrix(f, layer_tensor(l, "ffn_down"), c.n_embd, c.n_ff);
  }
  weights_.output_norm = weight_vector(f, "output_norm.weight", c.n_embd);
  weights_.output = has_tensor(f, "output.weight")
                        ? weight_matrix(f, "output.weight", c.n_vocab, c.n_embd)
                        : weights_.token_embd;  // tied embeddings
  // The token embedding is only looked up row by row (get_row), so it stays as stored.
  for (LlamaLayerWeights& w : weights_.layers) {
    for (kernels::WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) {
      *m = prepare_for_matmul(std::move(*m), packed_bytes_);
    }
  }
  weights_.output = prepare_for_matmul(std::move(weights_.output), packed_bytes_);
}

int64_t LlamaTransformer::lock_weights() const {
  int64_t locked = 0;
  // What the kernels read: the packed copy where there is one (the file's pages under it
  // were released and must stay so), else the mapped rows.
  auto lock = [&](const kernels::WeightMatrix& w) {
    if (w.packed != nullptr) {
      lock_pages(w.packed->data.data(), w.packed->data.size());
      locked += static_cast<int64_t>(w.packed->data.size());
    } else {
      lock_pages(w.data, static_cast<size_t>(matrix_bytes(w)));
      locked += matrix_bytes(w);
    }
  };
  lock(weights_.token_embd);
  if (weights_.output.data != weights_.token_embd.data || weights_.output.packed != nullptr) {
    lock(weights_.output);
  }
  for (const LlamaLayerWeights& w : weights_.layers) {
    for (const kernels::WeightMatrix* m :
         {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) {
      lock(*m);
    }
  }
  return locked;
}

int64_t LlamaTransformer::weight_bytes() const {
  int64_t bytes = matrix_bytes(weights_.output);
  for (const LlamaLayerWeights& w : weights_.layers) {
    bytes += matrix_bytes(w.wq) + matrix_bytes(w.wk) + matrix_bytes(w.wv) + matrix_bytes(w.wo) +
             matrix_bytes(w.w_gate) + matrix_bytes(w.w_up) + matrix_bytes(w.w_down);
  }
  return bytes;
}

std::unique_ptr<ForwardScratch> LlamaTransformer::make_scratch(int64_t max_batch_tokens) const {
  return std::make_unique<ForwardScratch>(config_, max_batch_tokens);
}

void LlamaTransformer::forward(const Batch& batch, KvCache& kv, ForwardScratch& s, ThreadPool& pool,
                               float* logits) const {
  const ModelConfig& c = config_;
  const int64_t n = batch.size();
  if (n > s.max_tokens) fail("batch of {} tokens exceeds the scratch size {}", n, s.max_tokens);

  for (int64_t t = 0; t < n; ++t) {
    kernels::get_row(weights_.token_embd, batch.tokens[t], s.x.data() + t * c.n_embd);
  }

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const LlamaLayerWeights& w = weights_.layers[l];
    for_each_token(pool, n, [&](int64_t t) {
      kernels::rmsnorm(s.x.data() + t * c.n_embd, w.attn_norm.data(), c.n_embd, c.rms_norm_eps,
                       s.xb.data() + t * c.n_embd);
    });
    attention_block(batch, l, kv, s, pool);
    kernels::add(s.x.data(), s.proj.data(), n * c.n_embd);

    for_each_token(pool, n, [&](int64_t t) {
      kernels::rmsnorm(s.x.data() + t * c.n_embd, w.ffn_norm.data(), c.n_embd, c.rms_norm_eps,
                       s.xb.data() + t * c.n_embd);
    });
    feed_forward_block(n, w, s, pool);
    kernels::add(s.x.data(), s.proj.data(), n * c.n_embd);
  }

  // Only rows that sample need the (large) output projection.
  int64_t n_out = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (!batch.wants_logits[t]) continue;
    kernels::rmsnorm(s.x.data() + t * c.n_embd, weights_.output_norm.data(), c.n_embd,
                     c.rms_norm_eps, s.xb.data() + n_out * c.n_embd);
    ++n_out;
  }
  if (n_out > 0) kernels::matmul(weights_.output, s.xb.data(), n_out, logits, pool, s.matmul);
}

void LlamaTransformer::attention_block(const Batch& batch, int64_t layer, KvCache& kv,
                                       ForwardScratch& s, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const LlamaLayerWeights& w = weights_.layers[layer];
  const int64_t n = batch.size();
  kernels::matmul(w.wq, s.xb.data(), n, s.q.data(), pool, s.matmul);
  kernels::matmul(w.wk, s.xb.data(), n, s.k.data(), pool, s.matmul);
  kernels::matmul(w.wv, s.xb.data(), n, s.v.data(), pool, s.matmul);

  // Every head of a token turns by the same angles: computed once a token.
  for_each_token(pool, n, [&](int64_t t) {
    float* angles = s.rope_angles.data() + t * c.n_rot;
    kernels::rope_angles(c.n_rot, batch.positions[t], c.rope_freq_base, angles);
    float* q = s.q.data() + t * c.q_dim();
    float* k = s.k.data() + t * c.kv_dim();
    for (int64_t h = 0; h < c.n_head; ++h)
      kernels::rope_rotate(q + h * c.head_dim, c.n_rot, angles);
    for (int64_t h = 0; h < c.n_head_kv; ++h) {
      kernels::rope_rotate(k + h * c.head_dim, c.n_rot, angles);
    }
  });
  for (int64_t t = 0; t < n; ++t) {
    kv.store(layer, batch.kv_slots[t], batch.positions[t], s.k.data() + t * c.kv_dim(),
             s.v.data() + t * c.kv_dim());
  }
  // Every (token, head) pair attends over its own sequence's positions [0, pos].
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const int64_t group = c.n_head / c.n_head_kv;
  const int64_t n_items = n * c.n_head;
  // A causal prefill's later tokens attend over more positions, so items go to whichever
  // thread asks next rather than in equal ranges. Each item's result is the same anywhere.
  std::atomic<int64_t> next_item{0};
  pool.run([&](int, int) {
    for (int64_t item = next_item.fetch_add(1, std::memory_order_relaxed); item < n_items;
         item = next_item.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t t = item / c.n_head;
      const int64_t h = item % c.n_head;
      const kernels::KvView view = kv.view(layer, batch.kv_slots[t], (h / group) * c.head_dim);
      kernels::attend_head(s.q.data() + t * c.q_dim() + h * c.head_dim, view,
                           batch.positions[t] + 1, c.head_dim, scale,
                           s.att.data() + t * c.q_dim() + h * c.head_dim);
    }
  });
  kernels::matmul(w.wo, s.att.data(), n, s.proj.data(), pool, s.matmul);
}

void LlamaTransformer::feed_forward_block(int64_t n, const LlamaLayerWeights& w, ForwardScratch& s,
                                          ThreadPool& pool) const {
  const ModelConfig& c = config_;
  kernels::matmul(w.w_gate, s.xb.data(), n, s.gate.data(), pool, s.matmul);
  kernels::matmul(w.w_up, s.xb.data(), n, s.up.data(), pool, s.matmul);
  for_each_token(pool, n, [&](int64_t t) {
    kernels::swiglu(s.gate.data() + t * c.n_ff, s.up.data() + t * c.n_ff, c.n_ff);
  });
  kernels::matmul(w.w_down, s.gate.data(), n, s.proj.data(), pool, s.matmul);
}

}  // namespace loom

#include "model/decoder.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>

#include "core/error.h"
#include "core/memory.h"
#include "gguf/gguf_file.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "model/forward_scratch.h"

namespace loom {
namespace {

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

// y = W x (+ b) for n tokens; the bias is added row by row, as its own rounding step.
void linear(const Linear& l, const float* x, int64_t n, float* y, ThreadPool& pool,
            kernels::MatmulScratch& scratch) {
  kernels::matmul(l.w, x, n, y, pool, scratch);
  if (l.bias.empty()) return;
  for (int64_t t = 0; t < n; ++t) kernels::add(y + t * l.w.rows, l.bias.data(), l.w.rows);
}

void scale(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

}  // namespace

DecoderTransformer::DecoderTransformer(std::shared_ptr<const gguf::GgufFile> file,
                                       ModelConfig config, ArchSpec spec)
    : Transformer(std::move(config)), file_(std::move(file)), spec_(std::move(spec)) {
  if (config_.n_vocab <= 0) {
    const gguf::TensorInfo* embd = file_->find_tensor("token_embd.weight");
    if (embd == nullptr || embd->shape.size() != 2) {
      fail("{}: required tensor 'token_embd.weight' is missing", file_->path());
    }
    config_.n_vocab = embd->shape[1];
  }
  weights_ = load_decoder_weights(*file_, config_, spec_, packed_bytes_);
  std::vector<Linear*> deferred = weights_.projections();
  std::erase_if(deferred, [&](const Linear* l) {
    return !packs_in_background(weights_, *l) || !kernels::packed_layout_used(l->w.type);
  });
  if (!deferred.empty()) packer_ = std::make_unique<BackgroundPacker>(std::move(deferred));
  if (spec_.alibi_max_bias > 0.0f) {
    for (int64_t h = 0; h < config_.n_head; ++h) {
      alibi_slopes_.push_back(kernels::alibi_slope(h, config_.n_head, spec_.alibi_max_bias));
    }
  }
}

int64_t DecoderTransformer::max_positions() const {
  return spec_.learned_positions ? config_.n_ctx_train : 0;
}

int64_t DecoderTransformer::attention_span() const {
  int64_t span = 0;
  for (const LayerSpec& layer : spec_.layers) {
    if (layer.window == 0) return 0;
    span = span == 0 ? layer.window : std::min(span, layer.window);
  }
  return span;
}

int64_t DecoderTransformer::repacked_bytes() const {
  return packed_bytes_ + (packer_ != nullptr ? packer_->packed_bytes() : 0);
}

void DecoderTransformer::finish_packing() const {
  if (packer_ != nullptr) packer_->finish();
}

int64_t DecoderTransformer::lock_weights() const {
  finish_packing();  // lock the packed copies, not pages about to be released
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
  if (weights_.output.w.data != weights_.token_embd.data || weights_.output.w.packed != nullptr) {
    lock(weights_.output.w);
  }
  for (const DecoderLayerWeights& layer : weights_.layers) {
    for (const Linear* l : layer.linears()) lock(l->w);
  }
  return locked;
}

int64_t DecoderTransformer::weight_bytes() const {
  int64_t bytes = 0;
  for (const Linear* l : weights_.projections()) bytes += matrix_bytes(l->w);
  return bytes;
}

std::unique_ptr<ForwardScratch> DecoderTransformer::make_scratch(int64_t max_batch_tokens) const {
  return std::make_unique<ForwardScratch>(config_, max_batch_tokens);
}

void DecoderTransformer::norm(const float* x, const NormWeights& w, int64_t n, float* out) const {
  if (spec_.norm == NormKind::kRms) {
    kernels::rmsnorm(x, w.weight.data(), n, spec_.norm_eps, out);
  } else {
    kernels::layernorm(x, w.weight.data(), w.bias_or_null(), n, spec_.norm_eps, out);
  }
}

void DecoderTransformer::embed(const Batch& batch, ForwardScratch& s, ThreadPool& pool) const {
  const int64_t d = config_.n_embd;
  const int64_t n = batch.size();
  for (int64_t t = 0; t < n; ++t) {
    if (spec_.learned_positions && batch.positions[t] >= config_.n_ctx_train) {
      fail("position {} is past the {} positions this model learned", batch.positions[t],
           config_.n_ctx_train);
    }
  }
  for_each_token(pool, n, [&](int64_t t) {
    float* x = s.x.data() + t * d;
    kernels::get_row(weights_.token_embd, batch.tokens[t], x);
    if (spec_.learned_positions) {
      float* pos = s.proj.data() + t * d;
      kernels::get_row(weights_.position_embd, batch.positions[t], pos);
      kernels::add(x, pos, d);
    }
    if (spec_.embedding_scale != 0.0f) scale(x, d, spec_.embedding_scale);
    if (spec_.embedding_norm) norm(x, weights_.embd_norm, d, x);
  });
}

std::shared_lock<std::shared_mutex> DecoderTransformer::hold_weights() const {
  return packer_ != nullptr ? packer_->hold() : std::shared_lock<std::shared_mutex>{};
}

void DecoderTransformer::forward(const Batch& batch, KvCache& kv, ForwardScratch& s,
                                 ThreadPool& pool, float* logits) const {
  const ModelConfig& c = config_;
  const int64_t n = batch.size();
  if (n > s.max_tokens) fail("batch of {} tokens exceeds the scratch size {}", n, s.max_tokens);
  embed(batch, s, pool);

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const auto weights_in_use = hold_weights();
    const DecoderLayerWeights& w = weights_.layers[static_cast<size_t>(l)];
    for_each_token(pool, n, [&](int64_t t) {
      norm(s.x.data() + t * c.n_embd, w.attn_norm, c.n_embd, s.xb.data() + t * c.n_embd);
    });
    attention_block(batch, l, kv, s, pool);
    if (spec_.post_norms) {
      for_each_token(pool, n, [&](int64_t t) {
        float* p = s.proj.data() + t * c.n_embd;
        norm(p, w.attn_post_norm, c.n_embd, p);
      });
    }
    kernels::add(s.x.data(), s.proj.data(), n * c.n_embd);

    for_each_token(pool, n, [&](int64_t t) {
      norm(s.x.data() + t * c.n_embd, w.ffn_norm, c.n_embd, s.xb.data() + t * c.n_embd);
    });
    feed_forward_block(n, w, s, pool);
    if (spec_.post_norms) {
      for_each_token(pool, n, [&](int64_t t) {
        float* p = s.proj.data() + t * c.n_embd;
        norm(p, w.ffn_post_norm, c.n_embd, p);
      });
    }
    kernels::add(s.x.data(), s.proj.data(), n * c.n_embd);
  }

  // Only rows that sample need the (large) output projection.
  int64_t n_out = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (!batch.wants_logits[t]) continue;
    norm(s.x.data() + t * c.n_embd, weights_.output_norm, c.n_embd, s.xb.data() + n_out * c.n_embd);
    ++n_out;
  }
  if (n_out == 0) return;
  const auto weights_in_use = hold_weights();
  linear(weights_.output, s.xb.data(), n_out, logits, pool, s.matmul);
  if (spec_.final_softcap != 0.0f) {
    for_each_token(pool, n_out, [&](int64_t t) {
      kernels::softcap(logits + t * c.n_vocab, c.n_vocab, spec_.final_softcap);
    });
  }
}

void DecoderTransformer::attention_block(const Batch& batch, int64_t layer, KvCache& kv,
                                         ForwardScratch& s, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const DecoderLayerWeights& w = weights_.layers[static_cast<size_t>(layer)];
  const LayerSpec& ls = spec_.layers[static_cast<size_t>(layer)];
  const int64_t n = batch.size();
  linear(w.wq, s.xb.data(), n, s.q.data(), pool, s.matmul);
  linear(w.wk, s.xb.data(), n, s.k.data(), pool, s.matmul);
  linear(w.wv, s.xb.data(), n, s.v.data(), pool, s.matmul);

  const float attention_scale = spec_.attention_scale != 0.0f
                                    ? spec_.attention_scale
                                    : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  kernels::RopeParams rope;
  rope.n_rot = c.n_rot;
  rope.freq_base = ls.rope_base;
  rope.freq_scale = ls.rope_freq_scale;
  rope.freq_factors = weights_.rope_freqs.empty() ? nullptr : weights_.rope_freqs.data();
  rope.ext_factor = spec_.yarn_ext_factor;
  rope.attn_factor = spec_.yarn_attn_factor;
  if (rope.ext_factor != 0.0f) {
    kernels::yarn_corr_dims(c.n_rot, spec_.rope_orig_ctx, ls.rope_base, spec_.yarn_beta_fast,
                            spec_.yarn_beta_slow, &rope.corr_low, &rope.corr_high);
  }
  const auto rotate =
      spec_.rope == RopeKind::kNeox ? kernels::rope_rotate_neox : kernels::rope_rotate;
  // Per token: Q/K norms, then RoPE (every head of a token turns by the same angles), then
  // the query scale where the family applies it before attention.
  for_each_token(pool, n, [&](int64_t t) {
    float* q = s.q.data() + t * c.q_dim();
    float* k = s.k.data() + t * c.kv_dim();
    if (spec_.qk_norm) {
      for (int64_t h = 0; h < c.n_head; ++h) {
        kernels::rmsnorm(q + h * c.head_dim, w.q_norm.data(), c.head_dim, spec_.norm_eps,
                         q + h * c.head_dim);
      }
      for (int64_t h = 0; h < c.n_head_kv; ++h) {
        kernels::rmsnorm(k + h * c.head_dim, w.k_norm.data(), c.head_dim, spec_.norm_eps,
                         k + h * c.head_dim);
      }
    }
    if (spec_.rope != RopeKind::kNone) {
      float* angles = s.rope_angles.data() + t * c.n_rot;
      kernels::rope_angles(rope, batch.positions[t], angles);
      for (int64_t h = 0; h < c.n_head; ++h) rotate(q + h * c.head_dim, c.n_rot, angles);
      for (int64_t h = 0; h < c.n_head_kv; ++h) rotate(k + h * c.head_dim, c.n_rot, angles);
    }
    if (spec_.scale_query_first) scale(q, c.q_dim(), attention_scale);
  });
  for (int64_t t = 0; t < n; ++t) {
    kv.store(layer, batch.kv_slots[t], batch.positions[t], s.k.data() + t * c.kv_dim(),
             s.v.data() + t * c.kv_dim());
  }
  // Every (token, head) pair attends over its own sequence's positions [first, pos]. The
  // query heads of a GQA group read the same cache slice, so they go together (split in
  // slices when there are too few items to keep every thread busy); each head's result is
  // the same whichever slice it is in.
  const int64_t group = c.n_head / c.n_head_kv;
  const int64_t min_items = 4 * static_cast<int64_t>(pool.size());
  const int64_t slice = std::clamp<int64_t>(n * c.n_head_kv * group / min_items, 1,
                                            std::min(group, kernels::kHeadsAttendedAtOnce));
  const int64_t slices_per_group = (group + slice - 1) / slice;
  const int64_t n_items = n * c.n_head_kv * slices_per_group;
  // A causal prefill's later tokens attend over more positions, so items go to whichever
  // thread asks next rather than in equal ranges.
  std::atomic<int64_t> next_item{0};
  pool.run([&](int, int) {
    std::array<kernels::AttentionParams, kernels::kHeadsAttendedAtOnce> params;
    for (int64_t item = next_item.fetch_add(1, std::memory_order_relaxed); item < n_items;
         item = next_item.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t t = item / (c.n_head_kv * slices_per_group);
      const int64_t kv_head = item / slices_per_group % c.n_head_kv;
      const int64_t h0 = kv_head * group + item % slices_per_group * slice;
      const int64_t n_heads = std::min(slice, (kv_head + 1) * group - h0);
      const int64_t pos = batch.positions[t];
      for (int64_t g = 0; g < n_heads; ++g) {
        kernels::AttentionParams& p = params[static_cast<size_t>(g)];
        p.scale = spec_.scale_query_first ? 1.0f : attention_scale;
        p.softcap = spec_.attn_softcap;
        p.alibi_slope = alibi_slopes_.empty() ? 0.0f : alibi_slopes_[static_cast<size_t>(h0 + g)];
        p.first = ls.window > 0 ? std::max<int64_t>(0, pos + 1 - ls.window) : 0;
      }
      const kernels::KvView view = kv.view(layer, batch.kv_slots[t], kv_head * c.head_dim);
      const int64_t at = t * c.q_dim() + h0 * c.head_dim;
      kernels::attend_heads(s.q.data() + at, c.head_dim, n_heads, view, pos + 1, c.head_dim,
                            params.data(), s.att.data() + at, c.head_dim);
    }
  });
  linear(w.wo, s.att.data(), n, s.proj.data(), pool, s.matmul);
}

void DecoderTransformer::feed_forward_block(int64_t n, const DecoderLayerWeights& w,
                                            ForwardScratch& s, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  if (spec_.ffn == FfnKind::kGelu) {
    linear(w.up, s.xb.data(), n, s.up.data(), pool, s.matmul);
    for_each_token(pool, n, [&](int64_t t) { kernels::gelu(s.up.data() + t * c.n_ff, c.n_ff); });
    linear(w.down, s.up.data(), n, s.proj.data(), pool, s.matmul);
    return;
  }
  linear(w.gate, s.xb.data(), n, s.gate.data(), pool, s.matmul);
  linear(w.up, s.xb.data(), n, s.up.data(), pool, s.matmul);
  const auto activation = spec_.ffn == FfnKind::kGeGlu ? kernels::geglu : kernels::swiglu;
  for_each_token(pool, n, [&](int64_t t) {
    activation(s.gate.data() + t * c.n_ff, s.up.data() + t * c.n_ff, c.n_ff);
  });
  linear(w.down, s.gate.data(), n, s.proj.data(), pool, s.matmul);
}

}  // namespace loom

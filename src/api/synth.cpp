#include "loom/synth.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf_writer.h"
#include "kernels/quantize.h"
#include "sampling/rng.h"
#include "synth_shapes.h"
#include "synth_tokenizer.h"

namespace loom {
namespace {

// Standard deviation of the random weight matrices and biases: small enough that a random
// model's activations stay sane through all layers. Norm weights are 1 (Gemma's stored
// norm weights are already 1 + w, so 1 there too).
constexpr float kWeightStddev = 0.02f;

// ggml's general.file_type numbers for a file of mostly one type.
uint32_t file_type_of(DType type) {
  switch (type) {
    case DType::F32:
      return 0;
    case DType::F16:
      return 1;
    case DType::Q4_0:
      return 2;
    case DType::Q8_0:
      return 7;
    case DType::BF16:
      return 32;
    default:
      fail("synth: unsupported weight type {}", dtype_name(type));
  }
}

// Fills a (rows, cols) tensor of `type` with uniform random values of standard deviation
// `stddev`, each row from its own seeded generator so rows can be made in parallel and
// the file is the same for any thread count.
gguf::GgufWriter::Fill random_matrix(DType type, int64_t rows, int64_t cols, float stddev,
                                     uint64_t seed, ThreadPool& pool) {
  return [=, &pool](std::span<uint8_t> out) {
    const int64_t stride = row_bytes(type, cols);
    pool.parallel_for(rows, [&](int64_t begin, int64_t end) {
      std::vector<float> row(static_cast<size_t>(cols));
      const float half_width = stddev * std::sqrt(3.0f);
      for (int64_t r = begin; r < end; ++r) {
        Rng rng(seed * 0x100000001b3ull + static_cast<uint64_t>(r));
        for (float& x : row) x = static_cast<float>((rng.uniform() * 2 - 1) * half_width);
        kernels::quantize_row(type, row.data(), out.data() + r * stride, cols);
      }
    });
  };
}

gguf::GgufWriter::Fill f32_values(std::vector<float> values) {
  return [values = std::move(values)](std::span<uint8_t> out) {
    std::memcpy(out.data(), values.data(), out.size());
  };
}

// Adds the tensors of one shape to a writer: weight matrices of the chosen type, norm
// weights, biases and rope_freqs in F32.
class TensorWriter {
 public:
  TensorWriter(gguf::GgufWriter& writer, DType type, uint64_t seed, ThreadPool& pool)
      : writer_(writer), type_(type), seed_(seed * 1000003ull), pool_(pool) {}

  // A matrix mapping `in` features to `out` (ggml shape [in, out]).
  void matrix(const std::string& name, int64_t in, int64_t out) {
    writer_.add_tensor(name + ".weight", type_, {in, out},
                       random_matrix(type_, out, in, kWeightStddev, ++seed_, pool_));
  }
  void bias(const std::string& name, int64_t n) {
    writer_.add_tensor(name + ".bias", DType::F32, {n},
                       random_matrix(DType::F32, 1, n, kWeightStddev, ++seed_, pool_));
  }
  void linear(const std::string& name, int64_t in, int64_t out, bool with_bias) {
    matrix(name, in, out);
    if (with_bias) bias(name, out);
  }
  void norm(const std::string& name, int64_t n, SynthNorm kind) {
    writer_.add_tensor(name + ".weight", DType::F32, {n},
                       f32_values(std::vector<float>(static_cast<size_t>(n), 1.0f)));
    if (kind == SynthNorm::kLayerNormWithBias) bias(name, n);
  }
  void f32(const std::string& name, std::vector<float> values) {
    const auto n = static_cast<int64_t>(values.size());
    writer_.add_tensor(name, DType::F32, {n}, f32_values(std::move(values)));
  }

 private:
  gguf::GgufWriter& writer_;
  DType type_;
  uint64_t seed_;
  ThreadPool& pool_;
};

void add_arch_keys(gguf::GgufWriter& w, const SynthShape& s, int64_t n_layer, int64_t n_vocab) {
  const SynthArch& arch = *s.arch;
  const std::string p = std::string(arch.name) + ".";
  auto u32 = [&](const char* key, int64_t v) { w.add_u32(p + key, static_cast<uint32_t>(v)); };
  u32("context_length", s.n_ctx);
  u32("embedding_length", s.n_embd);
  u32("block_count", n_layer);
  u32("feed_forward_length", s.n_ff);
  u32("attention.head_count", s.n_head);
  u32("attention.head_count_kv", s.n_head_kv);
  if (arch.head_dim_keys) {
    u32("attention.key_length", s.head_size());
    u32("attention.value_length", s.head_size());
  }
  if (arch.rope_dim_key) u32("rope.dimension_count", s.head_size());
  w.add_f32(p + "rope.freq_base", s.rope_freq_base);
  w.add_f32(p + (arch.norm == SynthNorm::kRms ? "attention.layer_norm_rms_epsilon"
                                              : "attention.layer_norm_epsilon"),
            s.norm_eps);
  if (s.sliding_window != 0) u32("attention.sliding_window", s.sliding_window);
  if (s.attn_logit_softcap != 0) w.add_f32(p + "attn_logit_softcapping", s.attn_logit_softcap);
  if (s.final_logit_softcap != 0) w.add_f32(p + "final_logit_softcapping", s.final_logit_softcap);
  if (arch.vocab_size_key) u32("vocab_size", n_vocab);
}

void add_layer(TensorWriter& t, const SynthShape& s, int64_t layer) {
  const SynthArch& arch = *s.arch;
  const std::string p = "blk." + std::to_string(layer) + ".";
  const int64_t q_dim = s.n_head * s.head_size();
  const int64_t kv_dim = s.n_head_kv * s.head_size();

  t.norm(p + "attn_norm", s.n_embd, arch.norm);
  if (arch.fused_qkv) {
    t.linear(p + "attn_qkv", s.n_embd, q_dim + 2 * kv_dim, arch.qkv_bias);
  } else {
    t.linear(p + "attn_q", s.n_embd, q_dim, arch.qkv_bias);
    t.linear(p + "attn_k", s.n_embd, kv_dim, arch.qkv_bias);
    t.linear(p + "attn_v", s.n_embd, kv_dim, arch.qkv_bias);
  }
  if (arch.qk_norm) {
    t.norm(p + "attn_q_norm", s.head_size(), SynthNorm::kRms);
    t.norm(p + "attn_k_norm", s.head_size(), SynthNorm::kRms);
  }
  t.linear(p + "attn_output", q_dim, s.n_embd, arch.proj_bias);
  if (arch.post_norms) t.norm(p + "post_attention_norm", s.n_embd, arch.norm);

  t.norm(p + "ffn_norm", s.n_embd, arch.norm);
  switch (arch.ffn) {
    case SynthFfn::kGated:
      t.linear(p + "ffn_gate", s.n_embd, s.n_ff, arch.proj_bias);
      t.linear(p + "ffn_up", s.n_embd, s.n_ff, arch.proj_bias);
      break;
    case SynthFfn::kFusedGateUp:
      t.linear(p + "ffn_up", s.n_embd, 2 * s.n_ff, arch.proj_bias);
      break;
    case SynthFfn::kPlain:
      t.linear(p + "ffn_up", s.n_embd, s.n_ff, arch.proj_bias);
      break;
  }
  t.linear(p + "ffn_down", s.n_ff, s.n_embd, arch.proj_bias);
  if (arch.post_norms) t.norm(p + "post_ffw_norm", s.n_embd, arch.norm);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> synth_shapes() {
  std::vector<std::pair<std::string, std::string>> shapes;
  for (const SynthShape& s : synth_shape_table()) shapes.emplace_back(s.name, s.description);
  for (const SynthShapeAlias& a : synth_shape_aliases()) {
    shapes.emplace_back(a.alias, std::string("the older name of ") + a.name);
  }
  return shapes;
}

void synthesize_model(const SynthOptions& options,
                      const std::function<void(uint64_t, uint64_t)>& progress) {
  const SynthShape* shape = find_synth_shape(options.shape);
  if (shape == nullptr) fail("synth: unknown shape '{}' (see `loom synth --help`)", options.shape);
  const std::optional<DType> type = dtype_from_name(options.type);
  if (!type || !is_computable(*type)) {
    fail("synth: weight type '{}' is not one of f32, f16, bf16, q8_0, q4_0", options.type);
  }
  const int64_t n_layer = options.n_layer == 0 ? shape->n_layer : options.n_layer;
  if (n_layer < 1 || n_layer > shape->n_layer) {
    fail("synth: --layers {} is outside 1..{} (the layers of {})", options.n_layer, shape->n_layer,
         shape->name);
  }
  if (options.tokenizer_path.empty()) {
    fail("synth: a tokenizer is needed (--tokenizer: a GGUF file or a tokenizer.json)");
  }
  if (options.output_path.empty()) fail("synth: an output path is needed (-o)");

  gguf::GgufWriter w;
  const int64_t n_vocab = add_synth_tokenizer(options.tokenizer_path, w);
  w.add_string("general.architecture", shape->arch->name);
  w.add_string("general.name", std::string("loom-synth ") + shape->name);
  w.add_u32("general.file_type", file_type_of(*type));
  add_arch_keys(w, *shape, n_layer, n_vocab);

  ThreadPool pool(options.threads);
  TensorWriter t(w, *type, options.seed, pool);
  t.matrix("token_embd", shape->n_embd, n_vocab);
  if (shape->rope_scaling) {
    t.f32("rope_freqs.weight",
          llama3_rope_freqs(*shape->rope_scaling, shape->head_size(), shape->rope_freq_base));
  }
  for (int64_t l = 0; l < n_layer; ++l) add_layer(t, *shape, l);
  t.norm("output_norm", shape->n_embd, shape->arch->norm);
  if (!shape->tied_output) t.matrix("output", shape->n_embd, n_vocab);
  w.write(options.output_path, progress);
}

}  // namespace loom

#include "loom/synth.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf_writer.h"
#include "kernels/quantize.h"
#include "sampling/rng.h"
#include "synth_tokenizer.h"

namespace loom {
namespace {

struct Shape {
  const char* name;
  const char* description;
  int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
  float rope_freq_base;
};

constexpr Shape kShapes[] = {
    {"tinyllama-1.1b", "TinyLlama-1.1B: hidden 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632",
     2048, 22, 32, 4, 5632, 2048, 10000.0f},
    {"llama3.2-1b", "Llama-3.2-1B: hidden 2048, 16 layers, 32 heads, 8 KV heads, FFN 8192", 2048,
     16, 32, 8, 8192, 131072, 500000.0f},
    {"tiny", "a tiny test shape: hidden 64, 2 layers, 4 heads, 2 KV heads, FFN 128", 64, 2, 4, 2,
     128, 512, 10000.0f},
};

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

gguf::GgufWriter::Fill ones(int64_t n) {
  return [n](std::span<uint8_t> out) {
    std::vector<float> values(static_cast<size_t>(n), 1.0f);
    std::memcpy(out.data(), values.data(), out.size());
  };
}

}  // namespace

std::vector<std::pair<std::string, std::string>> synth_shapes() {
  std::vector<std::pair<std::string, std::string>> shapes;
  for (const Shape& s : kShapes) shapes.emplace_back(s.name, s.description);
  return shapes;
}

void synthesize_model(const SynthOptions& options,
                      const std::function<void(uint64_t, uint64_t)>& progress) {
  const Shape* shape = nullptr;
  for (const Shape& s : kShapes) {
    if (options.shape == s.name) shape = &s;
  }
  if (shape == nullptr) fail("synth: unknown shape '{}' (see `loom synth --help`)", options.shape);
  const std::optional<DType> type = dtype_from_name(options.type);
  if (!type || !is_computable(*type)) {
    fail("synth: weight type '{}' is not one of f32, f16, bf16, q8_0, q4_0", options.type);
  }
  if (options.tokenizer_path.empty()) {
    fail("synth: a tokenizer is needed (--tokenizer: a GGUF file or a tokenizer.json)");
  }
  if (options.output_path.empty()) fail("synth: an output path is needed (-o)");

  gguf::GgufWriter w;
  const int64_t n_vocab = add_synth_tokenizer(options.tokenizer_path, w);
  const int64_t head_dim = shape->n_embd / shape->n_head;
  const int64_t kv_dim = shape->n_head_kv * head_dim;

  w.add_string("general.architecture", "llama");
  w.add_string("general.name", std::string("loom-synth ") + shape->name);
  w.add_u32("general.file_type", file_type_of(*type));
  w.add_u32("llama.context_length", static_cast<uint32_t>(shape->n_ctx));
  w.add_u32("llama.embedding_length", static_cast<uint32_t>(shape->n_embd));
  w.add_u32("llama.block_count", static_cast<uint32_t>(shape->n_layer));
  w.add_u32("llama.feed_forward_length", static_cast<uint32_t>(shape->n_ff));
  w.add_u32("llama.attention.head_count", static_cast<uint32_t>(shape->n_head));
  w.add_u32("llama.attention.head_count_kv", static_cast<uint32_t>(shape->n_head_kv));
  w.add_u32("llama.rope.dimension_count", static_cast<uint32_t>(head_dim));
  w.add_f32("llama.rope.freq_base", shape->rope_freq_base);
  w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.add_u32("llama.vocab_size", static_cast<uint32_t>(n_vocab));

  ThreadPool pool(options.threads);
  uint64_t tensor_seed = options.seed * 1000003ull;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    w.add_tensor(name, *type, {cols, rows},
                 random_matrix(*type, rows, cols, 0.02f, ++tensor_seed, pool));
  };
  auto norm = [&](const std::string& name, int64_t n) {
    w.add_tensor(name, DType::F32, {n}, ones(n));
  };

  matrix("token_embd.weight", n_vocab, shape->n_embd);
  for (int64_t l = 0; l < shape->n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    norm(p + "attn_norm.weight", shape->n_embd);
    matrix(p + "attn_q.weight", shape->n_embd, shape->n_embd);
    matrix(p + "attn_k.weight", kv_dim, shape->n_embd);
    matrix(p + "attn_v.weight", kv_dim, shape->n_embd);
    matrix(p + "attn_output.weight", shape->n_embd, shape->n_embd);
    norm(p + "ffn_norm.weight", shape->n_embd);
    matrix(p + "ffn_gate.weight", shape->n_ff, shape->n_embd);
    matrix(p + "ffn_up.weight", shape->n_ff, shape->n_embd);
    matrix(p + "ffn_down.weight", shape->n_embd, shape->n_ff);
  }
  norm("output_norm.weight", shape->n_embd);
  matrix("output.weight", n_vocab, shape->n_embd);
  w.write(options.output_path, progress);
}

}  // namespace loom

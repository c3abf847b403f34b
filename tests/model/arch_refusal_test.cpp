// What each architecture's description reads from a file (ArchSpec), and the files loom
// refuses by name rather than running approximately: an unknown architecture, RoPE scaling
// or metadata key, an unused tensor, a missing one.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "common/edited_gguf.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/architectures.h"
#include "model/decoder.h"
#include "model/forward_scratch.h"
#include "model/transformer.h"

namespace loom {
namespace {

const std::string kArch = std::string(LOOM_SHARED_DIR) + "/reference/arch/";

std::shared_ptr<const gguf::GgufFile> open_arch(const std::string& name) {
  return gguf::GgufFile::open(kArch + name + ".gguf");
}

using testing_support::EditedGguf;

// A reference file changed by `edit`, with the keys and tensors in `drop` left out.
EditedGguf EditedFile(const std::string& name, const std::function<void(gguf::GgufWriter&)>& edit,
                      const std::vector<std::string>& drop = {}) {
  return EditedGguf(kArch + name + ".gguf", edit, drop);
}

std::string load_error(const std::shared_ptr<const gguf::GgufFile>& file) {
  try {
    Transformer::load(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ArchSpec spec_of(const std::shared_ptr<const gguf::GgufFile>& file) {
  return describe_architecture(*file, ModelConfig::from_gguf(*file));
}

std::vector<float> f32_zeros(size_t n) {
  return std::vector<float>(n, 0.0f);
}

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  return {p, p + v.size() * sizeof(float)};
}

// Logits of every position of a prefill of n tokens (ids 10, 11, ...) on one thread.
std::vector<float> prefill_logits(const std::shared_ptr<const gguf::GgufFile>& file, int n) {
  const std::unique_ptr<Transformer> model = Transformer::load(file);
  const ModelConfig& c = model->config();
  KvCache kv(c.n_layer, 1, 64, c.kv_dim(), DType::F16);
  const std::unique_ptr<ForwardScratch> scratch = model->make_scratch(n);
  ThreadPool pool(1);
  Batch batch;
  for (int i = 0; i < n; ++i) batch.add(10 + i, i, 0, true);
  std::vector<float> logits(static_cast<size_t>(n * c.n_vocab));
  model->forward(batch, kv, *scratch, pool, logits.data());
  return logits;
}

TEST(ArchSpec, EachReferenceFileIsDescribedAsItsReadmeSays) {
  const ArchSpec llama = spec_of(open_arch("llama3-ropefreqs"));
  EXPECT_EQ(llama.rope, RopeKind::kNormal);
  EXPECT_TRUE(llama.rope_freq_factors);
  EXPECT_EQ(llama.layers[0].rope_base, 500000.0f);

  const ArchSpec qwen3 = spec_of(open_arch("qwen3"));
  EXPECT_EQ(qwen3.rope, RopeKind::kNeox);
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FLOAT_EQ(qwen3.norm_eps, 1e-6f);

  const ArchSpec gemma2 = spec_of(open_arch("gemma2"));
  EXPECT_EQ(gemma2.ffn, FfnKind::kGeGlu);
  EXPECT_EQ(gemma2.attn_softcap, 10.0f);
  EXPECT_EQ(gemma2.final_softcap, 30.0f);
  EXPECT_TRUE(gemma2.scale_query_first);
  EXPECT_FLOAT_EQ(gemma2.attention_scale, 1.0f / std::sqrt(32.0f));
  EXPECT_FLOAT_EQ(gemma2.embedding_scale, 8.0f);
  ASSERT_EQ(gemma2.layers.size(), 3u);
  EXPECT_EQ(gemma2.layers[0].window, 8);  // even layers local
  EXPECT_EQ(gemma2.layers[1].window, 0);
  EXPECT_EQ(gemma2.layers[2].window, 8);

  const ArchSpec gemma3 = spec_of(open_arch("gemma3"));
  ASSERT_EQ(gemma3.layers.size(), 6u);
  for (int l = 0; l < 5; ++l) {
    EXPECT_EQ(gemma3.layers[l].window, 12) << l;
    EXPECT_EQ(gemma3.layers[l].rope_base, 10000.0f) << l;
    EXPECT_EQ(gemma3.layers[l].rope_freq_scale, 1.0f) << l;
  }
  EXPECT_EQ(gemma3.layers[5].window, 0);
  EXPECT_EQ(gemma3.layers[5].rope_base, 1e6f);
  EXPECT_EQ(gemma3.layers[5].rope_freq_scale, 1.0f / 8.0f);
  EXPECT_EQ(gemma3.final_softcap, 0.0f);

  const ArchSpec phi3 = spec_of(open_arch("phi3"));
  EXPECT_EQ(phi3.layers[0].window, 2047);
  EXPECT_FALSE(phi3.notes.empty());

  const ArchSpec starcoder2 = spec_of(open_arch("starcoder2"));
  EXPECT_EQ(starcoder2.norm, NormKind::kLayer);
  EXPECT_EQ(starcoder2.ffn, FfnKind::kGelu);

  const ArchSpec gpt2 = spec_of(open_arch("gpt2"));
  EXPECT_TRUE(gpt2.learned_positions);
  EXPECT_EQ(gpt2.rope, RopeKind::kNone);

  EXPECT_EQ(spec_of(open_arch("mpt")).alibi_max_bias, 8.0f);
  const ArchSpec bloom = spec_of(open_arch("bloom"));
  EXPECT_EQ(bloom.alibi_max_bias, 8.0f);
  EXPECT_TRUE(bloom.embedding_norm);
}

TEST(ArchSpec, FeaturesNameWhatIsApplied) {
  const std::vector<std::string> f = spec_of(open_arch("gemma3")).features();
  auto has = [&](const std::string& text) {
    return std::any_of(f.begin(), f.end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  };
  EXPECT_TRUE(has("GeGLU"));
  EXPECT_TRUE(has("sliding window 12 on layers 0-4"));
  EXPECT_TRUE(has("linear RoPE scaling x8 (layers 5)"));
  EXPECT_TRUE(has("per-head RMSNorm of Q and K"));
}

// Qwen2.5's long-context files ask for YaRN: read, and the model runs with it.
TEST(ArchSpec, YarnScalingIsRead) {
  EditedGguf f = EditedFile("qwen2", [](gguf::GgufWriter& w) {
    w.add_string("qwen2.rope.scaling.type", "yarn");
    w.add_f32("qwen2.rope.scaling.factor", 4.0f);
    w.add_u32("qwen2.rope.scaling.original_context_length", 64);
  });
  const ArchSpec spec = spec_of(f.file());
  EXPECT_EQ(spec.rope_scaling, RopeScalingKind::kYarn);
  EXPECT_EQ(spec.rope_orig_ctx, 64);
  EXPECT_EQ(spec.yarn_ext_factor, 1.0f);
  // llama.cpp's attn factor: get_mscale(4) / (1 + 0.1 ln 4), cancelled in the kernel.
  EXPECT_NEAR(spec.yarn_attn_factor, 1.0, 1e-6);
  for (const LayerSpec& layer : spec.layers) EXPECT_EQ(layer.rope_freq_scale, 0.25f);
  const std::vector<float> yarn = prefill_logits(f.file(), 6);
  const std::vector<float> plain = prefill_logits(open_arch("qwen2"), 6);
  EXPECT_NE(yarn, plain);
}

TEST(ArchRefusal, UnknownArchitectureIsNamed) {
  EditedGguf f = EditedFile(
      "qwen2", [](gguf::GgufWriter& w) { w.add_string("general.architecture", "falcon"); });
  const std::string error = load_error(f.file());
  EXPECT_NE(error.find("architecture 'falcon' is not supported"), std::string::npos) << error;
  EXPECT_NE(error.find("qwen3"), std::string::npos) << "lists what is supported: " << error;
}

TEST(ArchRefusal, UnknownRopeScalingIsNamed) {
  EditedGguf f = EditedFile("qwen2", [](gguf::GgufWriter& w) {
    w.add_string("qwen2.rope.scaling.type", "longrope");
    w.add_f32("qwen2.rope.scaling.factor", 4.0f);
  });
  const std::string error = load_error(f.file());
  EXPECT_NE(error.find("'qwen2.rope.scaling.type' = 'longrope'"), std::string::npos) << error;
}

TEST(ArchRefusal, KeyThatChangesTheMathIsNamed) {
  EditedGguf f =
      EditedFile("mpt", [](gguf::GgufWriter& w) { w.add_f32("mpt.attention.clamp_kqv", 8.0f); });
  const std::string error = load_error(f.file());
  EXPECT_NE(error.find("'mpt.attention.clamp_kqv'"), std::string::npos) << error;
}

TEST(ArchRefusal, UnusedTensorIsNamed) {
  EditedGguf f = EditedFile("qwen2", [](gguf::GgufWriter& w) {
    w.add_tensor("blk.0.attn_q_norm.weight", DType::F32, {16}, bytes_of(f32_zeros(16)));
  });
  const std::string error = load_error(f.file());
  EXPECT_NE(error.find("tensor 'blk.0.attn_q_norm.weight' is not part of loom's qwen2 model"),
            std::string::npos)
      << error;
}

TEST(ArchRefusal, MissingTensorIsNamed) {
  EditedGguf f = EditedFile("gemma2", [](gguf::GgufWriter&) {}, {"blk.1.post_ffw_norm.weight"});
  const std::string error = load_error(f.file());
  EXPECT_NE(error.find("'blk.1.post_ffw_norm.weight' is missing"), std::string::npos) << error;
}

TEST(ArchRefusal, RopeFrequencyFactorsWithoutRopeAreRefused) {
  EditedGguf f = EditedFile("gpt2", [](gguf::GgufWriter& w) {
    w.add_tensor("rope_freqs.weight", DType::F32, {8}, bytes_of(f32_zeros(8)));
  });
  EXPECT_NE(load_error(f.file()).find("rope_freqs.weight"), std::string::npos);
}

TEST(ArchRefusal, ValueLengthOtherThanKeyLengthIsRefused) {
  EditedGguf f = EditedFile(
      "qwen3", [](gguf::GgufWriter& w) { w.add_u32("qwen3.attention.value_length", 16); });
  EXPECT_NE(load_error(f.file()).find("value_length"), std::string::npos);
}

// A `mistral` file (and a llama file with a window) gets its sliding window applied on
// every layer, and `loom info` says so.
TEST(SlidingWindow, MistralFilesApplyTheirWindow) {
  const EditedGguf renamed =
      testing_support::mistral_with_window(kArch + "llama3-ropefreqs.gguf", 4);
  const ArchSpec spec = spec_of(renamed.file());
  for (const LayerSpec& layer : spec.layers) EXPECT_EQ(layer.window, 4);
  ASSERT_FALSE(spec.notes.empty());
  EXPECT_NE(spec.notes[0].find("llama.cpp ignores it"), std::string::npos);

  // Positions 0-3 see the same keys with or without the window; later ones do not.
  const std::vector<float> windowed = prefill_logits(renamed.file(), 10);
  const std::vector<float> full = prefill_logits(open_arch("llama3-ropefreqs"), 10);
  const size_t n_vocab = windowed.size() / 10;
  for (size_t t = 0; t < 10; ++t) {
    const bool same = std::equal(windowed.begin() + t * n_vocab,
                                 windowed.begin() + (t + 1) * n_vocab, full.begin() + t * n_vocab);
    EXPECT_EQ(same, t < 4) << "position " << t;
  }
}

}  // namespace
}  // namespace loom

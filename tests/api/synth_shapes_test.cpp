// loom synth's shapes: each file, read back with gguf::GgufFile, has exactly the
// `<arch>.*` keys and tensors (names, ggml shapes, types) that llama.cpp's loader expects
// for its architecture. The expectations are written out by hand from the models'
// config.json files, and the key and tensor names are also compared with the tiny
// reference files of ../shared/reference/arch, which llama.cpp runs. The files are written
// with one layer (at the real widths) and stories260K's 512-token vocabulary, so the test
// takes seconds.
#include "api/synth_shapes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <variant>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "loom/loom.h"
#include "loom/synth.h"

namespace loom {
namespace {

const std::string kShared = LOOM_SHARED_DIR;
const std::string kVocab = kShared + "/models/stories260K.gguf";  // 512 tokens
constexpr int64_t kVocabSize = 512;

using KeyValue = std::variant<uint32_t, float>;

struct ExpectedShape {
  std::string shape;
  std::string arch;
  std::string reference;  // ../shared/reference/arch/<reference>.gguf
  int64_t n_layer;
  std::map<std::string, KeyValue> keys;  // without "<arch>.", block_count aside
  // "name dims kind": dims in ggml order joined by 'x', V = the vocabulary size; kind W =
  // the --type of the file, F = F32.
  std::vector<std::string> tensors;
};

const std::vector<ExpectedShape> kExpected = {
    {"llama-3.2-1b",
     "llama",
     "llama3-ropefreqs",
     16,
     {{"context_length", 131072u},
      {"embedding_length", 2048u},
      {"feed_forward_length", 8192u},
      {"attention.head_count", 32u},
      {"attention.head_count_kv", 8u},
      {"rope.dimension_count", 64u},
      {"rope.freq_base", 500000.0f},
      {"attention.layer_norm_rms_epsilon", 1e-5f},
      {"vocab_size", 512u}},
     {"token_embd.weight 2048xV W", "rope_freqs.weight 32 F", "output_norm.weight 2048 F",
      "blk.0.attn_norm.weight 2048 F", "blk.0.attn_q.weight 2048x2048 W",
      "blk.0.attn_k.weight 2048x512 W", "blk.0.attn_v.weight 2048x512 W",
      "blk.0.attn_output.weight 2048x2048 W", "blk.0.ffn_norm.weight 2048 F",
      "blk.0.ffn_gate.weight 2048x8192 W", "blk.0.ffn_up.weight 2048x8192 W",
      "blk.0.ffn_down.weight 8192x2048 W"}},
    {"qwen2.5-0.5b",
     "qwen2",
     "qwen2",
     24,
     {{"context_length", 32768u},
      {"embedding_length", 896u},
      {"feed_forward_length", 4864u},
      {"attention.head_count", 14u},
      {"attention.head_count_kv", 2u},
      {"rope.freq_base", 1e6f},
      {"attention.layer_norm_rms_epsilon", 1e-6f}},
     {"token_embd.weight 896xV W", "output_norm.weight 896 F", "blk.0.attn_norm.weight 896 F",
      "blk.0.attn_q.weight 896x896 W", "blk.0.attn_q.bias 896 F", "blk.0.attn_k.weight 896x128 W",
      "blk.0.attn_k.bias 128 F", "blk.0.attn_v.weight 896x128 W", "blk.0.attn_v.bias 128 F",
      "blk.0.attn_output.weight 896x896 W", "blk.0.ffn_norm.weight 896 F",
      "blk.0.ffn_gate.weight 896x4864 W", "blk.0.ffn_up.weight 896x4864 W",
      "blk.0.ffn_down.weight 4864x896 W"}},
    {"qwen2.5-1.5b",
     "qwen2",
     "qwen2",
     28,
     {{"context_length", 32768u},
      {"embedding_length", 1536u},
      {"feed_forward_length", 8960u},
      {"attention.head_count", 12u},
      {"attention.head_count_kv", 2u},
      {"rope.freq_base", 1e6f},
      {"attention.layer_norm_rms_epsilon", 1e-6f}},
     {"token_embd.weight 1536xV W", "output_norm.weight 1536 F", "blk.0.attn_norm.weight 1536 F",
      "blk.0.attn_q.weight 1536x1536 W", "blk.0.attn_q.bias 1536 F",
      "blk.0.attn_k.weight 1536x256 W", "blk.0.attn_k.bias 256 F", "blk.0.attn_v.weight 1536x256 W",
      "blk.0.attn_v.bias 256 F", "blk.0.attn_output.weight 1536x1536 W",
      "blk.0.ffn_norm.weight 1536 F", "blk.0.ffn_gate.weight 1536x8960 W",
      "blk.0.ffn_up.weight 1536x8960 W", "blk.0.ffn_down.weight 8960x1536 W"}},
    {"qwen3-0.6b",
     "qwen3",
     "qwen3",
     28,
     {{"context_length", 40960u},
      {"embedding_length", 1024u},
      {"feed_forward_length", 3072u},
      {"attention.head_count", 16u},
      {"attention.head_count_kv", 8u},
      {"attention.key_length", 128u},
      {"attention.value_length", 128u},
      {"rope.freq_base", 1e6f},
      {"attention.layer_norm_rms_epsilon", 1e-6f}},
     {"token_embd.weight 1024xV W", "output_norm.weight 1024 F", "blk.0.attn_norm.weight 1024 F",
      "blk.0.attn_q.weight 1024x2048 W", "blk.0.attn_k.weight 1024x1024 W",
      "blk.0.attn_v.weight 1024x1024 W", "blk.0.attn_q_norm.weight 128 F",
      "blk.0.attn_k_norm.weight 128 F", "blk.0.attn_output.weight 2048x1024 W",
      "blk.0.ffn_norm.weight 1024 F", "blk.0.ffn_gate.weight 1024x3072 W",
      "blk.0.ffn_up.weight 1024x3072 W", "blk.0.ffn_down.weight 3072x1024 W"}},
    {"gemma-2-2b",
     "gemma2",
     "gemma2",
     26,
     {{"context_length", 8192u},
      {"embedding_length", 2304u},
      {"feed_forward_length", 9216u},
      {"attention.head_count", 8u},
      {"attention.head_count_kv", 4u},
      {"attention.key_length", 256u},
      {"attention.value_length", 256u},
      {"rope.freq_base", 10000.0f},
      {"attention.layer_norm_rms_epsilon", 1e-6f},
      {"attention.sliding_window", 4096u},
      {"attn_logit_softcapping", 50.0f},
      {"final_logit_softcapping", 30.0f}},
     {"token_embd.weight 2304xV W", "output_norm.weight 2304 F", "blk.0.attn_norm.weight 2304 F",
      "blk.0.attn_q.weight 2304x2048 W", "blk.0.attn_k.weight 2304x1024 W",
      "blk.0.attn_v.weight 2304x1024 W", "blk.0.attn_output.weight 2048x2304 W",
      "blk.0.post_attention_norm.weight 2304 F", "blk.0.ffn_norm.weight 2304 F",
      "blk.0.ffn_gate.weight 2304x9216 W", "blk.0.ffn_up.weight 2304x9216 W",
      "blk.0.ffn_down.weight 9216x2304 W", "blk.0.post_ffw_norm.weight 2304 F"}},
    {"gemma-3-1b",
     "gemma3",
     "gemma3",
     26,
     {{"context_length", 32768u},
      {"embedding_length", 1152u},
      {"feed_forward_length", 6912u},
      {"attention.head_count", 4u},
      {"attention.head_count_kv", 1u},
      {"attention.key_length", 256u},
      {"attention.value_length", 256u},
      {"rope.freq_base", 1e6f},
      {"attention.layer_norm_rms_epsilon", 1e-6f},
      {"attention.sliding_window", 512u}},
     {"token_embd.weight 1152xV W", "output_norm.weight 1152 F", "blk.0.attn_norm.weight 1152 F",
      "blk.0.attn_q.weight 1152x1024 W", "blk.0.attn_k.weight 1152x256 W",
      "blk.0.attn_v.weight 1152x256 W", "blk.0.attn_q_norm.weight 256 F",
      "blk.0.attn_k_norm.weight 256 F", "blk.0.attn_output.weight 1024x1152 W",
      "blk.0.post_attention_norm.weight 1152 F", "blk.0.ffn_norm.weight 1152 F",
      "blk.0.ffn_gate.weight 1152x6912 W", "blk.0.ffn_up.weight 1152x6912 W",
      "blk.0.ffn_down.weight 6912x1152 W", "blk.0.post_ffw_norm.weight 1152 F"}},
    {"phi-3-mini",
     "phi3",
     "phi3",
     32,
     {{"context_length", 4096u},
      {"embedding_length", 3072u},
      {"feed_forward_length", 8192u},
      {"attention.head_count", 32u},
      {"attention.head_count_kv", 32u},
      {"rope.dimension_count", 96u},
      {"rope.freq_base", 10000.0f},
      {"attention.layer_norm_rms_epsilon", 1e-5f},
      {"attention.sliding_window", 2047u}},
     {"token_embd.weight 3072xV W", "output_norm.weight 3072 F", "output.weight 3072xV W",
      "blk.0.attn_norm.weight 3072 F", "blk.0.attn_qkv.weight 3072x9216 W",
      "blk.0.attn_output.weight 3072x3072 W", "blk.0.ffn_norm.weight 3072 F",
      "blk.0.ffn_up.weight 3072x16384 W", "blk.0.ffn_down.weight 8192x3072 W"}},
    {"starcoder2-3b",
     "starcoder2",
     "starcoder2",
     30,
     {{"context_length", 16384u},
      {"embedding_length", 3072u},
      {"feed_forward_length", 12288u},
      {"attention.head_count", 24u},
      {"attention.head_count_kv", 2u},
      {"rope.freq_base", 999999.4f},
      {"attention.layer_norm_epsilon", 1e-5f}},
     {"token_embd.weight 3072xV W", "output_norm.weight 3072 F", "output_norm.bias 3072 F",
      "blk.0.attn_norm.weight 3072 F", "blk.0.attn_norm.bias 3072 F",
      "blk.0.attn_q.weight 3072x3072 W", "blk.0.attn_q.bias 3072 F",
      "blk.0.attn_k.weight 3072x256 W", "blk.0.attn_k.bias 256 F", "blk.0.attn_v.weight 3072x256 W",
      "blk.0.attn_v.bias 256 F", "blk.0.attn_output.weight 3072x3072 W",
      "blk.0.attn_output.bias 3072 F", "blk.0.ffn_norm.weight 3072 F", "blk.0.ffn_norm.bias 3072 F",
      "blk.0.ffn_up.weight 3072x12288 W", "blk.0.ffn_up.bias 12288 F",
      "blk.0.ffn_down.weight 12288x3072 W", "blk.0.ffn_down.bias 3072 F"}},
};

void PrintTo(const ExpectedShape& shape, std::ostream* os) {
  *os << shape.shape;
}

// Where the tiny reference file differs from the real model by design, not by layout.
const std::set<std::string> kReferenceOnly = {
    "qwen2:output.weight",       // Qwen2.5 0.5B and 1.5B tie the output to the embedding
    "starcoder2:output.weight",  // so does StarCoder2-3B
    "gemma3:rope.scaling.type",  // Gemma 3 1B has no RoPE scaling (4B and up have)
    "gemma3:rope.scaling.factor",
};

struct TensorSpec {
  std::vector<int64_t> shape;
  DType type;
};

std::map<std::string, TensorSpec> parse_tensors(const std::vector<std::string>& lines,
                                                DType weight_type) {
  std::map<std::string, TensorSpec> out;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string name, dims, kind;
    in >> name >> dims >> kind;
    TensorSpec spec{{}, kind == "W" ? weight_type : DType::F32};
    std::istringstream dim_in(dims);
    for (std::string dim; std::getline(dim_in, dim, 'x');) {
      spec.shape.push_back(dim == "V" ? kVocabSize : std::stoll(dim));
    }
    out.emplace(name, spec);
  }
  return out;
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/loom_synth_shapes_" + std::to_string(getpid()) + "_" + name;
}

std::vector<float> f32_data(const gguf::TensorInfo& t) {
  std::vector<float> values(static_cast<size_t>(t.n_elements));
  std::memcpy(values.data(), t.data, values.size() * sizeof(float));
  return values;
}

// A one-layer file of a shape, written once per test program and removed at its end.
struct SynthFile {
  std::string path;
  std::unique_ptr<gguf::GgufFile> file;
  ~SynthFile() {
    file.reset();
    std::remove(path.c_str());
  }
};

const SynthFile& synth_file_of(const std::string& shape, const std::string& type) {
  static std::map<std::string, SynthFile> files;
  const std::string key = shape + "-" + type;
  auto it = files.find(key);
  if (it == files.end()) {
    const std::string path = temp_path(key + ".gguf");
    synthesize_model({.shape = shape,
                      .type = type,
                      .tokenizer_path = kVocab,
                      .output_path = path,
                      .threads = 2,
                      .n_layer = 1});
    it = files.try_emplace(key).first;
    it->second.path = path;
    it->second.file = gguf::GgufFile::open(path);
  }
  return it->second;
}

const gguf::GgufFile& synth_file(const std::string& shape, const std::string& type = "q4_0") {
  return *synth_file_of(shape, type).file;
}

std::set<std::string> arch_keys(const gguf::GgufFile& file, const std::string& arch) {
  std::set<std::string> keys;
  for (const std::string& key : file.keys()) {
    if (key.rfind(arch + ".", 0) == 0) keys.insert(key.substr(arch.size() + 1));
  }
  return keys;
}

class SynthShapes : public ::testing::TestWithParam<ExpectedShape> {};

TEST_P(SynthShapes, HasExactlyTheArchitecturesKeys) {
  const ExpectedShape& want = GetParam();
  const gguf::GgufFile& file = synth_file(want.shape);
  EXPECT_EQ(file.get_string("general.architecture"), want.arch);
  EXPECT_EQ(file.get_int("general.file_type"), 2);  // Q4_0 (ggml's "mostly Q4_0")
  std::set<std::string> want_keys = {"block_count"};
  for (const auto& [key, value] : want.keys) {
    want_keys.insert(key);
    const gguf::Value* got = file.find(want.arch + "." + key);
    ASSERT_NE(got, nullptr) << key;
    if (std::holds_alternative<uint32_t>(value)) {
      EXPECT_EQ(got->type, gguf::ValueType::U32) << key;
      EXPECT_EQ(file.get_int(want.arch + "." + key), std::get<uint32_t>(value)) << key;
    } else {
      EXPECT_EQ(got->type, gguf::ValueType::F32) << key;
      EXPECT_EQ(file.get_float(want.arch + "." + key), std::get<float>(value)) << key;
    }
  }
  EXPECT_EQ(file.get_int(want.arch + ".block_count"), 1);  // written with n_layer = 1
  EXPECT_EQ(arch_keys(file, want.arch), want_keys);
  const SynthShape* shape = find_synth_shape(want.shape);
  ASSERT_NE(shape, nullptr);
  EXPECT_EQ(shape->n_layer, want.n_layer);
}

TEST_P(SynthShapes, HasExactlyTheArchitecturesTensors) {
  const ExpectedShape& want = GetParam();
  const gguf::GgufFile& file = synth_file(want.shape);
  const std::map<std::string, TensorSpec> want_tensors = parse_tensors(want.tensors, DType::Q4_0);
  std::set<std::string> got_names;
  for (const gguf::TensorInfo& t : file.tensors()) {
    got_names.insert(t.name);
    const auto it = want_tensors.find(t.name);
    if (it == want_tensors.end()) {
      ADD_FAILURE() << "unexpected tensor " << t.name;
      continue;
    }
    EXPECT_EQ(t.shape, it->second.shape) << t.name;
    EXPECT_EQ(t.type, it->second.type) << t.name << " is " << dtype_name(t.type);
  }
  for (const auto& [name, spec] : want_tensors) EXPECT_TRUE(got_names.count(name)) << name;
}

// Norm weights are 1, biases small and random, so a random model's activations stay sane.
TEST_P(SynthShapes, NormsAreOneAndBiasesSmall) {
  const gguf::GgufFile& file = synth_file(GetParam().shape);
  for (const gguf::TensorInfo& t : file.tensors()) {
    if (t.type != DType::F32 || t.name == "rope_freqs.weight") continue;
    const std::vector<float> values = f32_data(t);
    if (t.name.ends_with("norm.weight")) {
      for (float v : values) ASSERT_EQ(v, 1.0f) << t.name;
    } else {
      ASSERT_TRUE(t.name.ends_with(".bias")) << t.name;
      float largest = 0;
      double sum_sq = 0;
      for (float v : values) {
        largest = std::max(largest, std::fabs(v));
        sum_sq += static_cast<double>(v) * v;
      }
      EXPECT_LT(largest, 0.035f) << t.name;
      EXPECT_GT(std::sqrt(sum_sq / static_cast<double>(values.size())), 0.01) << t.name;
    }
  }
}

// The same key and tensor names (and key types) as the file llama.cpp ran, except where
// the real model differs from the tiny one by design (kReferenceOnly).
TEST_P(SynthShapes, NamesMatchTheReferenceFile) {
  const ExpectedShape& want = GetParam();
  const gguf::GgufFile& file = synth_file(want.shape);
  const auto reference =
      gguf::GgufFile::open(kShared + "/reference/arch/" + want.reference + ".gguf");
  ASSERT_EQ(reference->get_string("general.architecture"), want.arch);

  std::set<std::string> want_keys;
  for (const std::string& key : arch_keys(*reference, want.arch)) {
    if (kReferenceOnly.count(want.arch + ":" + key)) continue;
    want_keys.insert(key);
    const gguf::Value* got = file.find(want.arch + "." + key);
    ASSERT_NE(got, nullptr) << "missing " << want.arch << "." << key;
    EXPECT_EQ(got->type, reference->find(want.arch + "." + key)->type) << key;
  }
  EXPECT_EQ(arch_keys(file, want.arch), want_keys);

  std::set<std::string> reference_tensors;
  for (const gguf::TensorInfo& t : reference->tensors()) {
    if (t.name.rfind("blk.", 0) == 0 && t.name.rfind("blk.0.", 0) != 0) continue;
    if (kReferenceOnly.count(want.arch + ":" + t.name)) continue;
    reference_tensors.insert(t.name);
    EXPECT_EQ(t.type, DType::F32);
  }
  std::set<std::string> got_tensors;
  for (const gguf::TensorInfo& t : file.tensors()) got_tensors.insert(t.name);
  EXPECT_EQ(got_tensors, reference_tensors);
}

// loom's model loader takes the file and runs it. Random weights give no meaningful text;
// this checks that the layout is one loom runs, with no key or tensor refused.
TEST_P(SynthShapes, LoadsAndGenerates) {
  const std::shared_ptr<Model> model = Model::load(synth_file_of(GetParam().shape, "q4_0").path);
  Engine engine(model, {.threads = 2});
  Request r;
  r.prompt = "Once upon a time";
  r.max_tokens = 4;
  r.ignore_eos = true;
  r.sampling.temperature = 0;
  const Completion c = engine.generate(r);
  EXPECT_EQ(c.first().tokens.size(), 4u);
  for (int32_t id : c.first().tokens) EXPECT_TRUE(id >= 0 && id < kVocabSize) << id;
}

INSTANTIATE_TEST_SUITE_P(All, SynthShapes, ::testing::ValuesIn(kExpected),
                         [](const ::testing::TestParamInfo<ExpectedShape>& info) {
                           std::string name;
                           for (char c : info.param.shape)
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

// Norms, biases and rope_freqs stay F32 whatever the weight type; matrices follow it.
TEST(SynthShapeTypes, OnlyMatricesFollowTheWeightType) {
  for (const char* type : {"f32", "f16", "bf16", "q8_0"}) {
    const DType want = *dtype_from_name(type);
    const gguf::GgufFile& file = synth_file("qwen2.5-0.5b", type);
    for (const gguf::TensorInfo& t : file.tensors()) {
      EXPECT_EQ(t.type, t.shape.size() == 1 ? DType::F32 : want) << type << " " << t.name;
    }
  }
  const gguf::GgufFile& llama = synth_file("llama-3.2-1b", "bf16");
  EXPECT_EQ(llama.find_tensor("rope_freqs.weight")->type, DType::F32);
}

// llama.cpp's converter formula, against the rope_freqs.weight of the reference file
// (factor 8, low/high frequency factors 1/4, original context 64, head 16, base 500000).
TEST(SynthRopeFreqs, MatchTheReferenceFile) {
  const auto reference = gguf::GgufFile::open(kShared + "/reference/arch/llama3-ropefreqs.gguf");
  const gguf::TensorInfo* t = reference->find_tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  const std::vector<float> want = f32_data(*t);
  const std::vector<float> got = llama3_rope_freqs(
      {.factor = 8, .low_freq_factor = 1, .high_freq_factor = 4, .original_context = 64}, 16,
      500000.0f);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6f) << i;
}

// Llama 3.2 1B: factor 32, original context 8192, head 64, base 500000. Values from
// llama.cpp's converter formula evaluated in Python.
TEST(SynthRopeFreqs, Llama32OneB) {
  const gguf::GgufFile& file = synth_file("llama-3.2-1b");
  const std::vector<float> got = f32_data(*file.find_tensor("rope_freqs.weight"));
  ASSERT_EQ(got.size(), 32u);
  for (size_t i = 0; i < 15; ++i) EXPECT_EQ(got[i], 1.0f) << i;
  EXPECT_NEAR(got[15], 1.651329f, 1e-5f);
  EXPECT_NEAR(got[16], 3.292263f, 1e-5f);
  EXPECT_NEAR(got[17], 9.666730f, 1e-5f);
  for (size_t i = 18; i < 32; ++i) EXPECT_EQ(got[i], 32.0f) << i;
}

TEST(SynthShapeNames, EveryShapeIsListedWithADescription) {
  std::map<std::string, std::string> listed;
  for (const auto& [name, description] : synth_shapes()) listed[name] = description;
  for (const ExpectedShape& want : kExpected) {
    ASSERT_TRUE(listed.count(want.shape)) << want.shape;
    EXPECT_NE(listed[want.shape].find("(" + want.arch + ")"), std::string::npos)
        << listed[want.shape];
  }
  for (const char* old : {"tinyllama-1.1b", "tiny", "llama3.2-1b"}) {
    EXPECT_TRUE(listed.count(old)) << old;
  }
}

TEST(SynthShapeNames, OldLlama32NameIsAnAlias) {
  EXPECT_EQ(find_synth_shape("llama3.2-1b"), find_synth_shape("llama-3.2-1b"));
  EXPECT_EQ(find_synth_shape("llama-3.2-1B"), nullptr);
}

std::string synth_error(SynthOptions options) {
  options.tokenizer_path = kVocab;
  options.output_path = temp_path("never.gguf");
  try {
    synthesize_model(options);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(SynthShapeNames, BadLayerCountsAndShapesAreErrors) {
  EXPECT_NE(synth_error({.shape = "gemma-3-1b", .n_layer = 27}).find("outside 1..26"),
            std::string::npos);
  EXPECT_NE(synth_error({.shape = "gemma-3-1b", .n_layer = -1}).find("outside 1..26"),
            std::string::npos);
  EXPECT_NE(synth_error({.shape = "gemma-7b"}).find("unknown shape 'gemma-7b'"), std::string::npos);
}

}  // namespace
}  // namespace loom

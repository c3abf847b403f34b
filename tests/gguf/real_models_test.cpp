// Reads the real models and vocab-only files in LOOM_SHARED_DIR and checks metadata,
// the tensor directory and that every data pointer addresses the right bytes of the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gguf_test_util.h"

namespace loom::gguf::test {
namespace {

std::string shared(const std::string& relative) {
  return std::string(LOOM_SHARED_DIR) + "/" + relative;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct ModelCase {
  std::string file;
  DType weight_type;  // of the 2-D weights except ffn_down
  DType ffn_down_type;
};

class GgufRealModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(GgufRealModel, Metadata) {
  const auto file = GgufFile::open(shared("models/" + GetParam().file));
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_int("llama.embedding_length"), 64);
  EXPECT_EQ(file->get_int("llama.block_count"), 5);
  EXPECT_EQ(file->get_int("llama.feed_forward_length"), 172);
  EXPECT_EQ(file->get_int("llama.attention.head_count"), 8);
  EXPECT_EQ(file->get_int("llama.attention.head_count_kv"), 4);
  EXPECT_NEAR(*file->get_float("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-12);
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "llama");
  const std::vector<std::string>* tokens = file->get_string_array("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->size(), 512u);
  EXPECT_EQ(file->get_array("tokenizer.ggml.scores")->array_size(), 512u);
  EXPECT_EQ(file->get_array("tokenizer.ggml.token_type")->array_type, ValueType::I32);
  EXPECT_EQ(file->get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(file->get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_FALSE(file->get_int("no.such.key").has_value());
}

TEST_P(GgufRealModel, TensorDirectory) {
  const ModelCase& c = GetParam();
  const auto file = GgufFile::open(shared("models/" + c.file));
  ASSERT_EQ(file->tensors().size(), 48u);  // token_embd, output_norm, output + 5 x 9

  const TensorInfo* embd = file->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->type, c.weight_type);
  EXPECT_EQ(embd->n_elements, 64 * 512);

  for (int layer = 0; layer < 5; ++layer) {
    const std::string blk = "blk." + std::to_string(layer) + ".";
    const TensorInfo* q = file->find_tensor(blk + "attn_q.weight");
    const TensorInfo* k = file->find_tensor(blk + "attn_k.weight");
    const TensorInfo* down = file->find_tensor(blk + "ffn_down.weight");
    const TensorInfo* up = file->find_tensor(blk + "ffn_up.weight");
    const TensorInfo* norm = file->find_tensor(blk + "attn_norm.weight");
    ASSERT_TRUE(q && k && down && up && norm) << blk;
    EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(k->shape, (std::vector<int64_t>{64, 32}));  // 4 KV heads of 8
    EXPECT_EQ(up->shape, (std::vector<int64_t>{64, 172}));
    EXPECT_EQ(down->shape, (std::vector<int64_t>{172, 64}));
    EXPECT_EQ(norm->shape, (std::vector<int64_t>{64}));
    EXPECT_EQ(q->type, c.weight_type);
    EXPECT_EQ(up->type, c.weight_type);
    EXPECT_EQ(down->type, c.ffn_down_type);
    EXPECT_EQ(norm->type, DType::F32);
    EXPECT_EQ(down->n_bytes, static_cast<uint64_t>(row_bytes(c.ffn_down_type, 172) * 64));
  }
}

TEST_P(GgufRealModel, DataPointersAddressTheFileBytes) {
  const std::string path = shared("models/" + GetParam().file);
  const auto file = GgufFile::open(path);
  const std::vector<uint8_t> bytes = read_all(path);
  ASSERT_EQ(file->file_size(), bytes.size());
  ASSERT_EQ(file->data_offset() % 32, 0u);
  ASSERT_LE(file->data_offset(), bytes.size());
  // The mapping's start, recovered from any tensor; every tensor must agree with it.
  const TensorInfo& first = file->tensors().front();
  const uint8_t* base = first.data - file->data_offset() - first.offset;
  for (const TensorInfo& t : file->tensors()) {
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_EQ(t.data, base + file->data_offset() + t.offset) << t.name;
    ASSERT_LE(file->data_offset() + t.offset + t.n_bytes, bytes.size()) << t.name;
    EXPECT_EQ(0, std::memcmp(t.data, bytes.data() + file->data_offset() + t.offset, t.n_bytes))
        << t.name;
  }
  // The same image parsed from memory gives the same directory.
  const auto copy = GgufFile::from_memory(bytes.data(), bytes.size(), path);
  ASSERT_EQ(copy->tensors().size(), file->tensors().size());
  for (size_t k = 0; k < copy->tensors().size(); ++k) {
    EXPECT_EQ(copy->tensors()[k].offset, file->tensors()[k].offset);
    EXPECT_EQ(copy->tensors()[k].data - bytes.data(), file->tensors()[k].data - base);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Stories260K, GgufRealModel,
    ::testing::Values(ModelCase{"stories260K.gguf", DType::F32, DType::F32},
                      ModelCase{"stories260K-q8_0.gguf", DType::Q8_0, DType::F16},
                      ModelCase{"stories260K-q4_0.gguf", DType::Q4_0, DType::F16}),
    [](const auto& info) {
      std::string name = info.param.file.substr(0, info.param.file.size() - 5);
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(GgufGetters, TypeMismatchNamesTheKey) {
  const auto file = GgufFile::open(shared("models/stories260K.gguf"));
  const auto message = [&](const std::function<void()>& action) -> std::string {
    try {
      action();
    } catch (const loom::Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message([&] {
              file->get_int("general.architecture");
            }).find("'general.architecture' has type string, expected an integer"),
            std::string::npos);
  EXPECT_NE(message([&] { file->get_string("llama.block_count"); }).find("'llama.block_count'"),
            std::string::npos);
  EXPECT_NE(message([&] { file->get_bool("llama.block_count"); }).find("expected bool"),
            std::string::npos);
  EXPECT_NE(
      message([&] { file->get_float("tokenizer.ggml.model"); }).find("'tokenizer.ggml.model'"),
      std::string::npos);
  EXPECT_NE(message([&] {
              file->get_string_array("tokenizer.ggml.scores");
            }).find("'tokenizer.ggml.scores' has type array of f32"),
            std::string::npos);
  EXPECT_NE(message([&] { file->get_array("general.name"); }).find("'general.name'"),
            std::string::npos);
  // A float getter accepts integers; absent keys are nullopt / nullptr, not errors.
  EXPECT_EQ(file->get_float("llama.block_count"), 5.0);
  EXPECT_FALSE(file->get_string("absent").has_value());
  EXPECT_EQ(file->get_array("absent"), nullptr);
  EXPECT_EQ(file->get_string_array("absent"), nullptr);
  // u32 0xffffffff still fits int64.
  EXPECT_EQ(file->get_int("tokenizer.ggml.padding_token_id"), 0xffffffffll);
}

TEST(GgufVocabFiles, AllOpenWithoutTensors) {
  size_t n_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(shared("tokenizer-tests"))) {
    if (entry.path().extension() != ".gguf") continue;
    ++n_files;
    SCOPED_TRACE(entry.path().string());
    const auto file = GgufFile::open(entry.path().string());
    EXPECT_EQ(file->version(), 3u);
    EXPECT_TRUE(file->tensors().empty());
    EXPECT_LE(file->data_offset(), file->file_size());
    const std::vector<std::string>* tokens = file->get_string_array("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    EXPECT_GT(tokens->size(), 1000u);
    EXPECT_TRUE(file->get_string("tokenizer.ggml.model").has_value());
  }
  EXPECT_GE(n_files, 12u);
  const auto spm = GgufFile::open(shared("tokenizer-tests/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(spm->get_string_array("tokenizer.ggml.tokens")->size(), 32000u);
}

}  // namespace
}  // namespace loom::gguf::test

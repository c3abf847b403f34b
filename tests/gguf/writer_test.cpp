// The writer's file output (through open()), its progress reports, copying values from
// another file, and its refusal of inputs that would make an invalid file.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "gguf_test_util.h"

namespace loom::gguf::test {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("loom_gguf_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_error(const std::function<void()>& action,
                  std::initializer_list<std::string_view> parts) {
  try {
    action();
  } catch (const loom::Error& e) {
    const std::string message = e.what();
    for (std::string_view part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message \"" << message << "\" lacks \"" << part << "\"";
    }
    return;
  }
  ADD_FAILURE() << "no loom::Error";
}

TEST(GgufWriter, WritesTheSameBytesAsToBytesAndOpenReadsThem) {
  TempDir dir;
  const std::string path = dir.file("small.gguf");
  const GgufWriter w = small_writer();
  std::vector<std::pair<uint64_t, uint64_t>> reports;
  w.write(path, [&](uint64_t done, uint64_t total) { reports.emplace_back(done, total); });

  EXPECT_EQ(read_all(path), w.to_bytes());
  EXPECT_FALSE(fs::exists(path + ".partial"));
  ASSERT_EQ(reports.size(), 2u);  // once per tensor
  EXPECT_EQ(reports[0], (std::pair<uint64_t, uint64_t>(24, 24 + 544)));
  EXPECT_EQ(reports[1], (std::pair<uint64_t, uint64_t>(24 + 544, 24 + 544)));

  const auto file = GgufFile::open(path);
  EXPECT_EQ(file->path(), path);
  EXPECT_EQ(file->file_size(), fs::file_size(path));
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_int("llama.block_count"), 2);
  ASSERT_NE(file->find_tensor("q.weight"), nullptr);
  EXPECT_EQ(0, std::memcmp(file->find_tensor("q.weight")->data, pattern(544, 2).data(), 544));
}

TEST(GgufWriter, OverwritesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("model.gguf");
  std::ofstream(path) << std::string(100000, 'x');
  small_writer().write(path);
  EXPECT_EQ(read_all(path), small_file());
}

TEST(GgufWriter, IoFailureNamesThePath) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/model.gguf");
  expect_error([&] { small_writer().write(path); }, {path, "cannot create"});
}

TEST(GgufWriter, WriteFailureNamesThePathAndLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.file("big.gguf");
  GgufWriter w = small_writer();
  w.add_tensor("big", DType::F32, {1 << 18}, [](std::span<uint8_t>) {});
  // A file size limit makes write(2) fail with EFBIG, as a full disk would with ENOSPC.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limited = saved;
  limited.rlim_cur = 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  expect_error([&] { w.write(path); }, {path, "write failed"});
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, saved_handler);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(GgufWriter, FillErrorLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.file("model.gguf");
  GgufWriter w;
  w.add_tensor("bad", DType::F32, {4}, [](std::span<uint8_t>) { loom::fail("fill failed"); });
  expect_error([&] { w.write(path); }, {"fill failed"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST(GgufWriter, CopiesATokenizerFromARealModel) {
  const auto source = GgufFile::open(std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf");
  GgufWriter w;
  for (const std::string& key : source->keys()) {
    if (key.rfind("tokenizer.", 0) == 0) w.add_value(key, *source->find(key));
  }
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto copy = parse(bytes);
  size_t n_copied = 0;
  for (const std::string& key : source->keys()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    ++n_copied;
    const Value* a = source->find(key);
    const Value* b = copy->find(key);
    ASSERT_NE(b, nullptr) << key;
    EXPECT_EQ(a->type, b->type) << key;
    EXPECT_EQ(a->array_type, b->array_type) << key;
    EXPECT_EQ(a->u, b->u) << key;
    EXPECT_EQ(a->str, b->str) << key;
    EXPECT_EQ(a->array_str, b->array_str) << key;
    EXPECT_EQ(a->array_f, b->array_f) << key;
    EXPECT_EQ(a->array_i, b->array_i) << key;
  }
  EXPECT_EQ(copy->keys().size(), n_copied);
  EXPECT_EQ(copy->get_string_array("tokenizer.ggml.tokens")->size(), 512u);
}

TEST(GgufWriter, EmptyTensorFromData) {
  GgufWriter w;
  w.add_tensor("empty", DType::Q8_0, {0, 3}, std::vector<uint8_t>());
  w.add_tensor("after", DType::F32, {1}, pattern(4, 9));
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  EXPECT_EQ(file->find_tensor("empty")->n_bytes, 0u);
  EXPECT_EQ(file->find_tensor("empty")->n_elements, 0);
  EXPECT_EQ(file->find_tensor("after")->offset, 0u);
}

TEST(GgufWriter, AddingAKeyAgainReplacesIt) {
  GgufWriter w;
  w.add_u32("a", 1);
  w.add_string("b", "x");
  w.add_string("a", "now a string");
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  EXPECT_EQ(file->keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(file->get_string("a"), "now a string");
}

TEST(GgufWriter, AlignmentKeySetsTheLayout) {
  GgufWriter w = small_writer();
  w.add_u32("general.alignment", 128);
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  EXPECT_EQ(file->alignment(), 128u);
  EXPECT_EQ(file->data_offset() % 128, 0u);
  EXPECT_EQ(std::count(file->keys().begin(), file->keys().end(), "general.alignment"), 1);
  expect_error([&] { w.add_u64("general.alignment", 64); }, {"general.alignment", "u32"});
  expect_error([&] { w.add_u32("general.alignment", 48); }, {"48", "power of two"});
}

TEST(GgufWriter, RejectsInputsThatMakeAnInvalidFile) {
  GgufWriter w;
  expect_error([&] { w.set_alignment(0); }, {"alignment 0"});
  expect_error([&] { w.set_alignment(24); }, {"alignment 24"});
  expect_error([&] { w.add_tensor("q", DType::Q8_0, {31}, std::vector<uint8_t>(34)); },
               {"'q'", "31", "block size 32"});
  expect_error([&] { w.add_tensor("f", DType::F32, {4}, std::vector<uint8_t>(15)); },
               {"'f'", "15 bytes", "needs 16"});
  expect_error(
      [&] {
        w.add_tensor("n", DType::F32, {4, -1}, std::vector<uint8_t>());
      },
      {"'n'", "negative"});
  expect_error(
      [&] {
        w.add_tensor("d", DType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4));
      },
      {"'d'", "5 dimensions"});
  expect_error(
      [&] {
        w.add_tensor("o", DType::F32, {1ll << 40, 1ll << 40}, [](std::span<uint8_t>) {});
      },
      {"'o'", "overflows"});
  w.add_tensor("t", DType::F32, {1}, std::vector<uint8_t>(4));
  expect_error([&] { w.add_tensor("t", DType::F32, {1}, std::vector<uint8_t>(4)); },
               {"duplicate tensor 't'"});

  Value too_wide;
  too_wide.type = ValueType::U8;
  too_wide.u = 256;
  expect_error([&] { w.add_value("k.u8", too_wide); }, {"'k.u8'", "256", "u8"});
  Value bad_array;
  bad_array.type = ValueType::ARRAY;
  bad_array.array_type = ValueType::I8;
  bad_array.array_i = {1, -129};
  expect_error([&] { w.add_value("k.i8s", bad_array); }, {"'k.i8s'", "-129"});
  Value bad_type;
  bad_type.type = static_cast<ValueType>(13);
  expect_error([&] { w.add_value("k.t", bad_type); }, {"'k.t'", "unknown value type 13"});
  expect_error([&] { w.add_u32("", 1); }, {"empty key"});
  // Nothing rejected was added: the file still holds just the one good tensor.
  const std::vector<uint8_t> bytes = w.to_bytes();
  const auto file = parse(bytes);
  EXPECT_TRUE(file->keys().empty());
  EXPECT_EQ(file->tensors().size(), 1u);
}

}  // namespace
}  // namespace loom::gguf::test

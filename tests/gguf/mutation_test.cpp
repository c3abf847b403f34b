// Random byte mutations of a small valid file: each image must either parse (and then
// every tensor's data lies inside the image) or throw loom::Error; nothing else.
#include <gtest/gtest.h>

#include <random>

#include "gguf_test_util.h"

namespace loom::gguf::test {
namespace {

TEST(GgufMutation, RandomByteFlipsParseOrThrow) {
  const std::vector<uint8_t> original = small_file();
  const size_t header_bytes = parse(original)->data_offset();
  std::mt19937 rng(20240601);
  // Most mutations land in the header and directory, where parsing can go wrong; values
  // that make counts, lengths and types plausible-but-wrong are favoured.
  std::uniform_int_distribution<size_t> in_header(0, header_bytes - 1);
  std::uniform_int_distribution<size_t> anywhere(0, original.size() - 1);
  std::uniform_int_distribution<int> n_flips(1, 4);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> choice(0, 9);
  int n_parsed = 0;
  int n_errors = 0;
  for (int iteration = 0; iteration < 5000; ++iteration) {
    std::vector<uint8_t> bytes = original;
    const int flips = n_flips(rng);
    for (int k = 0; k < flips; ++k) {
      const size_t at = choice(rng) < 8 ? in_header(rng) : anywhere(rng);
      const int kind = choice(rng);
      if (kind < 4) {
        bytes[at] ^= static_cast<uint8_t>(1u << (byte(rng) % 8));
      } else if (kind < 7) {
        bytes[at] = static_cast<uint8_t>(byte(rng));
      } else {
        bytes[at] = static_cast<uint8_t>(byte(rng) % 16);  // small counts and type ids
      }
    }
    if (choice(rng) == 0) bytes.resize(anywhere(rng));
    try {
      const auto file = parse(bytes);
      ++n_parsed;
      for (const TensorInfo& t : file->tensors()) {
        ASSERT_GE(t.data, bytes.data()) << iteration;
        ASSERT_LE(t.data + t.n_bytes, bytes.data() + bytes.size()) << iteration;
      }
    } catch (const loom::Error& e) {
      ++n_errors;
      ASSERT_NE(std::string(e.what()).find("gguf: test.gguf"), std::string::npos) << e.what();
    }
  }
  // Both outcomes occur, so the mutations exercise the parser rather than just the magic.
  EXPECT_GT(n_parsed, 100);
  EXPECT_GT(n_errors, 1000);
}

}  // namespace
}  // namespace loom::gguf::test

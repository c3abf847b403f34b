// BackgroundPacker: matrices multiplied while their packed copies are being made give the
// same bits before, during and after, and every copy is installed by finish().
#include "model/background_packer.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"

namespace loom {
namespace {

struct Matrices {
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<Linear> linears;
};

Matrices q8_0_matrices(int count, int64_t rows, int64_t cols) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Matrices m;
  m.bytes.resize(count);
  m.linears.resize(count);
  std::vector<float> row(cols);
  for (int i = 0; i < count; ++i) {
    m.bytes[i].resize(rows * row_bytes(DType::Q8_0, cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = normal(rng);
      kernels::quantize_row(DType::Q8_0, row.data(),
                            m.bytes[i].data() + r * row_bytes(DType::Q8_0, cols), cols);
    }
    m.linears[i].w = kernels::WeightMatrix{DType::Q8_0, rows, cols, m.bytes[i].data()};
  }
  return m;
}

std::vector<float> products(const std::vector<Linear>& linears, const std::vector<float>& x,
                            int64_t n_tokens, ThreadPool& pool) {
  kernels::MatmulScratch scratch;
  std::vector<float> y;
  for (const Linear& l : linears) {
    std::vector<float> part(n_tokens * l.w.rows);
    kernels::matmul(l.w, x.data(), n_tokens, part.data(), pool, scratch);
    y.insert(y.end(), part.begin(), part.end());
  }
  return y;
}

TEST(BackgroundPacker, SameBitsBeforeDuringAndAfterPacking) {
  Matrices m = q8_0_matrices(12, 64, 512);
  std::vector<float> x(3 * 512);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  ThreadPool pool(2);
  const std::vector<float> expected = products(m.linears, x, 3, pool);

  std::vector<Linear*> linears;
  for (Linear& l : m.linears) linears.push_back(&l);
  BackgroundPacker packer(linears);
  for (int pass = 0; pass < 20; ++pass) {  // forward passes while the packer works
    const auto in_use = packer.hold();
    EXPECT_EQ(products(m.linears, x, 3, pool), expected) << pass;
  }
  packer.finish();
  int64_t bytes = 0;
  for (const Linear& l : m.linears) {
    ASSERT_NE(l.w.packed, nullptr);
    bytes += static_cast<int64_t>(l.w.packed->data.size());
  }
  EXPECT_EQ(packer.packed_bytes(), bytes);
  EXPECT_EQ(products(m.linears, x, 3, pool), expected);
}

// Destroying the packer mid-way stops it cleanly; what was installed stays usable.
TEST(BackgroundPacker, StopsWhenDestroyedEarly) {
  Matrices m = q8_0_matrices(40, 64, 512);
  std::vector<Linear*> linears;
  for (Linear& l : m.linears) linears.push_back(&l);
  { BackgroundPacker packer(linears); }
  ThreadPool pool(1);
  std::vector<float> x(512, 0.5f);
  EXPECT_EQ(products(m.linears, x, 1, pool).size(), 40u * 64u);
}

}  // namespace
}  // namespace loom

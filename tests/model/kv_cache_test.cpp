// The paged KV cache: blocks follow actual lengths, are returned on release, are shared
// by forks and copied only when written (copy-on-write), exhaustion is a clean error,
// and what is stored is what the attention kernel reads back.
#include "model/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"

namespace loom {
namespace {

constexpr int64_t kLayers = 2, kKvDim = 32, kBlock = 16;

std::vector<float> row(float base) {
  std::vector<float> r(kKvDim);
  for (int64_t i = 0; i < kKvDim; ++i) r[i] = base + static_cast<float>(i) / 64.0f;
  return r;
}

// Stores distinct, F16-exact rows for positions [begin, end) of every layer.
void fill(KvCache& kv, int64_t seq, int64_t begin, int64_t end, float tag) {
  for (int64_t l = 0; l < kLayers; ++l) {
    for (int64_t p = begin; p < end; ++p) {
      const std::vector<float> k = row(tag + static_cast<float>(p + 100 * l));
      const std::vector<float> v = row(-tag - static_cast<float>(p + 100 * l));
      kv.store(l, seq, p, k.data(), v.data());
    }
  }
}

// Element e of position p's key row in `layer`, read through the attention view.
float key_at(const KvCache& kv, int64_t layer, int64_t seq, int64_t p, int64_t e) {
  const kernels::KvView v = kv.view(layer, seq, 0);
  const uint8_t* block = v.keys + v.blocks[p / v.block_size] * v.block_stride;
  const auto* r = reinterpret_cast<const uint16_t*>(block + (p % v.block_size) * kKvDim * 2);
  return fp16_to_fp32(r[e]);
}

TEST(KvCache, TenTokensHoldOneBlock) {
  KvCache kv(kLayers, 4, 4 * 256, kKvDim, DType::F16, kBlock);
  EXPECT_EQ(kv.n_blocks(), 64);
  EXPECT_EQ(kv.capacity_tokens(), 1024);
  fill(kv, 0, 0, 10, 1.0f);
  EXPECT_EQ(kv.block_table(0).size(), 1u);
  EXPECT_EQ(kv.n_used_blocks(), 1);
  fill(kv, 0, 10, 17, 1.0f);  // crosses into a second block
  EXPECT_EQ(kv.block_table(0).size(), 2u);
  EXPECT_EQ(kv.n_used_blocks(), 2);
}

TEST(KvCache, PoolSizeRoundsTheBudgetUpToBlocks) {
  KvCache kv(kLayers, 1, 17, kKvDim, DType::F32, kBlock);
  EXPECT_EQ(kv.n_blocks(), 2);
  EXPECT_EQ(kv.bytes(), 2 * kLayers * 2 * kBlock * kKvDim * 4);
}

TEST(KvCache, ReleaseReturnsEveryBlock) {
  KvCache kv(kLayers, 3, 8 * kBlock, kKvDim, DType::F16, kBlock);
  fill(kv, 0, 0, 40, 1.0f);
  fill(kv, 1, 0, 5, 2.0f);
  EXPECT_EQ(kv.n_used_blocks(), 4);
  kv.release(0);
  EXPECT_EQ(kv.n_used_blocks(), 1);
  EXPECT_TRUE(kv.block_table(0).empty());
  kv.release(1);
  EXPECT_EQ(kv.n_used_blocks(), 0);
  EXPECT_EQ(kv.n_free_blocks(), 8);
  // Every block is usable again, each exactly once.
  fill(kv, 2, 0, 8 * kBlock, 3.0f);
  const auto& table = kv.block_table(2);
  EXPECT_EQ(std::set<int32_t>(table.begin(), table.end()).size(), 8u);
}

TEST(KvCache, ForkSharesBlocksAndCopiesOnlyTheWrittenPartialBlock) {
  KvCache kv(kLayers, 2, 8 * kBlock, kKvDim, DType::F16, kBlock);
  fill(kv, 0, 0, 20, 1.0f);  // one full block, one holding 4 positions
  kv.share(0, 1, 20);
  EXPECT_EQ(kv.block_table(1), kv.block_table(0));
  EXPECT_EQ(kv.n_used_blocks(), 2);  // nothing copied yet
  for (int32_t b : kv.block_table(0)) EXPECT_EQ(kv.ref_count(b), 2);
  EXPECT_EQ(kv.blocks_needed(1, 20, 21), 1);  // the shared partial block is copied
  EXPECT_EQ(kv.blocks_needed(1, 32, 33), 1);  // a fresh block, the full ones stay shared

  // The child writes position 20: only the partial block is copied.
  fill(kv, 1, 20, 21, 5.0f);
  EXPECT_EQ(kv.n_used_blocks(), 3);
  EXPECT_EQ(kv.block_table(1)[0], kv.block_table(0)[0]);
  EXPECT_NE(kv.block_table(1)[1], kv.block_table(0)[1]);
  EXPECT_EQ(kv.ref_count(kv.block_table(0)[0]), 2);
  EXPECT_EQ(kv.ref_count(kv.block_table(0)[1]), 1);
  // The copy kept the positions written before the fork, in every layer; the parent
  // does not see the child's write.
  for (int64_t l = 0; l < kLayers; ++l) {
    for (int64_t p = 16; p < 20; ++p) {
      EXPECT_EQ(key_at(kv, l, 1, p, 0), key_at(kv, l, 0, p, 0));
      EXPECT_EQ(key_at(kv, l, 1, p, 0), 1.0f + static_cast<float>(p + 100 * l));
    }
  }
  EXPECT_EQ(key_at(kv, 0, 1, 20, 0), 25.0f);
  fill(kv, 0, 20, 21, 7.0f);  // the parent now owns its block alone: written in place
  EXPECT_EQ(kv.n_used_blocks(), 3);
  EXPECT_EQ(key_at(kv, 0, 0, 20, 0), 27.0f);
  EXPECT_EQ(key_at(kv, 0, 1, 20, 0), 25.0f);

  kv.release(0);  // the shared full block stays with the child
  EXPECT_EQ(kv.n_used_blocks(), 2);
  EXPECT_EQ(kv.ref_count(kv.block_table(1)[0]), 1);
  EXPECT_EQ(key_at(kv, 1, 1, 3, 0), 1.0f + 103.0f);
  kv.release(1);
  EXPECT_EQ(kv.n_used_blocks(), 0);
}

TEST(KvCache, ShareReplacesTheTargetsBlocks) {
  KvCache kv(kLayers, 2, 8 * kBlock, kKvDim, DType::F16, kBlock);
  fill(kv, 0, 0, 16, 1.0f);
  fill(kv, 1, 0, 40, 2.0f);
  EXPECT_EQ(kv.n_used_blocks(), 4);
  kv.share(0, 1, 16);  // beam search: a beam becomes a copy of another
  EXPECT_EQ(kv.n_used_blocks(), 1);
  EXPECT_EQ(kv.block_table(1), kv.block_table(0));
  EXPECT_EQ(kv.blocks_needed(1, 16, 17), 1);  // the full block stays shared
  fill(kv, 1, 16, 17, 3.0f);
  EXPECT_EQ(kv.ref_count(kv.block_table(0)[0]), 2);
}

TEST(KvCache, ExhaustionIsAnErrorThatChangesNothing) {
  KvCache kv(kLayers, 2, 3 * kBlock, kKvDim, DType::F16, kBlock);
  kv.reserve(0, 0, 2 * kBlock);
  const std::vector<int32_t> before = kv.block_table(1);
  try {
    kv.reserve(1, 0, 2 * kBlock);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KV cache is full"), std::string::npos) << e.what();
  }
  EXPECT_EQ(kv.block_table(1), before);
  EXPECT_EQ(kv.n_free_blocks(), 1);
  kv.reserve(1, 0, kBlock);  // what fits still works
  EXPECT_EQ(kv.n_free_blocks(), 0);
  // A copy-on-write also needs a free block.
  kv.share(0, 1, 20);
  EXPECT_EQ(kv.n_free_blocks(), 1);
  kv.reserve(1, 20, 21);
  EXPECT_EQ(kv.n_free_blocks(), 0);
  EXPECT_EQ(kv.blocks_needed(0, 20, 21), 0);  // the parent's block is private now: no copy
  EXPECT_NO_THROW(kv.reserve(0, 20, 21));
  const std::vector<float> k = row(1.0f);
  EXPECT_THROW(kv.store(0, 0, 2 * kBlock, k.data(), k.data()), Error);
}

TEST(KvCache, BadShapesAndTypesAreErrors) {
  EXPECT_THROW(KvCache(kLayers, 1, 64, kKvDim, DType::Q4_0), Error);
  EXPECT_THROW(KvCache(kLayers, 1, 64, 24, DType::Q8_0), Error);  // rows not blocks of 32
  EXPECT_THROW(KvCache(kLayers, 0, 64, kKvDim, DType::F16), Error);
  EXPECT_THROW(KvCache(kLayers, 1, 0, kKvDim, DType::F16), Error);
}

TEST(KvCache, Q8_0RowsReadBackWithinTheirScale) {
  KvCache kv(kLayers, 1, 64, 64, DType::Q8_0, kBlock);
  std::vector<float> key(64), value(64);
  for (int i = 0; i < 64; ++i) {
    key[i] = std::sin(0.3f * static_cast<float>(i)) * 3.0f;
    value[i] = std::cos(0.2f * static_cast<float>(i));
  }
  kv.store(1, 0, 5, key.data(), value.data());
  const kernels::KvView v = kv.view(1, 0, 0);
  EXPECT_EQ(v.type, DType::Q8_0);
  const uint8_t* r = v.keys + v.blocks[0] * v.block_stride + 5 * row_bytes(DType::Q8_0, 64);
  for (int b = 0; b < 2; ++b) {
    uint16_t d16;
    std::memcpy(&d16, r + 34 * b, 2);
    const float d = fp16_to_fp32(d16);
    for (int i = 0; i < 32; ++i) {
      const float x = d * static_cast<float>(static_cast<int8_t>(r[34 * b + 2 + i]));
      EXPECT_NEAR(x, key[32 * b + i], d * 0.6f) << b << " " << i;
    }
  }
}

}  // namespace
}  // namespace loom

// Shared helpers of the kernel tests: seeded random data and an ISA switch that restores
// the previous choice.
#pragma once

#include <bit>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/isa.h"

namespace loom::kernels::testing {

inline std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Sets the kernels' instruction set for the lifetime of the object.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(active_isa()) { set_isa(isa); }
  ~ScopedIsa() { set_isa(previous_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

inline bool have_avx2() {
  return cpu_supports(Isa::kAvx2);
}

// Every instruction set this CPU can run, scalar first: the paths a test compares.
inline std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (cpu_supports(isa)) isas.push_back(isa);
  }
  return isas;
}

// Row lengths for comparing a SIMD path with its scalar reference: every remainder modulo
// the vector widths (1..200), around powers of two, and long rows with a ragged end.
inline std::vector<int64_t> simd_test_lengths() {
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= 200; ++n) lengths.push_back(n);
  for (int64_t n : {255, 256, 257, 1000, 2048, 4096 + 13}) lengths.push_back(n);
  return lengths;
}

// Index of the first element whose bits differ (NaNs included), or -1.
inline int64_t first_bit_difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i])) {
      return static_cast<int64_t>(i);
    }
  }
  return -1;
}

// x with about a quarter of its elements (chosen at random) replaced by values from
// `specials`: the edges of a kernel's branches, mixed into ordinary data.
inline std::vector<float> sprinkle(std::vector<float> x, const std::vector<float>& specials,
                                   uint32_t seed) {
  std::mt19937 rng(seed);
  for (float& v : x) {
    if (rng() % 4 == 0) v = specials[rng() % specials.size()];
  }
  return x;
}

}  // namespace loom::kernels::testing

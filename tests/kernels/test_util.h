// Shared helpers of the kernel tests: seeded random data and an ISA switch that restores
// the previous choice.
#pragma once

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

}  // namespace loom::kernels::testing

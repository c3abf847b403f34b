#include "kernels/isa.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace loom::kernels {
namespace {

Isa best_supported() {
  if (cpu_supports(Isa::kAvx512)) return Isa::kAvx512;
  return cpu_supports(Isa::kAvx2) ? Isa::kAvx2 : Isa::kScalar;
}

Isa initial_isa() {
  const Isa best = best_supported();
  const char* forced = std::getenv("LOOM_KERNELS_ISA");
  if (forced == nullptr) return best;
  const std::string_view name(forced);
  if (name == "scalar") return Isa::kScalar;
  if (name == "avx2" && best >= Isa::kAvx2) return Isa::kAvx2;
  return best;
}

std::atomic<Isa>& active() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
#if defined(__x86_64__)
#if defined(__clang__) && __clang_major__ < 15
      // clang 14 (the fuzzing build's) has no "f16c" here; every AVX2 CPU has F16C.
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
#endif
#else
      return false;
#endif
    case Isa::kAvx512:
#if defined(__x86_64__)
      return cpu_supports(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
#else
      return false;
#endif
  }
  return false;
}

Isa detected_isa() {
  return initial_isa();
}

Isa active_isa() {
  return active().load(std::memory_order_relaxed);
}

void set_isa(Isa isa) {
  if (!cpu_supports(isa)) fail("kernels: this CPU does not support {}", isa_name(isa));
  active().store(isa, std::memory_order_relaxed);
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

}  // namespace loom::kernels

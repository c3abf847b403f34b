#include "kernels/isa.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace loom::kernels {
namespace {

Isa initial_isa() {
  const char* forced = std::getenv("LOOM_KERNELS_ISA");
  if (forced != nullptr && std::string_view(forced) == "scalar") return Isa::kScalar;
  return cpu_supports(Isa::kAvx2) ? Isa::kAvx2 : Isa::kScalar;
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
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
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
  }
  return "unknown";
}

}  // namespace loom::kernels

// Which instruction set the kernels use. Chosen once per process from what the CPU
// supports (so a result never depends on the size of a call), overridable for tests and
// benchmarks, which compare the SIMD paths with the scalar references in one process.
#pragma once

#include <string_view>

namespace loom::kernels {

// Ordered: a CPU that has one set has every set before it, so `active_isa() >= kAvx2`
// asks whether the AVX2 kernels may run.
enum class Isa {
  kScalar,  // plain C++, baseline x86-64: the reference every SIMD path is tested against
  kAvx2,    // AVX2 + FMA + F16C
  kAvx512,  // kAvx2 + AVX-512 F/BW/VL/VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later)
};

// The best instruction set this CPU supports. The environment variable
// LOOM_KERNELS_ISA=scalar makes the process start on the scalar path.
Isa detected_isa();

// The instruction set kernels use now (detected_isa() unless set_isa() changed it).
Isa active_isa();

// Switches every kernel to `isa`; fails if the CPU lacks it. Not meant to be called while
// kernels run on other threads: results would mix paths.
void set_isa(Isa isa);

bool cpu_supports(Isa isa);
std::string_view isa_name(Isa isa);

}  // namespace loom::kernels

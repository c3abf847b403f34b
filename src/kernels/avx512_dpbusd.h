// Private to the AVX-512 kernel sources (compiled with -mavx512f/bw/vl/vnni).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace loom::kernels::detail::avx512 {

using AliasedInt32 = int32_t __attribute__((may_alias, aligned(1)));

// acc + dpbusd(u, the 4 signed bytes at x broadcast to every lane). The broadcast is the
// instruction's own {1to16} memory operand, which GCC 12 does not emit for the intrinsic:
// one fused micro-op instead of a separate load, so the front end keeps up with two
// dpbusd a cycle.
inline __m512i dpbusd_broadcast(__m512i acc, __m512i u, const int8_t* x) {
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(u), "m"(*reinterpret_cast<const AliasedInt32*>(x)));
  return acc;
}

}  // namespace loom::kernels::detail::avx512

// Private to the AVX-512 kernel sources (compiled with -mavx512f/bw/vl/vnni): the int8
// building blocks the packed panel kernels share.
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

// Vector v (0..7) of a 32-element group stored as 4 chunks of 64 packed nibbles (the
// Q4_0 and K-quant panel layouts): v < 4 is the low nibbles of chunk v, elements
// 4v .. 4v+3 of every row; v >= 4 the high nibbles of chunk v - 4, elements 4v .. 4v+3 too.
inline __m512i nibble_vector(const uint8_t* chunks, int v) {
  const __m512i low = _mm512_set1_epi8(0x0f);
  const __m512i packed = _mm512_load_si512(chunks + 64 * (v % 4));
  return _mm512_and_si512(v < 4 ? packed : _mm512_srli_epi16(packed, 4), low);
}

}  // namespace loom::kernels::detail::avx512

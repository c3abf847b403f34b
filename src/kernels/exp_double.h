// e^x for a float x, evaluated in double and rounded once to float: libm's expf to the
// last bit except where expf itself misrounds (its error bound is 0.502 ulp), so an
// algorithm that used expf keeps its results. Written so that a vector twin can repeat it
// lane for lane (vector_exp.h): x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor
// series to r^12 (relative error below 2^-52), times 2^n.
#pragma once

#include <cmath>

namespace loom::kernels::detail {

namespace exp_double {
inline constexpr double kLog2e = 0x1.71547652b82fep0;
inline constexpr double kShifter = 0x1.8p52;             // adding it rounds to an integer
inline constexpr double kLn2Hi = 0x1.62e42fefa39efp-1;   // ln 2 rounded to double
inline constexpr double kLn2Lo = 0x1.abc9e3b39803fp-56;  // ln 2 - kLn2Hi
inline constexpr int kTerms = 13;
// 1/12!, 1/11!, ..., 1/2!, 1, 1: Horner's order.
inline constexpr double kTaylor[kTerms] = {1.0 / 479001600.0,
                                           1.0 / 39916800.0,
                                           1.0 / 3628800.0,
                                           1.0 / 362880.0,
                                           1.0 / 40320.0,
                                           1.0 / 5040.0,
                                           1.0 / 720.0,
                                           1.0 / 120.0,
                                           1.0 / 24.0,
                                           1.0 / 6.0,
                                           1.0 / 2.0,
                                           1.0,
                                           1.0};
// Below this, e^x rounds to 0 in float; the evaluation needs x >= it (2^n a normal double).
inline constexpr float kFloor = -104.0f;
}  // namespace exp_double

// e^x for kFloor <= x <= 88 (above 88.72 the float result is +inf).
inline float exp_via_double(float x) {
  using namespace exp_double;
  const double xd = x;
  const double z = std::fma(xd, kLog2e, kShifter);
  const double n = z - kShifter;
  const double r = std::fma(-n, kLn2Lo, std::fma(-n, kLn2Hi, xd));
  double p = kTaylor[0];
  for (int k = 1; k < kTerms; ++k) p = std::fma(p, r, kTaylor[k]);
  return static_cast<float>(std::ldexp(p, static_cast<int>(n)));
}

}  // namespace loom::kernels::detail

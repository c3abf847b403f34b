// Private to the attention kernels: what AttentionParams does to one raw score q.k_j,
// written once so that the scalar and SIMD paths apply it identically.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/ops.h"

namespace loom::kernels::detail {

class ScoreAdjust {
 public:
  ScoreAdjust(const AttentionParams& p, int64_t n_kv)
      : first(std::max<int64_t>(0, p.first)),
        scale_(p.softcap != 0.0f ? p.scale / p.softcap : p.scale),
        softcap_(p.softcap),
        slope_(p.alibi_slope),
        query_pos_(n_kv - 1) {}

  // As the reference's flash attention: scale (folded with 1 / softcap), cap, then the
  // ALiBi bias slope * -(distance).
  float operator()(float dot, int64_t j) const {
    float s = dot * scale_;
    if (softcap_ != 0.0f) s = softcap_ * ref::tanh_f32(s);
    if (slope_ != 0.0f) s += slope_ * -static_cast<float>(query_pos_ - j);
    return s;
  }

  const int64_t first;

 private:
  float scale_, softcap_, slope_;
  int64_t query_pos_;
};

}  // namespace loom::kernels::detail

#include "kernels/rope.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/ops_kernels.h"

namespace loom::kernels {
namespace {

// ggml's rope_yarn_ramp: 1 below `low`, 0 above `high`, linear between (by pair index).
float yarn_ramp(float low, float high, int64_t i0) {
  const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

float yarn_corr_dim(int64_t n_rot, int64_t n_ctx_orig, float n_rotations, float base) {
  return static_cast<float>(n_rot) *
         std::log(static_cast<float>(n_ctx_orig) /
                  (n_rotations * 2.0f * static_cast<float>(M_PI))) /
         (2.0f * std::log(base));
}

}  // namespace

void yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast,
                    float beta_slow, float* low, float* high) {
  const float start = std::floor(yarn_corr_dim(n_rot, n_ctx_orig, beta_fast, freq_base));
  const float end = std::ceil(yarn_corr_dim(n_rot, n_ctx_orig, beta_slow, freq_base));
  *low = std::max(0.0f, start);
  *high = std::min(static_cast<float>(n_rot - 1), end);
}

// As ggml_rope_cache_init + rope_yarn: theta = pos, multiplied by theta_scale per pair, in
// f32; with no factors, no scaling and no YaRN every extra step is an exact x / 1 or x * 1.
void rope_angles(const RopeParams& p, int64_t pos, float* cos_sin) {
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
  auto theta = static_cast<float>(pos);
  for (int64_t i = 0; i + 1 < p.n_rot; i += 2) {
    const float factor = p.freq_factors != nullptr ? p.freq_factors[i / 2] : 1.0f;
    const float theta_extrap = theta / factor;
    const float theta_interp = p.freq_scale * theta_extrap;
    float angle = theta_interp;
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      const float ramp_mix = yarn_ramp(p.corr_low, p.corr_high, i) * p.ext_factor;
      angle = theta_interp * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    cos_sin[i] = std::cos(angle) * mscale;
    cos_sin[i + 1] = std::sin(angle) * mscale;
    theta *= theta_scale;
  }
}

namespace ref {

void rope_rotate(float* x, int64_t n_rot, const float* cos_sin) {
  for (int64_t i = 0; i + 1 < n_rot; i += 2) {
    const float c = cos_sin[i];
    const float s = cos_sin[i + 1];
    const float x0 = x[i];
    const float x1 = x[i + 1];
    x[i] = x0 * c - x1 * s;
    x[i + 1] = x0 * s + x1 * c;
  }
}

void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t half = n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_sin[2 * i];
    const float s = cos_sin[2 * i + 1];
    const float x0 = x[i];
    const float x1 = x[i + half];
    x[i] = x0 * c - x1 * s;
    x[i + half] = x0 * s + x1 * c;
  }
}

}  // namespace ref

void rope_rotate(float* x, int64_t n_rot, const float* cos_sin) {
#if LOOM_KERNELS_HAVE_AVX2
  if (active_isa() >= Isa::kAvx512) return detail::avx512::rope_rotate(x, n_rot, cos_sin);
  if (active_isa() >= Isa::kAvx2) return detail::avx2::rope_rotate(x, n_rot, cos_sin);
#endif
  ref::rope_rotate(x, n_rot, cos_sin);
}

void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin) {
#if LOOM_KERNELS_HAVE_AVX2
  if (active_isa() >= Isa::kAvx512) return detail::avx512::rope_rotate_neox(x, n_rot, cos_sin);
  if (active_isa() >= Isa::kAvx2) return detail::avx2::rope_rotate_neox(x, n_rot, cos_sin);
#endif
  ref::rope_rotate_neox(x, n_rot, cos_sin);
}

void rope(float* x, int64_t head_dim, int64_t n_rot, int64_t pos, float freq_base) {
  if (n_rot > head_dim || n_rot % 2 != 0) {
    fail("rope: n_rot {} must be even and at most head_dim {}", n_rot, head_dim);
  }
  float cos_sin[1024];
  if (n_rot > 1024) fail("rope: n_rot {} exceeds 1024", n_rot);
  RopeParams params;
  params.n_rot = n_rot;
  params.freq_base = freq_base;
  rope_angles(params, pos, cos_sin);
  rope_rotate(x, n_rot, cos_sin);
}

}  // namespace loom::kernels

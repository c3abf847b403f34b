// Rotary position embedding (RoPE). The angles of one position are computed once and
// applied to every head of that token: rope_angles fills cos/sin pairs, a rotate function
// turns one head vector with them. Two pairings exist in GGUF files: adjacent pairs
// (x[2i], x[2i+1]) ("normal", Llama) and NeoX halves (x[i], x[i + n_rot/2]) (Qwen, Gemma,
// Phi-3, StarCoder2). The angle arithmetic follows ggml's rope cache in f32, so that
// logits agree with the reference engine.
#pragma once

#include <cstdint>

namespace loom::kernels {

// How the angle of pair i at position p is made:
//   theta_extrap = p * freq_base^(-2i / n_rot) / freq_factors[i]   (f32 recurrence, as ggml)
//   theta_interp = freq_scale * theta_extrap                       (linear scaling: 1 / factor)
//   YaRN (ext_factor != 0): theta = mix of the two by a ramp over [corr_low, corr_high],
//   and the magnitude scaled by attn_factor * (1 + 0.1 ln(1 / freq_scale)).
struct RopeParams {
  int64_t n_rot = 0;  // rotated dimensions of a head (even)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;              // 1 / linear or YaRN factor
  const float* freq_factors = nullptr;  // (n_rot / 2) divisors (Llama 3.1 rope_freqs), or none
  float ext_factor = 0.0f;              // YaRN extrapolation mix; 0 = no YaRN
  float attn_factor = 1.0f;             // magnitude of cos and sin
  float corr_low = 0.0f;                // YaRN correction dims (yarn_corr_dims)
  float corr_high = 0.0f;
};

// YaRN's correction range [low, high] for n_rot dimensions trained on n_ctx_orig positions
// (ggml_rope_yarn_corr_dims, beta_fast = 32, beta_slow = 1 by default).
void yarn_corr_dims(int64_t n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast,
                    float beta_slow, float* low, float* high);

// cos_sin[2i] = cos(theta_i), cos_sin[2i + 1] = sin(theta_i) for 2i < n_rot.
void rope_angles(const RopeParams& params, int64_t pos, float* cos_sin);

// Rotates the first n_rot elements of one head vector in place: adjacent pairs
// (x[2i], x[2i+1]) or NeoX halves (x[i], x[i + n_rot/2]), pair i by angle i.
void rope_rotate(float* x, int64_t n_rot, const float* cos_sin);
void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin);

// One-call form for tests and simple callers: rope_angles(n_rot, base) + rope_rotate.
void rope(float* x, int64_t head_dim, int64_t n_rot, int64_t pos, float freq_base);

namespace ref {
void rope_rotate(float* x, int64_t n_rot, const float* cos_sin);
void rope_rotate_neox(float* x, int64_t n_rot, const float* cos_sin);
}  // namespace ref

}  // namespace loom::kernels

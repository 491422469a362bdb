// Gated retention (YOCO-REFERENCE.md, self-decoder variant A), three forms of the same recurrence
//   S_t = exp(a_t) S_{t-1} + k_tᵀ v_t,   o_t = q_t S_t     (S: d × d per head, key dim × value dim).
// Every form is parallel over heads; heads are independent.
//
// The chunkwise form is the prefill path. Within a chunk, with G_j = Σ_{i<=j} a_i (inclusive, in double):
//   O     = ((Q Kᵀ) ⊙ exp(G_j − G_k)[k<=j]) V  +  (Q ⊙ exp(G_j)) S_in
//   S_out = exp(G_last) S_in  +  Kᵀ (V ⊙ exp(G_last − G_k))
// as four sgemms per chunk per head. Every exponent evaluated is <= 0 (a_t <= 0 and G is non-increasing),
// so nothing overflows however strong the decay; the cumulative sums are kept in double so that
// G_j − G_k is exact to f32 even when G itself is large.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/simd.h"
#include "kernels/error.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace yoco::kernels {
namespace {

int64_t head_grain(int64_t T, int d) {
  // Run inline when all heads together are a few hundred thousand multiply-adds.
  const int64_t per_head = std::max<int64_t>(1, T * d * d);
  return std::max<int64_t>(1, (1 << 17) / per_head);
}

}  // namespace

void retention_recurrent(const float* q, const float* k, const float* v, int64_t stride,
                         const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                         int64_t out_stride) {
  if (T <= 0 || H <= 0) return;
  YOCO_CHECK(d > 0);
  parallel_for(H, head_grain(T, d), [&](int64_t h0, int64_t h1, int) {
    thread_local std::vector<float> acc;
    acc.resize(static_cast<size_t>(d));
    for (int64_t h = h0; h < h1; ++h) {
      float* S = state + h * d * d;
      for (int64_t t = 0; t < T; ++t) {
        const float* qt = q + t * stride + h * d;
        const float* kt = k + t * stride + h * d;
        const float* vt = v + t * stride + h * d;
        const float gamma = std::exp(log_decay[t * H + h]);
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int i = 0; i < d; ++i) {
          float* row = S + static_cast<int64_t>(i) * d;
          const float ki = kt[i], qi = qt[i];
          for (int j = 0; j < d; ++j) {
            row[j] = gamma * row[j] + ki * vt[j];
            acc[j] += qi * row[j];
          }
        }
        std::copy(acc.begin(), acc.end(), o + t * out_stride + h * d);
      }
    }
  });
}

void retention_chunkwise(const float* q, const float* k, const float* v, int64_t stride,
                         const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                         int64_t out_stride, int chunk) {
  if (T <= 0 || H <= 0) return;
  YOCO_CHECK(d > 0);
  const int64_t C = std::max(1, chunk);
  parallel_for(H, head_grain(T, d), [&](int64_t h0, int64_t h1, int) {
    thread_local std::vector<double> G;
    thread_local std::vector<float> A, Qd, Vd, ex;
    G.resize(static_cast<size_t>(C));
    A.resize(static_cast<size_t>(C * C));
    Qd.resize(static_cast<size_t>(C * d));
    Vd.resize(static_cast<size_t>(C * d));
    ex.resize(static_cast<size_t>(C));
    for (int64_t h = h0; h < h1; ++h) {
      float* S = state + h * d * d;
      for (int64_t c0 = 0; c0 < T; c0 += C) {
        const int64_t L = std::min(C, T - c0);
        const float* qc = q + c0 * stride + h * d;
        const float* kc = k + c0 * stride + h * d;
        const float* vc = v + c0 * stride + h * d;
        float* oc = o + c0 * out_stride + h * d;
        double g = 0.0;
        for (int64_t j = 0; j < L; ++j) G[j] = (g += log_decay[(c0 + j) * H + h]);
        const double g_last = G[L - 1];

        // Inner: A = (Q Kᵀ) ⊙ exp(G_j − G_k) on k <= j, then O = A V.
        cpu::sgemm_serial(false, true, L, L, d, 1.0f, qc, stride, kc, stride, 0.0f, A.data(), L);
        for (int64_t j = 0; j < L; ++j) {
          float* row = A.data() + j * L;
          for (int64_t kk = 0; kk <= j; ++kk) ex[kk] = static_cast<float>(G[j] - G[kk]);  // <= 0
          cpu::exp_inplace(ex.data(), j + 1);
          for (int64_t kk = 0; kk <= j; ++kk) row[kk] *= ex[kk];
          std::fill(row + j + 1, row + L, 0.0f);
        }
        cpu::sgemm_serial(false, false, L, d, L, 1.0f, A.data(), L, vc, stride, 0.0f, oc, out_stride);

        // Cross-chunk: O += (Q ⊙ exp(G_j)) S_in.
        for (int64_t j = 0; j < L; ++j) {
          const float w = static_cast<float>(std::exp(G[j]));
          const float* src = qc + j * stride;
          float* dst = Qd.data() + j * d;
          for (int e = 0; e < d; ++e) dst[e] = src[e] * w;
        }
        cpu::sgemm_serial(false, false, L, d, d, 1.0f, Qd.data(), d, S, d, 1.0f, oc, out_stride);

        // State: S = exp(G_last) S + Kᵀ (V ⊙ exp(G_last − G_k)).
        for (int64_t kk = 0; kk < L; ++kk) {
          const float w = static_cast<float>(std::exp(g_last - G[kk]));
          const float* src = vc + kk * stride;
          float* dst = Vd.data() + kk * d;
          for (int e = 0; e < d; ++e) dst[e] = src[e] * w;
        }
        const float decay_all = static_cast<float>(std::exp(g_last));
        cpu::sgemm_serial(true, false, d, d, L, 1.0f, kc, stride, Vd.data(), d, decay_all, S, d);
      }
    }
  });
}

void retention_parallel(const float* q, const float* k, const float* v, int64_t stride,
                        const float* log_decay, int64_t T, int H, int d, float* state, float* o,
                        int64_t out_stride) {
  if (T <= 0 || H <= 0) return;
  YOCO_CHECK(d > 0);
  // Double throughout: this form is the oracle the fast forms are tested against.
  parallel_for(H, 1, [&](int64_t h0, int64_t h1, int) {
    std::vector<double> G(static_cast<size_t>(T)), acc(static_cast<size_t>(d)), S(static_cast<size_t>(d) * d);
    for (int64_t h = h0; h < h1; ++h) {
      float* Sh = state + h * d * d;
      double g = 0.0;
      for (int64_t t = 0; t < T; ++t) G[t] = (g += log_decay[t * H + h]);
      for (int64_t t = 0; t < T; ++t) {
        const float* qt = q + t * stride + h * d;
        std::fill(acc.begin(), acc.end(), 0.0);
        // ((Q Kᵀ) ⊙ D) V with D[t, s] = exp(Σ_{i=s+1..t} a_i).
        for (int64_t s = 0; s <= t; ++s) {
          const float* ks = k + s * stride + h * d;
          const float* vs = v + s * stride + h * d;
          double qk = 0.0;
          for (int e = 0; e < d; ++e) qk += static_cast<double>(qt[e]) * ks[e];
          const double w = qk * std::exp(G[t] - G[s]);
          for (int e = 0; e < d; ++e) acc[e] += w * vs[e];
        }
        // The incoming state, decayed by exp(Σ_{i<=t} a_i).
        const double w0 = std::exp(G[t]);
        for (int i = 0; i < d; ++i) {
          const double qi = static_cast<double>(qt[i]) * w0;
          for (int e = 0; e < d; ++e) acc[e] += qi * Sh[static_cast<int64_t>(i) * d + e];
        }
        for (int e = 0; e < d; ++e) o[t * out_stride + h * d + e] = static_cast<float>(acc[e]);
      }
      // S_out = exp(G_T) S_in + Σ_s exp(G_T − G_s) k_sᵀ v_s.
      const double gT = G[T - 1];
      for (int64_t i = 0; i < static_cast<int64_t>(d) * d; ++i) S[i] = std::exp(gT) * Sh[i];
      for (int64_t s = 0; s < T; ++s) {
        const float* ks = k + s * stride + h * d;
        const float* vs = v + s * stride + h * d;
        const double w = std::exp(gT - G[s]);
        for (int i = 0; i < d; ++i)
          for (int e = 0; e < d; ++e)
            S[static_cast<int64_t>(i) * d + e] += w * ks[i] * static_cast<double>(vs[e]);
      }
      for (int64_t i = 0; i < static_cast<int64_t>(d) * d; ++i) Sh[i] = static_cast<float>(S[i]);
    }
  });
}

}  // namespace yoco::kernels

// Gated retention: the recurrent, chunkwise and parallel forms against a double-precision recurrence
// written here, with a state carried in and out, chunk sizes that do not divide T, and log-decays down to
// -8 (and -30) to check that the chunkwise form never overflows.
//
// Tolerance per element: the double recurrence also propagates the absolute values (|S|, |q|·|S|), which
// bound every partial sum. An f32 form that adds each token's term once per step (or once per chunk plus
// the within-chunk GEMM depth) is off by at most ~(2T + 2d + 2·chunk + 8)·eps times that bound.
#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "test_util.h"

namespace yoco::kernels {
namespace {

using test::kEps;

struct Inputs {
  int64_t T;
  int H, d;
  int64_t stride;
  std::vector<float> q, k, v, a, S0;
};

Inputs make_inputs(int64_t T, int H, int d, float a_lo, float a_hi, uint64_t seed) {
  Inputs in{T, H, d, static_cast<int64_t>(H) * d + 5, {}, {}, {}, {}, {}};
  const size_t n = static_cast<size_t>(std::max<int64_t>(T, 1) * in.stride);
  in.q = test::randn(n, seed);
  in.k = test::randn(n, seed + 1, 1.0f / std::sqrt(static_cast<float>(d)));
  in.v = test::randn(n, seed + 2);
  in.a = test::uniform(static_cast<size_t>(std::max<int64_t>(T, 1) * H), seed + 3, a_lo, a_hi);
  in.S0 = test::randn(static_cast<size_t>(H) * d * d, seed + 4, 0.5f);
  return in;
}

struct Oracle {
  std::vector<double> o, o_bound, S, S_bound;
};

Oracle oracle(const Inputs& in, int64_t t0 = 0, int64_t t1 = -1) {
  if (t1 < 0) t1 = in.T;
  const int H = in.H, d = in.d;
  Oracle r;
  r.o.assign(static_cast<size_t>((t1 - t0) * H * d), 0.0);
  r.o_bound = r.o;
  r.S.assign(in.S0.begin(), in.S0.end());
  r.S_bound.resize(r.S.size());
  for (size_t i = 0; i < r.S.size(); ++i) r.S_bound[i] = std::fabs(r.S[i]);
  for (int h = 0; h < H; ++h) {
    double* S = r.S.data() + static_cast<size_t>(h) * d * d;
    double* B = r.S_bound.data() + static_cast<size_t>(h) * d * d;
    for (int64_t t = t0; t < t1; ++t) {
      const float* q = in.q.data() + t * in.stride + h * d;
      const float* k = in.k.data() + t * in.stride + h * d;
      const float* v = in.v.data() + t * in.stride + h * d;
      const double g = std::exp(static_cast<double>(in.a[t * H + h]));
      for (int i = 0; i < d; ++i) {
        for (int j = 0; j < d; ++j) {
          S[i * d + j] = g * S[i * d + j] + static_cast<double>(k[i]) * v[j];
          B[i * d + j] = g * B[i * d + j] + std::fabs(static_cast<double>(k[i]) * v[j]);
        }
      }
      for (int j = 0; j < d; ++j) {
        double s = 0.0, b = 0.0;
        for (int i = 0; i < d; ++i) {
          s += q[i] * S[i * d + j];
          b += std::fabs(q[i]) * B[i * d + j];
        }
        r.o[static_cast<size_t>(((t - t0) * H + h) * d + j)] = s;
        r.o_bound[static_cast<size_t>(((t - t0) * H + h) * d + j)] = b;
      }
    }
  }
  return r;
}

enum class Form { Recurrent, Chunkwise, Parallel };

void check_form(const Inputs& in, Form form, int chunk, const Oracle& ref, const char* label) {
  const int H = in.H, d = in.d;
  const int64_t out_stride = static_cast<int64_t>(H) * d + 2;
  std::vector<float> o = test::poisoned(static_cast<size_t>(std::max<int64_t>(in.T, 1) * out_stride));
  std::vector<float> S = in.S0;
  switch (form) {
    case Form::Recurrent:
      retention_recurrent(in.q.data(), in.k.data(), in.v.data(), in.stride, in.a.data(), in.T, H, d, S.data(),
                          o.data(), out_stride);
      break;
    case Form::Chunkwise:
      retention_chunkwise(in.q.data(), in.k.data(), in.v.data(), in.stride, in.a.data(), in.T, H, d, S.data(),
                          o.data(), out_stride, chunk);
      break;
    case Form::Parallel:
      retention_parallel(in.q.data(), in.k.data(), in.v.data(), in.stride, in.a.data(), in.T, H, d, S.data(),
                         o.data(), out_stride);
      break;
  }
  const double c = (2.0 * in.T + 2.0 * d + 2.0 * chunk + 8.0) * kEps;
  std::vector<float> got;
  std::vector<double> want, tol;
  for (int64_t t = 0; t < in.T; ++t) {
    for (int64_t e = 0; e < H * d; ++e) {
      got.push_back(o[t * out_stride + e]);
      want.push_back(ref.o[t * H * d + e]);
      tol.push_back(c * ref.o_bound[t * H * d + e] + 1e-30);
    }
    for (int64_t e = H * d; e < out_stride; ++e)
      EXPECT_TRUE(std::isnan(o[t * out_stride + e])) << "padding written";
  }
  EXPECT_TRUE(test::all_within(got, want, tol))
      << label << " output, T " << in.T << " H " << H << " d " << d << " chunk " << chunk;
  std::vector<double> stol;
  for (double b : ref.S_bound) stol.push_back(c * b + 1e-30);
  EXPECT_TRUE(test::all_within(S, ref.S, stol))
      << label << " state, T " << in.T << " H " << H << " d " << d << " chunk " << chunk;
}

TEST(Retention, AllFormsMatchTheDoubleRecurrence) {
  struct Dims {
    int H, d;
  };
  uint64_t seed = 1000;
  for (Dims dims : {Dims{3, 24}, Dims{2, 40}}) {
    for (int64_t T : {1, 7, 129, 300}) {
      for (float a_lo : {-0.1f, -8.0f}) {
        const Inputs in = make_inputs(T, dims.H, dims.d, a_lo, 0.0f, seed += 10);
        const Oracle ref = oracle(in);
        check_form(in, Form::Recurrent, 1, ref, "recurrent");
        check_form(in, Form::Parallel, 1, ref, "parallel");
        for (int chunk : {1, 7, 64, 256}) check_form(in, Form::Chunkwise, chunk, ref, "chunkwise");
      }
    }
  }
}

TEST(Retention, StateCarriesAcrossCalls) {
  const Inputs in = make_inputs(300, 2, 40, -0.5f, 0.0f, 77);
  const Oracle ref = oracle(in);
  const int H = in.H, d = in.d;
  const int64_t width = static_cast<int64_t>(H) * d;
  // Chunkwise over [0, 129) then [129, 300); recurrent one token per call.
  for (bool chunked : {true, false}) {
    std::vector<float> S = in.S0, o = test::poisoned(static_cast<size_t>(in.T * width));
    std::vector<int64_t> cuts = chunked ? std::vector<int64_t>{0, 129, 300} : std::vector<int64_t>{};
    if (!chunked)
      for (int64_t t = 0; t <= in.T; ++t) cuts.push_back(t);
    for (size_t c = 0; c + 1 < cuts.size(); ++c) {
      const int64_t t0 = cuts[c], n = cuts[c + 1] - cuts[c];
      const float* q = in.q.data() + t0 * in.stride;
      const float* k = in.k.data() + t0 * in.stride;
      const float* v = in.v.data() + t0 * in.stride;
      if (chunked) {
        retention_chunkwise(q, k, v, in.stride, in.a.data() + t0 * H, n, H, d, S.data(),
                            o.data() + t0 * width, width, 64);
      } else {
        retention_recurrent(q, k, v, in.stride, in.a.data() + t0 * H, n, H, d, S.data(),
                            o.data() + t0 * width, width);
      }
    }
    const double cst = (2.0 * in.T + 2.0 * d + 2.0 * 64 + 8.0) * kEps;
    std::vector<double> tol, stol;
    for (double b : ref.o_bound) tol.push_back(cst * b + 1e-30);
    for (double b : ref.S_bound) stol.push_back(cst * b + 1e-30);
    EXPECT_TRUE(test::all_within(o, ref.o, tol)) << (chunked ? "chunkwise" : "recurrent");
    EXPECT_TRUE(test::all_within(S, ref.S, stol)) << (chunked ? "chunkwise" : "recurrent");
  }
}

TEST(Retention, ChunkwiseStableUnderStrongDecay) {
  for (float a : {-8.0f, -30.0f}) {
    Inputs in = make_inputs(300, 2, 24, a, a, 99);
    for (auto& x : in.S0) x *= 100.0f;  // a large incoming state that must decay, not blow up
    const Oracle ref = oracle(in);
    check_form(in, Form::Chunkwise, 256, ref, "chunkwise strong decay");
    check_form(in, Form::Chunkwise, 7, ref, "chunkwise strong decay");
  }
}

TEST(Retention, NoDecayIsAPlainPrefixSum) {
  // a = 0: S_T = S_0 + Σ k_tᵀ v_t exactly as a linear-attention prefix sum.
  const Inputs in = make_inputs(129, 1, 24, 0.0f, 0.0f, 5);
  const Oracle ref = oracle(in);
  check_form(in, Form::Chunkwise, 64, ref, "chunkwise a=0");
  check_form(in, Form::Recurrent, 1, ref, "recurrent a=0");
}

}  // namespace
}  // namespace yoco::kernels

// Storage types and conversions. Narrowing rounds to nearest, ties to even; NaN stays NaN (quiet, sign
// kept), infinities stay infinite, f16 subnormals are produced and read exactly. Bulk f16 uses F16C where
// the target has it (same rounding as the scalar code); bulk bf16 is plain integer code the compiler
// vectorises.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/error.h"
#include "kernels/ops.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif
#if defined(__F16C__) && defined(__AVX__)
#define YOCO_F16C 1
#endif

namespace yoco::kernels {
namespace {

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Branch-free so the bulk loop vectorises.
inline uint16_t bf16_round(uint32_t x) {
  const bool is_nan = (x & 0x7fffffffu) > 0x7f800000u;
  const uint32_t rounded = x + 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((is_nan ? (x | 0x00400000u) : rounded) >> 16);
}

}  // namespace

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::Q8:
      return 1;
  }
  YOCO_CHECK(false);
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::Q8:
      return "int8";
  }
  YOCO_CHECK(false);
  return "";
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN, quiet
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to infinity
  if (a >= 0x38800000u) {                                              // normal f16 (>= 2^-14)
    uint32_t r = a - 0x38000000u;                                      // rebias the exponent 127 -> 15
    r += 0xfffu + ((r >> 13) & 1u);                                    // round 23 -> 10 mantissa bits
    return static_cast<uint16_t>(sign | (r >> 13));
  }
  if (a < 0x33000000u) return sign;  // below 2^-25 (2^-25 itself ties to even, i.e. to 0, below)
  // Subnormal f16: the value in units of 2^-24 is m · 2^(e - 126), e in [102, 112].
  const uint32_t e = a >> 23;
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;
  const uint32_t half = 1u << (shift - 1);
  const uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t q = m >> shift;
  if (rem > half || (rem == half && (q & 1u))) ++q;  // may carry into the smallest normal: still right
  return static_cast<uint16_t>(sign | q);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu;
  const uint32_t m = h & 0x3ffu;
  if (e == 0x1f) return float_of(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;  // m · 2^-24, exact
    return sign ? -v : v;
  }
  return float_of(sign | ((e + 112u) << 23) | (m << 13));
}

uint16_t f32_to_bf16(float f) {
  return bf16_round(bits_of(f));
}

float bf16_to_f32(uint16_t h) {
  return float_of(static_cast<uint32_t>(h) << 16);
}

void convert_to_f32(DType src_type, const void* src, float* dst, size_t n) {
  switch (src_type) {
    case DType::F32:
      if (n) std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      size_t i = 0;
#if YOCO_F16C
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
#endif
      for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      size_t i = 0;
#if defined(__AVX2__)
      for (; i + 8 <= n; i += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
      }
#endif
      for (; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::Q8:
      break;
  }
  throw Error("convert_to_f32: int8 is a K/V row storage (per-head scales): use kv_rows_to_f32");
}

void convert_from_f32(const float* src, DType dst_type, void* dst, size_t n) {
  switch (dst_type) {
    case DType::F32:
      if (n) std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      size_t i = 0;
#if YOCO_F16C
      for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(
            reinterpret_cast<__m128i*>(d + i),
            _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
      for (; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    case DType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = bf16_round(bits_of(src[i]));
      return;
    }
    case DType::Q8:
      break;
  }
  throw Error("convert_from_f32: int8 is a K/V row storage (per-head scales): use kv_rows_from_f32");
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8})
    if (name == dtype_name(t)) return t;
  return std::nullopt;
}

size_t kv_row_bytes(DType t, int64_t n_kv, int64_t hd) {
  const size_t values = static_cast<size_t>(n_kv) * static_cast<size_t>(hd);
  return t == DType::Q8 ? values + static_cast<size_t>(n_kv) * sizeof(float) : values * dtype_size(t);
}

namespace {

// One head's hd values -> int8 + scale (see DType::Q8 in ops.h).
void quantize_q8(const float* x, int64_t hd, int8_t* q, float& scale) {
  float amax = 0.0f;
  bool finite = true;
  for (int64_t i = 0; i < hd; ++i) {
    const float a = std::fabs(x[i]);
    finite &= a <= std::numeric_limits<float>::max();  // false for inf and NaN
    amax = std::max(amax, a);
  }
  if (!finite) {
    scale = std::numeric_limits<float>::quiet_NaN();
    std::memset(q, 0, static_cast<size_t>(hd));
    return;
  }
  if (amax == 0.0f) {
    scale = 0.0f;
    std::memset(q, 0, static_cast<size_t>(hd));
    return;
  }
  scale = amax / 127.0f;
  const float inv = 127.0f / amax;
  for (int64_t i = 0; i < hd; ++i) {
    const float r = std::nearbyint(x[i] * inv);  // the default rounding mode: to nearest, ties to even
    q[i] = static_cast<int8_t>(std::clamp(r, -127.0f, 127.0f));
  }
}

}  // namespace

void kv_rows_from_f32(const float* src, int64_t src_stride, DType t, void* dst, int64_t rows, int64_t n_kv,
                      int64_t hd) {
  const int64_t row = n_kv * hd;
  const size_t rb = kv_row_bytes(t, n_kv, hd);
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t r = 0; r < rows; ++r, d += rb) {
    const float* x = src + r * src_stride;
    if (t != DType::Q8) {
      convert_from_f32(x, t, d, static_cast<size_t>(row));
      continue;
    }
    auto* q = reinterpret_cast<int8_t*>(d);
    for (int64_t h = 0; h < n_kv; ++h) {
      float scale;
      quantize_q8(x + h * hd, hd, q + h * hd, scale);
      std::memcpy(d + row + h * sizeof(float), &scale, sizeof scale);
    }
  }
}

void kv_rows_to_f32(DType t, const void* src, int64_t rows, int64_t n_kv, int64_t hd, float* dst) {
  const int64_t row = n_kv * hd;
  if (t != DType::Q8) {
    convert_to_f32(t, src, dst, static_cast<size_t>(rows * row));
    return;
  }
  const size_t rb = kv_row_bytes(t, n_kv, hd);
  const auto* s = static_cast<const uint8_t*>(src);
  for (int64_t r = 0; r < rows; ++r, s += rb, dst += row) {
    const auto* q = reinterpret_cast<const int8_t*>(s);
    for (int64_t h = 0; h < n_kv; ++h) {
      float scale;
      std::memcpy(&scale, s + row + h * sizeof(float), sizeof scale);
      const int8_t* qh = q + h * hd;
      float* o = dst + h * hd;
      int64_t i = 0;
#if defined(__AVX2__)
      const __m256 vs = _mm256_set1_ps(scale);
      for (; i + 8 <= hd; i += 8) {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(qh + i));
        _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), vs));
      }
#endif
      for (; i < hd; ++i) o[i] = static_cast<float>(qh[i]) * scale;
    }
  }
}

}  // namespace yoco::kernels

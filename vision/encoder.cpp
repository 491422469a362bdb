#include "vision/encoder.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/error.h"
#include "kernels/ops.h"
#include "llm/model.h"
#include "llm/safetensors.h"

namespace yoco::vision {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Exact (erf) GELU, in place.
void gelu_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

}  // namespace

VisionScratch::VisionScratch(const VisionConfig& cfg) : pre_(cfg) {
  const size_t N = cfg.n_patches(), W = cfg.width, T = cfg.tokens_per_frame;
  patches_.assign(N * cfg.patch_dim(), 0.0f);
  x_.assign(N * W, 0.0f);
  xn_.assign(N * W, 0.0f);
  q_.assign(N * W, 0.0f);
  k_.assign(N * W, 0.0f);
  v_.assign(N * W, 0.0f);
  att_.assign(N * W, 0.0f);
  gate_.assign(N * cfg.mlp_dim, 0.0f);
  up_.assign(N * cfg.mlp_dim, 0.0f);
  pooled_.assign(T * W, 0.0f);
  hidden_.assign(T * cfg.proj_dim, 0.0f);
  if (cfg.motion) prev_.assign(size_t(3) * cfg.image_size * cfg.image_size, 0.0f);
}

std::vector<std::pair<std::string, std::vector<int64_t>>> VisionEncoder::expected_tensors(const VisionConfig& c) {
  const int64_t W = c.width, M = c.mlp_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> t;
  t.push_back({"vision.patch_embed.weight", {W, c.patch_dim()}});
  if (c.motion) t.push_back({"vision.motion_embed.weight", {W, c.patch_dim()}});
  t.push_back({"vision.pos_embed", {c.n_patches(), W}});
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "vision.blocks." + std::to_string(i) + ".";
    t.push_back({p + "norm1.weight", {W}});
    t.push_back({p + "attn.qkv.weight", {3 * W, W}});
    t.push_back({p + "attn.out.weight", {W, W}});
    t.push_back({p + "norm2.weight", {W}});
    t.push_back({p + "mlp.gate.weight", {M, W}});
    t.push_back({p + "mlp.up.weight", {M, W}});
    t.push_back({p + "mlp.down.weight", {W, M}});
  }
  t.push_back({"vision.norm.weight", {W}});
  t.push_back({"vision.proj.fc1.weight", {c.proj_dim, W}});
  t.push_back({"vision.proj.fc2.weight", {c.lm_dim, c.proj_dim}});
  return t;
}

VisionEncoder::VisionEncoder(const llm::Model& model) {
  YOCO_REQUIRE(!model.config().vision.is_null(), "model " + model.dir() + " has no 'vision' block in config.json");
  cfg_ = VisionConfig::from_json(model.config().vision);
  YOCO_REQUIRE(cfg_.lm_dim == model.config().dim,
               "vision config: 'lm_dim' " + std::to_string(cfg_.lm_dim) + " != the LM dim " +
                   std::to_string(model.config().dim));
  load(model.tensors());
}

VisionEncoder::VisionEncoder(const nlohmann::json& vision, const llm::SafeTensors& tensors)
    : cfg_(VisionConfig::from_json(vision)) {
  load(tensors);
}

const float* VisionEncoder::tensor(const llm::SafeTensors& st, const std::string& name,
                                   const std::vector<int64_t>& shape) {
  const llm::TensorInfo* t = st.find(name);
  YOCO_REQUIRE(t != nullptr, "vision: missing tensor '" + name + "' in " + st.path());
  YOCO_REQUIRE(t->shape == shape, "vision: tensor '" + name + "' has shape " + shape_str(t->shape) +
                                      ", expected " + shape_str(shape));
  YOCO_REQUIRE(t->dtype == llm::TensorDType::F32 || t->dtype == llm::TensorDType::F16 ||
                   t->dtype == llm::TensorDType::BF16,
               std::string("vision: tensor '") + name + "' has dtype " + llm::tensor_dtype_name(t->dtype) +
                   ", expected F32, F16 or BF16");
  YOCO_REQUIRE(llm::all_finite(*t), "vision: tensor '" + name + "' holds NaN or infinite values");
  if (const float* p = llm::f32_data(*t)) return p;
  owned_.push_back(std::make_unique<std::vector<float>>(llm::to_f32(*t)));
  return owned_.back()->data();
}

void VisionEncoder::load(const llm::SafeTensors& st) {
  const auto expected = expected_tensors(cfg_);
  size_t k = 0;
  auto next = [&]() {
    const auto& [name, shape] = expected[k++];
    return tensor(st, name, shape);
  };
  patch_embed_ = next();
  if (cfg_.motion) motion_embed_ = next();
  pos_embed_ = next();
  blocks_.resize(cfg_.n_layers);
  for (auto& b : blocks_) {
    b.norm1 = next();
    b.qkv = next();
    b.out = next();
    b.norm2 = next();
    b.gate = next();
    b.up = next();
    b.down = next();
  }
  norm_ = next();
  proj_fc1_ = next();
  proj_fc2_ = next();
  YOCO_CHECK(k == expected.size());
}

void VisionEncoder::encode(const uint8_t* rgb, int width, int height, int stride, float* out,
                           VisionScratch& s) const {
  YOCO_REQUIRE(s.pre_.image_size() == cfg_.image_size && s.patches_.size() == size_t(cfg_.n_patches()) * cfg_.patch_dim() &&
                   s.gate_.size() == size_t(cfg_.n_patches()) * cfg_.mlp_dim &&
                   s.hidden_.size() == size_t(cfg_.tokens_per_frame) * cfg_.proj_dim,
               "vision: scratch was built for another config");
  encode_image(s.pre_.process(rgb, width, height, stride), out, s);
}

void VisionEncoder::encode_image(const float* image, float* out, VisionScratch& s) const {
  YOCO_REQUIRE(out != nullptr && image != nullptr, "vision: null image or output");
  YOCO_REQUIRE(s.x_.size() == size_t(cfg_.n_patches()) * cfg_.width &&
                   s.gate_.size() == size_t(cfg_.n_patches()) * cfg_.mlp_dim &&
                   s.hidden_.size() == size_t(cfg_.tokens_per_frame) * cfg_.proj_dim,
               "vision: scratch was built for another config");
  const int S = cfg_.image_size, p = cfg_.patch_size, g = cfg_.grid();
  const int64_t N = cfg_.n_patches(), W = cfg_.width, P = cfg_.patch_dim(), M = cfg_.mlp_dim;
  const int H = cfg_.n_heads, hd = cfg_.head_dim();
  const size_t plane = static_cast<size_t>(S) * S;

  // im2col: patch (gy, gx) → row gy·g + gx, columns (c, py, px); with `prev`, of image − prev.
  auto im2col = [&](const float* prev) {
    for (int gy = 0; gy < g; ++gy)
      for (int gx = 0; gx < g; ++gx) {
        float* dst = s.patches_.data() + (static_cast<size_t>(gy) * g + gx) * P;
        for (int c = 0; c < 3; ++c)
          for (int py = 0; py < p; ++py) {
            const size_t off = c * plane + static_cast<size_t>(gy * p + py) * S + gx * p;
            float* d = dst + (c * p + py) * p;
            if (prev == nullptr) std::memcpy(d, image + off, sizeof(float) * p);
            else
              for (int px = 0; px < p; ++px) d[px] = image[off + px] - prev[off + px];
          }
      }
  };
  im2col(nullptr);
  float* x = s.x_.data();
  std::memcpy(x, pos_embed_, sizeof(float) * N * W);
  kernels::matmul_wt(s.patches_.data(), P, patch_embed_, x, W, N, W, P, 1.0f);
  if (cfg_.motion) {
    YOCO_REQUIRE(s.prev_.size() == 3 * plane, "vision: scratch was built for another config");
    if (s.has_prev_) {  // the first frame's motion input is zero: nothing to add
      im2col(s.prev_.data());
      kernels::matmul_wt(s.patches_.data(), P, motion_embed_, x, W, N, W, P, 1.0f);
    }
    if (image != s.prev_.data()) std::memcpy(s.prev_.data(), image, sizeof(float) * 3 * plane);
    s.has_prev_ = true;
  }

  // Bidirectional attention: keys at positions 0 .. N-1, queries all at positions >= N-1.
  kernels::KvBlock kvb{s.k_.data(), s.v_.data(), N};
  kernels::KvSpan kv{&kvb, 1, N, kernels::DType::F32, H, hd, 0};
  kernels::AttentionParams ap{H, 1.0f / std::sqrt(static_cast<float>(hd)), 0};
  float* xn = s.xn_.data();
  for (const Block& b : blocks_) {
    kernels::rmsnorm(x, W, b.norm1, xn, W, N, W, cfg_.norm_eps);
    kernels::matmul_wt(xn, W, b.qkv, s.q_.data(), W, N, W, W);
    kernels::matmul_wt(xn, W, b.qkv + W * W, s.k_.data(), W, N, W, W);
    kernels::matmul_wt(xn, W, b.qkv + 2 * W * W, s.v_.data(), W, N, W, W);
    kernels::attention(s.q_.data(), W, N, N - 1, kv, ap, s.att_.data(), W);
    kernels::matmul_wt(s.att_.data(), W, b.out, x, W, N, W, W, 1.0f);
    kernels::rmsnorm(x, W, b.norm2, xn, W, N, W, cfg_.norm_eps);
    kernels::matmul_wt(xn, W, b.gate, s.gate_.data(), M, N, M, W);
    kernels::matmul_wt(xn, W, b.up, s.up_.data(), M, N, M, W);
    kernels::swiglu(s.gate_.data(), s.up_.data(), s.gate_.data(), N * M);
    kernels::matmul_wt(s.gate_.data(), M, b.down, x, W, N, W, M, 1.0f);
  }
  kernels::rmsnorm(x, W, norm_, xn, W, N, W, cfg_.norm_eps);

  // Adaptive average pooling of the g × g grid to t × t (PyTorch adaptive_avg_pool2d): token (ty, tx) is the
  // mean of rows [ty·g/t, ceil((ty+1)·g/t)) × the same columns; cells overlap when t does not divide g.
  const int t = cfg_.pool_grid();
  for (int ty = 0; ty < t; ++ty)
    for (int tx = 0; tx < t; ++tx) {
      const int y0 = ty * g / t, y1 = ((ty + 1) * g + t - 1) / t;
      const int x0 = tx * g / t, x1 = ((tx + 1) * g + t - 1) / t;
      float* dst = s.pooled_.data() + (static_cast<size_t>(ty) * t + tx) * W;
      std::fill(dst, dst + W, 0.0f);
      for (int gy = y0; gy < y1; ++gy)
        for (int gx = x0; gx < x1; ++gx) {
          const float* src = xn + (static_cast<size_t>(gy) * g + gx) * W;
          for (int64_t i = 0; i < W; ++i) dst[i] += src[i];
        }
      const float inv = 1.0f / static_cast<float>((y1 - y0) * (x1 - x0));
      for (int64_t i = 0; i < W; ++i) dst[i] *= inv;
    }
  const int64_t T = cfg_.tokens_per_frame, PD = cfg_.proj_dim, D = cfg_.lm_dim;
  kernels::matmul_wt(s.pooled_.data(), W, proj_fc1_, s.hidden_.data(), PD, T, PD, W);
  gelu_inplace(s.hidden_.data(), T * PD);
  kernels::matmul_wt(s.hidden_.data(), PD, proj_fc2_, out, D, T, D, PD);
}

std::string format_time_tag(double pts) {
  YOCO_REQUIRE(std::isfinite(pts) && pts >= 0, "vision: time tag for a negative or non-finite pts");
  YOCO_REQUIRE(pts < 1e12, "vision: pts too large for a time tag");
  const auto total = static_cast<int64_t>(pts);
  const int64_t h = total / 3600, m = (total / 60) % 60, sec = total % 60;
  char buf[48];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "[%lld:%02lld:%02lld]", static_cast<long long>(h), static_cast<long long>(m),
                  static_cast<long long>(sec));
  else
    std::snprintf(buf, sizeof buf, "[%02lld:%02lld]", static_cast<long long>(m), static_cast<long long>(sec));
  return buf;
}

}  // namespace yoco::vision

#include "llm/weights.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "kernels/error.h"
#include "llm/safetensors.h"

namespace yoco::llm {

namespace {

using Shape = std::vector<int64_t>;
using Expected = std::vector<std::pair<std::string, Shape>>;

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void add_ffn(Expected& e, const std::string& p, const ModelConfig& c, bool yoco_names) {
  const int64_t d = c.dim, h = c.hidden_dim;
  if (yoco_names) {
    e.push_back({p + "ffn.fc1.weight", {h, d}});
    e.push_back({p + "ffn.gate.weight", {h, d}});
    e.push_back({p + "ffn.fc2.weight", {d, h}});
  } else {
    e.push_back({p + "feed_forward.w1.weight", {h, d}});
    e.push_back({p + "feed_forward.w3.weight", {h, d}});
    e.push_back({p + "feed_forward.w2.weight", {d, h}});
  }
}

}  // namespace

std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelConfig& c) {
  Expected e;
  const int64_t d = c.dim, V = c.vocab_size, hd = c.head_dim();
  const int64_t H = c.n_attn_heads, KV = c.n_attn_kv_heads;
  if (c.arch == Arch::Yoco) {
    e.push_back({"embed_tokens.weight", {V, d}});
    e.push_back({"output_projection.weight", {V, d}});
    e.push_back({"layer_norm.weight", {d}});
    for (int i = 0; i < c.n_self_layers(); ++i) {
      const std::string p = "self_decoder.layers." + std::to_string(i) + ".";
      e.push_back({p + "mixer_layer_norm.weight", {d}});
      e.push_back({p + "final_layer_norm.weight", {d}});
      for (const char* n : {"q", "k", "v"}) e.push_back({p + "mixer." + n + "_proj.weight", {d, d}});
      if (c.retention()) {
        e.push_back({p + "mixer.g_proj.weight", {d, d}});
        e.push_back({p + "mixer.gt_proj.weight", {c.n_self_heads, d}});
      }
      e.push_back({p + "mixer.out_proj.weight", {d, d}});
      add_ffn(e, p, c, true);
    }
    e.push_back({"cross_decoder.kv_layer_norm.weight", {d}});
    e.push_back({"cross_decoder.k_proj.weight", {KV * hd, d}});
    e.push_back({"cross_decoder.v_proj.weight", {KV * hd, d}});
    for (int i = 0; i < c.n_cross_layers(); ++i) {
      const std::string p = "cross_decoder.layers." + std::to_string(i) + ".";
      e.push_back({p + "mixer_layer_norm.weight", {d}});
      e.push_back({p + "final_layer_norm.weight", {d}});
      e.push_back({p + "mixer.q_proj.weight", {d, d}});
      e.push_back({p + "mixer.out_proj.weight", {d, d}});
      add_ffn(e, p, c, true);
    }
  } else {
    e.push_back({"tok_embeddings.weight", {V, d}});
    e.push_back({"norm.weight", {d}});
    e.push_back({"output.weight", {V, d}});
    for (int i = 0; i < c.n_layers; ++i) {
      const std::string p = "layers." + std::to_string(i) + ".";
      const bool leader = c.arch == Arch::Transformer || i % c.cla_factor == 0;
      e.push_back({p + "attention_norm.weight", {d}});
      e.push_back({p + "ffn_norm.weight", {d}});
      if (c.arch == Arch::Cla && leader) e.push_back({p + "kv_norm.weight", {d}});
      e.push_back({p + "attention.wq.weight", {H * hd, d}});
      if (leader) {
        e.push_back({p + "attention.wk.weight", {KV * hd, d}});
        e.push_back({p + "attention.wv.weight", {KV * hd, d}});
      }
      e.push_back({p + "attention.wo.weight", {d, H * hd}});
      add_ffn(e, p, c, false);
    }
  }
  return e;
}

namespace {

// Reads tensors into f32 storage, fusing several into one row-concatenated matrix.
class Loader {
 public:
  Loader(const SafeTensors& f, ModelWeights& w, const std::map<std::string, Shape>& shapes)
      : f_(f), w_(w), shapes_(shapes) {}

  const float* vec(const std::string& name) { return fuse({name}).w; }

  Linear fuse(const std::vector<std::string>& names) {
    int64_t rows = 0, cols = -1;
    for (const auto& n : names) {
      const Shape& s = shapes_.at(n);
      rows += s[0];
      const int64_t c = s.size() > 1 ? s[1] : 1;
      YOCO_CHECK(cols < 0 || cols == c);
      cols = c;
    }
    std::vector<float> buf(static_cast<size_t>(rows * cols));
    size_t at = 0;
    for (const auto& n : names) {
      const TensorInfo& t = f_.get(n);
      std::vector<float> v = to_f32(t);
      for (size_t i = 0; i < v.size(); ++i)
        YOCO_REQUIRE(std::isfinite(v[i]), "tensor '" + n + "' holds a non-finite value at element " +
                                              std::to_string(i));
      std::memcpy(buf.data() + at, v.data(), v.size() * sizeof(float));
      at += v.size();
      w_.n_params += v.size();
    }
    w_.storage.push_back(std::move(buf));
    return Linear{w_.storage.back().data(), rows, cols};
  }

 private:
  const SafeTensors& f_;
  ModelWeights& w_;
  const std::map<std::string, Shape>& shapes_;
};

}  // namespace

ModelWeights load_weights(const ModelConfig& c, const SafeTensors& f) {
  const Expected expected = expected_tensors(c);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, shape] : expected) {
    shapes[name] = shape;
    const TensorInfo* t = f.find(name);
    YOCO_REQUIRE(t != nullptr, "missing tensor '" + name + "' (expected shape " + shape_str(shape) + ")");
    YOCO_REQUIRE(t->dtype == TensorDType::F32 || t->dtype == TensorDType::F16 || t->dtype == TensorDType::BF16,
                 "tensor '" + name + "' has dtype " + tensor_dtype_name(t->dtype) + " (expected F32, F16 or BF16)");
    YOCO_REQUIRE(t->shape == shape, "tensor '" + name + "' has shape " + shape_str(t->shape) + ", the config needs " +
                                        shape_str(shape));
  }
  for (const TensorInfo& t : f.tensors()) {
    if (shapes.count(t.name) || t.name.rfind("vision.", 0) == 0) continue;
    throw Error("unexpected tensor '" + t.name + "' for a " + std::string(arch_name(c.arch)) + " model with " +
                std::to_string(c.n_layers) + " layers");
  }

  ModelWeights w;
  w.storage.reserve(expected.size());  // pointers into storage stay valid
  Loader ld(f, w, shapes);
  auto ffn = [&](LayerWeights& l, const std::string& p, bool yoco) {
    if (yoco) {
      l.ffn_in = ld.fuse({p + "ffn.fc1.weight", p + "ffn.gate.weight"});
      l.ffn_out = ld.fuse({p + "ffn.fc2.weight"});
    } else {
      l.ffn_in = ld.fuse({p + "feed_forward.w1.weight", p + "feed_forward.w3.weight"});
      l.ffn_out = ld.fuse({p + "feed_forward.w2.weight"});
    }
  };
  if (c.arch == Arch::Yoco) {
    w.embed = ld.fuse({"embed_tokens.weight"});
    w.output = ld.fuse({"output_projection.weight"});
    w.final_norm = ld.vec("layer_norm.weight");
    for (int i = 0; i < c.n_self_layers(); ++i) {
      const std::string p = "self_decoder.layers." + std::to_string(i) + ".";
      LayerWeights l;
      l.mixer_norm = ld.vec(p + "mixer_layer_norm.weight");
      l.ffn_norm = ld.vec(p + "final_layer_norm.weight");
      if (c.retention())
        l.mixer = ld.fuse({p + "mixer.q_proj.weight", p + "mixer.k_proj.weight", p + "mixer.v_proj.weight",
                           p + "mixer.g_proj.weight", p + "mixer.gt_proj.weight"});
      else
        l.mixer = ld.fuse({p + "mixer.q_proj.weight", p + "mixer.k_proj.weight", p + "mixer.v_proj.weight"});
      l.out = ld.fuse({p + "mixer.out_proj.weight"});
      ffn(l, p, true);
      w.self_layers.push_back(l);
    }
    w.global_kv_norm = ld.vec("cross_decoder.kv_layer_norm.weight");
    w.global_kv = ld.fuse({"cross_decoder.k_proj.weight", "cross_decoder.v_proj.weight"});
    for (int i = 0; i < c.n_cross_layers(); ++i) {
      const std::string p = "cross_decoder.layers." + std::to_string(i) + ".";
      LayerWeights l;
      l.mixer_norm = ld.vec(p + "mixer_layer_norm.weight");
      l.ffn_norm = ld.vec(p + "final_layer_norm.weight");
      l.mixer = ld.fuse({p + "mixer.q_proj.weight"});
      l.out = ld.fuse({p + "mixer.out_proj.weight"});
      ffn(l, p, true);
      w.layers.push_back(l);
    }
  } else {
    w.embed = ld.fuse({"tok_embeddings.weight"});
    w.output = ld.fuse({"output.weight"});
    w.final_norm = ld.vec("norm.weight");
    for (int i = 0; i < c.n_layers; ++i) {
      const std::string p = "layers." + std::to_string(i) + ".";
      LayerWeights l;
      l.mixer_norm = ld.vec(p + "attention_norm.weight");
      l.ffn_norm = ld.vec(p + "ffn_norm.weight");
      if (c.arch == Arch::Transformer) {
        l.mixer = ld.fuse({p + "attention.wq.weight", p + "attention.wk.weight", p + "attention.wv.weight"});
      } else {
        l.mixer = ld.fuse({p + "attention.wq.weight"});
        if (i % c.cla_factor == 0) {
          l.kv_norm = ld.vec(p + "kv_norm.weight");
          l.kv = ld.fuse({p + "attention.wk.weight", p + "attention.wv.weight"});
        }
      }
      l.out = ld.fuse({p + "attention.wo.weight"});
      ffn(l, p, false);
      w.layers.push_back(l);
    }
  }
  return w;
}

}  // namespace yoco::llm

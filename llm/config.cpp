#include "llm/config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "kernels/error.h"
#include "llm/json_bounded.h"

namespace yoco::llm {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Yoco: return "yoco";
    case Arch::Transformer: return "transformer";
    case Arch::Cla: return "cla";
  }
  return "?";
}

int ModelConfig::n_kv_caches() const {
  switch (arch) {
    case Arch::Yoco: return 1;
    case Arch::Transformer: return n_layers;
    case Arch::Cla: return (n_layers + cla_factor - 1) / cla_factor;
  }
  return 0;
}

namespace {

// config.json nests a few levels (vision and stream settings); far deeper is a broken or hostile file.
constexpr int kMaxConfigDepth = 64;

int get_int(const nlohmann::json& j, const char* key, bool required, int fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    YOCO_REQUIRE(!required, std::string("config: missing field '") + key + "'");
    return fallback;
  }
  YOCO_REQUIRE(it->is_number_integer() || (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()),
               std::string("config: field '") + key + "' must be an integer");
  double v = it->get<double>();
  YOCO_REQUIRE(v >= -2147483648.0 && v <= 2147483647.0, std::string("config: field '") + key + "' out of range");
  return static_cast<int>(v);
}

float get_float(const nlohmann::json& j, const char* key, float fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  YOCO_REQUIRE(it->is_number(), std::string("config: field '") + key + "' must be a number");
  return float_field(it->get<double>(), "config: ", key);
}

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  YOCO_REQUIRE(j.is_object(), "config: expected a JSON object");
  ModelConfig c;
  c.raw = j;
  if (auto it = j.find("arch"); it != j.end() && !it->is_null()) {
    YOCO_REQUIRE(it->is_string(), "config: field 'arch' must be a string");
    const std::string a = it->get<std::string>();
    if (a == "yoco") c.arch = Arch::Yoco;
    else if (a == "transformer") c.arch = Arch::Transformer;
    else if (a == "cla") c.arch = Arch::Cla;
    else throw Error("config: unknown arch '" + a + "' (expected yoco, transformer or cla)");
  }
  c.dim = get_int(j, "dim", true, 0);
  c.n_layers = get_int(j, "n_layers", true, 0);
  c.hidden_dim = get_int(j, "hidden_dim", true, 0);
  c.n_attn_heads = get_int(j, "n_attn_heads", true, 0);
  c.n_attn_kv_heads = get_int(j, "n_attn_kv_heads", false, c.n_attn_heads);
  c.n_self_heads = get_int(j, "n_self_heads", c.arch == Arch::Yoco, c.n_attn_heads);
  c.vocab_size = get_int(j, "vocab_size", true, 0);
  c.rope_theta = get_float(j, "rope_theta", 10000.0f);
  c.norm_eps = get_float(j, "norm_eps", 1e-5f);
  c.sliding_window = get_int(j, "sliding_window", false, 0);
  c.gate_logit_normalizer = get_float(j, "gate_logit_normalizer", 16.0f);
  c.cla_factor = get_int(j, "cla_factor", false, 2);
  c.rope_style = c.arch == Arch::Yoco ? kernels::RopeStyle::Yoco : kernels::RopeStyle::Neox;
  if (auto it = j.find("rope_style"); it != j.end() && !it->is_null()) {
    YOCO_REQUIRE(it->is_string(), "config: field 'rope_style' must be a string");
    const std::string s = it->get<std::string>();
    if (s == "yoco") c.rope_style = kernels::RopeStyle::Yoco;
    else if (s == "neox") c.rope_style = kernels::RopeStyle::Neox;
    else throw Error("config: unknown rope_style '" + s + "' (expected yoco or neox)");
  }
  c.embed_scale = c.arch == Arch::Yoco;
  if (auto it = j.find("embed_scale"); it != j.end() && !it->is_null()) {
    YOCO_REQUIRE(it->is_boolean(), "config: field 'embed_scale' must be true or false");
    c.embed_scale = it->get<bool>();
  }
  if (auto it = j.find("tokenizer"); it != j.end()) c.tokenizer = *it;
  if (auto it = j.find("vision"); it != j.end()) c.vision = *it;
  if (auto it = j.find("stream"); it != j.end()) c.stream = *it;
  c.validate();
  return c;
}

void ModelConfig::validate() const {
  auto positive = [](int v, const char* name, int max) {
    YOCO_REQUIRE(v > 0 && v <= max, std::string("config: '") + name + "' = " + std::to_string(v) +
                                        " must be in 1.." + std::to_string(max));
  };
  positive(dim, "dim", 1 << 16);
  positive(n_layers, "n_layers", 1024);
  positive(hidden_dim, "hidden_dim", 1 << 18);
  positive(n_attn_heads, "n_attn_heads", 1024);
  positive(n_attn_kv_heads, "n_attn_kv_heads", 1024);
  positive(vocab_size, "vocab_size", 1 << 24);
  YOCO_REQUIRE(dim % n_attn_heads == 0, "config: dim must be divisible by n_attn_heads");
  YOCO_REQUIRE(n_attn_heads % n_attn_kv_heads == 0, "config: n_attn_heads must be a multiple of n_attn_kv_heads");
  YOCO_REQUIRE(head_dim() % 2 == 0, "config: the attention head dim (dim / n_attn_heads) must be even for RoPE");
  YOCO_REQUIRE(rope_theta > 1.0f, "config: rope_theta must be > 1");
  YOCO_REQUIRE(norm_eps > 0.0f && norm_eps < 1.0f, "config: norm_eps must be in (0, 1)");
  YOCO_REQUIRE(sliding_window >= 0, "config: sliding_window must be null or positive");
  if (arch == Arch::Yoco) {
    positive(n_self_heads, "n_self_heads", 1024);
    YOCO_REQUIRE(n_layers % 2 == 0, "config: a YOCO model needs an even n_layers (L/2 self + L/2 cross)");
    YOCO_REQUIRE(dim % n_self_heads == 0, "config: dim must be divisible by n_self_heads");
    YOCO_REQUIRE(self_head_dim() % 2 == 0, "config: the self-decoder head dim must be even for RoPE");
    YOCO_REQUIRE(gate_logit_normalizer > 0.0f, "config: gate_logit_normalizer must be positive");
  } else {
    YOCO_REQUIRE(sliding_window == 0, "config: sliding_window applies to the YOCO self-decoder only");
  }
  if (arch == Arch::Cla) positive(cla_factor, "cla_factor", n_layers);
}

ModelConfig ModelConfig::load(const std::string& path) {
  std::ifstream in(path);
  YOCO_REQUIRE(in.good(), "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return from_json(parse_json_bounded(ss.str(), kMaxConfigDepth));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = raw.is_object() ? raw : nlohmann::json::object();
  j["arch"] = arch_name(arch);
  j["dim"] = dim;
  j["n_layers"] = n_layers;
  j["hidden_dim"] = hidden_dim;
  j["n_self_heads"] = n_self_heads;
  j["n_attn_heads"] = n_attn_heads;
  j["n_attn_kv_heads"] = n_attn_kv_heads;
  j["vocab_size"] = vocab_size;
  j["rope_theta"] = rope_theta;
  j["norm_eps"] = norm_eps;
  j["sliding_window"] = sliding_window > 0 ? nlohmann::json(sliding_window) : nlohmann::json(nullptr);
  j["rope_style"] = rope_style == kernels::RopeStyle::Yoco ? "yoco" : "neox";
  j["embed_scale"] = embed_scale;
  j["gate_logit_normalizer"] = gate_logit_normalizer;
  j["cla_factor"] = cla_factor;
  return j;
}

}  // namespace yoco::llm

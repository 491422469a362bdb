#include "vision/vision_config.h"

#include <cmath>
#include <string>
#include <type_traits>

#include "kernels/error.h"
#include "llm/json_bounded.h"

namespace yoco::vision {
namespace {

int get_int(const nlohmann::json& j, const char* name) {
  YOCO_REQUIRE(j.contains(name), std::string("vision config: missing field '") + name + "'");
  const auto& v = j.at(name);
  YOCO_REQUIRE(v.is_number_integer(), std::string("vision config: field '") + name + "' must be an integer");
  const int64_t x = v.get<int64_t>();
  YOCO_REQUIRE(x >= 1 && x <= (1 << 20), std::string("vision config: field '") + name + "' out of range");
  return static_cast<int>(x);
}

// A number read into T: a float within float's range (llm::float_field), or an integer-valued number of at most
// 1e9 (get<int>() would wrap 2^32 + 10 to 10).
template <typename T>
T get_number(const nlohmann::json& v, const std::string& what) {
  YOCO_REQUIRE(v.is_number(), "vision config: field '" + what + "' must be a number");
  const double x = v.get<double>();
  if constexpr (std::is_integral_v<T>) {
    YOCO_REQUIRE(std::nearbyint(x) == x && std::fabs(x) <= 1e9,
                 "vision config: field '" + what + "' must be an integer of at most 1e9");
    return static_cast<T>(x);
  } else {
    static_assert(std::is_same_v<T, float>, "vision config numbers are int or float");
    return llm::float_field(x, "vision config: ", what);
  }
}

template <typename T>
std::array<T, 3> get_triple(const nlohmann::json& j, const char* name, std::array<T, 3> def) {
  if (!j.contains(name)) return def;
  const auto& v = j.at(name);
  YOCO_REQUIRE(v.is_array() && v.size() == 3, std::string("vision config: field '") + name + "' must be 3 numbers");
  std::array<T, 3> out{};
  for (int c = 0; c < 3; ++c) out[c] = get_number<T>(v[c], name);
  return out;
}

}  // namespace

int VisionConfig::pool_grid() const {
  int t = static_cast<int>(std::lround(std::sqrt(static_cast<double>(tokens_per_frame))));
  return t;
}

VisionConfig VisionConfig::from_json(const nlohmann::json& j) {
  YOCO_REQUIRE(j.is_object(), "config: the 'vision' block is missing or not an object");
  VisionConfig c;
  c.image_size = get_int(j, "image_size");
  c.patch_size = get_int(j, "patch_size");
  c.width = get_int(j, "width");
  c.n_layers = get_int(j, "n_layers");
  c.n_heads = get_int(j, "n_heads");
  c.mlp_dim = get_int(j, "mlp_dim");
  c.tokens_per_frame = get_int(j, "tokens_per_frame");
  c.proj_dim = get_int(j, "proj_dim");
  c.lm_dim = get_int(j, "lm_dim");
  if (j.contains("norm_eps")) c.norm_eps = get_number<float>(j["norm_eps"], "norm_eps");
  c.mean = get_triple<float>(j, "mean", c.mean);
  c.std = get_triple<float>(j, "std", c.std);
  c.pad_rgb = get_triple<int>(j, "pad_rgb", c.pad_rgb);
  if (j.contains("motion")) {
    YOCO_REQUIRE(j["motion"].is_boolean(), "vision config: field 'motion' must be true or false");
    c.motion = j["motion"].get<bool>();
  }
  c.validate();
  return c;
}

nlohmann::json VisionConfig::to_json() const {
  nlohmann::json j = {{"image_size", image_size}, {"patch_size", patch_size}, {"width", width},
                      {"n_layers", n_layers},     {"n_heads", n_heads},       {"mlp_dim", mlp_dim},
                      {"tokens_per_frame", tokens_per_frame}, {"proj_dim", proj_dim}, {"lm_dim", lm_dim},
                      {"norm_eps", norm_eps},     {"mean", mean},             {"std", std},
                      {"pad_rgb", pad_rgb}};
  if (motion) j["motion"] = true;
  return j;
}

void VisionConfig::validate() const {
  YOCO_REQUIRE(image_size >= 1 && patch_size >= 1 && image_size % patch_size == 0,
               "vision config: 'image_size' must be a positive multiple of 'patch_size'");
  YOCO_REQUIRE(image_size <= 4096, "vision config: 'image_size' must be <= 4096");
  YOCO_REQUIRE(width >= 1 && n_heads >= 1 && width % n_heads == 0,
               "vision config: 'width' must be a multiple of 'n_heads'");
  YOCO_REQUIRE(n_layers >= 0 && mlp_dim >= 1 && proj_dim >= 1 && lm_dim >= 1,
               "vision config: 'n_layers', 'mlp_dim', 'proj_dim', 'lm_dim' must be positive");
  const int t = pool_grid();
  YOCO_REQUIRE(t >= 1 && t * t == tokens_per_frame && t <= grid(),
               "vision config: 'tokens_per_frame' must be t*t with t <= image_size/patch_size (" +
                   std::to_string(grid()) + ")");
  YOCO_REQUIRE(std::isfinite(norm_eps) && norm_eps > 0, "vision config: 'norm_eps' must be positive");
  for (int c = 0; c < 3; ++c) {
    YOCO_REQUIRE(std::isfinite(mean[c]), "vision config: 'mean' must be finite");
    YOCO_REQUIRE(std::isfinite(std[c]) && std[c] > 0, "vision config: 'std' must be positive");
    YOCO_REQUIRE(pad_rgb[c] >= 0 && pad_rgb[c] <= 255, "vision config: 'pad_rgb' must be in 0..255");
  }
}

}  // namespace yoco::vision

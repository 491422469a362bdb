// The Tokenizer base (special-token matching, roles) and the factory.
#include "llm/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "kernels/error.h"

namespace yoco::llm {

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  size_t chunk = 0;  // start of the text not yet encoded
  for (size_t i = 0; i < text.size();) {
    if (first_bytes_[static_cast<unsigned char>(text[i])]) {
      const Special* hit = nullptr;
      for (uint32_t k : by_length_) {
        const Special& s = specials_[k];
        if (text.compare(i, s.text.size(), s.text) == 0) {
          hit = &s;
          break;
        }
      }
      if (hit != nullptr) {
        if (i > chunk) encode_text(text.substr(chunk, i - chunk), out);
        out.push_back(hit->id);
        i += hit->text.size();
        chunk = i;
        continue;
      }
    }
    ++i;
  }
  if (chunk < text.size()) encode_text(text.substr(chunk), out);
  return out;
}

std::vector<int32_t> Tokenizer::encode_ordinary(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  if (!text.empty()) encode_text(text, out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += decode_token(id);
  return out;
}

int32_t Tokenizer::token_id(std::string_view name) const {
  const auto it = by_text_.find(name);
  return it == by_text_.end() ? -1 : it->second;
}

bool Tokenizer::is_special(int32_t id) const {
  return by_id_.count(id) != 0;
}

const std::string* Tokenizer::special_text(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &specials_[it->second].text;
}

void Tokenizer::add_special(std::string text, int32_t id, const std::string& where) {
  YOCO_REQUIRE(!text.empty(), where + ": a special token has an empty spelling");
  YOCO_REQUIRE(id >= 0, where + ": special token '" + text + "' has a negative id");
  YOCO_REQUIRE(!by_text_.count(text), where + ": special token '" + text + "' is defined twice");
  YOCO_REQUIRE(!by_id_.count(id), where + ": special tokens '" + text + "' and '" + *special_text(id) +
                                      "' share id " + std::to_string(id));
  const auto index = static_cast<uint32_t>(specials_.size());
  first_bytes_[static_cast<unsigned char>(text[0])] = true;
  by_text_.emplace(text, id);
  by_id_.emplace(id, index);
  specials_.push_back({std::move(text), id});
  by_length_.push_back(index);
  std::stable_sort(by_length_.begin(), by_length_.end(), [this](uint32_t a, uint32_t b) {
    return specials_[a].text.size() > specials_[b].text.size();
  });
}

void Tokenizer::resolve_roles(const nlohmann::json& config, const std::string& where, const char* bos,
                              const char* eos, const char* pad, const char* unk) {
  auto role = [&](const char* key, const char* fallback) -> int32_t {
    std::string name;
    if (config.is_object() && config.contains(key) && !config[key].is_null()) {
      YOCO_REQUIRE(config[key].is_string(),
                   where + ": tokenizer key '" + key + "' must name a special token");
      name = config[key].get<std::string>();
    } else if (fallback != nullptr) {
      name = fallback;
      if (token_id(name) < 0) return -1;  // a default the file does not define
    } else {
      return -1;
    }
    const int32_t id = token_id(name);
    YOCO_REQUIRE(id >= 0,
                 where + ": tokenizer key '" + key + "' names '" + name + "', which is no special token");
    return id;
  };
  bos_ = role("bos", bos);
  eos_ = role("eos", eos);
  pad_ = role("pad", pad);
  unk_ = role("unk", unk);
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir, const nlohmann::json& config) {
  YOCO_REQUIRE(config.is_object(), std::string("config.json: 'tokenizer' must be an object, got ") + config.type_name());
  YOCO_REQUIRE(config.contains("type") && config["type"].is_string(),
               "config.json: 'tokenizer' needs a string 'type' (byte, tiktoken or hf)");
  const std::string type = config["type"].get<std::string>();
  auto file = [&]() {
    YOCO_REQUIRE(config.contains("file") && config["file"].is_string(),
                 "config.json: tokenizer type '" + type + "' needs a string 'file'");
    return (std::filesystem::path(model_dir) / config["file"].get<std::string>()).string();
  };
  if (type == "byte") {
    std::vector<std::string> specials;
    if (config.contains("specials")) {
      const auto& s = config["specials"];
      YOCO_REQUIRE(s.is_array(), "config.json: tokenizer 'specials' must be an array of strings");
      for (const auto& v : s) {
        YOCO_REQUIRE(v.is_string(), "config.json: tokenizer 'specials' must be an array of strings");
        specials.push_back(v.get<std::string>());
      }
    }
    return make_byte_tokenizer(specials);
  }
  if (type == "tiktoken") return load_tiktoken_tokenizer(file(), config);
  if (type == "hf") return load_hf_tokenizer(file(), config);
  throw Error("config.json: unknown tokenizer type '" + type + "' (expected byte, tiktoken or hf)");
}

}  // namespace yoco::llm

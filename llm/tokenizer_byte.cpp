// The byte-level tokenizer of our own models: <s> <pad> </s> <unk> at ids 0..3, byte b at id 4 + b, then the
// configured specials (<frame>, <image>, ...) from id 260 in the order given.
#include <memory>

#include "kernels/error.h"
#include "llm/tokenizer.h"

namespace yoco::llm {

namespace {

constexpr int32_t kByteOffset = 4;
constexpr int32_t kFirstExtra = kByteOffset + 256;

class ByteTokenizer final : public Tokenizer {
 public:
  explicit ByteTokenizer(const std::vector<std::string>& extra) {
    const std::string where = "byte tokenizer";
    add_special("<s>", 0, where);
    add_special("<pad>", 1, where);
    add_special("</s>", 2, where);
    add_special("<unk>", 3, where);
    int32_t id = kFirstExtra;
    for (const std::string& s : extra) add_special(s, id++, where);
    vocab_ = id;
    resolve_roles(nlohmann::json::object(), where, "<s>", "</s>", "<pad>", "<unk>");
  }

  std::string decode_token(int32_t id) const override {
    if (id >= kByteOffset && id < kFirstExtra) return std::string(1, static_cast<char>(id - kByteOffset));
    if (const std::string* s = special_text(id)) return *s;
    throw Error("token id " + std::to_string(id) + " is outside the byte tokenizer's vocabulary [0, " +
                std::to_string(vocab_) + ")");
  }

  int32_t vocab_size() const override { return vocab_; }

 protected:
  void encode_text(std::string_view text, std::vector<int32_t>& out) const override {
    for (char c : text) out.push_back(kByteOffset + static_cast<unsigned char>(c));
  }

 private:
  int32_t vocab_ = 0;
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer(const std::vector<std::string>& specials) {
  return std::make_unique<ByteTokenizer>(specials);
}

}  // namespace yoco::llm

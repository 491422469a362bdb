#include "pipeline/instruction.h"

#include <cctype>
#include <regex>

#include "kernels/error.h"

namespace yoco::pipeline {

const char* instruction_kind_name(Instruction::Kind k) { return k == Instruction::Kind::kCaption ? "caption" : "alert"; }

Instruction parse_instruction(const std::string& text) {
  Instruction ins;
  ins.text = text;
  bool blank = true;
  for (char c : text) blank = blank && std::isspace(static_cast<unsigned char>(c));
  YOCO_REQUIRE(!blank, "an instruction needs some text");
  static const std::regex every(R"(every\s+([0-9]+(?:\.[0-9]+)?)\s*(s|sec|secs|second|seconds|m|min|minutes?)\b)",
                                std::regex::icase);
  std::smatch m;
  if (std::regex_search(text, m, every)) {
    ins.kind = Instruction::Kind::kCaption;
    ins.every = std::stod(m[1].str());
    const char u = static_cast<char>(std::tolower(static_cast<unsigned char>(m[2].str()[0])));
    if (u == 'm') ins.every *= 60.0;
    YOCO_REQUIRE(ins.every > 0.0, "an instruction's period must be > 0 s");
    ins.prompt = kDefaultCaptionPrompt;
  } else {
    ins.kind = Instruction::Kind::kAlert;
    ins.prompt = text;
  }
  return ins;
}

bool answer_is_yes(const std::string& answer) {
  size_t i = 0;
  while (i < answer.size() && std::isspace(static_cast<unsigned char>(answer[i]))) ++i;
  if (answer.size() - i < 3) return false;
  std::string w = answer.substr(i, 3);
  for (auto& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return w == "yes";
}

}  // namespace yoco::pipeline

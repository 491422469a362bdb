// Helpers shared by the llm tests: deterministic random token ids, logits copied out of a session's span,
// bitwise equality of float vectors.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

namespace yoco::llm::testutil {

inline std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

inline std::vector<float> copy(std::span<const float> s) { return {s.begin(), s.end()}; }

inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace yoco::llm::testutil

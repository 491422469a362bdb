#include "pipeline/caption_items.h"

#include <vector>

namespace yoco::pipeline {

namespace {

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<double> parse_clock_time(std::string_view s) {
  std::vector<long long> parts;
  long long cur = -1;
  int digits = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      if (digits >= 6) return std::nullopt;
      cur = (cur < 0 ? 0 : cur) * 10 + (c - '0');
      ++digits;
    } else if (c == ':') {
      if (cur < 0) return std::nullopt;
      parts.push_back(cur);
      cur = -1;
      digits = 0;
    } else {
      return std::nullopt;
    }
  }
  if (cur < 0) return std::nullopt;
  parts.push_back(cur);
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  for (size_t i = 1; i < parts.size(); ++i)
    if (parts[i] >= 60) return std::nullopt;
  double t = 0;
  for (long long p : parts) t = t * 60 + static_cast<double>(p);
  return t;
}

std::optional<double> item_time(std::string_view item) {
  item = trim(item);
  std::string_view word = item.substr(0, item.find(' '));
  if (word.size() >= 2 && word.front() == '[' && word.back() == ']') word = word.substr(1, word.size() - 2);
  return parse_clock_time(word);
}

StrayFilter drop_stray_items(const std::string& caption, double from, double to, double slack) {
  StrayFilter out;
  std::string kept;
  size_t pos = 0;
  while (pos <= caption.size()) {
    size_t semi = caption.find(';', pos);
    if (semi == std::string::npos) semi = caption.size();
    const std::string_view piece = trim(std::string_view(caption).substr(pos, semi - pos));
    pos = semi + 1;
    if (piece.empty()) continue;
    if (const auto t = item_time(piece)) {
      if (*t < from - slack || *t > to + slack) {
        ++out.dropped;
        continue;
      }
      ++out.kept;
    }
    if (!kept.empty()) kept += "; ";
    kept += piece;
  }
  out.text = out.dropped > 0 ? kept : caption;
  return out;
}

}  // namespace yoco::pipeline

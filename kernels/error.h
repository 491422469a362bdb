// Recoverable errors: the one exception type the library throws for bad input, bad files and exhausted
// budgets. The library boundary (apps/, the service) catches it and turns it into a one-line message.
// Invariants that cannot fail on any input are YOCO_CHECKed (always on) and abort with file:line.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace yoco {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

[[noreturn]] inline void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "yoco: internal check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace yoco

// Always-on check for states that cannot happen whatever the input (a bug if it fires).
#define YOCO_CHECK(cond) \
  do {                   \
    if (!(cond)) ::yoco::check_failed(#cond, __FILE__, __LINE__); \
  } while (0)

// Recoverable: throws yoco::Error with the message (a std::string expression).
#define YOCO_REQUIRE(cond, msg)                \
  do {                                         \
    if (!(cond)) throw ::yoco::Error(msg);     \
  } while (0)

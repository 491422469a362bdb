#include "pipeline/frame.h"

#include <chrono>

namespace yoco::pipeline {

double wall_clock_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace yoco::pipeline

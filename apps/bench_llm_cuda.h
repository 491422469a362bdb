// `yoco bench llm --device cuda` (apps/bench_llm_cuda.cpp), linked only when the CUDA backend is built
// (YOCO_APP_HAVE_CUDA); apps/bench_llm.cpp dispatches to it.
#pragma once

#include <string>
#include <vector>

namespace yoco::app {

int run_bench_llm_cuda(const std::vector<std::string>& args);

}  // namespace yoco::app

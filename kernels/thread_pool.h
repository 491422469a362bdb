// The kernel thread pool: a fixed set of workers that split loops over ranges.
// Thread safety: parallel_for may be called from any thread; calls are serialised (one loop at a time),
// so a kernel must not call parallel_for from inside a task. The pool size defaults to the number of
// online cores (YOCO_THREADS overrides it).
#pragma once

#include <cstdint>
#include <functional>

namespace yoco::kernels {

int num_threads();
void set_num_threads(int n);
// Calls fn(begin, end, thread_index) over [0, n) split into contiguous ranges of at least `grain` items.
// Runs inline when the loop is too small to be worth splitting.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

}  // namespace yoco::kernels

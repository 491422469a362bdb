#include "pipeline/thread_priority.h"

#include <algorithm>
#include <cerrno>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace yoco::pipeline {

int thread_nice() {
#ifdef __linux__
  // Linux keeps a nice value per thread; PRIO_PROCESS with a thread id addresses that thread alone.
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, tid);
  return (nice == -1 && errno != 0) ? -100 : nice;
#else
  return -100;
#endif
}

int lower_thread_priority(int increment) {
#ifdef __linux__
  if (increment <= 0) return thread_nice();
  const int now = thread_nice();
  if (now == -100) return -100;
  const int target = std::min(19, now + increment);
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  if (setpriority(PRIO_PROCESS, tid, target) != 0) return -100;
  return thread_nice();
#else
  (void)increment;
  return -100;
#endif
}

}  // namespace yoco::pipeline

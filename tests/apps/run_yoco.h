// Runs build/bin/yoco as a child process for the CLI contract tests: exit code and combined stdout/stderr.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace yoco::test {

struct CommandResult {
  int rc = -1;  // exit status; -1 when the process did not exit normally (crash, signal)
  std::string out;
};

inline CommandResult run_yoco(const std::string& args) {
  CommandResult r;
  FILE* p = popen((std::string(YOCO_BIN_DIR) + "/yoco " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace yoco::test

// Child processes for `yoco bench soak` (apps/bench_soak.cpp): the service and the bus publishers run as real
// processes, so that a crash is an exit status and "killing a source" is a SIGKILL, not a simulation.
//
// Header-only on purpose: apps/CMakeLists.txt globs apps/*.cpp only, and these helpers serve one program.
// Thread safety: a ChildProcess is owned by one thread; wait_for()/poll_exit() must not race with each other.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kernels/error.h"

extern char** environ;

namespace yoco::app::soak {

// The path of the running executable (build/bin/yoco): the service and the publishers are this same program.
inline std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  YOCO_REQUIRE(n > 0, "cannot find the yoco binary (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

// A loopback TCP port that was free a moment ago (the usual bind-to-0 race is acceptable for a test program).
inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  YOCO_REQUIRE(fd >= 0, "socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  YOCO_REQUIRE(ok, "cannot find a free loopback port");
  return ntohs(a.sin_port);
}

// How a child ended, in words: "exit 0", "exit 23", "signal 11 (Segmentation fault)".
inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "status " + std::to_string(status);
}

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (running()) {
      kill(pid_, SIGKILL);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
    if (err_fd_ >= 0) close(err_fd_);
  }

  // Starts argv[0] with argv; stdout goes to /dev/null; stderr to a pipe read with read_stderr_line() when
  // capture_stderr, else inherited.
  void start(const std::vector<std::string>& argv, bool capture_stderr) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int pipefd[2] = {-1, -1};
    if (capture_stderr) {
      YOCO_REQUIRE(pipe(pipefd) == 0, "pipe() failed");
      posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
      posix_spawn_file_actions_addclose(&fa, pipefd[0]);
      posix_spawn_file_actions_addclose(&fa, pipefd[1]);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (capture_stderr) {
      close(pipefd[1]);
      err_fd_ = pipefd[0];
    }
    YOCO_REQUIRE(rc == 0, "cannot start " + argv[0] + ": " + std::strerror(rc));
    exited_ = false;
  }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exited_; }
  int status() const { return status_; }

  // One line of the child's stderr (without the newline); nullopt at end of file.
  std::optional<std::string> read_stderr_line() {
    std::string line;
    char c;
    for (;;) {
      const ssize_t n = read(err_fd_, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return line.empty() ? std::nullopt : std::optional<std::string>(line);
      if (c == '\n') return line;
      line += c;
    }
  }

  // Non-blocking: true (and status() set) once the child has ended.
  bool poll_exit() {
    if (!running()) return pid_ > 0;
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = st;
      return true;
    }
    return false;
  }

  // Waits up to `seconds` for the child to end; false when it is still running (a hang).
  bool wait_for(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!poll_exit()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  void signal(int sig) {
    if (running()) kill(pid_, sig);
  }

 private:
  pid_t pid_ = -1;
  int err_fd_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

// Resident memory of a process in bytes, from /proc/PID/status: VmRSS = RssAnon + RssFile + RssShmem. Anonymous
// memory is what a leak grows; file-backed pages (the spill policy's mapped files) are reclaimable page cache.
struct Rss {
  size_t total = 0, anon = 0, file = 0;
};
inline Rss rss_of(pid_t pid) {
  Rss r;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  auto kib = [&](size_t off) { return static_cast<size_t>(std::stoull(line.substr(off))) * 1024; };
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.total = kib(6);
    else if (line.rfind("RssAnon:", 0) == 0) r.anon = kib(8);
    else if (line.rfind("RssFile:", 0) == 0) r.file = kib(8);
  }
  return r;
}

}  // namespace yoco::app::soak

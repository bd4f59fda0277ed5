#include "pace.h"

#include <time.h>

#include <cassert>

namespace forklab {

namespace {
std::uint64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace

std::uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t BurnCpu(int us) {
  assert(us > 0);
  const std::uint64_t start = ThreadCpuNs();
  const std::uint64_t want = static_cast<std::uint64_t>(us) * 1000u;
  std::uint64_t used = 0;
  for (;;) {
    // Spin in user space for what is left, on CLOCK_MONOTONIC (the vDSO: no system call), then
    // ask the CPU-time clock (a system call) how much of that the thread really ran; time spent
    // preempted is burned again. The interpreter's work is user-space computation, which the
    // scheduler preempts only on a tick or a wakeup; a spin made of CPU-clock system calls would
    // offer it a preemption point every few microseconds instead.
    const std::uint64_t until = MonotonicNs() + (want - used);
    while (MonotonicNs() < until) {
    }
    used = ThreadCpuNs() - start;
    if (used >= want) return used;
  }
}

}  // namespace forklab

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

std::uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}
// Two monotonic reads in a row take about 50 ns; a step longer than this means the thread was off
// the CPU in between.
constexpr std::uint64_t kRunningStepNs = 2000;
}  // namespace

std::uint64_t BurnCpu(int us) {
  assert(us > 0);
  const std::uint64_t want = static_cast<std::uint64_t>(us) * 1000u;
  if (us <= kWallTimedBurnUs) {
    // Short burns spin on CLOCK_MONOTONIC alone: reading the thread CPU clock is a system call
    // (1.6 µs on the lab's VM when quiet, about 4 µs under load; the vDSO's monotonic clock takes
    // 43 ns), and the CPU-timed spin overshot a 3 µs burn to 5.6 µs of CPU and a 9 µs one to 11.9
    // (measured with getrusage over 100,000 burns; this spin: 3.2 and 9.5). Only the small steps
    // between two reads count: a longer one is time the thread did not run (a preemption, which
    // a worker spending most of its time in short burns meets often, or an interrupt).
    std::uint64_t burned = 0;
    std::uint64_t prev = MonotonicNs();
    while (burned < want) {
      const std::uint64_t now = MonotonicNs();
      if (now - prev <= kRunningStepNs) burned += now - prev;
      prev = now;
    }
    return burned;
  }
  const std::uint64_t start = ThreadCpuNs();
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

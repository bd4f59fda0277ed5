#include "pace.h"

#include <time.h>

#include <cassert>

namespace forklab {

namespace {
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

// A burn spins on CLOCK_MONOTONIC (the vDSO, 43 ns a read: no system call) and counts only the
// small steps between two reads: a longer step is time the thread did not run (a preemption, or an
// interrupt), which a preempted interpreter would still owe, so the burn goes on until the steps
// add up to the cost.
//
// No system call at all, because the interpreter's work is user-space computation and makes none.
// Burns used to be checked against CLOCK_THREAD_CPUTIME_ID (two system calls per burn over 20 µs):
// likely because each read updates the scheduler's account of the running task, so that a task
// past its slice is switched out at once instead of at the next tick (4 ms here; not traced in the
// kernel). What was measured, N = 2 pre-fork under
// wrk churn: wrk got a CPU 10,100 times in 3 s against those workers, 8,150–8,280 times against
// these and 6,259 against real Tornado 4.5.3, and the share of connections whose request was not
// there when read after the accept went from 0–0.1 % to 7.2–7.5 % (real Tornado 4.5.3: 4.5–6.8 %).
// The CPU-clock check also overshot short burns (a 3 µs burn to 5.6 µs of CPU; this spin: 3.2).
std::uint64_t BurnCpu(int us) {
  assert(us > 0);
  const std::uint64_t want = static_cast<std::uint64_t>(us) * 1000u;
  std::uint64_t burned = 0;
  std::uint64_t prev = MonotonicNs();
  while (burned < want) {
    const std::uint64_t now = MonotonicNs();
    if (now - prev <= kRunningStepNs) burned += now - prev;
    prev = now;
  }
  return burned;
}

}  // namespace forklab

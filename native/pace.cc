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

std::uint64_t BurnCpu(int us) {
  assert(us > 0);
  const std::uint64_t start = ThreadCpuNs();
  const std::uint64_t want = static_cast<std::uint64_t>(us) * 1000u;
  std::uint64_t now = start;
  // Each clock_gettime of a CPU-time clock is itself CPU time of this thread, so the loop body
  // needs nothing else; the burn overshoots by at most one call (well under a microsecond).
  while (now - start < want) now = ThreadCpuNs();
  return now - start;
}

}  // namespace forklab

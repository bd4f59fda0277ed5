#include "pace.h"

#include <sched.h>
#include <time.h>

#include <array>
#include <cassert>
#include <memory>
#include <utility>
#include <vector>

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

// The work burn (--pace-burn work; the presets burn for time). An interpreter's cost is not a
// fixed time: CPython runs a large body of code (the eval loop and the object code it calls)
// through indirect jumps over a working set of its own, so it slows when more workers than CPUs
// take turns and each finds the caches filled by the others, and when another tenant shares the
// core. A burn that spins for a fixed time slows for none of it. The work burn runs that shape
// instead: kWorkOps distinct small functions (about 200 KB of code) called in a pseudo-random
// order through a table, each reading and writing a random word of a kWorkHeapWords heap.
// The footprint was chosen by what it did in one paced worker under wrk churn (the time the work
// ran ÷ its costs' time, pace_us ÷ pace_cost_us), 2026-11-27 on the 2-CPU VM: 1024 functions and
// 256 KB ran 0.96–1.02× with one worker and 0.97–0.98× with four (no growth: Python's CPU per churn
// request grows 1.1–1.5× from one worker to four here); 4096 and 2 MB ran 1.19–1.26× already with
// one; 2048 and 1 MB ran 0.94–0.95× with one and 1.18–1.26× with four.
namespace {

constexpr std::size_t kWorkOps = 2048;
constexpr std::size_t kWorkHeapWords = std::size_t{1} << 17;  // 1 MB
constexpr std::uint64_t kHeapMask = kWorkHeapWords - 1;
// The clock is read every this many units (≈0.2 µs of work); a step longer than kWorkStepNs
// between two reads is time the thread did not run. Longer than the timed burn's bound, as eight
// units that miss every cache after a switch can take a few microseconds.
constexpr std::uint64_t kUnitsPerClockRead = 8;
constexpr std::uint64_t kWorkStepNs = 20000;

constexpr std::uint64_t Mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <std::size_t I>
[[gnu::noinline]] std::uint64_t WorkOp(std::uint64_t x, std::uint64_t* heap) {
  constexpr std::uint64_t m = Mix(I);
  constexpr unsigned kShift = 1 + static_cast<unsigned>(m % 61);
  constexpr std::uint64_t kMul = (m >> 8) | 1u;
  constexpr std::uint64_t kOff = 3 + (m >> 20) % 97;
  const std::uint64_t j = (x * kMul) & kHeapMask;
  if constexpr (I % 3 == 0) {
    heap[j] += x >> kShift;
  } else if constexpr (I % 3 == 1) {
    heap[j] ^= x >> kShift;
  } else {
    heap[j] -= x >> kShift;
  }
  x = (x ^ heap[(j + kOff) & kHeapMask]) * (2 * kOff + 1);
  if (x & (std::uint64_t{1} << (I % 13))) {
    x ^= kMul;
  } else {
    x += kOff;
  }
  return x;
}

using WorkFn = std::uint64_t (*)(std::uint64_t, std::uint64_t*);

template <std::size_t... I>
constexpr std::array<WorkFn, sizeof...(I)> WorkTable(std::index_sequence<I...>) {
  return {{&WorkOp<I>...}};
}

const std::array<WorkFn, kWorkOps> kWork = WorkTable(std::make_index_sequence<kWorkOps>{});

// Per process: a worker allocates its own heap on its first burn (never the supervisor's pages).
std::unique_ptr<std::uint64_t[]> g_heap;
std::uint64_t g_x = 1;
std::uint64_t g_rng = 0x2545F4914F6CDD1Dull;
double g_work_per_us = 0;
volatile std::uint64_t g_sink = 0;

std::uint64_t* Heap() {
  if (!g_heap) {
    g_heap.reset(new std::uint64_t[kWorkHeapWords]);
    for (std::size_t i = 0; i < kWorkHeapWords; ++i) g_heap[i] = Mix(i);
  }
  return g_heap.get();
}

}  // namespace

std::uint64_t BurnWork(std::uint64_t units) {
  std::uint64_t* heap = Heap();
  std::uint64_t x = g_x, r = g_rng, ran = 0;
  std::uint64_t prev = MonotonicNs();
  while (units > 0) {
    const std::uint64_t n = units < kUnitsPerClockRead ? units : kUnitsPerClockRead;
    for (std::uint64_t i = 0; i < n; ++i) {
      r ^= r << 13;
      r ^= r >> 7;
      r ^= r << 17;
      x = kWork[r & (kWorkOps - 1)](x + r, heap);
    }
    units -= n;
    const std::uint64_t now = MonotonicNs();
    if (now - prev <= kWorkStepNs) ran += now - prev;
    prev = now;
  }
  g_x = x;
  g_rng = r;
  g_sink = x;
  return ran;
}

double MeasureWorkRate(int tries) {
  assert(tries > 0);
  constexpr std::uint64_t kUnits = 200000;
  BurnWork(kUnits);  // the heap allocated and touched, the code paged in
  double best_ns = 0;
  for (int t = 0; t < tries; ++t) {
    timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    BurnWork(kUnits);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    const double ns = static_cast<double>(b.tv_sec - a.tv_sec) * 1e9 +
                      static_cast<double>(b.tv_nsec - a.tv_nsec);
    if (t == 0 || ns < best_ns) best_ns = ns;
  }
  return static_cast<double>(kUnits) * 1000.0 / best_ns;
}

void SetWorkBurn(double work_per_us) { g_work_per_us = work_per_us > 0 ? work_per_us : 0; }

namespace {
std::array<int, kMaxPaceCpus> g_cpu_pct{};
bool g_cpu_scaled = false;
}  // namespace

void SetCpuScale(const std::vector<int>& pct) {
  assert(pct.size() <= kMaxPaceCpus);
  g_cpu_scaled = !pct.empty();
  g_cpu_pct.fill(100);
  for (std::size_t i = 0; i < pct.size(); ++i) {
    assert(pct[i] >= kMinCpuPct && pct[i] <= kMaxCpuPct);
    g_cpu_pct[i] = pct[i];
  }
}

int CpuScaled(int us) {
  if (!g_cpu_scaled) return us;
  const int cpu = sched_getcpu();
  if (cpu < 0 || cpu >= kMaxPaceCpus) return us;
  return static_cast<int>((static_cast<std::int64_t>(us) * g_cpu_pct[cpu] + 50) / 100);
}

double WorkBurnRate() { return g_work_per_us; }

}  // namespace forklab

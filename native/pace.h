// The pace model: the engine spends CPU where the framework it models spends it, so that its
// throughput, its spread of connections over the workers and its KeyError counts are the
// framework's, not those of a C++ loop that is 30–50× faster.
//
// Each cost is CPU time a worker burns at one place of the loop (see PaceCosts), not wall time: the
// interpreter's cost of handling a request is CPU time, and on a loaded machine a preempted Python
// worker still needs all of it. A spin that counted the time the worker sat preempted as work done
// would burn less CPU than the interpreter, exactly when the machine is busiest (which is when the
// lab measures). The burn makes no system call, as the interpreter's computation makes none
// (pace.cc: what a CPU-clock check did to the scheduling).
// Every burn is counted in the worker's slot (pace_us, pace_burns), so the time is visible and is
// never taken for the engine's own cost.
#pragma once

#include <cstdint>
#include <vector>

#include "counters.h"

namespace forklab {

// The largest cost a setting may ask for: 100 ms of CPU per occurrence.
constexpr int kMaxPaceUs = 100000;
// The largest work rate a setting may give (units per µs; about 50 on the 2-CPU VM).
constexpr int kMaxWorkPerUs = 10000;
// The most CPUs a per-CPU scale may name, and the bounds of one CPU's scale in percent.
constexpr int kMaxPaceCpus = 256;
constexpr int kMinCpuPct = 10;
constexpr int kMaxCpuPct = 1000;

// Microseconds of CPU per occurrence; 0 = no burn (the native engine).
struct PaceCosts {
  // Once per worker, on its first connection accepted: the connection path's share of a forked
  // interpreter's cold start. A forked worker's first connection runs code paths the parent never
  // ran, and every object it touches is written (reference counts, specialisation), so each
  // touched page is copied. Tornado 4.5.3 spends 8–12 ms of CPU on a first connection closed
  // without a request (accept, IOStream, HTTP connection, close: wrk's first connection, which
  // only checks the address), against ~0.5 ms once warm (scripts/calibrate/cold_start.py).
  // Burned in the accept loop before the accept cost, so that while the first workers awake sit
  // in it, a burst of connections goes to whichever comes out first, as in a real pre-forked
  // Tornado.
  int cold_us = 0;
  // Once per worker, on its first request answered: the request path's share of the cold start
  // (parsing, routing, the handler and the response write run for the first time: another 8–12 ms
  // for Tornado 4.5.3). Burned with that request's cost. A worker whose first connection was wrk's
  // address check has paid only cold_us when the load's burst arrives.
  int cold_request_us = 0;
  // Per connection accepted, before its first read: the socket object and the IOStream (Tornado
  // 4.5.3: from TCPServer._handle_connection to the first IOStream.read_from_fd). Tornado runs it
  // inside its accept loop, between two accept calls.
  int accept_us = 0;
  // Per connection, with its first request, before that response's send: the rest of what a
  // connection costs the framework beyond a keep-alive request (Tornado 4.5.3: the
  // HTTP1ServerConnection and its request loop, the first HTTP1Connection: what the first read to
  // the close costs beyond a keep-alive request's read to its send). Burned with the request's
  // cost.
  int first_request_us = 0;
  // Per connection whose read after the accept would block, when it goes into epoll: what the
  // framework does to wait for the request instead of answering it (Tornado 4.5.3: after the recv's
  // EAGAIN, IOStream._add_io_state and IOLoop.add_handler, the request coroutines suspending on
  // their futures; timed from the empty read to TCPServer._handle_connection's return by
  // bench/tornado45/server.py TORNADO45_PHASES). Burned right after the epoll_ctl(ADD), in the
  // accept loop, so that a worker that catches up with its clients takes their fresh connections
  // no faster than the framework does. The figures: README, "A connection whose request has not
  // come".
  int register_us = 0;
  // Per connection closed, after its close(): the rest of the connection's life in the framework
  // (the stream's close callbacks, the request coroutine's end, the accept loop's way back to its
  // next accept) beyond what a keep-alive request spends after its send: 0 in every calibration so
  // far, as real Tornado 4.5.3 spends no more there than a keep-alive request does after its send.
  // accept_us, first_request_us and close_us split the connection's cost as the calibration timed
  // Tornado 4.5.3's phases (bench/tornado45/server.py TORNADO45_PHASES); the figures: README,
  // "Where a connection's cost goes".
  int close_us = 0;
  // Per request parsed and answered: header parsing, routing, the handler, up to the response's
  // send. Burned before the response is written.
  int request_us = 0;
  // Per request answered, after its response is sent: what the framework does between the send
  // and its next read of the connection. Tornado 4.5.3: the rest of RequestHandler.finish, the
  // request coroutines' ends, gen.moment's pass, the next HTTP1Connection and read_until_regex up
  // to the recv, 52 µs of CPU in a worker with one keep-alive client, against 74 µs from the
  // request's read to the send (scripts/calibrate/send_to_read.py). A client that answers within
  // that time has its next request waiting when the worker reads: Tornado found it there in 98 %
  // of its reads; the engine with all of the cost before the send read microseconds after the
  // answer and found nothing in 99 %. Burned right after the send, or after the close when the
  // connection closes with its answer (Tornado's _finish_request closes before the rest).
  int request_after_us = 0;
  // Per event dispatched to a handler: one pass of the loop's Python around the call.
  int event_us = 0;
  // tornado4, per KeyError: the exception, its traceback and the log line logging.error writes.
  int keyerror_us = 0;
  // asyncio, per event skipped for an unknown fd: selectors' lookup and the pass it costs.
  int skip_us = 0;
  // CPython's cyclic garbage collector, as a churned connection sets it off (CycleCollector below):
  // a young collection every gc_every connections accepted (0: none), and now and then, as
  // CPython's thresholds decide, a middle or a full one instead. Their costs are the mean CPU
  // Tornado's collections of each generation took (gc.callbacks, scripts/calibrate), taken out of
  // the connection's cost, which the calibration measures as a mean: burned in lumps as Python
  // does, a full collection stalls the worker for milliseconds while its siblings go on. The
  // figures: README, "Python's collector".
  int gc_every = 0;
  int gc_young_us = 0;
  int gc_middle_us = 0;
  int gc_full_us = 0;
  // Read a new connection before registering it with epoll, as Tornado's IOStream does
  // (_try_inline_read): the fd is registered only when the first read would block.
  bool inline_read = false;
  // Answer a request read in an event handler from the loop's callbacks on the next pass, as
  // Tornado's coroutines do (the handler resolves a future; the coroutine resumes later).
  bool defer_answer = false;
  // Tornado 4.5's request loop (HTTP1ServerConnection._server_request_loop): after an answer the
  // connection's coroutine takes its next request by an inline read (IOStream._try_inline_read)
  // on a later pass, not from an epoll event: one pass for `yield gen.moment` after each request,
  // plus one for the read_response future when the answer itself ran from a callback. Meanwhile
  // the fd stays registered for reading; an event then reads into the stream's buffer and turns
  // reading off (IOStream._handle_events: state ERROR while the buffer holds data). Each inline
  // read costs event_us (the interpreter's recv and buffer scan, as the event path's).
  bool next_read_inline = false;
  // How a cost is burned. 0: for its time (BurnCpu). Above 0: as work shaped like an interpreter's
  // (BurnWork), this many work units per microsecond of cost, the rate the calibration measured
  // beside its Python timings. Work slows where the interpreter slows (a CPU shared with another
  // tenant, caches refilled after every switch between more workers than CPUs); a timed burn
  // does not.
  double work_per_us = 0;
  // Per CPU (by number): every cost burned on that CPU × this ÷ 100, on top of the costs above; empty
  // = the same on every CPU. A machine whose CPUs run the interpreter at different speeds (this
  // lab's VM runs Python up to 1.6× slower on one vCPU at times, and real Tornado follows it)
  // slows a worker while it runs on the slow one; a timed burn takes the same time everywhere.
  // Looked up at each burn by the CPU the worker runs on then (sched_getcpu). Timed burns only:
  // the work burn slows on a slow CPU by itself.
  std::vector<int> cpu_pct;
};

// CPython's choice of generation (Modules/gcmodule.c collect_generations, thresholds (700, 10, 10)
// as gc.get_threshold() gives them): a collection is due when the young generation's allocations
// pass 700, which Tornado's churned connections do about every gc_every connections (their
// objects form reference cycles; a keep-alive request leaves none). It collects the oldest
// generation whose count passed its threshold: the middle one's count is the young collections
// since it was last collected, the full one's the middle collections since then. (3.11 also
// skips a full collection while the objects promoted since the last one are under a quarter of
// those that survived it; under churn they are not: Tornado 4.5.3's collections come about 11
// young to a middle one and 11 middle to a full one, README "Python's collector".)
class CycleCollector {
 public:
  static constexpr int kMiddleThreshold = 10;  // gc.get_threshold()[1]
  static constexpr int kFullThreshold = 10;    // gc.get_threshold()[2]
  enum Generation { kNone = -1, kYoung = 0, kMiddle = 1, kFull = 2 };

  // One connection accepted; the generation it sets a collection off in, or kNone.
  Generation OnConnection(int every) {
    if (every <= 0 || ++since_ < every) return kNone;
    since_ = 0;
    if (middle_count_ > kFullThreshold) {
      young_count_ = middle_count_ = 0;
      return kFull;
    }
    if (young_count_ > kMiddleThreshold) {
      young_count_ = 0;
      ++middle_count_;
      return kMiddle;
    }
    ++young_count_;
    return kYoung;
  }

  static int Cost(const PaceCosts& p, Generation g) {
    switch (g) {
      case kYoung:
        return p.gc_young_us;
      case kMiddle:
        return p.gc_middle_us;
      case kFull:
        return p.gc_full_us;
      case kNone:
        break;
    }
    return 0;
  }

 private:
  int since_ = 0;        // connections since the last collection
  int young_count_ = 0;  // young collections since the last middle or full one
  int middle_count_ = 0;  // middle collections since the last full one
};

// Spins until this thread has run `us` more microseconds; returns the nanoseconds it counted as
// run (≥ us × 1000).
std::uint64_t BurnCpu(int us);

// Runs `units` work units (see pace.cc) and returns the nanoseconds the thread ran meanwhile.
std::uint64_t BurnWork(std::uint64_t units);

// Work units per microsecond on this CPU now: the best of `tries` timed runs of about 5 ms each.
double MeasureWorkRate(int tries);

// This process's per-CPU scale (PaceCosts::cpu_pct; empty = none); a worker sets it once, before its
// loop starts. CpuScaled: `us` × the scale of the CPU the thread runs on now ÷ 100.
void SetCpuScale(const std::vector<int>& pct);
int CpuScaled(int us);

// This process's burn (PaceCosts::work_per_us); a worker sets it once, before its loop starts.
void SetWorkBurn(double work_per_us);
double WorkBurnRate();

// Burns `us` (× the scale of the CPU it runs on, CpuScaled) and counts it in `slot`: pace_us, the
// time the burn ran; pace_burns; pace_cost_us, the cost so scaled (pace_us ÷ pace_cost_us: how much
// slower than at the calibration the work ran).
// Nothing at all for us <= 0.
inline void Pace(std::uint64_t* slot, int us) {
  if (us <= 0) return;
  us = CpuScaled(us);
  const double rate = WorkBurnRate();
  const std::uint64_t ran_ns =
      rate > 0 ? BurnWork(static_cast<std::uint64_t>(us * rate + 0.5)) : BurnCpu(us);
  Add(slot, F_pace_us, ran_ns / 1000u);
  Add(slot, F_pace_burns);
  Add(slot, F_pace_cost_us, static_cast<std::uint64_t>(us));
}

}  // namespace forklab

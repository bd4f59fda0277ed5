// Per-worker counters in memory shared between the supervisor and its forked workers.
//
// One anonymous MAP_SHARED mapping is made before the first fork; each worker owns one slot
// (one cache-line-aligned block of u64) and is its only writer. The supervisor reads the slots
// live through an external ArrayBuffer. Counters only grow and survive worker restarts (a new
// incarnation keeps adding to its slot); gauges describe the current incarnation.
//
// The X-macro below is the single source of truth for the layout: the glue exports the names and
// kinds in this order, and lab/server/metrics.ts maps each name to a Prometheus metric.
#pragma once

#include <cstddef>
#include <cstdint>

namespace forklab {

// X(name, kind, meaning) — every counter is incremented at the exact place named in its meaning.
#define FORKLAB_COUNTERS(X)                                                                        \
  X(loop_passes, counter, "epoll_wait calls that returned (one pass of the loop each)")            \
  X(epoll_events, counter, "events epoll_wait returned, before merging into the pending map")      \
  X(events_dispatched, counter, "pending events popped whose fd had a handler that was called")    \
  X(listen_events, counter, "events dispatched to the accept handler (listening socket)")          \
  X(accepts_ok, counter, "accept4 calls that returned a connection to serve")                      \
  X(accept_eagain, counter, "accept4 calls that failed with EAGAIN (nothing to accept)")           \
  X(accept_econnaborted, counter, "accept4 calls that failed with ECONNABORTED (skipped)")          \
  X(accept_emfile, counter, "accept4 calls that failed with EMFILE or ENFILE")                     \
  X(accept_errors, counter, "accept4 calls that failed with any other error")                      \
  X(accepts_shed, counter, "connections accepted on the reserve fd and closed at once (EMFILE)")   \
  X(keyerrors, counter, "tornado4: popped events whose fd had no handler (KeyError raised)")       \
  X(keyerror_log_lines, counter, "KeyError tracebacks written to stderr")                          \
  X(keyerror_log_suppressed, counter, "KeyError tracebacks not written (rate limit)")              \
  X(unknown_fd_events, counter, "asyncio: popped events whose fd had no handler (skipped)")        \
  X(spurious_reads, counter, "connection reads that found nothing (EAGAIN) after an event")        \
  X(requests, counter, "complete requests parsed (head and body)")                                 \
  X(responses_200, counter, "responses fully written with status 200")                             \
  X(responses_400, counter, "responses fully written with status 400")                             \
  X(responses_404, counter, "responses fully written with status 404")                             \
  X(responses_405, counter, "responses fully written with status 405")                             \
  X(responses_408, counter, "responses fully written with status 408")                             \
  X(responses_414, counter, "responses fully written with status 414")                             \
  X(responses_431, counter, "responses fully written with status 431")                             \
  X(responses_501, counter, "responses fully written with status 501")                             \
  X(bytes_in, counter, "bytes returned by read() on connections")                                  \
  X(bytes_out, counter, "bytes accepted by write() on connections")                                \
  X(client_aborts, counter, "connections the client reset before its response was written")        \
  X(half_closes, counter, "connections whose client shut its side (FIN) while a response was due") \
  X(read_pauses, counter, "times a connection stopped reading (EPOLLIN off) for a pending response") \
  X(body_bytes_discarded, counter, "request body bytes read and dropped as they arrived")          \
  X(timeouts_header, counter, "connections closed: no complete request head within clientHeaderTimeoutMs") \
  X(timeouts_body, counter, "connections closed: no request body bytes for clientBodyTimeoutMs")   \
  X(timeouts_idle, counter, "keep-alive connections closed: no new request for keepaliveTimeoutMs") \
  X(timeouts_send, counter, "connections closed: no response bytes could be written for sendTimeoutMs") \
  X(epoll_ctl_eexist, counter, "epoll_ctl calls that failed with EEXIST")                          \
  X(epoll_ctl_errors, counter, "epoll_ctl calls that failed with any other error")                 \
  X(connections_opened, counter, "connections given a handler")                                    \
  X(connections_registered, counter, "connections added to epoll (add_handler); paced tornado4: only when a read found no request") \
  X(connections_closed, counter, "connections closed by the worker")                               \
  X(stuck_detected, counter, "times a connection became stuck (unread data, no progress)")         \
  X(nvcsw, counter, "voluntary context switches (getrusage in the worker)")                        \
  X(nivcsw, counter, "involuntary context switches (getrusage in the worker)")                     \
  X(utime_us, counter, "user CPU time in microseconds (getrusage in the worker)")                  \
  X(stime_us, counter, "system CPU time in microseconds (getrusage in the worker)")                \
  X(pace_us, counter, "CPU microseconds burned by the pace model (the steps the burn ran)")  \
  X(pace_burns, counter, "burns of the pace model (one per paced occurrence of a cost)")\
  X(pace_cost_us, counter, "CPU microseconds the pace model's burns stood for (their costs as set: --pace-scale-pct and the CPU's --pace-cpu-pct applied)") \
  X(pace_gc_collections, counter, "collections of the pace model's cyclic collector (young, middle and full)") \
  X(pace_gc_full, counter, "full collections of the pace model's cyclic collector")                \
  X(open_connections, gauge, "connections open now")                                               \
  X(stuck_connections, gauge, "connections with unread data and no progress for stuckAfterMs")     \
  X(pid, gauge, "pid of the running incarnation once it is set up, 0 otherwise")                   \
  X(started_at_ms, gauge, "unix time in ms when the running incarnation started")                  \
  X(pub_nvcsw, internal, "nvcsw this incarnation has already added (for the fold at reap)")        \
  X(pub_nivcsw, internal, "nivcsw this incarnation has already added")                             \
  X(pub_utime_us, internal, "utime_us this incarnation has already added")                         \
  X(pub_stime_us, internal, "stime_us this incarnation has already added")

enum Field : std::size_t {
#define FORKLAB_ENUM(name, kind, meaning) F_##name,
  FORKLAB_COUNTERS(FORKLAB_ENUM)
#undef FORKLAB_ENUM
      kFieldCount
};

// A slot is padded to whole cache lines so that two workers never write the same line.
constexpr std::size_t kSlotStride = ((kFieldCount * 8 + 63) / 64) * 64 / 8;

struct FieldInfo {
  const char* name;
  const char* kind;
  const char* meaning;
};

extern const FieldInfo kFields[kFieldCount];

// The mapping: `slots` workers, `kSlotStride` u64 each. Single writer per slot.
class SharedCounters {
 public:
  SharedCounters() = default;
  ~SharedCounters();
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;

  // Maps the memory (MAP_SHARED | MAP_ANONYMOUS); returns false with errno set on failure.
  bool Map(std::size_t slots);
  std::uint64_t* Slot(std::size_t index) const { return base_ + index * kSlotStride; }
  std::uint64_t* base() const { return base_; }
  std::size_t slots() const { return slots_; }
  std::size_t bytes() const { return slots_ * kSlotStride * 8; }

 private:
  std::uint64_t* base_ = nullptr;
  std::size_t slots_ = 0;
};

// Relaxed atomic access: one writer per slot, readers in other processes must never see a torn
// value.
inline void Add(std::uint64_t* slot, Field f, std::uint64_t n = 1) {
  __atomic_store_n(&slot[f], __atomic_load_n(&slot[f], __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
inline void Set(std::uint64_t* slot, Field f, std::uint64_t v) {
  __atomic_store_n(&slot[f], v, __ATOMIC_RELAXED);
}
inline std::uint64_t Get(const std::uint64_t* slot, Field f) {
  return __atomic_load_n(&slot[f], __ATOMIC_RELAXED);
}

}  // namespace forklab

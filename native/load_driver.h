// A lean HTTP/1.1 load generator, as wrk is: one epoll loop per thread, plain sockets, no
// allocation per request. Runs in threads of its own, so the JavaScript thread that owns it only
// reads counters and latency samples a few times a second.
//
// Two loads:
// - keep-alive: `connections` connections stay open; each keeps `pipelining` requests in flight
//   and writes the next one when a response completes. A response that says `Connection: close`,
//   or a connection the server closes, ends the connection; the requests still pending on it are
//   counted as errors, and the slot connects again.
// - churn: each slot connects, writes one `Connection: close` request, reads the response, closes
//   and starts again (`wrk -H 'Connection: close'`).
//
// Every request ends exactly one way: a response (any status), an error (refused, reset, closed
// before the response was complete, unparseable) or a timeout (no complete response by the
// deadline); requests still in flight when the drain grace runs out are abandoned (sent only).
//
// Latency: microseconds from the moment the request was due — connect() for churn, the write for
// keep-alive, or, with a rate, the time the schedule said it should go (so a server that stalls
// the client is charged for the requests the client could not send: coordinated omission
// corrected, as wrk2 does). Samples go through a bounded single-producer ring per thread to the
// owner, which takes them counted by value (one pair per distinct microsecond value: 1,139 pairs
// for 3,864 samples per 100 ms take in a keep-alive run here) and records each pair once in an
// HdrHistogram; a full ring drops samples and counts them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace forklab {

struct LoadTarget {
  std::string host;  // numeric IPv4 or IPv6 address
  int port = 0;
};

struct LoadDriverConfig {
  std::vector<LoadTarget> targets;
  std::string path = "/";
  bool churn = false;
  int connections = 1;
  int pipelining = 1;
  // Requests per second over all threads; 0 = as fast as possible.
  double rate = 0;
  int timeout_ms = 2000;
  int threads = 1;
};

// Running totals over all threads.
struct LoadTotals {
  std::uint64_t sent = 0;
  std::uint64_t responses = 0;
  std::uint64_t status_2xx = 0;
  std::uint64_t status_other = 0;
  std::uint64_t errors = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t bytes_read = 0;
  // Latency samples the owner did not take in time (ring full); never recorded.
  std::uint64_t samples_dropped = 0;
  // CPU time of the driver's threads, summed, and the time since Start(), ns.
  std::uint64_t cpu_ns = 0;
  std::uint64_t wall_ns = 0;
  // Passes through epoll_wait, and those that found events waiting (a busy loop finds some in
  // nearly every pass).
  std::uint64_t passes = 0;
  // Time the threads spent waiting in epoll_wait, summed: 1 − idle ÷ (wall × threads) is how busy
  // the loops were, whether or not the CPU was theirs meanwhile (a runnable thread waiting for a
  // core counts as busy, as it should: it had work).
  std::uint64_t idle_ns = 0;
  int threads_running = 0;
};

class LoadLoop;
struct LoadShared;

class LoadDriver {
 public:
  // Validates the config and resolves the addresses; throws std::invalid_argument naming the field.
  explicit LoadDriver(const LoadDriverConfig& config);
  ~LoadDriver();
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  void Start();
  // Stops issuing requests; the threads end once nothing is in flight or `grace_ms` has passed.
  // Returns at once.
  void Stop(int grace_ms);
  bool Finished() const;
  // Waits for the threads (after Stop; they end within the grace).
  void Join();
  LoadTotals Read() const;
  // Moves the latency samples (µs) gathered since the last call into `out` (appended).
  void TakeLatencies(std::vector<std::uint32_t>* out);
  // The same samples counted by exact value: appends (µs, count) pairs to `out`, one per distinct
  // value, in no particular order; the counts add up to the number of samples taken. Only the
  // owner's thread may call it (it reuses the driver's counting table).
  void TakeLatencyCounts(std::vector<std::uint32_t>* out);

 private:
  LoadDriverConfig config_;
  std::unique_ptr<LoadShared> shared_;
  std::vector<std::unique_ptr<LoadLoop>> loops_;
  std::vector<std::thread> threads_;
  // TakeLatencyCounts: samples taken, a count per value below kCountedBelow (allocated at the
  // first take), the values whose count is not zero, and the values beyond the table.
  std::vector<std::uint32_t> taken_;
  std::vector<std::uint32_t> counts_;
  std::vector<std::uint32_t> touched_;
  std::vector<std::uint32_t> large_;
  std::uint64_t started_ns_ = 0;
  std::atomic<std::uint64_t> stopped_ns_{0};
  bool started_ = false;
};

// CPU time of the calling thread, ns (CLOCK_THREAD_CPUTIME_ID).
std::uint64_t ThreadCpuNs();

}  // namespace forklab

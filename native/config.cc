#include "config.h"

namespace forklab {

namespace {
void AtLeast(std::vector<std::string>* errs, const char* field, long long v, long long lo) {
  if (v < lo) {
    errs->push_back(std::string(field) + ": must be at least " + std::to_string(lo) + ", got " +
                    std::to_string(v));
  }
}
}  // namespace

std::vector<std::string> Validate(const EngineConfig& c) {
  std::vector<std::string> errs;
  if (c.host.empty()) errs.push_back("host: must be an IP address such as 127.0.0.1");
  if (c.port < 0 || c.port > 65535) {
    errs.push_back("port: must be a TCP port (0..65535), got " + std::to_string(c.port));
  }
  AtLeast(&errs, "backlog", c.backlog, 1);
  AtLeast(&errs, "workers", c.workers, 1);
  AtLeast(&errs, "acceptBatch", c.accept_batch, 1);
  AtLeast(&errs, "keyErrorLogPerSec", c.keyerror_log_per_sec, 0);
  AtLeast(&errs, "stuckAfterMs", c.stuck_after_ms, 1);
  AtLeast(&errs, "maxFds", c.max_fds, 0);
  AtLeast(&errs, "clientHeaderBufferBytes", c.client_header_buffer_bytes, 1);
  AtLeast(&errs, "largeHeaderBufferBytes", c.large_header_buffer_bytes, 1);
  AtLeast(&errs, "largeHeaderBuffers", c.large_header_buffers, 1);
  AtLeast(&errs, "clientHeaderTimeoutMs", c.client_header_timeout_ms, 1);
  AtLeast(&errs, "clientBodyTimeoutMs", c.client_body_timeout_ms, 1);
  AtLeast(&errs, "keepaliveTimeoutMs", c.keepalive_timeout_ms, 1);
  AtLeast(&errs, "sendTimeoutMs", c.send_timeout_ms, 1);
  AtLeast(&errs, "pace.coldUs", c.pace.cold_us, 0);
  AtLeast(&errs, "pace.coldRequestUs", c.pace.cold_request_us, 0);
  AtLeast(&errs, "pace.acceptUs", c.pace.accept_us, 0);
  AtLeast(&errs, "pace.firstRequestUs", c.pace.first_request_us, 0);
  AtLeast(&errs, "pace.registerUs", c.pace.register_us, 0);
  AtLeast(&errs, "pace.closeUs", c.pace.close_us, 0);
  AtLeast(&errs, "pace.requestUs", c.pace.request_us, 0);
  AtLeast(&errs, "pace.requestAfterUs", c.pace.request_after_us, 0);
  AtLeast(&errs, "pace.eventUs", c.pace.event_us, 0);
  AtLeast(&errs, "pace.keyErrorUs", c.pace.keyerror_us, 0);
  AtLeast(&errs, "pace.skipUs", c.pace.skip_us, 0);
  AtLeast(&errs, "pace.gcEvery", c.pace.gc_every, 0);
  AtLeast(&errs, "pace.gcYoungUs", c.pace.gc_young_us, 0);
  AtLeast(&errs, "pace.gcMiddleUs", c.pace.gc_middle_us, 0);
  AtLeast(&errs, "pace.gcFullUs", c.pace.gc_full_us, 0);
  if (!(c.pace.work_per_us >= 0 && c.pace.work_per_us <= kMaxWorkPerUs)) {
    errs.push_back("pace.workPerUs: must be from 0 (a timed burn) to " +
                   std::to_string(kMaxWorkPerUs) + " work units per microsecond, got " +
                   std::to_string(c.pace.work_per_us));
  }
  if (c.pace.cpu_pct.size() > static_cast<std::size_t>(kMaxPaceCpus)) {
    errs.push_back("pace.cpuPct: at most " + std::to_string(kMaxPaceCpus) + " CPUs, got " +
                   std::to_string(c.pace.cpu_pct.size()));
  }
  for (std::size_t i = 0; i < c.pace.cpu_pct.size(); ++i) {
    const int v = c.pace.cpu_pct[i];
    if (v < kMinCpuPct || v > kMaxCpuPct) {
      errs.push_back("pace.cpuPct[" + std::to_string(i) + "]: must be from " +
                     std::to_string(kMinCpuPct) + " to " + std::to_string(kMaxCpuPct) +
                     " (percent), got " + std::to_string(v));
    }
  }
  if (!c.pace.cpu_pct.empty() && c.pace.work_per_us > 0) {
    errs.push_back(
        "pace.cpuPct: only for a timed burn (the work burn slows on a slow CPU by itself); leave "
        "cpuPct empty or workPerUs 0");
  }
  // One epoll per worker is what EPOLLEXCLUSIVE and per-worker SO_REUSEPORT sockets attach to.
  const bool post_fork = c.loop_creation == LoopCreation::kPostFork;
  if (c.exclusive && !post_fork) {
    errs.push_back(
        "exclusive: EPOLLEXCLUSIVE needs one epoll per worker; use loopCreation post-fork or "
        "turn exclusive off");
  }
  if (c.reuse_port && !post_fork) {
    errs.push_back(
        "reusePort: one listening socket per worker needs one epoll per worker; use "
        "loopCreation post-fork or turn reusePort off");
  }
  return errs;
}

bool ParseLoopCreation(const std::string& s, LoopCreation* out) {
  if (s == "post-fork") *out = LoopCreation::kPostFork;
  else if (s == "pre-fork") *out = LoopCreation::kPreFork;
  else if (s == "pre-fork-late") *out = LoopCreation::kPreForkLate;
  else return false;
  return true;
}

bool ParseFlavour(const std::string& s, Flavour* out) {
  if (s == "tornado4") *out = Flavour::kTornado4;
  else if (s == "asyncio") *out = Flavour::kAsyncio;
  else return false;
  return true;
}

bool ParseTrigger(const std::string& s, Trigger* out) {
  if (s == "level") *out = Trigger::kLevel;
  else if (s == "edge") *out = Trigger::kEdge;
  else return false;
  return true;
}

bool ParseOnEexist(const std::string& s, OnEexist* out) {
  if (s == "fail") *out = OnEexist::kFail;
  else if (s == "ignore") *out = OnEexist::kIgnore;
  else return false;
  return true;
}

}  // namespace forklab

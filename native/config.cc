#include "config.h"

namespace forklab {

namespace {
void Range(std::vector<std::string>* errs, const char* field, long long v, long long lo,
           long long hi) {
  if (v < lo || v > hi) {
    errs->push_back(std::string(field) + ": must be from " + std::to_string(lo) + " to " +
                    std::to_string(hi) + ", got " + std::to_string(v));
  }
}
}  // namespace

std::vector<std::string> Validate(const EngineConfig& c) {
  std::vector<std::string> errs;
  if (c.host.empty()) errs.push_back("host: must be an IP address such as 127.0.0.1");
  Range(&errs, "port", c.port, 0, 65535);
  Range(&errs, "backlog", c.backlog, 1, 65535);
  Range(&errs, "workers", c.workers, 1, 64);
  Range(&errs, "acceptBatch", c.accept_batch, 1, 4096);
  Range(&errs, "keyErrorLogPerSec", c.keyerror_log_per_sec, 0, 10000);
  Range(&errs, "stuckAfterMs", c.stuck_after_ms, 100, 600000);
  if (c.max_fds != 0) Range(&errs, "maxFds", c.max_fds, 8, 1048576);
  Range(&errs, "pace.acceptUs", c.pace.accept_us, 0, kMaxPaceUs);
  Range(&errs, "pace.requestUs", c.pace.request_us, 0, kMaxPaceUs);
  Range(&errs, "pace.eventUs", c.pace.event_us, 0, kMaxPaceUs);
  Range(&errs, "pace.keyErrorUs", c.pace.keyerror_us, 0, kMaxPaceUs);
  Range(&errs, "pace.skipUs", c.pace.skip_us, 0, kMaxPaceUs);
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

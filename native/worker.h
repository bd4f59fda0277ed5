// A forked worker: runs C++ only, never returns to JavaScript, leaves with _exit.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "accept_handler.h"
#include "config.h"
#include "deadline_lists.h"
#include "http_connection.h"
#include "http_parser.h"
#include "ioloop.h"

namespace forklab {

// Exit codes a worker uses on purpose (lab/native/engine.ts mirrors them as WorkerExit).
constexpr int kExitClean = 0;
constexpr int kExitCycled = 3;
constexpr int kExitEexist = 4;
constexpr int kExitStartupFailed = 5;

struct WorkerSetup {
  int index = 0;
  const EngineConfig* config = nullptr;
  std::uint64_t* slot = nullptr;
  int listen_fd = -1;
  pid_t parent = 0;
  // pre-fork and pre-fork-late: the parent's loop, inherited by fork (same epoll instance).
  IOLoop* inherited_loop = nullptr;
  // pre-fork: the accept handler the parent registered before fork.
  AcceptHandler* inherited_accept = nullptr;
};

// Called in the child right after fork. Never returns.
[[noreturn]] void RunWorker(const WorkerSetup& setup);

class Worker : public PassObserver {
 public:
  // How often the worker adds its getrusage figures to the shared counters while it is busy.
  // 100 ms matches the lab's fastest sampling interval; one getrusage per 100 ms costs nothing
  // measurable, and an idle worker publishes once more and then sleeps (no extra wake-ups).
  static constexpr double kRusagePublishSec = 0.1;

  explicit Worker(const WorkerSetup& setup);
  ~Worker() override;
  int Run();

  // For the accept handler and the connections.
  IOLoop* loop() const { return loop_; }
  std::uint64_t* slot() const { return slot_; }
  const EngineConfig& config() const { return *config_; }
  int index() const { return index_; }
  bool edge() const { return config_->trigger == Trigger::kEdge; }
  std::uint32_t ConnectionEvents() const;
  bool accepting() const { return !draining_; }
  bool draining() const { return draining_; }
  int reserve_fd() const { return reserve_fd_; }
  void ReopenReserve();
  void CloseReserve();
  char* read_buffer() { return read_buffer_.get(); }
  const HttpLimits& http_limits() const { return http_limits_; }
  std::size_t idle_buffer_bytes() const {
    return static_cast<std::size_t>(config_->client_header_buffer_bytes);
  }
  // Connection timeouts: one deadline list per TimeoutKind (see deadline_lists.h).
  void ArmTimeout(HttpConnection* c, int kind);
  void DisarmTimeout(HttpConnection* c) { deadlines_.Disarm(c); }
  // Edge-triggered: calls c->OnResume() on the next pass if c is still open.
  void ResumeLater(HttpConnection* c);
  // Pace next_read_inline: calls c->ResumeRequestLoop() `passes` passes from now (callbacks that
  // re-add themselves), if c is still open.
  void ResumeInPasses(HttpConnection* c, int passes);
  void set_inline_reading(bool v) { inline_reading_ = v; }
  const std::string& DateHeader();

  void OnConnection(int fd);
  void OnConnectionClosed(HttpConnection* c);
  // A complete request was parsed; may start draining (max requests).
  void OnRequest();
  // Pace: true when `c`'s response waits for the callbacks of the next pass (AnswerNow then).
  bool DeferAnswer(HttpConnection* c);
  void Log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  void OnPass(double now, bool busy) override;

 private:
  int Setup();
  void PublishRusage();
  void ArmStuckScan();
  void ScanStuck();
  void StartDraining();
  void ScheduleExpiry(double at);
  void ExpireTimeouts();

  // Timed-out connections closed per pass at most: 500 slowloris connections that all expire
  // together are closed over 8 passes, with other clients' events served in between.
  static constexpr int kMaxExpiriesPerPass = 64;

  int index_;
  const EngineConfig* config_;
  std::uint64_t* slot_;
  int listen_fd_;
  pid_t parent_;
  IOLoop* inherited_loop_;
  AcceptHandler* inherited_accept_;
  std::unique_ptr<IOLoop> own_loop_;
  std::unique_ptr<AcceptHandler> own_accept_;
  IOLoop* loop_ = nullptr;
  std::unordered_map<int, std::unique_ptr<HttpConnection>> connections_;
  // Serial of each open connection (a closed connection's fd and address may be reused at once).
  std::unordered_map<const HttpConnection*, std::uint64_t> serials_;
  std::uint64_t next_serial_ = 1;
  std::vector<std::unique_ptr<HttpConnection>> graveyard_;
  // Pace: connections whose response is deferred to the next pass, and whether we are inside the
  // inline first read of a new connection (Tornado 4 answers that one at once).
  std::vector<HttpConnection*> answers_;
  std::vector<HttpConnection*> answering_;  // the batch AnswerDeferred is going through
  bool inline_reading_ = false;
  bool accepted_any_ = false;  // pace cold_us: burned on the first connection only
  bool answered_any_ = false;  // pace cold_request_us: burned on the first request only
  CycleCollector gc_;          // pace gc_every: the interpreter's cyclic collector
  void PaceRequest(HttpConnection* c);
  void AnswerDeferred();
  std::unique_ptr<char[]> read_buffer_;
  int reserve_fd_ = -1;
  bool draining_ = false;
  std::uint64_t served_ = 0;
  bool publish_armed_ = false;
  bool scan_armed_ = false;
  std::uint64_t stuck_now_ = 0;
  long date_second_ = -1;
  std::string date_header_;
  int exit_code_ = kExitClean;
  HttpLimits http_limits_;
  double timeout_sec_[kTimeoutKinds] = {};
  DeadlineLists<kTimeoutKinds> deadlines_;
  IOLoop::TimeoutHandle expiry_timer_;
};

}  // namespace forklab

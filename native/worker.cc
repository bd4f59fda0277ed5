#include "worker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <cstring>

#include "counters.h"

namespace forklab {

namespace {

volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int sig) { g_stop_signal = sig; }

// Closes every fd except `keep` (sorted, unique). close_range(2) where the kernel has it.
void CloseAllExcept(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  unsigned int from = 0;
  for (int k : keep) {
    if (k < 0) continue;
    unsigned int uk = static_cast<unsigned int>(k);
    if (uk > from) {
      if (syscall(SYS_close_range, from, uk - 1, 0) != 0) {
        for (unsigned int fd = from; fd < uk; ++fd) close(static_cast<int>(fd));
      }
    }
    from = uk + 1;
  }
  if (syscall(SYS_close_range, from, ~0U, 0) != 0) {
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = from; fd < max; ++fd) close(static_cast<int>(fd));
  }
}

std::uint64_t Micros(const timeval& tv) {
  return static_cast<std::uint64_t>(tv.tv_sec) * 1000000u + static_cast<std::uint64_t>(tv.tv_usec);
}

std::uint64_t UnixMillis() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000u;
}

}  // namespace

[[noreturn]] void RunWorker(const WorkerSetup& setup) {
  int code = kExitStartupFailed;
  try {
    Worker worker(setup);
    code = worker.Run();
  } catch (const std::exception& e) {
    char line[512];
    int len = std::snprintf(line, sizeof line, "[worker %d pid %d] fatal: %s\n", setup.index,
                            static_cast<int>(getpid()), e.what());
    if (len > 0) (void)!write(STDERR_FILENO, line, static_cast<std::size_t>(len));
  } catch (...) {
  }
  _exit(code);
}

Worker::Worker(const WorkerSetup& s)
    : index_(s.index),
      config_(s.config),
      slot_(s.slot),
      listen_fd_(s.listen_fd),
      parent_(s.parent),
      inherited_loop_(s.inherited_loop),
      inherited_accept_(s.inherited_accept),
      read_buffer_(new char[HttpConnection::kReadChunk]) {
  const EngineConfig& c = *config_;
  http_limits_.max_line = static_cast<std::size_t>(c.large_header_buffer_bytes);
  http_limits_.max_head =
      static_cast<std::size_t>(c.large_header_buffer_bytes) * static_cast<std::size_t>(c.large_header_buffers);
  timeout_sec_[kTimeoutHeader] = c.client_header_timeout_ms / 1000.0;
  timeout_sec_[kTimeoutBody] = c.client_body_timeout_ms / 1000.0;
  timeout_sec_[kTimeoutIdle] = c.keepalive_timeout_ms / 1000.0;
  timeout_sec_[kTimeoutSend] = c.send_timeout_ms / 1000.0;
}

Worker::~Worker() = default;

void Worker::Log(const char* fmt, ...) {
  char line[1024];
  int len = std::snprintf(line, sizeof line, "[worker %d pid %d] ", index_,
                          static_cast<int>(getpid()));
  va_list ap;
  va_start(ap, fmt);
  len += std::vsnprintf(line + len, sizeof line - static_cast<std::size_t>(len) - 1, fmt, ap);
  va_end(ap);
  if (len > static_cast<int>(sizeof line) - 2) len = static_cast<int>(sizeof line) - 2;
  line[len++] = '\n';
  (void)!write(STDERR_FILENO, line, static_cast<std::size_t>(len));
}

std::uint32_t Worker::ConnectionEvents() const {
  return IOLoop::kRead | (edge() ? static_cast<std::uint32_t>(EPOLLET) : 0u);
}

const std::string& Worker::DateHeader() {
  time_t t = time(nullptr);
  if (t != date_second_) {
    date_second_ = t;
    tm g;
    gmtime_r(&t, &g);
    char buf[64];
    std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &g);
    date_header_ = buf;
  }
  return date_header_;
}

void Worker::ReopenReserve() {
  if (reserve_fd_ < 0) reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Worker::CloseReserve() {
  if (reserve_fd_ >= 0) close(reserve_fd_);
  reserve_fd_ = -1;
}

// Everything a worker does before its first pass. Returns -1 to run, or an exit code.
int Worker::Setup() {
  // Die with the supervisor, and never outlive it by a race with its death.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent_) return kExitClean;

  // Signals: Node's handlers write to pipes this process no longer has. Start from defaults;
  // SIGTERM and SIGINT stop the loop, delivered only inside epoll_pwait.
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, nullptr);
  }
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_SETMASK, &block, nullptr);

  // Keep stdout, stderr, the listening socket and (pre-fork) the inherited loop; close the rest:
  // libuv's epoll, eventfds and pipes, the other listening sockets, the parent's connections.
  std::vector<int> keep = {STDOUT_FILENO, STDERR_FILENO, listen_fd_};
  if (inherited_loop_ != nullptr) {
    keep.push_back(inherited_loop_->epoll_fd());
    keep.push_back(inherited_loop_->waker_read_fd());
    keep.push_back(inherited_loop_->waker_write_fd());
  }
  CloseAllExcept(keep);
  int devnull = open("/dev/null", O_RDONLY);  // fd 0 is free: stdin becomes /dev/null
  if (devnull > 0) close(devnull);

  if (config_->max_fds > 0) {
    rlimit rl{static_cast<rlim_t>(config_->max_fds), static_cast<rlim_t>(config_->max_fds)};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      Log("setrlimit(RLIMIT_NOFILE, %d) failed: %s", config_->max_fds, std::strerror(errno));
      return kExitStartupFailed;
    }
  }

  // This incarnation's gauges; the counters keep growing across incarnations.
  Set(slot_, F_started_at_ms, UnixMillis());
  Set(slot_, F_open_connections, 0);
  Set(slot_, F_stuck_connections, 0);
  Set(slot_, F_pub_nvcsw, 0);
  Set(slot_, F_pub_nivcsw, 0);
  Set(slot_, F_pub_utime_us, 0);
  Set(slot_, F_pub_stime_us, 0);

  if (inherited_loop_ == nullptr) {
    own_loop_ = std::make_unique<IOLoop>();  // post-fork: IOLoop() in the worker
    loop_ = own_loop_.get();
  } else {
    loop_ = inherited_loop_;  // pre-fork: the parent's IOLoop, same epoll instance
  }
  loop_->AttachSlot(slot_);
  loop_->SetFlavour(config_->flavour);
  loop_->SetKeyErrorLog(config_->keyerror_log_per_sec, index_);
  loop_->SetObserver(this);
  loop_->SetPace(config_->pace);
  SetWorkBurn(config_->pace.work_per_us);
  SetCpuScale(config_->pace.cpu_pct);
  loop_->SetStopFlag(&g_stop_signal);

  switch (config_->loop_creation) {
    case LoopCreation::kPreFork:
      // The parent called add_accept_handler before fork; the registration is inherited.
      inherited_accept_->AttachWorker(this);
      break;
    case LoopCreation::kPostFork: {
      own_accept_ = std::make_unique<AcceptHandler>(listen_fd_, config_->accept_batch);
      own_accept_->AttachWorker(this);
      std::uint32_t ev = IOLoop::kRead;
      if (config_->exclusive) ev |= EPOLLEXCLUSIVE;
      if (int e = loop_->AddHandler(listen_fd_, own_accept_.get(), ev); e != 0) {
        Log("epoll_ctl(ADD, listening socket %d) failed: %s", listen_fd_, std::strerror(e));
        return kExitStartupFailed;
      }
      break;
    }
    case LoopCreation::kPreForkLate: {
      // Each worker calls add_accept_handler on the loop the parent made: the first registration
      // wins, the others get EEXIST (the inherited socket is already in the shared epoll).
      own_accept_ = std::make_unique<AcceptHandler>(listen_fd_, config_->accept_batch);
      own_accept_->AttachWorker(this);
      int e = loop_->AddHandler(listen_fd_, own_accept_.get(), IOLoop::kRead);
      if (e == EEXIST) {
        Log("ERROR:tornado.application:add_accept_handler failed\n"
            "Traceback (most recent call last):\n"
            "  File \"tornado/ioloop.py\", in add_handler\n"
            "    self._impl.register(fd, events | self.ERROR)\n"
            "FileExistsError: [Errno 17] File exists (listening socket fd %d)%s",
            listen_fd_,
            config_->on_eexist == OnEexist::kFail ? "; the worker exits"
                  : config_->flavour == Flavour::kAsyncio
                      ? "; ignored, and asyncio dropped the handler: this worker accepts nothing"
                      : "; ignored, the handler stays in the map");
        if (config_->on_eexist == OnEexist::kFail) return kExitEexist;
      } else if (e != 0) {
        Log("epoll_ctl(ADD, listening socket %d) failed: %s", listen_fd_, std::strerror(e));
        return kExitStartupFailed;
      }
      break;
    }
  }
  ReopenReserve();
  // Last: the pid in the slot tells the supervisor this incarnation is set up and about to run
  // its loop (it waits for it before announcing the server ready).
  Set(slot_, F_pid, static_cast<std::uint64_t>(getpid()));
  return -1;
}

int Worker::Run() {
  int code = Setup();
  if (code >= 0) {
    PublishRusage();
    return code;
  }
  sigset_t during_wait;
  sigemptyset(&during_wait);
  loop_->Start(&during_wait);
  PublishRusage();
  Set(slot_, F_open_connections, 0);
  Set(slot_, F_stuck_connections, 0);
  return exit_code_;
}

void Worker::OnConnection(int fd) {
  if (!accepted_any_) {
    accepted_any_ = true;
    Pace(slot_, config_->pace.cold_us);
  }
  // The new connection's first objects are what pass the collector's threshold: it runs before
  // the connection's own work, in the accept loop.
  const CycleCollector::Generation gen = gc_.OnConnection(config_->pace.gc_every);
  if (gen != CycleCollector::kNone) {
    Add(slot_, F_pace_gc_collections);
    if (gen == CycleCollector::kFull) Add(slot_, F_pace_gc_full);
    Pace(slot_, CycleCollector::Cost(config_->pace, gen));
  }
  Pace(slot_, config_->pace.accept_us);
  auto owned = std::make_unique<HttpConnection>(this, fd, loop_->now());
  HttpConnection* conn = owned.get();
  auto [it, fresh] = connections_.emplace(fd, std::move(owned));
  (void)it;
  serials_[conn] = next_serial_++;
  if (!fresh) {
    // The kernel reused an fd we still track: an invariant is broken, not a client problem.
    Log("internal error: fd %d accepted while still tracked", fd);
    _exit(kExitStartupFailed);
  }
  Add(slot_, F_connections_opened);
  Set(slot_, F_open_connections, connections_.size());
  ArmStuckScan();
  if (config_->pace.inline_read && config_->pace.next_read_inline && !edge()) {
    // Tornado 4.5: HTTP1ServerConnection.start_serving runs the request loop at once; its first
    // read_until_regex reads inline, a request already there is answered in this accept handler,
    // and the fd goes into epoll only when a read would block.
    loop_->DeferHandler(fd, conn);
    conn->StartUnregistered();
    return;
  }
  int e = 0;
  if (config_->pace.inline_read) {
    // IOStream: read_until_regex tries the socket first and registers the fd only when that read
    // would block. FIONREAD stands in for Tornado's recv that gets EAGAIN, so that the engine's
    // counters keep meaning what they say (a spurious read is one after an event).
    loop_->DeferHandler(fd, conn);
    int unread = 0;
    if (ioctl(fd, FIONREAD, &unread) == 0 && unread > 0) {
      inline_reading_ = true;
      conn->HandleEvents(fd, IOLoop::kRead);
      inline_reading_ = false;
    }
    if (conn->closed()) return;
    if (loop_->Deferred(fd)) e = loop_->UpdateHandler(fd, ConnectionEvents());  // not registered yet
  } else {
    e = loop_->AddHandler(fd, conn, ConnectionEvents());
    if (e == 0) Add(slot_, F_connections_registered);
  }
  if (e != 0) {
    Log("epoll_ctl(ADD, connection %d) failed: %s", fd, std::strerror(e));
    conn->Close();
    return;
  }
  conn->Settle();  // arms the header timeout
}

void Worker::ArmTimeout(HttpConnection* c, int kind) {
  const double at = loop_->now() + timeout_sec_[kind];
  deadlines_.Arm(c, kind, at);
  ScheduleExpiry(at);
}

// One loop timeout at the earliest deadline or before it (a list head that was disarmed leaves
// it early; it then finds nothing due and moves on to the new earliest).
void Worker::ScheduleExpiry(double at) {
  if (expiry_timer_.valid()) {
    if (expiry_timer_.deadline <= at) return;
    loop_->RemoveTimeout(expiry_timer_);
  }
  expiry_timer_ = loop_->AddTimeout(at, [this] {
    expiry_timer_ = {};
    ExpireTimeouts();
  });
}

void Worker::ExpireTimeouts() {
  const double now = loop_->now();
  int done = 0;
  int kind = -1;
  while (done < kMaxExpiriesPerPass) {
    DeadlineNode* n = deadlines_.PopExpired(now, &kind);
    if (n == nullptr) break;
    static_cast<HttpConnection*>(n)->OnTimeout(kind);
    ++done;
  }
  if (done == kMaxExpiriesPerPass) {
    // More may be due: the next pass takes the next batch, after an epoll_wait with a zero
    // timeout has served the events that are ready (a callback runs at the start of a pass).
    loop_->AddCallback([this] { ExpireTimeouts(); });
    return;
  }
  if (!deadlines_.empty()) ScheduleExpiry(deadlines_.Earliest());
}

void Worker::ResumeLater(HttpConnection* c) {
  const int fd = c->fd();
  loop_->AddCallback([this, fd, c] {
    auto it = connections_.find(fd);
    if (it != connections_.end() && it->second.get() == c) c->OnResume();
  });
}

void Worker::ResumeInPasses(HttpConnection* c, int passes) {
  assert(passes >= 1);
  const std::uint64_t serial = serials_.at(c);
  loop_->AddCallback([this, c, serial, passes] {
    auto it = serials_.find(c);
    if (it == serials_.end() || it->second != serial) return;  // closed meanwhile
    if (passes > 1) {
      ResumeInPasses(c, passes - 1);
    } else {
      c->ResumeRequestLoop();
    }
  });
}

void Worker::OnConnectionClosed(HttpConnection* c) {
  auto it = connections_.find(c->fd());
  if (it == connections_.end() || it->second.get() != c) {
    Log("internal error: closing an untracked connection (fd %d)", c->fd());
    _exit(kExitStartupFailed);
  }
  if (c->stuck_flag()) {
    --stuck_now_;
    Set(slot_, F_stuck_connections, stuck_now_);
  }
  for (auto* list : {&answers_, &answering_}) {
    for (auto& a : *list) {
      if (a == c) a = nullptr;  // its deferred answer is dropped with it
    }
  }
  serials_.erase(c);
  graveyard_.push_back(std::move(it->second));  // freed after the pass: the caller is on its stack
  connections_.erase(it);
  Add(slot_, F_connections_closed);
  Set(slot_, F_open_connections, connections_.size());
  Pace(slot_, config_->pace.close_us);  // the socket is closed already: the client has its FIN
  if (draining_ && connections_.empty()) loop_->Stop();
}

void Worker::OnRequest() {
  ++served_;
  if (config_->max_requests > 0 && served_ >= config_->max_requests && !draining_) {
    StartDraining();
  }
}

// Tornado reads in the event handler and answers in a callback: the read resolves a future, and the
// coroutine waiting on it runs from the loop's callbacks on the next pass (IOLoop.add_future). So a
// worker empties its sockets quickly and does the request's work afterwards. Tornado 4 runs a
// coroutine whose future is already done at once: the request read inline at accept is answered
// there; asyncio (Tornado 5+) always goes through the loop. The request's cost is burned where the
// work happens: request_us just before the response is written, request_after_us once it is sent
// (HttpConnection::FlushOutput).
bool Worker::DeferAnswer(HttpConnection* c) {
  const PaceCosts& p = config_->pace;
  if (!p.defer_answer || (inline_reading_ && config_->flavour == Flavour::kTornado4)) {
    PaceRequest(c);
    return false;
  }
  if (answers_.empty()) loop_->AddCallback([this] { AnswerDeferred(); });
  answers_.push_back(c);
  return true;
}

// A request's cost; on top, the worker's first request's share of the cold start and the
// connection's first request's share of the connection's cost.
void Worker::PaceRequest(HttpConnection* c) {
  if (!answered_any_) {
    answered_any_ = true;
    Pace(slot_, config_->pace.cold_request_us);
  }
  if (c->TakeFirstPaced()) Pace(slot_, config_->pace.first_request_us);
  Pace(slot_, config_->pace.request_us);
}

void Worker::AnswerDeferred() {
  assert(answering_.empty());
  answering_.swap(answers_);
  for (std::size_t i = 0; i < answering_.size(); ++i) {
    HttpConnection* c = answering_[i];
    if (c == nullptr) continue;  // closed while waiting (OnConnectionClosed cleared it)
    PaceRequest(c);
    c->AnswerNow();  // may close c, or defer another answer (a pipelined request): next pass
  }
  answering_.clear();
}

// gunicorn-style cycling: this response goes out with `Connection: close`, idle keep-alive
// connections are closed, no more accepts; the worker exits when its last connection closes or
// after a grace period, and the supervisor forks a replacement.
void Worker::StartDraining() {
  draining_ = true;
  exit_code_ = kExitCycled;
  if (config_->loop_creation == LoopCreation::kPostFork && own_accept_) {
    loop_->RemoveHandler(listen_fd_);  // our own epoll: safe to deregister
  }
  std::vector<HttpConnection*> idle;
  for (auto& [fd, c] : connections_) {
    if (c->Idle()) idle.push_back(c.get());
  }
  for (HttpConnection* c : idle) c->Close();
  constexpr double kDrainGraceSec = 5.0;
  loop_->AddTimeout(loop_->now() + kDrainGraceSec, [this] { loop_->Stop(); });
}

void Worker::PublishRusage() {
  rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return;
  const std::uint64_t now[4] = {static_cast<std::uint64_t>(ru.ru_nvcsw),
                                static_cast<std::uint64_t>(ru.ru_nivcsw), Micros(ru.ru_utime),
                                Micros(ru.ru_stime)};
  const Field total[4] = {F_nvcsw, F_nivcsw, F_utime_us, F_stime_us};
  const Field pub[4] = {F_pub_nvcsw, F_pub_nivcsw, F_pub_utime_us, F_pub_stime_us};
  for (int i = 0; i < 4; ++i) {
    std::uint64_t before = Get(slot_, pub[i]);
    if (now[i] > before) {
      Add(slot_, total[i], now[i] - before);
      Set(slot_, pub[i], now[i]);
    }
  }
}

void Worker::OnPass(double now, bool busy) {
  graveyard_.clear();
  // Publish rusage at most every kRusagePublishSec while busy, once more after the last busy pass.
  if (busy && !publish_armed_) {
    publish_armed_ = true;
    loop_->AddTimeout(now + kRusagePublishSec, [this] {
      publish_armed_ = false;
      PublishRusage();
    });
  }
}

void Worker::ArmStuckScan() {
  if (scan_armed_) return;
  scan_armed_ = true;
  double interval = config_->stuck_after_ms / 2000.0;
  if (interval < 0.1) interval = 0.1;
  loop_->AddTimeout(loop_->now() + interval, [this] { ScanStuck(); });
}

// A connection is stuck when the socket holds data we have not read and nothing moved on it for
// stuck_after_ms: the owner never heard of the data (an edge-triggered event that went to a
// sibling sharing the epoll). The scan only looks (FIONREAD); it never reads.
void Worker::ScanStuck() {
  scan_armed_ = false;
  const double after = config_->stuck_after_ms / 1000.0;
  const double now = MonotonicNow();
  std::uint64_t stuck = 0;
  for (auto& [fd, c] : connections_) {
    bool s = c->IsStuck(now, after);
    if (s && !c->stuck_flag()) Add(slot_, F_stuck_detected);
    c->set_stuck_flag(s);
    stuck += s ? 1 : 0;
  }
  stuck_now_ = stuck;
  Set(slot_, F_stuck_connections, stuck);
  if (!connections_.empty()) ArmStuckScan();
}

}  // namespace forklab

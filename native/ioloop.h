// A model of Tornado 4.5's PollIOLoop (tornado/ioloop.py) on epoll.
//
// The parts that matter for the lab are kept as Tornado has them:
// - `handlers_` maps fd → handler; `AddHandler` stores the handler *before* epoll_ctl, as
//   Tornado's add_handler does, so a failed registration still leaves the handler in the map;
// - one pass runs the callbacks, then the due timeouts, then `epoll_wait` with a timeout from the
//   next deadline, merges the returned events into the pending map (`self._events.update`) and
//   pops them one at a time (`popitem`, newest first);
// - the handler lookup of a popped event is `fd_obj, handler_func = self._handlers[fd]`: the
//   KeyError site. What happens there depends on the flavour (see OnUnknownFd);
// - a waker pipe is registered when the loop is created.
#pragma once

#include <signal.h>
#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config.h"
#include "counters.h"
#include "pace.h"

namespace forklab {

class Handler {
 public:
  virtual ~Handler() = default;
  virtual void HandleEvents(int fd, std::uint32_t events) = 0;
};

// Told after every pass; lets the worker keep its instrumentation fresh without its own thread.
class PassObserver {
 public:
  virtual ~PassObserver() = default;
  // `busy`: the pass ran callbacks or got events (a pass of callbacks alone is work too: Tornado's
  // request loop serves a keep-alive connection from callbacks, see pace.h).
  virtual void OnPass(double now, bool busy) = 0;
};

// Monotonic seconds.
double MonotonicNow();

class IOLoop {
 public:
  static constexpr std::uint32_t kRead = EPOLLIN;
  static constexpr std::uint32_t kWrite = EPOLLOUT;
  static constexpr std::uint32_t kError = EPOLLERR | EPOLLHUP;
  // Tornado's _POLL_TIMEOUT: the longest a pass sleeps when nothing is scheduled.
  static constexpr double kPollTimeoutSec = 3600.0;
  // epoll_wait's maxevents; Python's select.epoll.poll() asks for FD_SETSIZE - 1.
  static constexpr int kMaxEvents = 1023;

  struct TimeoutHandle {
    double deadline = 0;
    std::uint64_t seq = 0;
    bool valid() const { return seq != 0; }
  };

  // Creates the epoll instance and the waker. Throws std::system_error on failure.
  IOLoop();
  ~IOLoop();
  IOLoop(const IOLoop&) = delete;
  IOLoop& operator=(const IOLoop&) = delete;

  // Where this process counts (its worker slot; a scratch array in the supervisor).
  void AttachSlot(std::uint64_t* slot) { slot_ = slot; }
  void SetFlavour(Flavour f) { flavour_ = f; }
  void SetKeyErrorLog(int per_sec, int worker_index);
  void SetObserver(PassObserver* o) { observer_ = o; }
  // The costs burned per dispatched event, per KeyError and per skipped unknown fd.
  void SetPace(const PaceCosts& p) { pace_ = p; }

  // Returns 0 or the errno of epoll_ctl (counted as EEXIST or other at the call).
  int AddHandler(int fd, Handler* h, std::uint32_t events);
  int UpdateHandler(int fd, std::uint32_t events);
  void RemoveHandler(int fd);
  // Tornado's IOStream before its first _add_io_state: the fd belongs to a handler but is neither
  // in the handler map nor in epoll. UpdateHandler registers it (add_handler, EPOLL_CTL_ADD) with
  // the events asked; RemoveHandler forgets it without an epoll_ctl.
  void DeferHandler(int fd, Handler* h);
  bool Deferred(int fd) const { return deferred_.count(fd) != 0; }
  bool HasHandler(int fd) const { return handlers_.count(fd) != 0; }

  void AddCallback(std::function<void()> cb) { callbacks_.push_back(std::move(cb)); }
  TimeoutHandle AddTimeout(double deadline, std::function<void()> cb);
  void RemoveTimeout(const TimeoutHandle& h);

  // Runs passes until Stop(). `sigmask` is installed only during epoll_wait (epoll_pwait), so
  // signals blocked elsewhere interrupt the sleep and nothing else.
  void Start(const sigset_t* sigmask);
  void Stop() { stopped_ = true; }
  // Checked before every pass: a signal handler sets it, epoll_pwait returns EINTR, the loop ends.
  void SetStopFlag(const volatile sig_atomic_t* flag) { stop_flag_ = flag; }
  bool stopped() const { return stopped_; }

  double now() const { return now_; }
  int epoll_fd() const { return epfd_; }
  int waker_read_fd() const { return waker_[0]; }
  int waker_write_fd() const { return waker_[1]; }

 private:
  class Waker : public Handler {
   public:
    void HandleEvents(int fd, std::uint32_t events) override;
  };

  void MergeEvents(const epoll_event* evs, int n);
  bool PopEvent(int* fd, std::uint32_t* events);
  void OnUnknownFd(int fd);
  int PollTimeoutMs();

  int epfd_ = -1;
  int waker_[2] = {-1, -1};
  Waker waker_handler_;
  std::unordered_map<int, Handler*> handlers_;
  std::unordered_map<int, Handler*> deferred_;
  PaceCosts pace_;
  // self._events: fd → events, popped newest first; a removed fd leaves a tombstone (fd -1).
  std::vector<std::pair<int, std::uint32_t>> pending_;
  std::unordered_map<int, std::size_t> pending_pos_;
  std::vector<std::function<void()>> callbacks_;
  std::map<std::pair<double, std::uint64_t>, std::function<void()>> timeouts_;
  std::uint64_t next_seq_ = 1;
  bool stopped_ = false;
  const volatile sig_atomic_t* stop_flag_ = nullptr;
  double now_ = 0;
  std::uint64_t scratch_[kSlotStride] = {};
  std::uint64_t* slot_ = scratch_;
  Flavour flavour_ = Flavour::kTornado4;
  PassObserver* observer_ = nullptr;
  // KeyError traceback rate limit: at most keyerror_per_sec_ lines per one-second window.
  int keyerror_per_sec_ = 5;
  int worker_index_ = -1;
  double log_window_start_ = 0;
  int log_window_lines_ = 0;
  std::vector<epoll_event> events_buf_;
};

}  // namespace forklab

#include "ioloop.h"

#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "counters.h"

namespace forklab {

double MonotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

IOLoop::IOLoop() : events_buf_(kMaxEvents) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  if (pipe2(waker_, O_NONBLOCK | O_CLOEXEC) != 0) {
    int e = errno;
    close(epfd_);
    throw std::system_error(e, std::generic_category(), "pipe2 (waker)");
  }
  // PollIOLoop.initialize: self.add_handler(self._waker.fileno(), ..., self.READ)
  if (AddHandler(waker_[0], &waker_handler_, kRead) != 0) {
    int e = errno;
    close(waker_[0]);
    close(waker_[1]);
    close(epfd_);
    throw std::system_error(e, std::generic_category(), "epoll_ctl (waker)");
  }
  now_ = MonotonicNow();
}

IOLoop::~IOLoop() {
  if (waker_[0] >= 0) close(waker_[0]);
  if (waker_[1] >= 0) close(waker_[1]);
  if (epfd_ >= 0) close(epfd_);
}

void IOLoop::SetKeyErrorLog(int per_sec, int worker_index) {
  keyerror_per_sec_ = per_sec;
  worker_index_ = worker_index;
}

int IOLoop::AddHandler(int fd, Handler* h, std::uint32_t events) {
  assert(fd >= 0 && h != nullptr);
  handlers_[fd] = h;  // before register, as Tornado's add_handler does
  epoll_event ev{};
  ev.events = events | kError;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  int e = errno;
  Add(slot_, e == EEXIST ? F_epoll_ctl_eexist : F_epoll_ctl_errors);
  // selectors.EpollSelector.register adds the key, and removes it again when epoll_ctl raises:
  // an asyncio loop keeps no handler for an fd it failed to register (Tornado 4 keeps it).
  if (flavour_ == Flavour::kAsyncio) handlers_.erase(fd);
  errno = e;
  return e;
}

void IOLoop::DeferHandler(int fd, Handler* h) {
  assert(fd >= 0 && h != nullptr && handlers_.count(fd) == 0);
  deferred_[fd] = h;
}

int IOLoop::UpdateHandler(int fd, std::uint32_t events) {
  if (auto d = deferred_.find(fd); d != deferred_.end()) {
    Handler* h = d->second;
    deferred_.erase(d);
    // IOStream._add_io_state with _state None: add_handler. Only connections are deferred.
    const int e = AddHandler(fd, h, events);
    if (e == 0) {
      Add(slot_, F_connections_registered);
      Pace(slot_, pace_.register_us);
    }
    return e;
  }
  epoll_event ev{};
  ev.events = events | kError;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  int e = errno;
  Add(slot_, e == EEXIST ? F_epoll_ctl_eexist : F_epoll_ctl_errors);
  errno = e;
  return e;
}

void IOLoop::RemoveHandler(int fd) {
  if (deferred_.erase(fd) != 0) return;  // never registered: nothing in the map or in epoll
  handlers_.erase(fd);
  auto it = pending_pos_.find(fd);
  if (it != pending_pos_.end()) {  // self._events.pop(fd, None)
    pending_[it->second].first = -1;
    pending_pos_.erase(it);
  }
  if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) != 0) {
    // Tornado logs this at debug level and carries on; it is still an epoll_ctl failure.
    Add(slot_, F_epoll_ctl_errors);
  }
}

IOLoop::TimeoutHandle IOLoop::AddTimeout(double deadline, std::function<void()> cb) {
  TimeoutHandle h{deadline, next_seq_++};
  timeouts_.emplace(std::make_pair(deadline, h.seq), std::move(cb));
  return h;
}

void IOLoop::RemoveTimeout(const TimeoutHandle& h) {
  if (h.valid()) timeouts_.erase(std::make_pair(h.deadline, h.seq));
}

void IOLoop::Waker::HandleEvents(int fd, std::uint32_t) {
  char buf[256];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

void IOLoop::MergeEvents(const epoll_event* evs, int n) {
  for (int i = 0; i < n; ++i) {
    const int fd = evs[i].data.fd;
    auto it = pending_pos_.find(fd);
    if (it != pending_pos_.end()) {
      // dict.update: two entries that report the same fd number (a shared epoll holds one per
      // process that registered it) collapse into one, the later one winning.
      pending_[it->second].second = evs[i].events;
    } else {
      pending_pos_.emplace(fd, pending_.size());
      pending_.emplace_back(fd, evs[i].events);
    }
  }
}

bool IOLoop::PopEvent(int* fd, std::uint32_t* events) {
  while (!pending_.empty()) {
    auto [f, ev] = pending_.back();
    pending_.pop_back();
    if (f < 0) continue;  // removed while pending
    pending_pos_.erase(f);
    *fd = f;
    *events = ev;
    return true;
  }
  return false;
}

void IOLoop::OnUnknownFd(int fd) {
  if (flavour_ == Flavour::kAsyncio) {
    // selectors: `key = self._key_from_fd(fd); if key is None: continue` — silent.
    Add(slot_, F_unknown_fd_events);
    Pace(slot_, pace_.skip_us);
    return;
  }
  // Tornado 4: KeyError from self._handlers[fd], caught by the loop and logged through
  // handle_callback_exception(self._handlers.get(fd)) → "Exception in callback None".
  Add(slot_, F_keyerrors);
  // Tornado formats and writes the traceback of every KeyError; the lab writes a bounded number of
  // lines (below) but burns the interpreter's cost of each one.
  Pace(slot_, pace_.keyerror_us);
  if (now_ - log_window_start_ >= 1.0) {
    log_window_start_ = now_;
    log_window_lines_ = 0;
  }
  if (log_window_lines_ >= keyerror_per_sec_) {
    Add(slot_, F_keyerror_log_suppressed);
    return;
  }
  ++log_window_lines_;
  char line[512];
  int len = std::snprintf(line, sizeof line,
                          "[worker %d pid %d] ERROR:tornado.application:Exception in callback None\n"
                          "Traceback (most recent call last):\n"
                          "  File \"tornado/ioloop.py\", in start\n"
                          "    fd_obj, handler_func = self._handlers[fd]\n"
                          "KeyError: %d\n",
                          worker_index_, static_cast<int>(getpid()), fd);
  if (len > 0 && write(STDERR_FILENO, line, static_cast<std::size_t>(len)) == len) {
    Add(slot_, F_keyerror_log_lines);
  }
}

int IOLoop::PollTimeoutMs() {
  if (!callbacks_.empty()) return 0;
  double wait = kPollTimeoutSec;
  if (!timeouts_.empty()) {
    wait = timeouts_.begin()->first.first - now_;
    if (wait < 0) wait = 0;
    if (wait > kPollTimeoutSec) wait = kPollTimeoutSec;
  }
  return static_cast<int>(std::ceil(wait * 1000.0));
}

void IOLoop::Start(const sigset_t* sigmask) {
  stopped_ = false;
  std::vector<std::function<void()>> running;
  while (!stopped_ && (stop_flag_ == nullptr || *stop_flag_ == 0)) {
    // Callbacks added during this pass wait for the next one.
    running.swap(callbacks_);
    const bool ran_callbacks = !running.empty();
    for (auto& cb : running) cb();
    running.clear();

    now_ = MonotonicNow();
    while (!timeouts_.empty() && timeouts_.begin()->first.first <= now_) {
      auto node = timeouts_.extract(timeouts_.begin());
      node.mapped()();
    }
    if (stopped_) break;

    // selectors.EpollSelector.select asks epoll for at most as many events as it has fds
    // registered (`max_ev = max(len(self._fd_to_key), 1)`): a worker that knows few fds takes few
    // of a shared epoll's ready items per pass, however many its siblings have waiting. Tornado 4's
    // PollIOLoop calls epoll.poll() without a limit (CPython: FD_SETSIZE - 1 = 1023).
    const int max_events =
        flavour_ == Flavour::kAsyncio
            ? static_cast<int>(std::clamp<std::size_t>(handlers_.size(), 1, kMaxEvents))
            : kMaxEvents;
    int n = epoll_pwait(epfd_, events_buf_.data(), max_events, PollTimeoutMs(), sigmask);
    now_ = MonotonicNow();
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal; the handler decides whether we stop
      std::perror("forklab: epoll_wait");
      stopped_ = true;
      break;
    }
    Add(slot_, F_loop_passes);
    Add(slot_, F_epoll_events, static_cast<std::uint64_t>(n));
    MergeEvents(events_buf_.data(), n);

    int fd;
    std::uint32_t events;
    while (PopEvent(&fd, &events)) {
      auto it = handlers_.find(fd);  // fd_obj, handler_func = self._handlers[fd]
      if (it == handlers_.end()) {
        OnUnknownFd(fd);
        continue;
      }
      Add(slot_, F_events_dispatched);
      Pace(slot_, pace_.event_us);
      it->second->HandleEvents(fd, events);
    }
    if (observer_ != nullptr) observer_->OnPass(now_, n > 0 || ran_callbacks);
  }
}

}  // namespace forklab

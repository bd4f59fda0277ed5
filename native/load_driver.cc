#include "load_driver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <deque>
#include <stdexcept>

namespace forklab {

namespace {

// Latency samples buffered per thread between two takes by the owner (4 MiB): at 100k responses
// a second and a take every 100 ms, 100 times what is needed.
constexpr std::size_t kRingSize = std::size_t{1} << 20;
// Largest response head accepted; a longer one is a protocol error.
constexpr std::size_t kMaxHead = 64 * 1024;
// Read buffer per thread. A read shorter than this drained the socket (edge-triggered epoll
// wakes again for any data that arrives later).
constexpr std::size_t kReadBuf = 64 * 1024;
// Longest sleep in epoll_wait: the stop flag, the deadlines and the CPU figure are looked at
// this often.
constexpr int kTickMs = 10;
constexpr int kMaxEvents = 256;
// TakeLatencyCounts counts values below this (µs, 65 ms) in a table (256 KiB); a larger one,
// rare, is a pair of its own.
constexpr std::uint32_t kCountedBelow = 1u << 16;

std::uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Single writer: a plain load and store, no locked instruction.
inline void Add(std::atomic<std::uint64_t>& a, std::uint64_t n) {
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// `token` (lower case) anywhere in p[0, n), any case; compares only where the first letter matches
// (a header value is scanned once per response: perf put strncasecmp at every offset at 1.2 % of
// the driver thread's time).
bool HasToken(const char* p, std::size_t n, const char* token) {
  std::size_t t = std::strlen(token);
  for (std::size_t i = 0; i + t <= n; ++i) {
    if ((p[i] | 0x20) == token[0] && strncasecmp(p + i, token, t) == 0) return true;
  }
  return false;
}

struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
};

Address Resolve(const LoadTarget& t, std::size_t index) {
  std::string where = "targets[" + std::to_string(index) + "]";
  if (t.port < 1 || t.port > 65535) throw std::invalid_argument(where + ".port must be 1..65535");
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(t.port);
  int rc = getaddrinfo(t.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    throw std::invalid_argument(where + ".host \"" + t.host + "\" does not resolve: " + gai_strerror(rc));
  }
  Address a;
  std::memcpy(&a.addr, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  a.family = res->ai_family;
  freeaddrinfo(res);
  return a;
}

}  // namespace

std::uint64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// One thread's share of the connections.
class LoadLoop {
 public:
  struct Conn {
    int fd = -1;
    int target = 0;
    bool connected = false;
    bool waiting = false;  // queued for the rate schedule
    bool retry = false;    // reconnect at the end of this pass
    std::uint64_t opened_ns = 0;
    // Pending requests, oldest first (a ring of `pipelining`): when each was due (latency) and
    // written (deadline).
    std::vector<std::uint64_t> due;
    std::vector<std::uint64_t> written;
    int head = 0;
    int count = 0;
    // Response parsing.
    std::string hdr;
    bool in_body = false;
    bool body_to_eof = false;
    std::uint64_t body_left = 0;
    int status = 0;
    bool close_after = false;
  };

  LoadLoop(const LoadDriverConfig& c, const std::vector<Address>* addrs,
           const std::vector<std::string>* requests, std::vector<int> conn_targets, double rate)
      : churn_(c.churn),
        pipelining_(c.churn ? 1 : c.pipelining),
        timeout_ns_(static_cast<std::uint64_t>(c.timeout_ms) * 1000000ull),
        rate_(rate),
        addrs_(addrs),
        requests_(requests),
        conns_(conn_targets.size()),
        ring_(new std::uint32_t[kRingSize]),
        buf_(new char[kReadBuf]) {
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      conns_[i].target = conn_targets[i];
      conns_[i].due.assign(pipelining_, 0);
      conns_[i].written.assign(pipelining_, 0);
    }
  }

  ~LoadLoop() {
    for (Conn& c : conns_) CloseFd(c);
    if (epfd_ >= 0) close(epfd_);
  }

  void RequestStop(std::uint64_t deadline_ns) {
    stop_deadline_ns_.store(deadline_ns, std::memory_order_relaxed);
    stopping_.store(true, std::memory_order_release);
  }

  bool running() const { return running_.load(std::memory_order_acquire); }

  void Run(std::uint64_t start_ns) {
    start_ns_ = start_ns;
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      running_.store(false, std::memory_order_release);
      return;
    }
    std::uint64_t now = NowNs();
    for (Conn& c : conns_) Begin(c, now);
    epoll_event events[kMaxEvents];
    std::uint64_t last_tick = now;
    for (;;) {
      if (stopping_.load(std::memory_order_acquire)) {
        if (!stop_seen_) {
          stop_seen_ = true;
          for (Conn* c : waiting_) c->waiting = false;
          waiting_.clear();
          // Connections with nothing in flight are done; churn slots still connecting count as
          // in flight (their request was counted as sent).
        }
        if (InFlight() == 0 || NowNs() >= stop_deadline_ns_.load(std::memory_order_relaxed)) break;
      }
      int timeout = kTickMs;
      if (!waiting_.empty()) {
        std::uint64_t due = NextDue();
        now = NowNs();
        timeout = due <= now ? 0 : static_cast<int>(std::min<std::uint64_t>((due - now + 999999) / 1000000, kTickMs));
      }
      std::uint64_t before = NowNs();
      int n = epoll_wait(epfd_, events, kMaxEvents, timeout);
      Add(idle_ns_, NowNs() - before);
      Add(passes_, 1);
      for (int i = 0; i < n; ++i) {
        Conn* c = static_cast<Conn*>(events[i].data.ptr);
        HandleEvents(*c, events[i].events);
      }
      now = NowNs();
      if (!waiting_.empty()) ServeWaiting(now);
      if (!retries_.empty()) {
        std::vector<Conn*> again;
        again.swap(retries_);
        for (Conn* c : again) {
          c->retry = false;
          if (!stop_seen_) Begin(*c, now);
        }
      }
      if (now - last_tick >= kTickMs * 1000000ull) {
        last_tick = now;
        CheckTimeouts(now);
        cpu_ns_.store(ThreadCpuNs(), std::memory_order_relaxed);
      }
    }
    for (Conn& c : conns_) CloseFd(c);
    cpu_ns_.store(ThreadCpuNs(), std::memory_order_relaxed);
    running_.store(false, std::memory_order_release);
  }

  void AddTo(LoadTotals* t) const {
    auto r = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    t->sent += r(sent_);
    t->responses += r(responses_);
    t->status_2xx += r(status_2xx_);
    t->status_other += r(status_other_);
    t->errors += r(errors_);
    t->timeouts += r(timeouts_);
    t->bytes_read += r(bytes_read_);
    t->samples_dropped += r(dropped_);
    t->cpu_ns += r(cpu_ns_);
    t->passes += r(passes_);
    t->idle_ns += r(idle_ns_);
    if (running()) t->threads_running++;
  }

  void TakeLatencies(std::vector<std::uint32_t>* out) {
    std::size_t r = read_.load(std::memory_order_relaxed);
    std::size_t w = write_.load(std::memory_order_acquire);
    out->reserve(out->size() + (w - r));
    for (; r < w; ++r) out->push_back(ring_[r & (kRingSize - 1)]);
    read_.store(r, std::memory_order_release);
  }

 private:
  int InFlight() const {
    int n = 0;
    for (const Conn& c : conns_) n += c.count;
    return n;
  }

  // The next request's due time on the schedule (rate only).
  std::uint64_t NextDue() const {
    return start_ns_ + static_cast<std::uint64_t>(static_cast<double>(issued_) * 1e9 / rate_);
  }

  // A slot on the schedule: with a rate, the due time if it has come (false: wait); without, now.
  bool TakeSlot(std::uint64_t now, std::uint64_t* due) {
    if (rate_ <= 0) {
      *due = now;
      return true;
    }
    std::uint64_t d = NextDue();
    if (d > now) return false;
    ++issued_;
    *due = d;
    return true;
  }

  void Wait(Conn& c) {
    if (c.waiting) return;
    c.waiting = true;
    waiting_.push_back(&c);
  }

  void ServeWaiting(std::uint64_t now) {
    while (!waiting_.empty() && !stop_seen_ && NextDue() <= now) {
      Conn* c = waiting_.front();
      waiting_.pop_front();
      c->waiting = false;
      if (churn_) {
        if (c->fd < 0 && !c->retry) Begin(*c, now);
      } else if (c->fd >= 0 && c->connected) {
        Fill(*c, now);
      }
    }
  }

  // Keep-alive: connect. Churn: take a slot on the schedule, connect, count the request as sent.
  void Begin(Conn& c, std::uint64_t now) {
    assert(c.fd < 0 && c.count == 0);
    std::uint64_t due = now;
    if (churn_ && !TakeSlot(now, &due)) return Wait(c);
    const Address& a = (*addrs_)[c.target];
    c.fd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c.opened_ns = now;
    if (churn_) {
      Add(sent_, 1);
      c.due[0] = due;
      c.written[0] = now;
      c.head = 0;
      c.count = 1;
    }
    if (c.fd < 0) return Fail(c);
    if (!churn_) {
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) < 0 && errno != EINPROGRESS) {
      return Fail(c);
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) < 0) return Fail(c);
  }

  void HandleEvents(Conn& c, std::uint32_t ev) {
    if (c.fd < 0) return;
    if ((ev & EPOLLOUT) && !c.connected && !(ev & EPOLLERR)) {
      c.connected = true;
      std::uint64_t now = NowNs();
      if (churn_) {
        if (!Write(c)) return;
      } else {
        Fill(c, now);
        if (c.fd < 0) return;
      }
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Read(c, ev);
  }

  // Writes the slot's request; false (and failed) when it did not go in one piece.
  bool Write(Conn& c) {
    const std::string& req = (*requests_)[c.target];
    ssize_t n = send(c.fd, req.data(), req.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(req.size())) {
      Fail(c);
      return false;
    }
    return true;
  }

  // Keep-alive: tops the connection up to `pipelining` requests in flight, as the schedule allows.
  void Fill(Conn& c, std::uint64_t now) {
    while (!stop_seen_ && c.count < pipelining_) {
      std::uint64_t due;
      if (!TakeSlot(now, &due)) return Wait(c);
      if (!Write(c)) return;
      Add(sent_, 1);
      int slot = (c.head + c.count) % pipelining_;
      c.due[slot] = due;
      c.written[slot] = now;
      c.count++;
    }
  }

  // A response that ends its connection closes the fd and may open the slot's next one at once:
  // reading and parsing stop as soon as c.fd is no longer the fd they started on.
  void Read(Conn& c, std::uint32_t ev) {
    const int fd = c.fd;
    for (;;) {
      ssize_t n = recv(fd, buf_.get(), kReadBuf, 0);
      if (n > 0) {
        Add(bytes_read_, static_cast<std::uint64_t>(n));
        Parse(c, buf_.get(), static_cast<std::size_t>(n));
        if (c.fd != fd) return;
        if (static_cast<std::size_t>(n) < kReadBuf && !(ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
        continue;
      }
      if (n == 0) return Eof(c);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (ev & EPOLLERR) Fail(c);
        return;
      }
      return Fail(c);
    }
  }

  void Parse(Conn& c, const char* p, std::size_t n) {
    const int fd = c.fd;
    std::size_t i = 0;
    while (i < n) {
      if (c.in_body) {
        if (c.body_to_eof) return;
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(c.body_left, n - i));
        c.body_left -= take;
        i += take;
        if (c.body_left == 0) {
          Complete(c);
          if (c.fd != fd) return;
        }
        continue;
      }
      if (c.count == 0) return Fail(c);  // bytes with no request pending
      const char* head;
      std::size_t head_len;
      if (c.hdr.empty()) {
        const void* end = memmem(p + i, n - i, "\r\n\r\n", 4);
        if (end == nullptr) {
          c.hdr.assign(p + i, n - i);
          if (c.hdr.size() > kMaxHead) return Fail(c);
          return;
        }
        head = p + i;
        head_len = static_cast<const char*>(end) - head + 4;
        i += head_len;
      } else {
        std::size_t old = c.hdr.size();
        c.hdr.append(p + i, n - i);
        std::size_t pos = c.hdr.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
        if (pos == std::string::npos) {
          if (c.hdr.size() > kMaxHead) return Fail(c);
          return;
        }
        head_len = pos + 4;
        i += head_len - old;
        c.hdr.resize(head_len);
        head = c.hdr.data();
      }
      if (!ParseHead(c, head, head_len)) return Fail(c);
      c.hdr.clear();
      c.in_body = true;
      if (!c.body_to_eof && c.body_left == 0) {
        Complete(c);
        if (c.fd != fd) return;
      }
    }
  }

  // Status line and the headers that frame the body; false when it is not an HTTP/1.x response
  // this client can frame (chunked bodies are not supported: counted as errors).
  bool ParseHead(Conn& c, const char* p, std::size_t n) {
    if (n < 12 || std::memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ') return false;
    if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') return false;
    c.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    c.close_after = p[7] == '0';
    bool length_seen = false;
    c.body_left = 0;
    c.body_to_eof = false;
    const char* line = static_cast<const char*>(std::memchr(p, '\n', n));
    const char* end = p + n;
    while (line != nullptr && line + 1 < end) {
      const char* s = line + 1;
      const char* e = static_cast<const char*>(std::memchr(s, '\n', end - s));
      if (e == nullptr) break;
      std::size_t len = e - s;
      // Only names starting with c or t matter: one compare rules out the others.
      const char first = static_cast<char>(len > 0 ? (s[0] | 0x20) : 0);
      if (first != 'c' && first != 't') {
        line = e;
        continue;
      }
      if (len >= 15 && strncasecmp(s, "content-length:", 15) == 0) {
        std::uint64_t v = 0;
        std::size_t k = 15;
        while (k < len && (s[k] == ' ' || s[k] == '\t')) ++k;
        if (k >= len || s[k] < '0' || s[k] > '9') return false;
        for (; k < len && s[k] >= '0' && s[k] <= '9'; ++k) v = v * 10 + (s[k] - '0');
        c.body_left = v;
        length_seen = true;
      } else if (len >= 11 && strncasecmp(s, "connection:", 11) == 0) {
        if (HasToken(s + 11, len - 11, "close")) c.close_after = true;
        if (HasToken(s + 11, len - 11, "keep-alive") && p[7] == '0') c.close_after = false;
      } else if (len >= 18 && strncasecmp(s, "transfer-encoding:", 18) == 0) {
        return false;
      }
      line = e;
    }
    bool no_body = c.status == 204 || c.status == 304;
    if (!length_seen && !no_body) {
      c.body_to_eof = true;
      c.close_after = true;
    }
    return true;
  }

  void Complete(Conn& c) {
    assert(c.count > 0);
    std::uint64_t now = NowNs();
    std::uint64_t due = c.due[c.head];
    c.head = (c.head + 1) % pipelining_;
    c.count--;
    c.in_body = false;
    Add(responses_, 1);
    if (c.status >= 200 && c.status < 300) {
      Add(status_2xx_, 1);
    } else {
      Add(status_other_, 1);
    }
    std::uint64_t us = now > due ? (now - due + 500) / 1000 : 0;
    Record(us < 1 ? 1 : (us > 0xffffffffull ? 0xffffffffu : static_cast<std::uint32_t>(us)));
    if (churn_) {
      CloseFd(c);
      if (!stop_seen_) Begin(c, now);
    } else if (c.close_after) {
      // The server ends this connection: what is still pending on it will get no response.
      Add(errors_, static_cast<std::uint64_t>(c.count));
      c.count = 0;
      CloseFd(c);
      if (!stop_seen_) Begin(c, now);
    } else {
      Fill(c, now);
    }
  }

  void Eof(Conn& c) {
    const int fd = c.fd;
    if (c.in_body && c.body_to_eof) {
      Complete(c);
      if (c.fd != fd) return;
    }
    Add(errors_, static_cast<std::uint64_t>(c.count));
    c.count = 0;
    CloseFd(c);
    Retry(c);
  }

  void Fail(Conn& c) {
    Add(errors_, static_cast<std::uint64_t>(c.count));
    c.count = 0;
    CloseFd(c);
    Retry(c);
  }

  // Reconnects at the end of the pass, not inside it: a refused port does not spin in one pass.
  void Retry(Conn& c) {
    if (c.retry || stop_seen_) return;
    c.retry = true;
    retries_.push_back(&c);
  }

  void CheckTimeouts(std::uint64_t now) {
    for (Conn& c : conns_) {
      if (c.fd < 0) continue;
      if (c.count > 0 && now - c.written[c.head] >= timeout_ns_) {
        Add(timeouts_, static_cast<std::uint64_t>(c.count));
        c.count = 0;
        CloseFd(c);
        Retry(c);
      } else if (c.count == 0 && !c.connected && now - c.opened_ns >= timeout_ns_) {
        CloseFd(c);  // keep-alive connect that never completed: nothing was sent on it
        Retry(c);
      }
    }
  }

  void CloseFd(Conn& c) {
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.connected = false;
    c.in_body = false;
    c.hdr.clear();
  }

  void Record(std::uint32_t us) {
    std::size_t w = write_.load(std::memory_order_relaxed);
    std::size_t r = read_.load(std::memory_order_acquire);
    if (w - r >= kRingSize) {
      Add(dropped_, 1);
      return;
    }
    ring_[w & (kRingSize - 1)] = us;
    write_.store(w + 1, std::memory_order_release);
  }

  const bool churn_;
  const int pipelining_;
  const std::uint64_t timeout_ns_;
  const double rate_;
  const std::vector<Address>* addrs_;
  const std::vector<std::string>* requests_;
  std::vector<Conn> conns_;
  std::deque<Conn*> waiting_;
  std::vector<Conn*> retries_;
  int epfd_ = -1;
  std::uint64_t start_ns_ = 0;
  std::uint64_t issued_ = 0;
  bool stop_seen_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{true};
  std::atomic<std::uint64_t> stop_deadline_ns_{0};

  std::atomic<std::uint64_t> sent_{0}, responses_{0}, status_2xx_{0}, status_other_{0}, errors_{0},
      timeouts_{0}, bytes_read_{0}, dropped_{0}, cpu_ns_{0}, passes_{0}, idle_ns_{0};

  std::unique_ptr<std::uint32_t[]> ring_;
  std::atomic<std::size_t> write_{0};
  std::atomic<std::size_t> read_{0};
  std::unique_ptr<char[]> buf_;
};

// Read by every loop, owned by the driver: outlives the threads.
struct LoadShared {
  std::vector<Address> addrs;
  std::vector<std::string> requests;
};

LoadDriver::LoadDriver(const LoadDriverConfig& config) : config_(config) {
  const LoadDriverConfig& c = config_;
  if (c.targets.empty()) throw std::invalid_argument("targets: at least one is needed");
  if (c.connections < 1) throw std::invalid_argument("connections must be ≥ 1");
  if (c.threads < 1 || c.threads > c.connections) {
    throw std::invalid_argument("threads must be from 1 to connections");
  }
  if (c.pipelining < 1 || c.pipelining > 1024) throw std::invalid_argument("pipelining must be 1..1024");
  if (c.timeout_ms < 1) throw std::invalid_argument("timeoutMs must be ≥ 1");
  if (c.rate < 0) throw std::invalid_argument("rate must be ≥ 0 (0 = unpaced)");
  if (c.path.empty() || c.path[0] != '/') throw std::invalid_argument("path must start with /");
  for (char ch : c.path) {
    if (ch <= ' ' || ch == 0x7f) throw std::invalid_argument("path must not contain spaces or control characters");
  }
  shared_ = std::make_unique<LoadShared>();
  LoadShared* shared = shared_.get();
  for (std::size_t i = 0; i < c.targets.size(); ++i) {
    const LoadTarget& t = c.targets[i];
    shared->addrs.push_back(Resolve(t, i));
    std::string host = shared->addrs.back().family == AF_INET6 ? "[" + t.host + "]" : t.host;
    shared->requests.push_back("GET " + c.path + " HTTP/1.1\r\nHost: " + host + ":" +
                               std::to_string(t.port) + "\r\n" +
                               (c.churn ? "Connection: close\r\n" : "") + "\r\n");
  }
  for (int t = 0; t < c.threads; ++t) {
    std::vector<int> targets;
    for (int i = t; i < c.connections; i += c.threads) targets.push_back(i % static_cast<int>(c.targets.size()));
    loops_.push_back(std::make_unique<LoadLoop>(c, &shared->addrs, &shared->requests, targets,
                                                c.rate / c.threads));
  }
}

LoadDriver::~LoadDriver() {
  if (started_) {
    Stop(0);
    Join();
  }
}

void LoadDriver::Start() {
  if (started_) throw std::logic_error("load driver already started");
  started_ = true;
  started_ns_ = NowNs();
  for (auto& loop : loops_) {
    LoadLoop* l = loop.get();
    std::uint64_t t0 = started_ns_;
    threads_.emplace_back([l, t0] { l->Run(t0); });
  }
}

void LoadDriver::Stop(int grace_ms) {
  std::uint64_t now = NowNs();
  std::uint64_t expected = 0;
  stopped_ns_.compare_exchange_strong(expected, now);
  for (auto& loop : loops_) loop->RequestStop(now + static_cast<std::uint64_t>(grace_ms < 0 ? 0 : grace_ms) * 1000000ull);
}

bool LoadDriver::Finished() const {
  if (!started_) return false;
  for (const auto& loop : loops_) {
    if (loop->running()) return false;
  }
  return true;
}

void LoadDriver::Join() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

LoadTotals LoadDriver::Read() const {
  LoadTotals t;
  for (const auto& loop : loops_) loop->AddTo(&t);
  if (started_) t.wall_ns = NowNs() - started_ns_;
  return t;
}

void LoadDriver::TakeLatencies(std::vector<std::uint32_t>* out) {
  for (auto& loop : loops_) loop->TakeLatencies(out);
}

void LoadDriver::TakeLatencyCounts(std::vector<std::uint32_t>* out) {
  taken_.clear();
  TakeLatencies(&taken_);
  if (taken_.empty()) return;
  if (counts_.empty()) counts_.assign(kCountedBelow, 0);
  assert(touched_.empty());
  large_.clear();
  for (std::uint32_t us : taken_) {
    if (us < kCountedBelow) {
      if (counts_[us]++ == 0) touched_.push_back(us);
    } else {
      large_.push_back(us);
    }
  }
  for (std::uint32_t us : touched_) {
    out->push_back(us);
    out->push_back(counts_[us]);
    counts_[us] = 0;
  }
  touched_.clear();
  // The rare values beyond the table, sorted so that equal ones make one pair, as the table's do
  // (two 80 ms responses may well take the same microsecond count within one take).
  std::sort(large_.begin(), large_.end());
  for (std::size_t i = 0; i < large_.size();) {
    std::size_t j = i;
    while (j < large_.size() && large_[j] == large_[i]) ++j;
    out->push_back(large_[i]);
    out->push_back(static_cast<std::uint32_t>(j - i));
    i = j;
  }
}

}  // namespace forklab

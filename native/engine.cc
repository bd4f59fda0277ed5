#include "engine.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "port_owner.h"
#include "worker.h"

namespace forklab {

namespace {

[[noreturn]] void ThrowErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

int BindOne(const sockaddr_storage& addr, socklen_t len, int backlog, bool reuse_port) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    ThrowErrno("setsockopt(SO_REUSEPORT)");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 || listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    std::string who = e == EADDRINUSE ? DescribeListeners(addr) : "";
    errno = e;
    ThrowErrno(who.empty() ? "bind/listen" : "bind/listen (listened on by " + who + ")");
  }
  return fd;
}

int PortOf(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) ThrowErrno("getsockname");
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

Engine::Engine(const EngineConfig& config) : config_(config) {
  auto errs = Validate(config_);
  if (!errs.empty()) {
    std::string msg = "invalid engine configuration:";
    for (auto& e : errs) msg += "\n  - " + e;
    throw std::invalid_argument(msg);
  }
  if (!counters_.Map(static_cast<std::size_t>(config_.workers))) ThrowErrno("mmap (counters)");
  pids_.assign(static_cast<std::size_t>(config_.workers), 0);
}

Engine::~Engine() { Close(); }

int Engine::Listen() {
  if (!listen_fds_.empty()) throw std::logic_error("listen() was already called");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(config_.port);
  int gai = getaddrinfo(config_.host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    throw std::invalid_argument("host: cannot resolve \"" + config_.host + "\": " +
                                gai_strerror(gai));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  socklen_t len = res->ai_addrlen;
  freeaddrinfo(res);
  const int count = config_.reuse_port ? config_.workers : 1;
  const int port_wanted = addr.ss_family == AF_INET6
                              ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                              : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (config_.reuse_port && port_wanted != 0) {
    // SO_REUSEPORT lets any socket of the same user join a port that is already listened on
    // with it, and the kernel then spreads connections over both programs: refuse instead.
    std::string who = DescribeListeners(addr);
    if (!who.empty()) {
      throw std::runtime_error("port " + std::to_string(port_wanted) + " is already listened on by " +
                               who + "; with --reuseport the kernel would share its connections " +
                               "with that process: stop it or choose another --port");
    }
  }
  try {
    for (int i = 0; i < count; ++i) {
      listen_fds_.push_back(BindOne(addr, len, config_.backlog, config_.reuse_port));
      if (i == 0) {
        port_ = PortOf(listen_fds_[0]);  // port 0: the others join the port the kernel chose
        if (addr.ss_family == AF_INET6) {
          reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(static_cast<uint16_t>(port_));
        } else {
          reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(static_cast<uint16_t>(port_));
        }
      }
    }
  } catch (...) {
    for (int fd : listen_fds_) close(fd);
    listen_fds_.clear();
    throw;
  }
  return port_;
}

void Engine::CreateParentLoop() {
  if (config_.loop_creation == LoopCreation::kPostFork) {
    throw std::logic_error("createParentLoop: loopCreation is post-fork; the workers make theirs");
  }
  if (parent_loop_) throw std::logic_error("createParentLoop was already called");
  parent_loop_ = std::make_unique<IOLoop>();
}

void Engine::RegisterListenerInParent() {
  if (config_.loop_creation != LoopCreation::kPreFork) {
    throw std::logic_error("registerListenerInParent: only with loopCreation pre-fork");
  }
  if (!parent_loop_) throw std::logic_error("registerListenerInParent: call createParentLoop first");
  if (listen_fds_.empty()) throw std::logic_error("registerListenerInParent: call listen first");
  if (parent_accept_) throw std::logic_error("registerListenerInParent was already called");
  parent_accept_ = std::make_unique<AcceptHandler>(listen_fds_[0], config_.accept_batch);
  if (int e = parent_loop_->AddHandler(listen_fds_[0], parent_accept_.get(), IOLoop::kRead)) {
    errno = e;
    ThrowErrno("epoll_ctl(ADD, listening socket) in the parent");
  }
}

pid_t Engine::SpawnWorker(int index) {
  if (index < 0 || index >= config_.workers) {
    throw std::out_of_range("spawnWorker: index must be from 0 to " +
                            std::to_string(config_.workers - 1));
  }
  if (listen_fds_.empty()) throw std::logic_error("spawnWorker: call listen first");
  if (config_.loop_creation != LoopCreation::kPostFork && !parent_loop_) {
    throw std::logic_error("spawnWorker: pre-fork modes need createParentLoop first");
  }
  if (config_.loop_creation == LoopCreation::kPreFork && !parent_accept_) {
    throw std::logic_error("spawnWorker: pre-fork needs registerListenerInParent first");
  }
  if (pids_[index] != 0) {
    throw std::logic_error("spawnWorker: worker " + std::to_string(index) + " is running");
  }
  WorkerSetup setup;
  setup.index = index;
  setup.config = &config_;
  setup.slot = counters_.Slot(static_cast<std::size_t>(index));
  setup.listen_fd = listen_fds_[config_.reuse_port ? index : 0];
  setup.parent = getpid();
  setup.inherited_loop = parent_loop_.get();
  setup.inherited_accept = parent_accept_.get();
  pid_t pid = fork();
  if (pid < 0) ThrowErrno("fork");
  if (pid == 0) RunWorker(setup);  // never returns
  pids_[index] = pid;
  return pid;
}

std::vector<ReapedWorker> Engine::Reap() {
  std::vector<ReapedWorker> out;
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] == 0) continue;
    int status = 0;
    rusage ru{};
    pid_t r = wait4(pids_[i], &status, WNOHANG, &ru);  // our own pid only, never -1
    if (r != pids_[i]) continue;
    // Fold what the worker used after its last publish: wait4's rusage is the final figure.
    std::uint64_t* slot = counters_.Slot(i);
    const std::uint64_t fin[4] = {
        static_cast<std::uint64_t>(ru.ru_nvcsw), static_cast<std::uint64_t>(ru.ru_nivcsw),
        static_cast<std::uint64_t>(ru.ru_utime.tv_sec) * 1000000u +
            static_cast<std::uint64_t>(ru.ru_utime.tv_usec),
        static_cast<std::uint64_t>(ru.ru_stime.tv_sec) * 1000000u +
            static_cast<std::uint64_t>(ru.ru_stime.tv_usec)};
    const Field total[4] = {F_nvcsw, F_nivcsw, F_utime_us, F_stime_us};
    const Field pub[4] = {F_pub_nvcsw, F_pub_nivcsw, F_pub_utime_us, F_pub_stime_us};
    for (int k = 0; k < 4; ++k) {
      std::uint64_t before = Get(slot, pub[k]);
      if (fin[k] > before) Add(slot, total[k], fin[k] - before);
      Set(slot, pub[k], 0);
    }
    Set(slot, F_pid, 0);
    Set(slot, F_open_connections, 0);
    Set(slot, F_stuck_connections, 0);
    ReapedWorker w{static_cast<int>(i), pids_[i], -1, -1};
    if (WIFEXITED(status)) w.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) w.signal = WTERMSIG(status);
    pids_[i] = 0;
    out.push_back(w);
  }
  return out;
}

bool Engine::SignalWorker(int index, int sig) {
  if (index < 0 || index >= config_.workers || pids_[index] == 0) return false;
  return kill(pids_[index], sig) == 0;
}

pid_t Engine::WorkerPid(int index) const {
  if (index < 0 || index >= config_.workers) return 0;
  return pids_[index];
}

void Engine::Close() {
  parent_accept_.reset();
  parent_loop_.reset();
  for (int fd : listen_fds_) close(fd);
  listen_fds_.clear();
}

}  // namespace forklab

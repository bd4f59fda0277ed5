// The supervisor's side of the engine: listening sockets, the loop made before fork (when the
// configuration asks for the bug), the shared counters, forking and reaping workers.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "accept_handler.h"
#include "config.h"
#include "counters.h"
#include "ioloop.h"

namespace forklab {

struct ReapedWorker {
  int index;
  pid_t pid;
  int exit_code;  // -1 when killed by a signal
  int signal;     // -1 when it exited
};

class Engine {
 public:
  // Throws std::invalid_argument listing every configuration error.
  explicit Engine(const EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Binds and listens: one socket, or one SO_REUSEPORT socket per worker. Returns the port.
  int Listen();
  const std::vector<int>& listen_fds() const { return listen_fds_; }
  void CreateParentLoop();
  void RegisterListenerInParent();
  pid_t SpawnWorker(int index);
  std::vector<ReapedWorker> Reap();
  bool SignalWorker(int index, int sig);
  pid_t WorkerPid(int index) const;
  SharedCounters& counters() { return counters_; }
  const EngineConfig& config() const { return config_; }
  void Close();

 private:
  EngineConfig config_;
  SharedCounters counters_;
  std::vector<int> listen_fds_;
  int port_ = 0;
  std::unique_ptr<IOLoop> parent_loop_;
  std::unique_ptr<AcceptHandler> parent_accept_;
  std::vector<pid_t> pids_;
};

}  // namespace forklab

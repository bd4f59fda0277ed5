// The listening socket's handler: Tornado 4's netutil.add_accept_handler.
//
// Tornado accepts in a loop of at most _DEFAULT_BACKLOG (128) per event: EAGAIN ends the loop,
// ECONNABORTED is skipped, anything else raises. The lab adds what a production loop needs: on
// EMFILE/ENFILE it sheds the waiting connections (libuv's reserve-fd trick) instead of spinning on
// a level-triggered listening socket it can never drain. Every accept4 call is counted once, at
// the call, in exactly one of accepts_ok, accepts_shed, accept_eagain, accept_econnaborted,
// accept_emfile or accept_errors.
#pragma once

#include "ioloop.h"

namespace forklab {

class Worker;

class AcceptHandler : public Handler {
 public:
  AcceptHandler(int listen_fd, int batch) : listen_fd_(listen_fd), batch_(batch) {}
  // In pre-fork mode the handler is made in the parent and inherited; each worker attaches itself.
  void AttachWorker(Worker* w) { worker_ = w; }
  void HandleEvents(int fd, std::uint32_t events) override;
  int listen_fd() const { return listen_fd_; }

 private:
  void Shed(int fd);

  Worker* worker_ = nullptr;
  int listen_fd_;
  int batch_;
};

}  // namespace forklab

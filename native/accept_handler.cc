#include "accept_handler.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

#include "counters.h"
#include "worker.h"

namespace forklab {

void AcceptHandler::HandleEvents(int fd, std::uint32_t) {
  assert(worker_ != nullptr && "an accept handler runs only in a worker");
  std::uint64_t* slot = worker_->slot();
  Add(slot, F_listen_events);
  if (!worker_->accepting()) return;  // cycling: the replacement will take these
  for (int i = 0; i < batch_; ++i) {
    int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      Add(slot, F_accepts_ok);
      worker_->OnConnection(c);
      continue;
    }
    switch (errno) {
      case EAGAIN:
        Add(slot, F_accept_eagain);  // everything waiting has been accepted (or a sibling won)
        return;
      case ECONNABORTED:
        Add(slot, F_accept_econnaborted);  // closed while still in the accept queue: next one
        continue;
      case EMFILE:
      case ENFILE:
        Add(slot, F_accept_emfile);
        Shed(fd);
        return;
      case EINTR:
        Add(slot, F_accept_errors);
        continue;
      default: {
        Add(slot, F_accept_errors);
        worker_->Log("accept4 failed: %s", std::strerror(errno));
        return;
      }
    }
  }
}

// libuv's uv__emfile_trick: give back the reserve fd, accept and close what is waiting, take the
// reserve again. The clients see their connection closed instead of waiting in a queue that a
// level-triggered loop would spin on.
void AcceptHandler::Shed(int fd) {
  std::uint64_t* slot = worker_->slot();
  if (worker_->reserve_fd() < 0) return;
  worker_->CloseReserve();
  for (int i = 0; i < batch_; ++i) {
    int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      Add(slot, F_accepts_shed);
      close(c);
      continue;
    }
    if (errno == EAGAIN) {
      Add(slot, F_accept_eagain);
    } else if (errno == ECONNABORTED) {
      Add(slot, F_accept_econnaborted);
      continue;
    } else if (errno == EMFILE || errno == ENFILE) {
      Add(slot, F_accept_emfile);
    } else {
      Add(slot, F_accept_errors);
    }
    break;
  }
  worker_->ReopenReserve();
}

}  // namespace forklab

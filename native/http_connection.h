// One HTTP/1.1 connection served by a worker: a small responder in the spirit of Tornado's
// HTTP1Connection — one request at a time, keep-alive by default.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "deadline_lists.h"
#include "ioloop.h"

namespace forklab {

class Worker;

// The connection's timeouts (Worker keeps one deadline list per kind).
enum TimeoutKind { kTimeoutHeader, kTimeoutBody, kTimeoutIdle, kTimeoutSend, kTimeoutKinds };

// Memory per connection is bounded whatever the client does:
// - the head is parsed from `in_`, which never holds more than the head limit plus one line of
//   skippable empty lines plus one byte (reads ask for the room left); the parser answers before
//   it is full, a head that does not fit is a 414/431;
// - request bodies are discarded as they are read, never buffered;
// - while a response is due (a /delay timer, or a response the client does not read) the
//   connection stops reading (EPOLLIN off): at most one response is pending and further pipelined
//   requests wait in the kernel's socket buffer, whose window then closes on the client;
// - `out_` holds one response (the routes' bodies are a few dozen bytes).
class HttpConnection : public Handler, public DeadlineNode {
 public:
  static constexpr int kMaxDelayMs = 60000;
  // Bytes read per read() call.
  static constexpr std::size_t kReadChunk = 65536;
  // read() calls per event at most, so that one client streaming a body at loopback speed cannot
  // hold the worker: level-triggered, the loop reports the rest on its next pass; edge-triggered,
  // the connection asks to be resumed by a callback on the next pass. Chosen, not tuned: 256 KiB per
  // event is a few hundred microseconds of copying, small next to a pass under load.
  static constexpr int kReadsPerEvent = 4;

  HttpConnection(Worker* worker, int fd, double now);
  ~HttpConnection() override = default;

  void HandleEvents(int fd, std::uint32_t events) override;
  // The worker's deadline for `kind` passed.
  void OnTimeout(int kind);
  // Edge-triggered: carry on reading where the per-event budget stopped.
  void OnResume();
  // Sets the epoll interest and the timeout that match the connection's state; called after every
  // change (events, timers) and once after registration.
  void Settle();

  int fd() const { return fd_; }
  bool closed() const { return closed_; }
  // Unread data in the socket and no progress for `after` seconds (never while reading is paused
  // on purpose for a pending response).
  bool IsStuck(double now, double after) const;
  bool stuck_flag() const { return stuck_; }
  void set_stuck_flag(bool v) { stuck_ = v; }
  // True while no request is in progress: safe to close when the worker cycles.
  bool Idle() const {
    return !awaiting_response_ && !in_body_ && in_.size() == in_parsed_ && out_.empty();
  }
  void Close();
  // Sends the response prepared earlier and goes on with the input (pace: a deferred answer).
  void AnswerNow();
  // Pace next_read_inline: the request loop resumes (see pace.h) and reads its next request inline.
  void ResumeRequestLoop();
  // Pace next_read_inline, for a new connection whose fd is deferred (not yet in epoll): reads
  // inline, answers a request found at once, and registers the fd only if the read would block.
  void StartUnregistered();
  // Between two requests of Tornado 4's request loop: input is buffered, not parsed.
  bool parked() const { return parked_; }
  // True once per connection: for the first request whose cost is paced (first_request_us).
  bool TakeFirstPaced() { return !std::exchange(paced_any_, true); }

 private:
  // `after_event`: the loop reported the fd (a read that finds nothing is then spurious); false for
  // an inline read.
  void OnReadable(bool after_event = true);
  // Pace next_read_inline: a response went out and the connection stays open.
  void Park();
  // _try_inline_read: the buffer, then the socket; then Settle (which registers a deferred fd
  // once reading is wanted).
  void ReadInline();
  void OnWritable();
  // Takes `n` bytes just read: body bytes are dropped, the rest go to `in_` and are parsed.
  void Consume(const char* data, std::size_t n);
  void ProcessInput();
  void Dispatch(std::string_view method, std::string_view target, bool head);
  void Route(std::string_view method, std::string_view target, bool head);
  void Respond(int status, const char* content_type, const std::string& body, bool head);
  void RespondRaw(int status, std::string&& bytes);
  void Fail(int status, const char* why);  // respond and close after the write
  void FlushOutput();
  void ClientAbort();
  std::size_t InputLimit() const;

  Worker* worker_;
  int fd_;
  bool closed_ = false;
  bool stuck_ = false;
  bool want_write_ = false;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool awaiting_response_ = false;  // a complete request whose response is not fully written
  bool read_eof_ = false;           // read() returned 0
  bool rdhup_ = false;              // the client's FIN seen (EPOLLRDHUP) while reading was off
  bool served_any_ = false;         // a request was dispatched on this connection
  bool paced_any_ = false;          // a request's cost was paced (Worker::PaceRequest)
  bool new_request_ = false;        // since the last Settle: a request was dispatched
  bool progress_ = false;           // since the last Settle: body bytes read or response bytes sent
  bool parked_ = false;             // waiting for ResumeRequestLoop (pace next_read_inline)
  // The READ bit of Tornado 4.5's IOStream._state (pace next_read_inline; always set otherwise):
  // set when a read would block (_add_io_state), cleared when an event buffers input that no read
  // waits for (_handle_events: ERROR only while the buffer holds data); reads from the buffer or
  // inline reads that find data leave it as it is.
  bool read_wanted_ = true;
  bool answering_deferred_ = false;  // inside AnswerNow
  std::uint32_t interest_;          // registered events, without EPOLLET and the error bits
  int out_status_ = 0;
  double last_progress_;
  std::string in_;
  std::size_t in_parsed_ = 0;     // bytes of in_ consumed by complete requests
  std::uint64_t body_left_ = 0;   // request body bytes still to discard
  bool in_body_ = false;
  bool pending_head_ = false;     // the request whose body we discard was HEAD
  std::string pending_method_;
  std::string pending_target_;
  std::string out_;
  std::size_t out_sent_ = 0;
  IOLoop::TimeoutHandle delay_timer_;
};

}  // namespace forklab

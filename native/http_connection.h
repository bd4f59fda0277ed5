// One HTTP/1.1 connection served by a worker: a small responder in the spirit of Tornado's
// HTTP1Connection — one request at a time, keep-alive by default.
#pragma once

#include <cstdint>
#include <string>

#include "ioloop.h"

namespace forklab {

class Worker;

class HttpConnection : public Handler {
 public:
  static constexpr std::size_t kMaxHeaderBytes = 8192;
  static constexpr int kMaxDelayMs = 60000;
  // Bytes read per read() call: a request head fits many times over.
  static constexpr std::size_t kReadChunk = 65536;

  HttpConnection(Worker* worker, int fd, double now);
  ~HttpConnection() override = default;

  void HandleEvents(int fd, std::uint32_t events) override;

  int fd() const { return fd_; }
  bool closed() const { return closed_; }
  // Unread data in the socket and no progress for `after` seconds.
  bool IsStuck(double now, double after) const;
  bool stuck_flag() const { return stuck_; }
  void set_stuck_flag(bool v) { stuck_ = v; }
  // True while no request is in progress: safe to close when the worker cycles.
  bool Idle() const { return !awaiting_response_ && in_.size() == in_parsed_ && out_.empty(); }
  void Close();
  // Sends the response prepared earlier and goes on with the input (pace: a deferred answer).
  void AnswerNow();

 private:
  void OnReadable();
  void OnWritable();
  void ProcessInput();
  // Parses one request from in_; returns false when more bytes are needed or it closed.
  bool ParseOne();
  void Route(const char* method, std::size_t mlen, const char* target, std::size_t tlen,
             bool head);
  void Respond(int status, const char* content_type, const std::string& body, bool head);
  void RespondRaw(int status, std::string&& bytes);
  void Fail(int status, const char* why);  // respond and close after the write
  void FlushOutput();
  void ClientAbort();
  void WantWrite(bool want);

  Worker* worker_;
  int fd_;
  bool closed_ = false;
  bool stuck_ = false;
  bool want_write_ = false;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool awaiting_response_ = false;  // a complete request whose response is not fully written
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

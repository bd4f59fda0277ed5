#include "http_connection.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "counters.h"
#include "http_parser.h"
#include "worker.h"

namespace forklab {

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    default: return "Unknown";
  }
}

Field ResponseField(int status) {
  switch (status) {
    case 200: return F_responses_200;
    case 400: return F_responses_400;
    case 404: return F_responses_404;
    case 405: return F_responses_405;
    case 408: return F_responses_408;
    case 414: return F_responses_414;
    case 431: return F_responses_431;
    default: return F_responses_501;
  }
}

}  // namespace

HttpConnection::HttpConnection(Worker* worker, int fd, double now)
    : worker_(worker), fd_(fd), interest_(IOLoop::kRead), last_progress_(now) {}

void HttpConnection::HandleEvents(int, std::uint32_t events) {
  // Tornado 4.5's IOStream reads on any READ event, asked for or not (a sibling's event for the
  // same fd number in a shared epoll); the engine otherwise reads only when it asked to.
  const bool reading = (interest_ & IOLoop::kRead) != 0 ||
                       (worker_->config().pace.next_read_inline && !awaiting_response_ && !read_eof_);
  if (!reading && (events & IOLoop::kError)) {
    // Reading is off for a pending response: an error or hang-up here is a reset (the client's
    // FIN alone is EPOLLRDHUP; the engine never shuts its own side down).
    if (awaiting_response_) {
      ClientAbort();
    } else {
      Close();
    }
    return;
  }
  if (!reading && (events & EPOLLRDHUP) && !rdhup_) {
    // The client shut its side after its request: it may still read. Its response is written
    // when due; then reading resumes, finds the end of the stream and the connection closes.
    rdhup_ = true;
    if (awaiting_response_) Add(worker_->slot(), F_half_closes);
  }
  if (reading && (events & (IOLoop::kRead | IOLoop::kError))) {
    OnReadable();
    if (closed_) return;
  }
  if (events & IOLoop::kWrite) OnWritable();
  if (!closed_) Settle();
}

void HttpConnection::OnResume() {
  if (closed_) return;
  OnReadable();
  if (!closed_) Settle();
}

bool HttpConnection::IsStuck(double now, double after) const {
  if (closed_ || !(interest_ & IOLoop::kRead) || now - last_progress_ < after) return false;
  int unread = 0;
  return ioctl(fd_, FIONREAD, &unread) == 0 && unread > 0;
}

std::size_t HttpConnection::InputLimit() const {
  const HttpLimits& l = worker_->http_limits();
  // A head plus the empty lines the parser may skip before it, plus one: the parser asks for more
  // only up to max_line + max_head bytes (checked by the fuzz target), so a full buffer is always
  // answered.
  return l.max_head + l.max_line + 1;
}

void HttpConnection::OnReadable(bool after_event) {
  std::uint64_t* slot = worker_->slot();
  char* buf = worker_->read_buffer();
  int reads = 0;
  for (;;) {
    if (closed_ || awaiting_response_ || read_eof_) return;  // paused, or nothing more will come
    // Parked: one read into an empty buffer (IOStream._read_to_buffer_loop with no read pending),
    // and none after a request was answered inline (the loop goes on only after gen.moment).
    if (parked_ && (reads > 0 || in_.size() > in_parsed_)) return;
    if (reads == kReadsPerEvent) {
      if (worker_->edge()) worker_->ResumeLater(this);  // no new edge would report the rest
      return;
    }
    // Never more than fits: the head buffer's room, or what is left of a body plus that room.
    assert(in_parsed_ == 0);
    const std::size_t room = InputLimit() > in_.size() ? InputLimit() - in_.size() : 0;
    std::size_t want = kReadChunk;
    if (in_body_) {
      if (body_left_ + room < want) want = static_cast<std::size_t>(body_left_) + room;
    } else if (room < want) {
      want = room;
    }
    if (want == 0) {
      Fail(431, "request head over the limit\n");  // unreachable: the parser refuses it first
      return;
    }
    ssize_t n = read(fd_, buf, want);
    ++reads;
    if (n > 0) {
      Add(slot, F_bytes_in, static_cast<std::uint64_t>(n));
      last_progress_ = worker_->loop()->now();
      Consume(buf, static_cast<std::size_t>(n));
      if (after_event && parked_ && in_.size() > in_parsed_) read_wanted_ = false;
      if (static_cast<std::size_t>(n) < want) return;  // drained for now; new data is a new event
      continue;
    }
    if (n == 0) {
      // The client is done sending and no response is due (reading is off while one is): the
      // request in progress, if any, can never complete.
      read_eof_ = true;
      Close();
      return;
    }
    if (errno == EINTR) {
      --reads;
      continue;
    }
    if (errno == EAGAIN) {
      read_wanted_ = true;  // the read would block: _add_io_state(READ)
      if (reads == 1 && after_event) Add(slot, F_spurious_reads);  // the handler ran for nothing
      return;
    }
    Close();
    return;
  }
}

void HttpConnection::Consume(const char* data, std::size_t n) {
  if (in_body_) {
    assert(in_.size() == in_parsed_);
    std::size_t take = n < body_left_ ? n : static_cast<std::size_t>(body_left_);
    body_left_ -= take;
    Add(worker_->slot(), F_body_bytes_discarded, take);
    progress_ = true;
    data += take;
    n -= take;
    if (body_left_ > 0) return;
    in_body_ = false;
    Dispatch(pending_method_, pending_target_, pending_head_);
    if (closed_ || n == 0) return;
  }
  in_.append(data, n);
  if (!parked_) ProcessInput();  // parked: buffered until the request loop resumes
}

void HttpConnection::OnWritable() {
  FlushOutput();
  if (!closed_ && !awaiting_response_) ProcessInput();
}

void HttpConnection::ProcessInput() {
  const HttpLimits& limits = worker_->http_limits();
  while (!closed_ && !awaiting_response_ && !parked_) {
    if (in_body_) {  // body bytes that came with the head
      std::size_t avail = in_.size() - in_parsed_;
      std::size_t take = avail < body_left_ ? avail : static_cast<std::size_t>(body_left_);
      in_parsed_ += take;
      body_left_ -= take;
      Add(worker_->slot(), F_body_bytes_discarded, take);
      if (body_left_ > 0) break;
      in_body_ = false;
      Dispatch(pending_method_, pending_target_, pending_head_);
      continue;
    }
    if (in_parsed_ == in_.size()) break;
    ParseResult r = ParseRequestHead(in_.data() + in_parsed_, in_.size() - in_parsed_, limits);
    if (r.outcome == ParseOutcome::kNeedMore) break;
    if (r.outcome == ParseOutcome::kError) {
      Fail(r.status, r.reason);
      break;
    }
    in_parsed_ += r.consumed;
    keep_alive_ = r.head.keep_alive;
    if (r.head.content_length > 0) {
      pending_method_.assign(r.head.method);
      pending_target_.assign(r.head.target);
      pending_head_ = r.head.head_method;
      in_body_ = true;
      body_left_ = r.head.content_length;
      continue;
    }
    Dispatch(r.head.method, r.head.target, r.head.head_method);
  }
  if (closed_) return;
  if (in_parsed_ > 0) {
    in_.erase(0, in_parsed_);
    in_parsed_ = 0;
  }
  // Between requests a connection keeps at most clientHeaderBufferBytes of input buffer.
  if (in_.empty() && in_.capacity() > worker_->idle_buffer_bytes()) std::string().swap(in_);
}

void HttpConnection::Dispatch(std::string_view method, std::string_view target, bool head) {
  awaiting_response_ = true;  // from here until the response is fully written
  served_any_ = true;
  new_request_ = true;
  Add(worker_->slot(), F_requests);
  worker_->OnRequest();
  Route(method, target, head);
}

void HttpConnection::Settle() {
  if (closed_) return;
  // Epoll interest: read unless a response is due or the stream ended; while one is due, ask
  // only for the client's FIN (once), so that a half-close is seen without reading.
  std::uint32_t want = 0;
  if (!awaiting_response_ && !read_eof_ && read_wanted_) want |= IOLoop::kRead;
  if (awaiting_response_ && !rdhup_ && !read_eof_) want |= EPOLLRDHUP;
  if (want_write_) want |= IOLoop::kWrite;
  if (want != interest_) {
    if (awaiting_response_ && (interest_ & IOLoop::kRead) && !(want & IOLoop::kRead))
      Add(worker_->slot(), F_read_pauses);
    interest_ = want;
    worker_->loop()->UpdateHandler(fd_, want | (worker_->edge() ? EPOLLET : 0u));
  }
  // The timeout of the current phase.
  int kind_now;
  if (awaiting_response_) {
    kind_now = out_sent_ < out_.size() ? kTimeoutSend : -1;  // -1: a /delay timer is running
  } else if (in_body_) {
    kind_now = kTimeoutBody;
  } else if (in_.size() > in_parsed_ || !served_any_) {
    kind_now = kTimeoutHeader;  // from the first byte of the head (from the accept for the first)
  } else {
    kind_now = kTimeoutIdle;
  }
  const bool rearm = ((kind_now == kTimeoutHeader || kind_now == kTimeoutIdle) && new_request_) ||
                     ((kind_now == kTimeoutBody || kind_now == kTimeoutSend) && progress_);
  new_request_ = false;
  progress_ = false;
  if (kind_now < 0) {
    worker_->DisarmTimeout(this);
  } else if (kind != kind_now || rearm) {
    worker_->ArmTimeout(this, kind_now);
  }
}

void HttpConnection::OnTimeout(int which) {
  if (closed_) return;
  std::uint64_t* slot = worker_->slot();
  switch (which) {
    case kTimeoutHeader:
      Add(slot, F_timeouts_header);
      // 408 when part of a request came; a connection that sent nothing is just closed (nginx).
      if (in_.size() > in_parsed_) {
        Fail(408, "request head not received in time\n");
      } else {
        Close();
      }
      break;
    case kTimeoutBody:
      Add(slot, F_timeouts_body);
      Fail(408, "request body not received in time\n");
      break;
    case kTimeoutIdle:
      Add(slot, F_timeouts_idle);
      Close();
      break;
    default:
      Add(slot, F_timeouts_send);
      Close();
      break;
  }
  if (!closed_) Settle();
}

void HttpConnection::Route(std::string_view method, std::string_view tv, bool head) {
  const bool get = method == "GET";
  const char* target = tv.data();
  const std::size_t tlen = tv.size();
  if (!get && !head) {
    Respond(405, "text/plain", "only GET and HEAD\n", false);
    return;
  }
  const char* q = static_cast<const char*>(std::memchr(target, '?', tlen));
  std::size_t plen = q != nullptr ? static_cast<std::size_t>(q - target) : tlen;
  auto is = [&](const char* path) {
    return plen == std::strlen(path) && std::memcmp(target, path, plen) == 0;
  };
  if (is("/")) {
    Respond(200, "text/plain", "Hello, world\n", head);
  } else if (is("/pid")) {
    char body[96];
    std::snprintf(body, sizeof body, "{\"worker\":%d,\"pid\":%d}\n", worker_->index(),
                  static_cast<int>(getpid()));
    Respond(200, "application/json", body, head);
  } else if (is("/healthz")) {
    Respond(200, "text/plain", "ok\n", head);
  } else if (is("/delay")) {
    // ms=N, N an integer from 0 to kMaxDelayMs
    long ms = -1;
    if (q != nullptr) {
      std::string query(q + 1, tlen - plen - 1);
      std::size_t at = 0;
      while (at <= query.size()) {
        std::size_t amp = query.find('&', at);
        if (amp == std::string::npos) amp = query.size();
        if (query.compare(at, 3, "ms=") == 0 && amp > at + 3 && amp - at - 3 <= 6) {
          ms = 0;
          for (std::size_t i = at + 3; i < amp; ++i) {
            if (query[i] < '0' || query[i] > '9') {
              ms = -1;
              break;
            }
            ms = ms * 10 + (query[i] - '0');
          }
        }
        at = amp + 1;
      }
    }
    if (ms < 0 || ms > kMaxDelayMs) {
      Respond(400, "text/plain", "/delay needs ms=N with N an integer from 0 to 60000\n", head);
      return;
    }
    IOLoop* loop = worker_->loop();
    delay_timer_ = loop->AddTimeout(loop->now() + static_cast<double>(ms) / 1000.0,
                                    [this, ms, head] {
                                      delay_timer_ = {};
                                      char body[64];
                                      std::snprintf(body, sizeof body, "delayed %ld ms\n", ms);
                                      Respond(200, "text/plain", body, head);
                                      if (!closed_ && !awaiting_response_) ProcessInput();
                                      if (!closed_) Settle();
                                    });
  } else {
    Respond(404, "text/plain", "not found\n", head);
  }
}

void HttpConnection::Respond(int status, const char* content_type, const std::string& body,
                             bool head) {
  if (worker_->draining()) close_after_write_ = true;
  const bool close = close_after_write_ || !keep_alive_;
  std::string out;
  out.reserve(192 + (head ? 0 : body.size()));
  char line[64];
  std::snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, Reason(status));
  out += line;
  out += "Server: forklab\r\n";
  out += worker_->DateHeader();
  out += "Content-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n";
  if (status == 405) out += "Allow: GET, HEAD\r\n";
  // Tornado 4.5 answers a client's `Connection: close` without the header (5.0 added it, commit
  // e7cb7977): a client such as wrk then takes the answer for keep-alive, writes its next request
  // onto the closing socket and reconnects only when it reads the server's FIN. A close the server
  // decides on (an error, draining) is announced by every flavour.
  const bool client_closes = !keep_alive_ && !close_after_write_;
  if (close && !(client_closes && worker_->config().flavour == Flavour::kTornado4)) {
    out += "Connection: close\r\n";
  } else if (!close && keep_alive_) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head) out += body;
  RespondRaw(status, std::move(out));
}

void HttpConnection::RespondRaw(int status, std::string&& bytes) {
  awaiting_response_ = true;
  out_ = std::move(bytes);
  out_sent_ = 0;
  out_status_ = status;
  if (worker_->DeferAnswer(this)) return;  // pace: the framework answers on its next pass
  FlushOutput();
}

void HttpConnection::AnswerNow() {
  answering_deferred_ = true;
  FlushOutput();
  answering_deferred_ = false;
  if (!closed_ && !awaiting_response_) ProcessInput();
  if (!closed_) Settle();  // reading resumes once the answer is out
}

void HttpConnection::Fail(int status, const char* why) {
  close_after_write_ = true;
  Respond(status, "text/plain", why, false);
}

void HttpConnection::FlushOutput() {
  std::uint64_t* slot = worker_->slot();
  while (out_sent_ < out_.size()) {
    ssize_t n = send(fd_, out_.data() + out_sent_, out_.size() - out_sent_, MSG_NOSIGNAL);
    if (n > 0) {
      Add(slot, F_bytes_out, static_cast<std::uint64_t>(n));
      out_sent_ += static_cast<std::size_t>(n);
      progress_ = true;
      last_progress_ = worker_->loop()->now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      want_write_ = true;  // Settle asks for EPOLLOUT
      return;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      ClientAbort();
    } else {
      Close();
    }
    return;
  }
  Add(slot, ResponseField(out_status_));
  out_.clear();
  out_sent_ = 0;
  awaiting_response_ = false;
  want_write_ = false;
  const int after = worker_->config().pace.request_after_us;
  if (close_after_write_ || !keep_alive_) {
    Close();  // frees this object: only locals from here
    Pace(slot, after);
    return;
  }
  Pace(slot, after);
  if (worker_->config().pace.next_read_inline && !worker_->edge()) Park();
}

void HttpConnection::Park() {
  assert(!parked_ && !closed_ && !awaiting_response_);
  parked_ = true;
  // _read_message returns: its future resolves the request loop's yield on the next pass when the
  // answer ran from a callback (add_future), at once when it ran inline; then gen.moment.
  worker_->ResumeInPasses(this, answering_deferred_ ? 2 : 1);
}

void HttpConnection::ResumeRequestLoop() {
  assert(parked_ && !closed_ && !awaiting_response_);
  parked_ = false;
  // read_until_regex → _try_inline_read: the buffer first, then recv; a request found here is
  // answered at once (the coroutine's future is already done), and the loop parks again.
  Pace(worker_->slot(), worker_->config().pace.event_us);
  ReadInline();
}

void HttpConnection::StartUnregistered() {
  assert(worker_->loop()->Deferred(fd_) && !served_any_);
  interest_ = 0;  // nothing in epoll yet
  read_wanted_ = false;
  ReadInline();
}

void HttpConnection::ReadInline() {
  worker_->set_inline_reading(true);
  ProcessInput();
  if (!closed_ && !awaiting_response_ && !parked_) OnReadable(false);
  worker_->set_inline_reading(false);
  if (!closed_) Settle();  // a deferred fd is registered (add_handler) once it wants events
}

void HttpConnection::ClientAbort() {
  Add(worker_->slot(), F_client_aborts);
  Close();
}

void HttpConnection::Close() {
  if (closed_) return;
  closed_ = true;
  IOLoop* loop = worker_->loop();
  loop->RemoveTimeout(delay_timer_);
  delay_timer_ = {};
  worker_->DisarmTimeout(this);
  loop->RemoveHandler(fd_);
  close(fd_);
  worker_->OnConnectionClosed(this);  // moves this object to the graveyard: touch nothing after
}

}  // namespace forklab

#include "http_connection.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "counters.h"
#include "worker.h"

namespace forklab {

namespace {

bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool EqualsNoCase(const char* a, std::size_t alen, const char* b) {
  std::size_t blen = std::strlen(b);
  if (alen != blen) return false;
  for (std::size_t i = 0; i < alen; ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
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
    case 431: return F_responses_431;
    default: return F_responses_501;
  }
}

// Whether `list` (a comma-separated header value) holds `token`, case-insensitively.
bool HasToken(const char* v, std::size_t len, const char* token) {
  std::size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
    std::size_t start = i;
    while (i < len && v[i] != ',') ++i;
    std::size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) --end;
    if (end > start && EqualsNoCase(v + start, end - start, token)) return true;
  }
  return false;
}

}  // namespace

HttpConnection::HttpConnection(Worker* worker, int fd, double now)
    : worker_(worker), fd_(fd), last_progress_(now) {}

void HttpConnection::HandleEvents(int, std::uint32_t events) {
  if (events & (IOLoop::kRead | IOLoop::kError)) {
    OnReadable();
    if (closed_) return;
  }
  if (events & IOLoop::kWrite) OnWritable();
}

bool HttpConnection::IsStuck(double now, double after) const {
  if (closed_ || now - last_progress_ < after) return false;
  int unread = 0;
  return ioctl(fd_, FIONREAD, &unread) == 0 && unread > 0;
}

void HttpConnection::OnReadable() {
  std::uint64_t* slot = worker_->slot();
  char* buf = worker_->read_buffer();
  const bool edge = worker_->edge();
  bool first = true;
  bool eof = false;
  for (;;) {
    ssize_t n = read(fd_, buf, kReadChunk);
    if (n > 0) {
      Add(slot, F_bytes_in, static_cast<std::uint64_t>(n));
      last_progress_ = worker_->loop()->now();
      in_.append(buf, static_cast<std::size_t>(n));
      first = false;
      // Level-triggered: one read per event unless it filled the buffer; the loop reports
      // the rest. Edge-triggered: read until EAGAIN, or the data would never be reported again.
      if (!edge && static_cast<std::size_t>(n) < kReadChunk) break;
      continue;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      if (first) Add(slot, F_spurious_reads);  // the handler ran and there was nothing to read
      break;
    }
    if (errno == ECONNRESET && awaiting_response_) {
      ClientAbort();
    } else {
      Close();
    }
    return;
  }
  ProcessInput();
  if (closed_ || !eof) return;
  if (awaiting_response_) {
    ClientAbort();  // the client went away before its response
  } else {
    Close();
  }
}

void HttpConnection::OnWritable() {
  FlushOutput();
  if (!closed_ && !awaiting_response_) ProcessInput();
}

void HttpConnection::ProcessInput() {
  while (!closed_ && !awaiting_response_ && ParseOne()) {
  }
  if (closed_) return;
  if (in_parsed_ > 0) {
    in_.erase(0, in_parsed_);
    in_parsed_ = 0;
  }
}

bool HttpConnection::ParseOne() {
  if (in_body_) {
    std::size_t avail = in_.size() - in_parsed_;
    std::size_t take = avail < body_left_ ? avail : static_cast<std::size_t>(body_left_);
    in_parsed_ += take;
    body_left_ -= take;
    if (body_left_ > 0) return false;
    in_body_ = false;
    awaiting_response_ = true;  // from here until the response is fully written
    Add(worker_->slot(), F_requests);
    worker_->OnRequest();
    Route(pending_method_.data(), pending_method_.size(), pending_target_.data(),
          pending_target_.size(), pending_head_);
    return !closed_;
  }
  const char* p = in_.data() + in_parsed_;
  std::size_t avail = in_.size() - in_parsed_;
  // RFC 9112 2.2: ignore empty lines before a request line.
  while (avail >= 2 && p[0] == '\r' && p[1] == '\n') {
    p += 2;
    avail -= 2;
    in_parsed_ += 2;
  }
  if (avail == 0) return false;
  const char* end = static_cast<const char*>(memmem(p, avail, "\r\n\r\n", 4));
  if (end == nullptr) {
    if (avail > kMaxHeaderBytes) Fail(431, "request headers over 8 KiB\n");
    return false;
  }
  const std::size_t head_len = static_cast<std::size_t>(end - p) + 4;
  if (head_len - 4 > kMaxHeaderBytes) {
    Fail(431, "request headers over 8 KiB\n");
    return false;
  }
  // Request line: method SP target SP version CRLF
  const char* line_end = static_cast<const char*>(memmem(p, head_len, "\r\n", 2));
  const char* sp1 = static_cast<const char*>(std::memchr(p, ' ', line_end - p));
  if (sp1 == nullptr || sp1 == p) return Fail(400, "malformed request line\n"), false;
  for (const char* c = p; c < sp1; ++c) {
    if (!IsTchar(*c)) return Fail(400, "malformed method\n"), false;
  }
  const char* target = sp1 + 1;
  const char* sp2 = static_cast<const char*>(std::memchr(target, ' ', line_end - target));
  if (sp2 == nullptr || sp2 == target || *target != '/') {
    return Fail(400, "malformed request target\n"), false;
  }
  for (const char* c = target; c < sp2; ++c) {
    if (static_cast<unsigned char>(*c) <= 0x20 || *c == 0x7f) {
      return Fail(400, "malformed request target\n"), false;
    }
  }
  const char* version = sp2 + 1;
  std::size_t vlen = static_cast<std::size_t>(line_end - version);
  bool http11;
  if (vlen == 8 && std::memcmp(version, "HTTP/1.1", 8) == 0) {
    http11 = true;
  } else if (vlen == 8 && std::memcmp(version, "HTTP/1.0", 8) == 0) {
    http11 = false;
  } else {
    return Fail(400, "unsupported HTTP version\n"), false;
  }
  // Header fields
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool have_length = false;
  std::uint64_t content_length = 0;
  const char* line = line_end + 2;
  const char* head_end = p + head_len - 2;  // the final empty line
  while (line < head_end) {
    const char* eol = static_cast<const char*>(memmem(line, head_end - line + 2, "\r\n", 2));
    if (*line == ' ' || *line == '\t') return Fail(400, "obsolete header folding\n"), false;
    const char* colon = static_cast<const char*>(std::memchr(line, ':', eol - line));
    if (colon == nullptr || colon == line) return Fail(400, "malformed header field\n"), false;
    for (const char* c = line; c < colon; ++c) {
      if (!IsTchar(*c)) return Fail(400, "malformed header name\n"), false;
    }
    const char* v = colon + 1;
    const char* ve = eol;
    while (v < ve && (*v == ' ' || *v == '\t')) ++v;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) --ve;
    std::size_t nlen = static_cast<std::size_t>(colon - line);
    std::size_t vlen2 = static_cast<std::size_t>(ve - v);
    if (EqualsNoCase(line, nlen, "content-length")) {
      if (vlen2 == 0 || vlen2 > 15) return Fail(400, "bad Content-Length\n"), false;
      std::uint64_t n = 0;
      for (const char* c = v; c < ve; ++c) {
        if (*c < '0' || *c > '9') return Fail(400, "bad Content-Length\n"), false;
        n = n * 10 + static_cast<std::uint64_t>(*c - '0');
      }
      if (have_length && n != content_length) {
        return Fail(400, "conflicting Content-Length\n"), false;
      }
      have_length = true;
      content_length = n;
    } else if (EqualsNoCase(line, nlen, "transfer-encoding")) {
      return Fail(501, "only Content-Length request bodies are supported\n"), false;
    } else if (EqualsNoCase(line, nlen, "connection")) {
      if (HasToken(v, vlen2, "close")) conn_close = true;
      if (HasToken(v, vlen2, "keep-alive")) conn_keep_alive = true;
    }
    line = eol + 2;
  }
  keep_alive_ = http11 ? !conn_close : (conn_keep_alive && !conn_close);
  const std::size_t mlen = static_cast<std::size_t>(sp1 - p);
  const bool head = mlen == 4 && std::memcmp(p, "HEAD", 4) == 0;
  if (content_length > 0) {
    pending_method_.assign(p, mlen);
    pending_target_.assign(target, static_cast<std::size_t>(sp2 - target));
    pending_head_ = head;
    in_parsed_ += head_len;
    in_body_ = true;
    body_left_ = content_length;
    return ParseOne();
  }
  in_parsed_ += head_len;
  awaiting_response_ = true;  // from here until the response is fully written
  Add(worker_->slot(), F_requests);
  worker_->OnRequest();
  Route(p, mlen, target, static_cast<std::size_t>(sp2 - target), head);
  return !closed_;
}

void HttpConnection::Route(const char* method, std::size_t mlen, const char* target,
                           std::size_t tlen, bool head) {
  const bool get = mlen == 3 && std::memcmp(method, "GET", 3) == 0;
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
  if (close) {
    out += "Connection: close\r\n";
  } else if (keep_alive_) {
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
  FlushOutput();
  if (!closed_ && !awaiting_response_) ProcessInput();
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
      last_progress_ = worker_->loop()->now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      WantWrite(true);
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
  if (want_write_) WantWrite(false);
  if (close_after_write_ || !keep_alive_) Close();
}

void HttpConnection::WantWrite(bool want) {
  want_write_ = want;
  worker_->loop()->UpdateHandler(fd_,
                                 worker_->ConnectionEvents() | (want ? IOLoop::kWrite : 0u));
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
  loop->RemoveHandler(fd_);
  close(fd_);
  worker_->OnConnectionClosed(this);  // moves this object to the graveyard: touch nothing after
}

}  // namespace forklab

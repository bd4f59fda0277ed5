#include "http_parser.h"

#include <cassert>
#include <cstring>

namespace forklab {

namespace {

bool IsTchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// RFC 9110 §5.5: field-value = *( VCHAR / obs-text / SP / HTAB ); every other control is refused.
bool IsFieldValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

bool EqualsNoCase(std::string_view a, const char* b) {
  std::size_t blen = std::strlen(b);
  if (a.size() != blen) return false;
  for (std::size_t i = 0; i < blen; ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

// Whether a comma-separated list holds `token`, case-insensitively.
bool HasToken(std::string_view v, const char* token) {
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
    std::size_t start = i;
    while (i < v.size() && v[i] != ',') ++i;
    std::size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) --end;
    if (end > start && EqualsNoCase(v.substr(start, end - start), token)) return true;
  }
  return false;
}

ParseResult Error(int status, const char* reason) {
  ParseResult r;
  r.outcome = ParseOutcome::kError;
  r.status = status;
  r.reason = reason;
  return r;
}

ParseResult NeedMore() { return ParseResult{}; }

// One line: [begin, end) without its terminator; `next` is the offset after the terminator.
struct Line {
  std::size_t begin;
  std::size_t end;
  std::size_t next;
};

enum class LineStatus { kLine, kNeedMore, kTooLong, kBareCr };

// Finds the line starting at `at` in [data, data + len). A line ends at LF; a CR right before the
// LF belongs to the terminator; any other CR is a bare CR; more than `max_line` bytes of content is
// too long. Bytes are examined in order and each verdict depends only on the bytes up to where it
// is reached, so a prefix of the input gets the same verdict as the whole, or kNeedMore.
LineStatus NextLine(const char* data, std::size_t len, std::size_t at, std::size_t max_line,
                    Line* out) {
  assert(at <= len);
  for (std::size_t i = at; i < len; ++i) {
    const char c = data[i];
    if (c == '\n') {
      *out = Line{at, i, i + 1};
      return LineStatus::kLine;
    }
    if (c == '\r') {
      if (i + 1 == len) return LineStatus::kNeedMore;
      if (data[i + 1] != '\n') return LineStatus::kBareCr;
      *out = Line{at, i, i + 2};
      return LineStatus::kLine;
    }
    if (i - at >= max_line) return LineStatus::kTooLong;  // content byte max_line + 1
  }
  return LineStatus::kNeedMore;
}

}  // namespace

ParseResult ParseRequestHead(const char* data, std::size_t len, const HttpLimits& limits) {
  assert(limits.max_line > 0 && limits.max_head >= limits.max_line);
  std::size_t at = 0;
  Line line{};

  // RFC 9112 §2.2: skip empty lines before the request line (a client's stray CRLF after a body);
  // no more than one line's worth, so that a stream of them is not read for ever.
  while (at < len) {
    if (data[at] == '\n') {
      at += 1;
    } else if (data[at] == '\r' && at + 1 < len && data[at + 1] == '\n') {
      at += 2;
    } else {
      break;  // the request line, or a CR whose next byte is not here yet (or is bare)
    }
    if (at > limits.max_line) return Error(400, "too many empty lines before the request\n");
  }
  const std::size_t start = at;
  // Everything of the head lies within max_head bytes of its start: the parser never looks past
  // `cap`, and running out of bytes there (with more present) means the head is too large.
  const std::size_t cap = len - start > limits.max_head ? start + limits.max_head : len;
  const bool capped = cap < len;

  switch (NextLine(data, cap, at, limits.max_line, &line)) {
    case LineStatus::kNeedMore:
      return capped ? Error(431, "request head over the limit\n") : NeedMore();
    case LineStatus::kBareCr:
      return Error(400, "bare CR in the request line\n");
    case LineStatus::kTooLong:
      return Error(414, "request line over the limit\n");
    case LineStatus::kLine:
      break;
  }
  if (line.end == line.begin) return Error(400, "malformed request line\n");  // a CR CR LF start

  // Request line: method SP request-target SP HTTP-version
  const char* p = data + line.begin;
  const char* line_end = data + line.end;
  const char* sp1 = static_cast<const char*>(std::memchr(p, ' ', line_end - p));
  if (sp1 == nullptr || sp1 == p) return Error(400, "malformed request line\n");
  for (const char* c = p; c < sp1; ++c) {
    if (!IsTchar(static_cast<unsigned char>(*c))) return Error(400, "malformed method\n");
  }
  const char* target = sp1 + 1;
  const char* sp2 = static_cast<const char*>(std::memchr(target, ' ', line_end - target));
  if (sp2 == nullptr || sp2 == target || *target != '/') {
    return Error(400, "malformed request target\n");
  }
  for (const char* c = target; c < sp2; ++c) {
    if (static_cast<unsigned char>(*c) <= 0x20 || *c == 0x7f) {
      return Error(400, "malformed request target\n");
    }
  }
  const std::string_view version(sp2 + 1, static_cast<std::size_t>(line_end - sp2 - 1));
  ParseResult r;
  HttpRequestHead& h = r.head;
  if (version == "HTTP/1.1") {
    h.http11 = true;
  } else if (version == "HTTP/1.0") {
    h.http11 = false;
  } else {
    return Error(400, "unsupported HTTP version\n");
  }
  h.method = std::string_view(p, static_cast<std::size_t>(sp1 - p));
  h.target = std::string_view(target, static_cast<std::size_t>(sp2 - target));
  h.head_method = h.method == "HEAD";
  at = line.next;

  // Header fields, up to the empty line.
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool have_length = false;
  for (;;) {
    LineStatus st = NextLine(data, cap, at, limits.max_line, &line);
    if (st == LineStatus::kNeedMore) {
      return capped ? Error(431, "request head over the limit\n") : NeedMore();
    }
    if (st == LineStatus::kBareCr) return Error(400, "bare CR in a header field\n");
    if (st == LineStatus::kTooLong) return Error(431, "header field over the limit\n");
    at = line.next;
    if (line.end == line.begin) break;  // the empty line: end of the head
    const char* f = data + line.begin;
    const char* eol = data + line.end;
    if (*f == ' ' || *f == '\t') return Error(400, "obsolete header folding\n");
    const char* colon = static_cast<const char*>(std::memchr(f, ':', eol - f));
    if (colon == nullptr || colon == f) return Error(400, "malformed header field\n");
    for (const char* c = f; c < colon; ++c) {
      if (!IsTchar(static_cast<unsigned char>(*c))) return Error(400, "malformed header name\n");
    }
    const char* v = colon + 1;
    const char* ve = eol;
    for (const char* c = v; c < ve; ++c) {
      if (!IsFieldValueChar(static_cast<unsigned char>(*c))) {
        return Error(400, "control character in a header value\n");
      }
    }
    while (v < ve && (*v == ' ' || *v == '\t')) ++v;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) --ve;
    const std::string_view name(f, static_cast<std::size_t>(colon - f));
    const std::string_view value(v, static_cast<std::size_t>(ve - v));
    if (EqualsNoCase(name, "content-length")) {
      if (value.empty() || value.size() > 15) return Error(400, "bad Content-Length\n");
      std::uint64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return Error(400, "bad Content-Length\n");
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (have_length && n != h.content_length) return Error(400, "conflicting Content-Length\n");
      have_length = true;
      h.content_length = n;
    } else if (EqualsNoCase(name, "transfer-encoding")) {
      return Error(501, "only Content-Length request bodies are supported\n");
    } else if (EqualsNoCase(name, "connection")) {
      if (HasToken(value, "close")) conn_close = true;
      if (HasToken(value, "keep-alive")) conn_keep_alive = true;
    }
  }
  assert(at - start <= limits.max_head);
  h.keep_alive = h.http11 ? !conn_close : (conn_keep_alive && !conn_close);
  r.outcome = ParseOutcome::kRequest;
  r.consumed = at;
  return r;
}

}  // namespace forklab

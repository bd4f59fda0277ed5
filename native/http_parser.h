// The HTTP/1.1 request-head parser: a pure function over bytes. It never allocates, never touches a
// socket and keeps no state between calls; the connection calls it again with the whole buffered
// head when more bytes arrive (the head is bounded by HttpLimits::max_head, so a rescan costs at
// most that many bytes). The fuzz target (fuzz/http_parser_fuzz.cc) drives it directly.
//
// Accepted (RFC 9112): `method SP target SP HTTP/1.x` and `name: value` lines ending in CRLF, or in
// a bare LF (§2.2 lets a recipient recognise a single LF as a line terminator and ignore a CR before
// it); empty lines before the request line are skipped (§2.2), up to one line's length.
// Refused: bare CR anywhere (§2.2), obsolete line folding (§5.2), a control character other than
// HTAB in a field value (RFC 9110 §5.5: CR, LF and NUL above all), a malformed name, method, target
// or version, a bad or conflicting Content-Length, any Transfer-Encoding (501: the engine does not
// decode chunked bodies, and refusing it closes the door to CL/TE smuggling).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace forklab {

struct HttpLimits {
  // The longest request line, and the longest header field line (nginx:
  // large_client_header_buffers' size, 8k). A longer request line is 414, a longer field 431.
  std::size_t max_line = 8192;
  // The longest head, request line to the final empty line included (nginx: number × size of
  // large_client_header_buffers, 4 × 8k). Longer: 431.
  std::size_t max_head = 32768;
};

struct HttpRequestHead {
  std::string_view method;  // points into the parsed bytes
  std::string_view target;
  bool http11 = false;
  bool keep_alive = false;  // the connection persists after this request (version + Connection)
  bool head_method = false;
  std::uint64_t content_length = 0;
};

enum class ParseOutcome { kRequest, kNeedMore, kError };

struct ParseResult {
  ParseOutcome outcome = ParseOutcome::kNeedMore;
  // kRequest: bytes of the head, empty lines before it and the final empty line included.
  std::size_t consumed = 0;
  // kError: the status to answer with (400, 414, 431, 501) and a one-line reason for the body.
  int status = 0;
  const char* reason = nullptr;
  HttpRequestHead head;
};

// Parses the request head at the start of [data, data + len). Complete lines are checked as soon as
// they are there: an error in the first line is reported without waiting for the rest of the head.
ParseResult ParseRequestHead(const char* data, std::size_t len, const HttpLimits& limits);

}  // namespace forklab

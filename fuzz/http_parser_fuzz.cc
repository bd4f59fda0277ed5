// libFuzzer target for the request-head parser (native/http_parser.h), built with ASan and UBSan by
// scripts/fuzz.sh. Besides memory errors and undefined behaviour it checks what the connection
// relies on:
// - a request's consumed length, method and target lie inside the input; the method is a token,
//   the target starts with '/', Content-Length has at most 15 digits;
// - an error is 400, 414, 431 or 501 with a reason;
// - "need more" never comes with more than max_line + max_head bytes (the connection's input
//   buffer holds one byte more, so a full buffer always gets an answer);
// - parsing is consistent as bytes arrive: the outcome on a prefix, if not "need more", is the
//   outcome on the whole input (the connection parses again after every read).
// The first byte picks the limits (odd: tiny ones, to reach the limit paths) and the split point.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../native/http_parser.h"

using forklab::HttpLimits;
using forklab::ParseOutcome;
using forklab::ParseRequestHead;
using forklab::ParseResult;

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_parser_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

bool Within(const char* base, std::size_t len, std::string_view s) {
  return s.data() >= base && s.data() + s.size() <= base + len;
}

void CheckOne(const char* p, std::size_t n, const HttpLimits& lim, const ParseResult& r) {
  switch (r.outcome) {
    case ParseOutcome::kRequest:
      Check(r.consumed > 0 && r.consumed <= n, "consumed within the input");
      Check(Within(p, r.consumed, r.head.method) && !r.head.method.empty(), "method inside");
      Check(Within(p, r.consumed, r.head.target) && !r.head.target.empty() &&
                r.head.target[0] == '/',
            "target inside, starting with /");
      Check(r.head.content_length < 1000000000000000ULL, "Content-Length of 15 digits at most");
      Check(r.consumed <= lim.max_line + 1 + lim.max_head + 2, "head within the limits");
      break;
    case ParseOutcome::kError:
      Check(r.status == 400 || r.status == 414 || r.status == 431 || r.status == 501,
            "error status");
      Check(r.reason != nullptr && std::strlen(r.reason) > 0, "error reason");
      break;
    case ParseOutcome::kNeedMore:
      Check(n <= lim.max_line + lim.max_head, "need more only below the input limit");
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  HttpLimits lim;
  if (data[0] & 1) {
    lim.max_line = 64;
    lim.max_head = 256;
  }
  const char* p = reinterpret_cast<const char*>(data + 1);
  const std::size_t n = size - 1;
  // A copy of exactly n bytes, so that ASan sees any read past the end.
  char* buf = static_cast<char*>(std::malloc(n == 0 ? 1 : n));
  std::memcpy(buf, p, n);
  const ParseResult whole = ParseRequestHead(buf, n, lim);
  CheckOne(buf, n, lim, whole);

  const std::size_t cut = (static_cast<std::size_t>(data[0] >> 1) * n) / 127;  // 0..n
  {
    char* pre = static_cast<char*>(std::malloc(cut == 0 ? 1 : cut));
    std::memcpy(pre, buf, cut);
    const ParseResult part = ParseRequestHead(pre, cut, lim);
    CheckOne(pre, cut, lim, part);
    if (part.outcome != ParseOutcome::kNeedMore) {
      Check(part.outcome == whole.outcome, "a prefix's answer stands when more bytes come");
      if (part.outcome == ParseOutcome::kError) {
        Check(part.status == whole.status, "same error status with more bytes");
      } else {
        Check(part.consumed == whole.consumed, "same request length with more bytes");
        Check(part.head.content_length == whole.head.content_length &&
                  part.head.keep_alive == whole.head.keep_alive &&
                  part.head.method == whole.head.method && part.head.target == whole.head.target,
              "same request with more bytes");
      }
    }
    std::free(pre);
  }
  std::free(buf);
  return 0;
}

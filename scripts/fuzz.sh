#!/usr/bin/env bash
# Builds the HTTP request-head parser's libFuzzer target with ASan and UBSan (clang) and runs it.
#
#   scripts/fuzz.sh [SECONDS]          fuzz for SECONDS (default 60)
#   scripts/fuzz.sh --runs N           fuzz for N executions
#   scripts/fuzz.sh --build-only
#
# Seeds: fuzz/corpus/http_parser (committed, never written to). New inputs the fuzzer finds go to
# fuzz/out/corpus (scratch, ignored by git; not under build/, which a native rebuild wipes). A crash
# leaves its input in fuzz/out/crash-…; reproduce it with fuzz/out/http_parser_fuzz <that file>.
# Exit status: 0 when no invariant broke.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CXX=${CXX_FUZZ:-clang++}
OUT=fuzz/out
BIN=$OUT/http_parser_fuzz
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found; install clang (apt-get install -y clang; scripts/setup.sh does)" >&2
  exit 2
fi

mkdir -p "$OUT/corpus"
if [[ ! -x $BIN || -n $(find native/http_parser.cc native/http_parser.h fuzz/http_parser_fuzz.cc -newer "$BIN") ]]; then
  "$CXX" -std=c++17 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    fuzz/http_parser_fuzz.cc native/http_parser.cc -o "$BIN"
fi

limit=(-max_total_time=60)
case "${1:-}" in
  --build-only) exit 0 ;;
  --runs) limit=(-runs="${2:?--runs needs a count}") ;;
  '') ;;
  *) limit=(-max_total_time="$1") ;;
esac

# -max_len covers the default limits (8 KiB lines, 32 KiB heads) with room to pass them.
exec "$BIN" "${limit[@]}" -max_len=50000 -dict=fuzz/http.dict -print_final_stats=1 \
  -artifact_prefix="$OUT/" "$OUT/corpus" fuzz/corpus/http_parser

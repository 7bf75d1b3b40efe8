#!/usr/bin/env bash
# Instructions per line, by callgrind: the measure that does not move with the machine's load
# (wall time on a shared 2-vCPU host moves by tens of percent between minutes), used for every
# hot-path change of issue 26 (BENCHMARKS.md, "Instructions per line").
#
#   bash benches/instructions.sh [--lines 200000] [--baseline BIN] [--same] [BIN] [-- EXTRA ARGS…]
#
#   BIN          the binary to measure (default target/profiling/envoy-triage: release code with
#                symbols, so callgrind_annotate names functions; build it first with
#                `cargo build --profile profiling`)
#   --baseline   another binary (e.g. an earlier commit's build), measured alike in the same run
#                (its worker column needs symbols: a profiling build; a stripped one shows "-")
#   --lines N    lines of each slice (default 200000)
#   --same       also check that BIN's outputs equal the baseline's: table, json and records, at
#                -j 1 and -j 2, on sample-logs/, tests/data/encodings/ and both slices (stdout,
#                stderr and exit code)
#   EXTRA ARGS   given to every measured run (a filter, `-o html`, …)
#
# Slices: the first N lines of the e2e benchmark's 1 GiB Istio text and Istio JSON logs
# (benches/e2e.sh generates them into ${BENCH_DIR:-/tmp/envoy-triage-bench}), cut into
# $BENCH_DIR/slices/. For each binary, slice and output (table, json) it prints the total
# instructions / lines, and the worker's share (`pipeline::process_chunk` inclusive / lines:
# the per-line cost without the summary and report, which do not grow with the input).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${BENCH_DIR:-/tmp/envoy-triage-bench}
LINES=200000
BASELINE=
SAME=0
BIN=
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --lines) LINES=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --same) SAME=1; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) BIN=$1; shift ;;
  esac
done
BIN=${BIN:-$REPO/target/profiling/envoy-triage}
command -v valgrind > /dev/null || { echo "instructions.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
command -v callgrind_annotate > /dev/null || { echo "instructions.sh: callgrind_annotate is missing" >&2; exit 2; }
[ -x "$BIN" ] || { echo "instructions.sh: $BIN is missing: cargo build --profile profiling" >&2; exit 2; }

mkdir -p "$DIR/slices" "$DIR/callgrind"
slice() { # style → path of its slice
  local src
  src=$(ls "$DIR"/"$1"-seed7-1G-noise0.02-gen*.log 2> /dev/null | head -1 || true)
  [ -n "$src" ] || { echo "instructions.sh: no $1 log in $DIR: run bash benches/e2e.sh once" >&2; exit 2; }
  local out="$DIR/slices/$1-$LINES.log"
  [ -s "$out" ] || head -n "$LINES" "$src" > "$out"
  echo "$out"
}
TEXT=$(slice istio)
JSON=$(slice json)

measure() { # name bin
  local name=$1 bin=$2
  for input in "$TEXT" "$JSON"; do
    for out in table json; do
      local tag f
      tag="$name-$(basename "$input" .log)-$out"
      f="$DIR/callgrind/$tag.cg"
      valgrind --tool=callgrind --callgrind-out-file="$f" "$bin" --color never -j 1 -o "$out" "${EXTRA[@]}" "$input" \
        > /dev/null 2> "$DIR/callgrind/$tag.err"
      local total worker
      total=$(awk '/^(summary|totals):/ && !done {print $2; done = 1}' "$f")
      worker=$(callgrind_annotate --inclusive=yes "$f" 2> /dev/null \
        | awk '!done && /pipeline\.rs:envoy_triage::pipeline::process_chunk \[/ {gsub(",", "", $1); print $1; done = 1}')
      awk -v n="$name" -v i="$(basename "$input" .log)" -v o="$out" -v t="$total" -v w="${worker:--1}" -v l="$LINES" \
        'BEGIN { printf "%-10s %-20s %-6s total/line %8.1f   worker/line %8s\n", n, i, o, t / l,
                 w < 0 ? "-" : sprintf("%.1f", w / l) }'
    done
  done
}

echo "callgrind, -j 1, ${EXTRA[*]:-no extra args}; $LINES lines a slice; files in $DIR/callgrind/"
measure this "$BIN"
[ -n "$BASELINE" ] && measure baseline "$BASELINE"

if [ "$SAME" = 1 ]; then
  [ -n "$BASELINE" ] || { echo "instructions.sh: --same needs --baseline" >&2; exit 2; }
  T=$(mktemp -d)
  trap 'rm -rf "$T"' EXIT
  bad=0
  for input in "$REPO/sample-logs" "$REPO/tests/data/encodings" "$TEXT" "$JSON"; do
    for out in table json records; do
      for j in 1 2; do
        set +e
        "$BASELINE" --color never -j $j -o $out "$input" > "$T/a" 2> "$T/ae"; ra=$?
        "$BIN" --color never -j $j -o $out "$input" > "$T/b" 2> "$T/be"; rb=$?
        set -e
        if ! cmp -s "$T/a" "$T/b" || ! cmp -s "$T/ae" "$T/be" || [ $ra != $rb ]; then
          echo "DIFFERENT: $input -o $out -j $j (exit $ra / $rb)"
          bad=1
        fi
      done
    done
  done
  [ $bad = 0 ] && echo "same: table, json and records at -j 1 and -j 2 on 4 inputs (stdout, stderr, exit code)"
  exit $bad
fi

#!/usr/bin/env bash
# Alternating A/B timing of whole commands on one input: the quick check behind the
# before/after tables in BENCHMARKS.md, for when e2e.sh's full run is more than a change needs.
#
#   bash benches/ab.sh RUNS FILE 'CMD A' 'CMD B' ...
#
# Runs every command on FILE (appended as the last argument; stdout to a scratch file, not
# /dev/null, which GNU grep -c recognises and stops early for) RUNS times, round-robin so that
# host drift spreads over all of them, and prints each one's median and minimum wall time and
# median CPU time (user + sys). Commands are split on spaces: wrap anything fancier in a script.
# Build the binaries to compare with `cargo build --profile profiling` (target/profiling/): the
# release code with its symbols, so that a difference found here can be looked at with perf.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
RUNS=$1
FILE=$2
shift 2
cmds=("$@")
times=$(mktemp)
scratch=$(mktemp)
trap 'rm -f "$times" "$scratch"' EXIT
TIMEFORMAT='%3R %3U %3S'
for _ in $(seq "$RUNS"); do
  for k in "${!cmds[@]}"; do
    # shellcheck disable=SC2086 # the command is split on spaces on purpose
    t=$({ time ${cmds[$k]} "$FILE" >"$scratch" 2>/dev/null; } 2>&1)
    echo "$k $t" >>"$times"
  done
done
python3 - "$times" "${cmds[@]}" <<'PY'
import statistics as st
import sys

rows = [line.split() for line in open(sys.argv[1])]
for k, cmd in enumerate(sys.argv[2:]):
    real = [float(r[1]) for r in rows if int(r[0]) == k]
    cpu = [float(r[2]) + float(r[3]) for r in rows if int(r[0]) == k]
    print(f"{cmd:55s} wall median {st.median(real):.3f} s  min {min(real):.3f} s  cpu median {st.median(cpu):.3f} s")
PY

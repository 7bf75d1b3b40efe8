#!/usr/bin/env bash
# Compressed input: envoy-triage on several gzip and zstd archives beside zcat, pigz and zstdcat,
# and how it scales from one archive to N and from 1 worker to N.
#
#   bash benches/compressed.sh [--runs 5] [--parts 4] [--threads N] [--baseline PATH]
#                              [--bin PATH] [--dir DIR] SOURCE.log
#
# What it does, in one run:
#   1. cuts SOURCE.log (a plain access log, e.g. the 1 GB Istio log benches/e2e.sh generates)
#      into --parts pieces of whole lines (`split -n l/P`), each compressed with `gzip -6` and
#      `zstd -3`, into ${BENCH_DIR:-/tmp/envoy-triage-bench}/compressed (never the repo;
#      cached by the source's name, size and time, and the part count);
#   2. installs pigz if it is missing (apt-get), reads every archive once so all come from the
#      page cache, then times, round-robin, --runs times each:
#        zcat GZ… | wc -l · pigz -dc GZ… | wc -l · zstdcat ZST… | wc -l
#        · envoy-triage -j 1 and -j N on the gzip archives, then on the zstd ones
#        · zcat and envoy-triage -j 1 and -j N on the first gzip archive alone
#        · the --baseline binary (e.g. one built from an earlier commit) the same way;
#   3. prints each command's median wall time with its min–max, GB/s of decompressed output
#      (10^9 bytes per second of the median) and median CPU time (user + sys), then the ratios
#      the targets are about: the wall time of P archives on N workers against the floor, P ×
#      one archive's CPU time on one worker / N (target ≤ 1.1×); the speed-up from 1 to N
#      workers; one archive against `zcat | wc -l`;
#   4. checks that envoy-triage's JSON is byte-identical with 1 and N workers and that its line
#      count is `wc -l`'s.
# envoy-triage is target/profiling/envoy-triage (built unless --bin is given): the release
# build with symbols kept.
set -euo pipefail
export LC_NUMERIC=C LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${BENCH_DIR:-/tmp/envoy-triage-bench}
RUNS=5
PARTS=4
THREADS=$(nproc)
BASELINE=
ET=
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --parts) PARTS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --bin) ET=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { usage >&2; exit 2; }
SOURCE=$(realpath "$1")

if [ -z "$ET" ]; then
  (cd "$REPO" && cargo build --quiet --profile profiling --bin envoy-triage)
  ET="$REPO/target/profiling/envoy-triage"
fi
if ! command -v pigz >/dev/null; then
  echo "installing pigz (apt-get)" >&2
  apt-get install -y -qq pigz >/dev/null
fi
for tool in zcat zstd zstdcat; do
  command -v $tool >/dev/null || { echo "$tool is missing" >&2; exit 2; }
done

key=$(stat -c '%s-%Y' "$SOURCE")
WORK="$DIR/compressed/$(basename "$SOURCE")-$key-$PARTS"
if [ ! -f "$WORK/done" ]; then
  rm -rf "$WORK"
  mkdir -p "$WORK"
  echo "cutting $SOURCE into $PARTS archives in $WORK" >&2
  (cd "$WORK" && split -n "l/$PARTS" -d --additional-suffix=.log "$SOURCE" part)
  for f in "$WORK"/part*.log; do
    gzip -6 -k "$f"
    zstd -q -3 "$f"
    rm "$f"
  done
  touch "$WORK/done"
fi
GZ=("$WORK"/part*.log.gz)
ZST=("$WORK"/part*.log.zst)
cat "${GZ[@]}" "${ZST[@]}" >/dev/null
BYTES=$(zstdcat "${ZST[@]}" | wc -c)
ONE_BYTES=$(zcat "${GZ[0]}" | wc -c)
LINES=$(zstdcat "${ZST[@]}" | wc -l)

# name, bytes of output it decompresses, command: tab-separated (the commands hold pipes).
T=$'\t'
cases=(
  "zcat ${#GZ[@]} gz | wc -l${T}$BYTES${T}zcat ${GZ[*]} | wc -l"
  "pigz -dc ${#GZ[@]} gz | wc -l${T}$BYTES${T}pigz -dc ${GZ[*]} | wc -l"
  "zstdcat ${#ZST[@]} zst | wc -l${T}$BYTES${T}zstdcat ${ZST[*]} | wc -l"
)
for bin in "$ET" $BASELINE; do
  tag=$([ "$bin" = "$ET" ] && echo envoy-triage || echo baseline)
  for j in 1 "$THREADS"; do
    cases+=("$tag -j $j ${#GZ[@]} gz${T}$BYTES${T}$bin --color never -j $j ${GZ[*]}")
  done
  for j in 1 "$THREADS"; do
    cases+=("$tag -j $j ${#ZST[@]} zst${T}$BYTES${T}$bin --color never -j $j ${ZST[*]}")
  done
  for j in 1 "$THREADS"; do
    cases+=("$tag -j $j 1 gz${T}$ONE_BYTES${T}$bin --color never -j $j ${GZ[0]}")
  done
done
cases+=("zcat 1 gz | wc -l${T}$ONE_BYTES${T}zcat ${GZ[0]} | wc -l")

times=$(mktemp)
scratch=$(mktemp)
trap 'rm -f "$times" "$scratch"' EXIT
TIMEFORMAT='%3R %3U %3S'
echo "$(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $RUNS runs round-robin" >&2
for _ in $(seq "$RUNS"); do
  for k in "${!cases[@]}"; do
    cmd=${cases[$k]##*$T}
    t=$({ time bash -c "$cmd" >"$scratch" 2>/dev/null; } 2>&1)
    echo "$k $t" >>"$times"
  done
done

# Same answer with 1 and N workers, every line counted.
a=$("$ET" --output json -j 1 "${GZ[@]}" | sha256sum)
b=$("$ET" --output json -j "$THREADS" "${GZ[@]}" | sha256sum)
c=$("$ET" --output json -j "$THREADS" "${ZST[@]}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["totals"]["lines"])')
[ "$a" = "$b" ] && same="identical" || same="DIFFERENT"
[ "$c" = "$LINES" ] && counted="= wc -l ($LINES)" || counted="≠ wc -l: $c vs $LINES"

python3 - "$times" "$THREADS" "$same" "$counted" "${cases[@]}" <<'PY'
import statistics as st
import sys

rows = [line.split() for line in open(sys.argv[1])]
threads, same, counted = sys.argv[2], sys.argv[3], sys.argv[4]
med = {}
print(f"{'command':32s} {'wall median':>11s} {'min–max':>13s} {'GB/s':>6s} {'CPU':>7s}")
for k, case in enumerate(sys.argv[5:]):
    name, size, _ = case.split("\t", 2)
    real = [float(r[1]) for r in rows if int(r[0]) == k]
    cpu = [float(r[2]) + float(r[3]) for r in rows if int(r[0]) == k]
    m, c = st.median(real), st.median(cpu)
    med[name] = (m, c)
    print(f"{name:32s} {m:9.3f} s {min(real):5.2f}–{max(real):5.2f} s {int(size) / m / 1e9:6.2f} {c:5.2f} s")
files = int([k for k in med if k.startswith("zcat ") and " 1 gz" not in k][0].split()[1])
t = int(threads)
one1 = med["envoy-triage -j 1 1 gz"]
print()
for kind in ("gz", "zst"):
    j1, jn = med[f"envoy-triage -j 1 {files} {kind}"], med[f"envoy-triage -j {t} {files} {kind}"]
    print(f"{files} {kind} archives, -j 1 → -j {t}: wall {j1[0] / jn[0]:.2f}× faster, CPU {jn[1] / j1[1]:.2f}×")
gz = med[f"envoy-triage -j {t} {files} gz"]
floor = files * one1[1] / t
print(f"{files} gz archives on {t} workers: wall {gz[0]:.3f} s = {gz[0] / floor:.2f}× the floor "
      f"({files} × one archive's CPU time at -j 1 / {t} = {floor:.3f} s; target ≤ 1.1×)")
onen = med[f"envoy-triage -j {t} 1 gz"]
print(f"1 gz archive, -j {t}: {onen[0]:.3f} s vs zcat | wc -l {med['zcat 1 gz | wc -l'][0]:.3f} s")
print(f"JSON -j 1 vs -j {threads}: {same}; lines {counted}")
PY

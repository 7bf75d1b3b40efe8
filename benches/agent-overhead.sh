#!/usr/bin/env bash
# What the node agent costs: envoy-triage following a file with --listen (scraped every second,
# as a Prometheus would) while a writer appends real Envoy lines at a fixed rate. Reports, per
# rate, the agent's CPU (user+system seconds per second of wall time, i.e. cores) and memory
# (RSS at the end, and its peak). A benchmark, not a test: the figures depend on the machine.
#
#   bash benches/agent-overhead.sh [SECONDS] [RATES…]     # default 20 s at 1000 10000 100000 lines/s
#   BIN=/path/to/envoy-triage bash benches/agent-overhead.sh
#   EVERY=1 bash benches/agent-overhead.sh      # write once a second, as Envoy flushes by default
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true
rates=("${@:-1000 10000 100000}")
# shellcheck disable=SC2206
rates=(${rates[*]})
bin=${BIN:-target/release/envoy-triage}
[ -n "${BIN:-}" ] || cargo build --release -q
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# The lines written: real ones, failures and successes, over and over.
cat sample-logs/real-*.log | grep -a '^\[' > "$work/pool"
lines_in_pool=$(wc -l < "$work/pool")

ticks=$(getconf CLK_TCK)
printf '%-12s %-10s %-12s %-12s %-10s %-10s %s\n' "lines/s" "written" "cpu (cores)" "cpu/1k l/s" "rss MiB" "peak MiB" "counted"
for rate in "${rates[@]}"; do
  log="$work/istio-proxy.log"
  : > "$log"
  "$bin" --follow "$log" --listen 127.0.0.1:0 --interval 1 > /dev/null 2> "$work/err" &
  agent=$!
  for _ in $(seq 100); do grep -q 'serving metrics' "$work/err" && break; sleep 0.1; done
  port=$(grep -o '127.0.0.1:[0-9]*' "$work/err" | head -1 | cut -d: -f2)
  # A scraper, as Prometheus with a 1 s interval.
  ( while sleep 1; do curl -s "http://127.0.0.1:$port/metrics" > /dev/null || true; done ) &
  scraper=$!
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$agent/stat")
  t0=$(date +%s.%N)
  # The writer: every EVERY seconds (10 ms by default), the lines due by then (so the rate holds
  # whatever each write costs).
  python3 - "$work/pool" "$log" "$rate" "$secs" "${EVERY:-0.01}" <<'EOF'
import sys, time
pool = open(sys.argv[1], 'rb').read().splitlines(keepends=True)
out = open(sys.argv[2], 'ab', buffering=0)
rate, secs, every = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
start = time.monotonic(); written = 0; i = 0
while True:
    now = time.monotonic() - start
    if now >= secs:
        break
    due = int(now * rate) - written
    if due > 0:
        chunk = []
        for _ in range(due):
            chunk.append(pool[i]); i = (i + 1) % len(pool)
        out.write(b''.join(chunk)); written += due
    time.sleep(every)
print(written, file=open(sys.argv[2] + '.count', 'w'))
EOF
  written=$(cat "$log.count")
  # Until every line is counted (or 30 s more), then the agent's CPU over the whole run.
  for _ in $(seq 300); do
    got=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1=="envoy_triage_lines_total"{print $2}')
    [ "${got:-0}" = "$written" ] && break
    sleep 0.1
  done
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$agent/stat")
  t1=$(date +%s.%N)
  rss=$(awk '/VmRSS/{print $2}' "/proc/$agent/status")
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$agent/status")
  kill "$scraper" 2>/dev/null || true
  kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
  awk -v r="$rate" -v w="$written" -v c="$got" -v cpu="$(( (u1 + s1) - (u0 + s0) ))" -v tk="$ticks" \
      -v t0="$t0" -v t1="$t1" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
    cores = cpu / tk / (t1 - t0)
    per = r > 0 ? sprintf("%.5f", cores / (r / 1000)) : "-"
    printf "%-12d %-10d %-12.4f %-12s %-10.1f %-10.1f %s\n", r, w, cores, per, rss / 1024, hwm / 1024, c
  }'
done
echo "(pool: $lines_in_pool real lines from sample-logs/, cycled; written every ${EVERY:-0.01} s; $secs s per rate; scraped every 1 s)"

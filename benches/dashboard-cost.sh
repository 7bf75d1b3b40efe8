#!/usr/bin/env bash
# What the live dashboard costs while a followed file grows at ~100k lines/s.
#
#   bash benches/dashboard-cost.sh [--rate 100000] [--seconds 20] [--interval 1] [--no-build]
#                                  [--bin PATH]
#
# It builds target/release/envoy-triage (unless --no-build; --bin runs another binary, e.g. a
# debug one to try the script), starts it with the dashboard in a detached tmux session of
# 160×48 (`--follow --interval S` on an empty file), then appends real lines from sample-logs/
# (the `[timestamp]` text ones, stamped with the current time) at --rate lines per second for
# --seconds, from python3, in blocks every 10 ms. Over that window it reads
# /proc/PID/task/*/stat (utime + stime) and prints the CPU seconds of every thread and their
# share of the whole process. The UI thread is the main thread (tid = pid): `crate::live`'s tick
# loop runs there (merging the workers' states, building the Summary, drawing); `worker-N`
# parse; `tokio-rt-worker` and `notify-rs…` follow the file; `dashboard-keys` reads keys. Then
# `q` ends the run, and the dashboard's own count (ENVOY_TRIAGE_DASHBOARD_STATS, see
# src/dashboard/mod.rs) gives the redraws of the whole run and the wall time spent in them.
#
# Needs tmux and python3. The figures depend on whatever else runs on the machine: run it on a
# quiet one, and more than once, before trusting a difference.
set -euo pipefail
export LC_NUMERIC=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RATE=100000
SECONDS_=20
INTERVAL=1
BUILD=1
BIN=$REPO/target/release/envoy-triage
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --bin) BIN=$2; BUILD=0; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "dashboard-cost.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in tmux python3; do
  command -v "$tool" > /dev/null || { echo "dashboard-cost.sh: $tool is needed" >&2; exit 2; }
done
[ "$BUILD" = 1 ] && (cd "$REPO" && cargo build --release --quiet)

DIR=$(mktemp -d)
SOCK=et-cost-$$
cleanup() { tmux -L "$SOCK" kill-server 2> /dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
LOG=$DIR/access.log
: > "$LOG"

# `exec` so that the pid written is envoy-triage's; the outer shell says how it ended.
tmux -L "$SOCK" -f /dev/null new-session -d -x 160 -y 48 \
  "sh -c 'echo \$\$ > $DIR/pid; exec env ENVOY_TRIAGE_DASHBOARD_STATS=$DIR/stats $BIN --follow --interval $INTERVAL $LOG'; echo \$? > $DIR/exit; sleep 600"
wait_for() { # what, command…
  local what=$1; shift
  for _ in $(seq 600); do "$@" && return 0; sleep 0.1; done
  echo "dashboard-cost.sh: timed out waiting for $what" >&2; exit 1
}
wait_for "the dashboard" sh -c "tmux -L $SOCK capture-pane -p | grep -q 'envoy-triage live'"
PID=$(cat "$DIR/pid")

# utime + stime in clock ticks per thread: "tid name ticks" lines.
threads() {
  python3 - "$PID" << 'EOF'
import os, sys
pid = sys.argv[1]
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        stat = open(f"/proc/{pid}/task/{tid}/stat").read()
    except OSError:
        continue
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    print(tid, name.replace(" ", "_"), int(fields[11]) + int(fields[12]))
EOF
}

threads > "$DIR/before"
python3 - "$LOG" "$RATE" "$SECONDS_" "$REPO/sample-logs" << 'EOF' > "$DIR/written"
import glob, re, sys, time
log, rate, seconds, samples = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
stamp = re.compile(r"^\[\d{4}-\d\d-\d\dT[^\]]*\]")
lines = [stamp.sub("[@TS@]", l) for f in sorted(glob.glob(samples + "/*.log"))
         for l in open(f, encoding="utf-8") if stamp.match(l)]
per_block = max(1, rate // 100)
written, start = 0, time.monotonic()
with open(log, "a") as out:
    while time.monotonic() - start < seconds:
        now = time.time()
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now * 1000 % 1000)
        block = "".join(lines[(written + i) % len(lines)] for i in range(per_block))
        out.write(block.replace("@TS@", ts))
        out.flush()
        written += per_block
        # The next block is due at its place in the schedule, not 10 ms after this one.
        ahead = start + written / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
print(written, round(time.monotonic() - start, 2))
EOF
threads > "$DIR/after"
read -r WRITTEN ELAPSED < "$DIR/written"

# Let it read what is left, show it, then end the run.
sleep "$INTERVAL"; sleep "$INTERVAL"
SCREEN=$(tmux -L "$SOCK" capture-pane -p)
tmux -L "$SOCK" send-keys q
wait_for "the run's end" test -s "$DIR/exit"

HZ=$(getconf CLK_TCK)
echo "dashboard cost: $WRITTEN lines appended in ${ELAPSED}s ($(python3 -c "print(round($WRITTEN / $ELAPSED))") lines/s), 160x48, --interval $INTERVAL, exit $(cat "$DIR/exit")"
echo "the dashboard's counts at the end: $(echo "$SCREEN" | grep -m1 ' records ' | sed 's/  */ /g')"
python3 - "$DIR/before" "$DIR/after" "$HZ" "$PID" "$ELAPSED" << 'EOF'
import sys
before_f, after_f, hz, pid, elapsed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
def read(path):
    return {tid: (name, int(t)) for tid, name, t in (l.split() for l in open(path))}
before, after = read(before_f), read(after_f)
groups, total, ui = {}, 0, 0
for tid, (name, t) in after.items():
    d = t - before.get(tid, (name, 0))[1]
    total += d
    key = "main (UI: tick loop, summary, draw)" if tid == pid else name
    if tid == pid:
        ui = d
    groups[key] = groups.get(key, 0) + d
print(f"CPU over the window ({elapsed:.1f}s), seconds and share of the process:")
for key, d in sorted(groups.items(), key=lambda kv: -kv[1]):
    print(f"  {key:<40} {d / hz:7.2f}s  {100 * d / max(total, 1):5.1f}%")
print(f"  {'process':<40} {total / hz:7.2f}s  ({100 * total / hz / elapsed:.0f}% of one core)")
print(f"UI thread: {100 * ui / max(total, 1):.1f}% of the process's CPU, {100 * ui / hz / elapsed:.1f}% of one core")
EOF
if [ -f "$DIR/stats" ]; then
  read -r _ REDRAWS < <(grep redraws "$DIR/stats")
  read -r _ DRAW_MS < <(grep draw_ms "$DIR/stats")
  echo "redraws: $REDRAWS over the whole run, $DRAW_MS ms in them (wall), $(python3 -c "print(round($DRAW_MS / max($REDRAWS, 1), 2))") ms each"
fi
echo "(a shared machine gives noisy figures: compare runs, not one number)"

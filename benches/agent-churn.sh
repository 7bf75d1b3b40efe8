#!/usr/bin/env bash
# Pod churn on a node, as the agent sees it for weeks: PODS pods come (a kubelet-shaped log file
# with 5 real lines each, in 7 namespaces) and go (their directory deleted; 50 alive at a time)
# under a followed glob with --listen. Prints the agent's RSS and the lines it counted after each
# 1,000 pods. A benchmark, not a test.
#
#   bash benches/agent-churn.sh [PODS]          # default 12000
#   BIN=/path/to/envoy-triage bash benches/agent-churn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release/envoy-triage}
[ -n "${BIN:-}" ] || cargo build --release -q
total=${1:-12000}
w=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$w"' EXIT
mkdir -p "$w/pods"
awk '/^\[/ && n++ < 5' sample-logs/real-healthy.log > "$w/five"
"$bin" --follow "$w/pods/*/istio-proxy/*.log" --listen 127.0.0.1:0 --interval 1 > /dev/null 2> "$w/err" &
a=$!
for _ in $(seq 100); do grep -q serving "$w/err" && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*' "$w/err" | cut -d: -f2)
echo "pods rss_kib lines_counted"
for ((i=1; i<=total; i++)); do
  d="$w/pods/ns$((i%7))_checkout-7d9f8b6c5d-$(printf %05x $i)_uid${i}/istio-proxy"; mkdir -p "$d"; cp "$w/five" "$d/0.log"
  old=$((i-50)); if [ $old -gt 0 ]; then rm -rf "$w/pods/ns$((old%7))_checkout-7d9f8b6c5d-$(printf %05x $old)_uid${old}"; fi
  if (( i % 1000 == 0 )); then
    sleep 3
    echo "$i $(awk '/VmRSS/{print $2}' /proc/$a/status) $(curl -s localhost:$port/metrics | awk '$1=="envoy_triage_lines_total"{print $2}')"
  fi
  if (( i % 20 == 0 )); then sleep 0.05; fi
done

#!/usr/bin/env bash
# Soak test of `envoy-triage --follow` as a node agent (not in CI): runs the release binary for
# MINUTES (default 30) on a kubelet-shaped tree under
#   - kubelet rotation: 0.log renamed to 0.log.<date> (and written to once more after the
#     rename, as a runtime that has not reopened yet does), the previous generation gzipped
#     (.gz.tmp, renamed to .gz, the plain one deleted);
#   - copytruncate: app.log copied and emptied in place, then regrown past its old size at once;
#   - pod churn: pods created (file + /var/log/containers-style symlink), written, deleted;
# followed through both the symlinks and the pod paths (`containers/*.log` and `pods/*/*/*`, so
# every pod file is reached twice), then stopped with SIGINT. Prints the follower's descriptors
# and RSS every ~10 s, and at the end the lines written against the lines and records in the
# final JSON report (they must be equal).
#
#   cargo build --release && nice tools/soak-follow.sh 30
#
# Environment: BIN (default target/release/envoy-triage), WORK (default a fresh mktemp -d,
# removed at the end unless KEEP=1), PODS (stable pods, default 6), CHURN=0 (no pod churn) and
# CT=0 (no copytruncate) to tell which load a trend comes from.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-30}
bin=${BIN:-target/release/envoy-triage}
pods=${PODS:-6}
[ -x "$bin" ] || { echo "no $bin: cargo build --release first" >&2; exit 2; }
work=${WORK:-$(mktemp -d /tmp/soak-follow.XXXXXX)}
mkdir -p "$work/pods" "$work/containers" "$work/ct" "$work/count" "$work/pos"
lines="$work/lines.txt"
# Real access-log lines: every one is a record.
cat sample-logs/real-healthy.log > "$lines"
nlines=$(wc -l < "$lines")

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  [ -n "${follower:-}" ] && kill -INT "$follower" 2> /dev/null || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

end=$((SECONDS + minutes * 60))
stop="$work/stop"

# Appends $2 lines to file $1 (going round the sample from a position kept per writer $3) and
# adds them to the writer's count.
write_batch() {
  local file=$1 n=$2 posfile="$work/pos/$3" counter="$work/count/$3" pos
  pos=$(cat "$posfile" 2> /dev/null || echo 0)
  # One write per batch, lines taken round the sample from pos.
  awk -v s="$pos" -v n="$n" -v t="$nlines" '{a[NR-1]=$0} END {for (i=0;i<n;i++) print a[(s+i)%t]}' "$lines" >> "$file"
  echo $(((pos + n) % nlines)) > "$posfile"
  # Replaced whole, so that the sampler never reads a half-written count.
  echo $(($(cat "$counter" 2> /dev/null || echo 0) + n)) > "$posfile.n" && mv "$posfile.n" "$counter"
}

pod_dir() { echo "$work/pods/soak_$1_uid-$1/istio-proxy"; }
link_of() { echo "$work/containers/$1_soak_istio-proxy-$(printf '%064d' 0).log"; }

# A stable pod: writes every 0.2 s; kubelet-rotates every 20-40 s.
stable_pod() {
  local name=$1 dir log gen=0 prev="" next_rotate
  dir=$(pod_dir "$name"); log="$dir/0.log"
  mkdir -p "$dir"; : > "$log"; ln -sf "$log" "$(link_of "$name")"
  next_rotate=$((SECONDS + 20 + RANDOM % 20))
  while [ ! -e "$stop" ]; do
    write_batch "$log" 20 "$name"
    if [ "$SECONDS" -ge "$next_rotate" ]; then
      gen=$((gen + 1))
      local rotated
      rotated="$log.$(date -u +%Y%m%d-%H%M%S)-$gen"
      mv "$log" "$rotated"
      # The runtime has not reopened yet: one more batch lands in the renamed file.
      write_batch "$rotated" 7 "$name"
      : > "$log"
      if [ -n "$prev" ]; then
        gzip -c "$prev" > "$prev.gz.tmp" && mv "$prev.gz.tmp" "$prev.gz" && rm "$prev"
        # kubelet keeps containerLogMaxFiles (5) files: the oldest .gz go.
        ls -1 "$dir"/0.log.*.gz | head -n -3 | xargs -r rm -f
      fi
      prev=$rotated
      next_rotate=$((SECONDS + 20 + RANDOM % 20))
    fi
    sleep 0.2
  done
}

# A logrotate copytruncate file: written every 0.2 s; every ~30 s copied, emptied, and at once
# regrown past its old size. The copy is outside the pattern (app.log.1 vs *.log). The pause
# before the truncation lets the follower read what was written (what copytruncate loses by
# design is not what this measures).
copytruncate() {
  local log="$work/ct/app.log" next=$((SECONDS + 30))
  : > "$log"
  while [ ! -e "$stop" ]; do
    write_batch "$log" 20 ct
    if [ "$SECONDS" -ge "$next" ]; then
      sleep 1.5
      local size
      size=$(wc -l < "$log")
      cp "$log" "$log.1"; : > "$log"
      write_batch "$log" $((size + 100)) ct
      next=$((SECONDS + 30))
    fi
    sleep 0.2
  done
}

# Pod churn: a pod every second, living 3-8 s, written to while it lives, then deleted.
churn() {
  local i=0
  while [ ! -e "$stop" ]; do
    i=$((i + 1))
    (
      # Replicas of one Deployment (`churn-<hash>-<5 chars>`): a new name per pod would be a new
      # workload, whose inbound upstream the report keeps (up to --max-clusters).
      name="churn-7d9f8b6c5-$(printf '%05d' "$i" | tr 0-9 a-j)"; dir=$(pod_dir "$name"); log="$dir/0.log"
      mkdir -p "$dir"; : > "$log"; ln -sf "$log" "$(link_of "$name")"
      die=$((SECONDS + 3 + RANDOM % 6))
      while [ "$SECONDS" -lt "$die" ] && [ ! -e "$stop" ]; do
        write_batch "$log" 10 "$name"
        sleep 0.3
      done
      # Let the follower read the last batch before the pod goes (as kubelet's grace period does).
      sleep 1.5
      rm -f "$(link_of "$name")"; rm -rf "$work/pods/soak_${name}_uid-$name"
    ) &
    sleep 1
  done
  wait
}

"$bin" --follow "$work/containers/*.log" "$work/pods/*/*/*" "$work/ct/*.log" --output json \
  --interval 5 > "$work/report.json" 2> "$work/stderr.txt" &
follower=$!
sleep 1

for p in $(seq 1 "$pods"); do stable_pod "pod-$p" & pids+=($!); done
[ "${CT:-1}" = 0 ] || { copytruncate & pids+=($!); }
[ "${CHURN:-1}" = 0 ] || { churn & pids+=($!); }

written() { cat "$work"/count/* 2> /dev/null | awk '{s+=$1} END {print s+0}'; }
started=$SECONDS
printf '%8s %10s %8s %10s %8s\n' elapsed_s written fds rss_kib files
while [ "$SECONDS" -lt "$end" ]; do
  sleep 10
  fds=$(ls "/proc/$follower/fd" | wc -l)
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$follower/status")
  files=$(find "$work/pods" "$work/ct" -type f | wc -l)
  printf '%8d %10d %8d %10d %8d\n' $((SECONDS - started)) "$(written)" "$fds" "$rss" "$files"
done

touch "$stop"
wait "${pids[@]}" || true
pids=()
# Let the follower read the last writes, then stop it as an operator would.
sleep 3
kill -INT "$follower"
set +e
wait "$follower"
code=$?
set -e
follower=""

total=$(written)
read -r lines_counted records malformed < <(
  grep -m1 -A6 '"totals"' "$work/report.json" | awk -F'[:,]' '
    /"lines"/ {l=$2} /"records"/ {r=$2} /"malformed"/ {m=$2} END {print l+0, r+0, m+0}')
echo "exit code: $code"
echo "lines written: $total"
echo "lines counted: $lines_counted (records $records, malformed $malformed)"
if [ -s "$work/stderr.txt" ]; then echo "stderr:"; head -20 "$work/stderr.txt"; fi
if [ "$total" = "$lines_counted" ] && [ "$total" = "$records" ] && [ "$code" = 0 ]; then
  echo "OK: every line written was counted once"
else
  echo "MISMATCH: $((lines_counted - total)) lines counted more than written"
  exit 1
fi

#!/usr/bin/env bash
# Peak RSS of whole runs on the inputs that used to grow memory without bound (issue 23): many
# distinct clusters, failure groups or pods, and long names and ids, at several thread counts.
#
#   bash benches/rss.sh [DIR] BINARY...
#
# Generates the inputs into DIR (default /tmp/rss-inputs, kept between runs), runs every BINARY
# with `-o json` at -j 1, 2 and 8, and prints one row per input and binary: peak RSS in MiB
# (GNU time's %M) per -j, and whether the outputs of the three runs were identical.
set -euo pipefail
DIR=/tmp/rss-inputs
if [ $# -ge 1 ] && [ -d "$1" ] && [ ! -x "$1" ]; then DIR=$1; shift; fi
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
mkdir -p "$DIR"
FMT='%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %REQ(X-REQUEST-ID)% %DOWNSTREAM_LOCAL_ADDRESS%'
gen() { # name awk-program
  [ -s "$DIR/$1" ] || awk "BEGIN { $2 }" > "$DIR/$1"
}
gen clusters-1e4.log 'for (i = 0; i < 100000; i++) printf "503 UF outbound|80||svc-%d.ns.svc.cluster.local id-%d 10.0.0.1:80\n", i % 10000, i'
gen clusters-1e5.log 'for (i = 0; i < 100000; i++) printf "503 UF outbound|80||svc-%d.ns.svc.cluster.local id-%d 10.0.0.1:80\n", i, i'
gen clusters-1e6.log 'for (i = 0; i < 1000000; i++) printf "503 UF outbound|80||svc-%d.ns.svc.cluster.local id-%d 10.0.0.1:80\n", i, i'
# 10,000 clusters x 16 kinds of failure x 2 proxies (inbound and outbound names).
gen causes.log 'split("503 UF|503 UO|503 UH|504 UT|503 URX,UF|429 RL|503 UC|500 -|503 NR|503 LR|504 SI|400 DPE|403 UAEX|503 DI|0 DC|503 UMSDR", f, "|"); for (i = 0; i < 10000; i++) for (k = 1; k <= 16; k++) { printf "%s outbound|80||svc-%d.ns.svc.cluster.local id-%d 10.0.0.1:80\n", f[k], i, i; printf "%s inbound|80|| id-%d 10.1.%d.%d:80\n", f[k], i, i % 250, i % 200 }'
gen pods-1e5.log 'for (i = 0; i < 100000; i++) printf "503 UF inbound|8080|| id-%d 10.%d.%d.%d:8080\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256'
gen long-names.log 'x = "x"; while (length(x) < 100000) x = x x; x = substr(x, 1, 100000); for (i = 0; i < 1000; i++) printf "503 UF c%d-%s id-%d 10.0.0.1:80\n", i, x, i'
gen long-ids.log 'x = "y"; while (length(x) < 100000) x = x x; x = substr(x, 1, 100000); for (i = 0; i < 1000; i++) printf "503 UF outbound|80||a id-%d-%s 10.0.0.1:80\n", i, x'
printf '%-18s %-28s %8s %8s %8s  %s\n' input binary "-j1 MiB" "-j2 MiB" "-j8 MiB" "same output"
for input in clusters-1e4 clusters-1e5 clusters-1e6 causes pods-1e5 long-names long-ids; do
  for b in "$@"; do
    row=()
    sums=()
    for j in 1 2 8; do
      kb=$( { /usr/bin/time -f '%M' "$b" -j "$j" -o json --format "$FMT" "$DIR/$input.log" \
              | sed -E 's/"elapsed_ms":[0-9]+//' | sha256sum > "$DIR/.sum-$j"; } 2>&1 | tail -1)
      row+=("$((kb / 1024))")
      sums+=("$(cut -c1-16 "$DIR/.sum-$j")")
    done
    same=no; [ "${sums[0]}" = "${sums[1]}" ] && [ "${sums[1]}" = "${sums[2]}" ] && same=yes
    printf '%-18s %-28s %8s %8s %8s  %s\n' "$input" "$(basename "$b")" "${row[@]}" "$same"
  done
done

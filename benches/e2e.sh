#!/usr/bin/env bash
# End-to-end benchmark of envoy-triage against the everyday baselines, on realistic logs.
#
#   bash benches/e2e.sh [--quick | --size 1G] [--big] [--runs 5] [--seed 7] [--threads N]
#                       [--markdown] [--no-build] [--no-install] [--no-hyperfine] [--dir DIR]
#                       [--big-size 4G] [--boost] [--baseline PATH]
#
# What it does, in one run:
#   1. builds target/profiling/envoy-triage and the `genlog` example (unless --no-build): the
#      `profiling` profile is the release build with symbols kept (Cargo.toml), the same code
#      as the stripped target/release binary, so perf and callgrind can name its functions;
#   2. installs what is missing: mawk, jq (apt-get; else jq's PyPI bindings), GNU time (apt-get
#      package `time`; else a python3 getrusage wrapper) — and says what it installed;
#   3. generates, with a fixed seed, an Istio text log (≥ 1 GB by default) and an Istio JSON log
#      of the same size, both with 2% non-access lines (Envoy/pilot-agent output) as a real
#      istio-proxy container has, into ${BENCH_DIR:-/tmp/envoy-triage-bench} (never the repo);
#      files are cached by name (style, seed, size, noise and a hash of the generator's source)
#      and only regenerated when missing;
#   4. reads each file once (`cat > /dev/null`) so every tool reads from the page cache, then
#      times, round-robin, `--runs` times each:
#        wc -l · LC_ALL=C grep -cE '504|UT|UF,URX' · mawk '{c[$5" "$6]++} END{…}' (text only)
#        · jq -cR 'fromjson? | select(.response_code>=500)' (JSON only)
#        · envoy-triage table and --output json, with -j 1 and -j N;
#      The commands run in a fixed order that is reversed every other round, so envoy-triage
#      with N threads and grep (jq for JSON) always run back to back, one first, then the
#      other: each round is one alternating pair;
#   5. prints median wall time, GB/s (10^9 bytes per second of the median), ratios, peak RSS,
#      CPU time, and PASS/MISS against the targets (it never fails on a MISS). The ratio to
#      grep (jq) that the targets judge is the median over the pairs of grep's time / envoy-
#      triage's, with the smallest and largest pair, so one lucky or unlucky run does not
#      decide (at least 5 pairs: --runs 5, the default);
#   6. checks that envoy-triage's outputs with 1 and N threads are byte-identical, and that its
#      line count matches `wc -l` and its 5xx count matches jq's.
# With --big it also generates a 4 GiB Istio text log and measures envoy-triage's peak RSS on it
# (target ≤ 64 MiB). With hyperfine on PATH it is used per command (else a timing loop).
# With --baseline PATH (another envoy-triage binary, e.g. one built from an earlier commit) its
# table output is timed too, with 1 and N threads, in the same round-robin (its N-thread run
# right after grep's, so it pairs with the same grep run): before/after figures from one run.
#
# Background load: with autogroup scheduling (Linux's default on desktops and many VMs), `nice`
# only ranks processes within one session, so a `nice -n 19` job started from another session
# still takes its fair half of the CPUs from this benchmark. --boost (root) sets this session's
# autogroup to nice -10 for the run (restored at exit) so such jobs yield; the report says
# whether it was on and what else was busy.
set -euo pipefail
export LC_NUMERIC=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${BENCH_DIR:-/tmp/envoy-triage-bench}
SIZE=1G
BIG_SIZE=4G
RUNS=5
SEED=7
NOISE=0.02
THREADS=
MARKDOWN=0
BUILD=1
INSTALL=1
BIG=0
BOOST=0
BASELINE=
USE_HYPERFINE=auto
ARGS="$*"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) SIZE=200M ;;
    --size) SIZE=$2; shift ;;
    --size=*) SIZE=${1#*=} ;;
    --big) BIG=1 ;;
    --big-size) BIG_SIZE=$2; shift ;;
    --boost) BOOST=1 ;;
    --baseline) BASELINE=$2; shift ;;
    --baseline=*) BASELINE=${1#*=} ;;
    --runs) RUNS=$2; shift ;;
    --runs=*) RUNS=${1#*=} ;;
    --seed) SEED=$2; shift ;;
    --seed=*) SEED=${1#*=} ;;
    --threads | -j) THREADS=$2; shift ;;
    --threads=*) THREADS=${1#*=} ;;
    --markdown) MARKDOWN=1 ;;
    --no-build) BUILD=0 ;;
    --no-install) INSTALL=0 ;;
    --no-hyperfine) USE_HYPERFINE=0 ;;
    --dir) DIR=$2; shift ;;
    --dir=*) DIR=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "e2e.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] || { echo "e2e.sh: --runs wants a positive number" >&2; exit 2; }
[ "$RUNS" -ge 5 ] || echo "e2e.sh: note: --runs $RUNS < 5, the median of the pairs is not robust" >&2
NPROC=$(nproc)
THREADS=${THREADS:-$NPROC}

say() { printf '%s\n' "$*" >&2; }
hr() { printf '%*s\n' "${1:-100}" '' | tr ' ' '-'; }

mkdir -p "$DIR"
WORK="$DIR/last-run"
rm -rf "$WORK"
mkdir -p "$WORK/out"
cd "$WORK" # nothing the tools write by accident lands in the repo

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
INSTALLED=()
APT_UPDATED=0
apt_install() { # pkg…
  command -v apt-get > /dev/null || return 1
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    sudo -n true 2> /dev/null || return 1
    sudo=(sudo -n)
  fi
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" > "$WORK/apt.log" 2>&1; then
    [ $APT_UPDATED = 1 ] && return 1
    APT_UPDATED=1
    "${sudo[@]}" apt-get update -qq >> "$WORK/apt.log" 2>&1 || return 1
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >> "$WORK/apt.log" 2>&1 || return 1
  fi
}

JQ=jq
MAWK=mawk
JQ_NOTE=
if [ $INSTALL = 1 ]; then
  if ! command -v mawk > /dev/null; then
    if apt_install mawk; then INSTALLED+=("mawk (apt-get)"); else say "e2e.sh: could not install mawk; its row is skipped"; fi
  fi
  if ! command -v jq > /dev/null; then
    if apt_install jq; then
      INSTALLED+=("jq (apt-get)")
    elif python3 -m pip install -q jq > "$WORK/pip.log" 2>&1; then
      # libjq through its Python bindings: the same filter engine, with a Python read loop.
      mkdir -p "$DIR/bin"
      cat > "$DIR/bin/jq" << 'EOF'
#!/usr/bin/env python3
# Minimal `jq -cR FILTER [FILE]` on libjq (PyPI `jq`), installed by benches/e2e.sh.
import json, sys, jq
args = [a for a in sys.argv[1:] if a != "-cR"]
prog = jq.compile(args[0])
src = open(args[1], encoding="utf-8", errors="surrogateescape") if len(args) > 1 else sys.stdin
out = sys.stdout
for line in src:
    for v in prog.input_value(line.rstrip("\n")).all():
        out.write(json.dumps(v, separators=(",", ":"), ensure_ascii=False) + "\n")
EOF
      chmod +x "$DIR/bin/jq"
      JQ="$DIR/bin/jq"
      JQ_NOTE=" (libjq via PyPI bindings: apt-get was not available)"
      INSTALLED+=("jq (pip install jq, wrapper $DIR/bin/jq)")
    else
      say "e2e.sh: could not install jq; its row is skipped"
    fi
  fi
  if [ ! -x /usr/bin/time ]; then
    if apt_install time; then INSTALLED+=("GNU time (apt-get package time)"); fi
  fi
fi
command -v "$MAWK" > /dev/null || MAWK=
command -v "$JQ" > /dev/null || JQ=

# The rusage wrapper: appends "RUSAGE <maxrss KiB> <user s> <sys s> <exit status>" to a file.
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' -o /dev/null true 2> /dev/null; then
  RUSAGE_NOTE="GNU time %M"
  rusage() { local f=$1; shift; /usr/bin/time -a -o "$f" -f 'RUSAGE %M %U %S %x' "$@"; }
else
  RUSAGE_NOTE="python3 getrusage (no GNU time)"
  cat > "$WORK/rusage.py" << 'EOF'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "a") as f:
    f.write(f"RUSAGE {r.ru_maxrss} {r.ru_utime:.2f} {r.ru_stime:.2f} {rc}\n")
sys.exit(rc)
EOF
  rusage() { local f=$1; shift; python3 "$WORK/rusage.py" "$f" "$@"; }
fi

# Scheduling: see "Background load" at the top.
case $(cat /proc/sys/kernel/sched_autogroup_enabled 2> /dev/null) in 1) SCHED_NOTE="autogroup scheduling on" ;; 0) SCHED_NOTE="autogroup scheduling off" ;; *) SCHED_NOTE="no autogroup" ;; esac
if [ $BOOST = 1 ]; then
  AG_OLD=$(sed 's/.* nice //' /proc/$$/autogroup 2> /dev/null || true)
  if [ -n "$AG_OLD" ] && echo -10 2> /dev/null > /proc/$$/autogroup; then
    trap 'echo "$AG_OLD" > /proc/$$/autogroup 2> /dev/null || true' EXIT
    SCHED_NOTE="$SCHED_NOTE, --boost: this session's autogroup at nice -10 (was $AG_OLD)"
  else
    say "e2e.sh: --boost needs root and /proc/<pid>/autogroup; running without it"
    SCHED_NOTE="$SCHED_NOTE, --boost not possible"
  fi
fi

HYPERFINE=
if [ "$USE_HYPERFINE" = auto ] && command -v hyperfine > /dev/null; then HYPERFINE=$(command -v hyperfine); fi

# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
ET="$REPO/target/profiling/envoy-triage"
GENLOG="$REPO/target/profiling/examples/genlog"
if [ $BUILD = 1 ]; then
  say "building (cargo build --profile profiling --bin envoy-triage --example genlog)…"
  (cd "$REPO" && cargo build --profile profiling --quiet --bin envoy-triage --example genlog) ||
    { say "e2e.sh: the build failed (use --no-build to bench the binaries already in target/profiling)"; exit 1; }
fi
for b in "$ET" "$GENLOG"; do
  [ -x "$b" ] || { say "e2e.sh: $b is missing: build it (cargo build --profile profiling --bin envoy-triage --example genlog)"; exit 1; }
done
# Bench a snapshot, so that a rebuild during the run does not swap the binary under it.
ET_BUILT=$(date -u -r "$ET" +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$WORK/bin"
cp "$ET" "$GENLOG" "$WORK/bin/"
ET="$WORK/bin/envoy-triage"
GENLOG="$WORK/bin/genlog"
if [ -n "$BASELINE" ]; then
  [ -x "$BASELINE" ] || { say "e2e.sh: --baseline $BASELINE is not an executable"; exit 2; }
  cp "$BASELINE" "$WORK/bin/envoy-triage-baseline"
  BASELINE="$WORK/bin/envoy-triage-baseline"
fi

# ---------------------------------------------------------------------------------------------
# Data: generated once per (style, seed, size, noise, generator source), outside the repo
# ---------------------------------------------------------------------------------------------
GEN_HASH=$(cat "$REPO/crates/synth/src/lib.rs" "$REPO/examples/genlog.rs" | sha256sum | cut -c1-10)

mem_available() { awk '/^MemAvailable:/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo; }

dataset() { # style size → path (generates when missing)
  local style=$1 size=$2
  local name="$style-seed$SEED-$size-noise$NOISE-gen$GEN_HASH.log"
  local path="$DIR/$name"
  if [ ! -s "$path" ] || [ ! -s "$path.stats.json" ]; then
    # drop stale versions of the same dataset (other generator source)
    rm -f "$DIR/$style-seed$SEED-$size-noise$NOISE-gen"*.log "$DIR/$style-seed$SEED-$size-noise$NOISE-gen"*.log.stats.json
    say "generating $path (genlog --style $style --bytes $size --seed $SEED --noise $NOISE)…"
    local t0=$EPOCHREALTIME
    "$GENLOG" --style "$style" --bytes "$size" --seed "$SEED" --noise "$NOISE" > "$path.tmp" 2> "$path.stats.tmp"
    mv "$path.stats.tmp" "$path.stats.json"
    mv "$path.tmp" "$path"
    say "  $(stat -c %s "$path") bytes in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s"
  else
    say "using cached $path"
  fi
  printf '%s\n' "$path"
}

ISTIO=$(dataset istio "$SIZE")
JSON=$(dataset json "$SIZE")
BIGF=
[ $BIG = 1 ] && BIGF=$(dataset istio "$BIG_SIZE")

# ---------------------------------------------------------------------------------------------
# Cases: id | input | label | command (stdout goes to $WORK/out/<id>)
# ---------------------------------------------------------------------------------------------
CASE_IDS=()
declare -A C_INPUT C_LABEL C_CMD C_OKRC C_GROUP
add_case() { # group id input label okrc command…
  local g=$1 id=$2 in=$3 label=$4 okrc=$5; shift 5
  CASE_IDS+=("$id")
  C_GROUP[$id]=$g C_INPUT[$id]=$in C_LABEL[$id]=$label C_OKRC[$id]=$okrc
  local q
  printf -v q '%q ' "$@"
  C_CMD[$id]=$q
}

ET_COMMON=(--color never)
for g in istio json; do
  if [ $g = istio ]; then f=$ISTIO; else f=$JSON; fi
  add_case $g $g.wc "$f" "wc -l" 0 wc -l "$f"
  if [ $g = istio ] && [ -n "$MAWK" ]; then
    add_case $g $g.mawk "$f" "mawk '{c[\$5\" \"\$6]++} END{...print...}'" 0 "$MAWK" '{c[$5" "$6]++} END{for(k in c) print c[k], k}' "$f"
  fi
  if [ $g = json ]; then
    add_case $g $g.grep "$f" "LC_ALL=C grep -cE '504|UT|UF,URX'" "0 1" env LC_ALL=C grep -cE '504|UT|UF,URX' "$f"
  fi
  add_case $g $g.et-table-1 "$f" "envoy-triage -j 1 (table)" 0 "$ET" "${ET_COMMON[@]}" -j 1 "$f"
  add_case $g $g.et-json-1 "$f" "envoy-triage -j 1 -o json" 0 "$ET" "${ET_COMMON[@]}" -j 1 -o json "$f"
  add_case $g $g.et-json-n "$f" "envoy-triage -j $THREADS -o json" 0 "$ET" "${ET_COMMON[@]}" -j "$THREADS" -o json "$f"
  if [ -n "$BASELINE" ]; then
    add_case $g $g.base-table-1 "$f" "baseline envoy-triage -j 1 (table)" 0 "$BASELINE" "${ET_COMMON[@]}" -j 1 "$f"
  fi
  # The pairs: envoy-triage with N threads, the yardstick, the baseline with N threads, back
  # to back (the order is reversed every other round; see "Timing").
  add_case $g $g.et-table-n "$f" "envoy-triage -j $THREADS (table)" 0 "$ET" "${ET_COMMON[@]}" -j "$THREADS" "$f"
  if [ $g = istio ]; then
    add_case $g $g.grep "$f" "LC_ALL=C grep -cE '504|UT|UF,URX'" "0 1" env LC_ALL=C grep -cE '504|UT|UF,URX' "$f"
  elif [ -n "$JQ" ]; then
    add_case $g $g.jq "$f" "jq -cR 'fromjson? | select(.response_code>=500)'$JQ_NOTE" 0 "$JQ" -cR 'fromjson? | select(.response_code>=500)' "$f"
  fi
  if [ -n "$BASELINE" ]; then
    add_case $g $g.base-table-n "$f" "baseline envoy-triage -j $THREADS (table)" 0 "$BASELINE" "${ET_COMMON[@]}" -j "$THREADS" "$f"
  fi
done
if [ -n "$BIGF" ]; then
  add_case big big.et-table-n "$BIGF" "envoy-triage -j $THREADS (table)" 0 "$ET" "${ET_COMMON[@]}" -j "$THREADS" "$BIGF"
  add_case big big.et-json-n "$BIGF" "envoy-triage -j $THREADS -o json" 0 "$ET" "${ET_COMMON[@]}" -j "$THREADS" -o json "$BIGF"
  add_case big big.et-json-1 "$BIGF" "envoy-triage -j 1 -o json" 0 "$ET" "${ET_COMMON[@]}" -j 1 -o json "$BIGF"
  if [ -n "$BASELINE" ]; then
    add_case big big.base-table-n "$BIGF" "baseline envoy-triage -j $THREADS (table)" 0 "$BASELINE" "${ET_COMMON[@]}" -j "$THREADS" "$BIGF"
  fi
fi

# ---------------------------------------------------------------------------------------------
# Machine facts
# ---------------------------------------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
KERNEL=$(uname -sr)
RUSTC=$(rustc --version 2> /dev/null || echo "rustc: not found")
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2> /dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2> /dev/null)" ]; then COMMIT="$COMMIT+dirty"; fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_busy() { # % of all CPUs busy (any niceness) over one second, from /proc/stat
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $5 + $6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {split(a, x, " "); split(b, y, " "); d = (y[1] - x[1]) + (y[2] - x[2]); printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0)}'
}
BUSY_START=$(cpu_busy)
BUSY_BY=$(ps -eo pcpu=,ni=,comm= --sort=-pcpu | awk '$1 >= 20 {printf "%s%s (%s%% CPU, nice %s)", (n++ ? ", " : ""), $3, $1, $2}')
if [ "$BUSY_START" -ge 25 ] && [ $BOOST = 0 ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2> /dev/null)" = 1 ]; then
  say "e2e.sh: note: CPUs ${BUSY_START}% busy and autogroup scheduling is on: niced jobs of other sessions"
  say "  still take their share from this benchmark (root: --boost); numbers will be low and noisy"
fi
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
V_GREP=$(grep --version | sed -n 1p)
V_WC=$(wc --version | sed -n 1p)
if [ -z "$MAWK" ]; then V_MAWK="mawk: not available"; else V_MAWK=$("$MAWK" -W version 2>&1 | sed -n 1p); fi
if [ -z "$JQ" ]; then V_JQ="jq: not available"; else V_JQ=$("$JQ" --version 2> /dev/null || echo "jq (PyPI bindings)"); fi
V_ET=$("$ET" --version)

# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------
now_us() { local t=${EPOCHREALTIME//[.,]/}; printf '%s' "$((10#$t))"; }

warm() { # file…: read through the page cache, say if it cannot hold them
  local total=0 f
  for f in "$@"; do total=$((total + $(stat -c %s "$f"))); done
  if [ "$total" -gt "$(mem_available)" ]; then
    say "e2e.sh: warning: ${total} bytes of input exceed MemAvailable; reads will hit the disk"
  fi
  for f in "$@"; do cat "$f" > /dev/null; done
}

run_once() { # id run#
  local id=$1 r=$2 rc=0 t0 t1
  printf '%s\n' "exec ${C_CMD[$id]} > $(printf %q "$WORK/out/$id")" > "$WORK/$id.sh"
  t0=$(now_us)
  rusage "$WORK/$id.rusage" bash "$WORK/$id.sh" 2> "$WORK/$id.err" || rc=$?
  t1=$(now_us)
  printf '%s\n' "$((t1 - t0))" >> "$WORK/$id.wall_us"
  if [[ " ${C_OKRC[$id]} " != *" $rc "* ]]; then
    say "e2e.sh: $id exited with $rc (run $r): $(head -c 400 "$WORK/$id.err")"
    echo "$id" >> "$WORK/failed"
  fi
}

run_hyperfine() { # id
  local id=$1
  printf '%s\n' "exec ${C_CMD[$id]} > $(printf %q "$WORK/out/$id")" > "$WORK/$id.sh"
  "$HYPERFINE" --runs "$RUNS" --warmup 0 --ignore-failure --style none --export-json "$WORK/$id.hf.json" \
    "$(printf '%q ' rusage_cmd "$WORK/$id.rusage" bash "$WORK/$id.sh")" > /dev/null 2> "$WORK/$id.err" || echo "$id" >> "$WORK/failed"
  # hyperfine's times are seconds (shell start-up subtracted)
  python3 -c 'import json, sys; [print(int(t * 1e6)) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' \
    "$WORK/$id.hf.json" > "$WORK/$id.wall_us"
}

TIMING_NOTE="loop of $RUNS runs per command, round-robin across commands (order reversed every other round: envoy-triage -j $THREADS and its yardstick always back to back); wall time from bash \$EPOCHREALTIME around each run; median reported; ratios to grep/jq: median (min-max) over the $RUNS pairs"
if [ -n "$HYPERFINE" ]; then
  TIMING_NOTE="hyperfine --runs $RUNS per command; median of its times reported; ratios to grep/jq over the runs taken in order (not alternating: --no-hyperfine for alternating pairs)"
  # hyperfine runs commands through a shell: give it the wrapper as a script
  cat > "$WORK/rusage_cmd" << EOF
#!/usr/bin/env bash
$(declare -f rusage)
rusage "\$@"
EOF
  chmod +x "$WORK/rusage_cmd"
  export PATH="$WORK:$PATH" WORK
fi

say "machine: $NPROC CPUs ($CPU), load $LOAD_START; timing: $TIMING_NOTE"
for g in istio json big; do
  ids=()
  for id in "${CASE_IDS[@]}"; do [ "${C_GROUP[$id]}" = $g ] && ids+=("$id"); done
  [ ${#ids[@]} -gt 0 ] || continue
  f=${C_INPUT[${ids[0]}]}
  say "warming the page cache with $f…"
  warm "$f"
  if [ -n "$HYPERFINE" ]; then
    for id in "${ids[@]}"; do say "  $id"; run_hyperfine "$id"; done
  else
    for ((r = 1; r <= RUNS; r++)); do
      # Every other round backwards: within a pair, each command runs first half the time.
      order=("${ids[@]}")
      if ((r % 2 == 0)); then
        order=()
        for ((k = ${#ids[@]} - 1; k >= 0; k--)); do order+=("${ids[$k]}"); done
      fi
      say "  run $r/$RUNS: ${order[*]}"
      for id in "${order[@]}"; do run_once "$id" "$r"; done
    done
  fi
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_END=$(cpu_busy)

# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) printf "%.6f\n", v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

declare -A MED MIN GBS RSS CPUS BYTES
for id in "${CASE_IDS[@]}"; do
  BYTES[$id]=$(stat -c %s "${C_INPUT[$id]}")
  MED[$id]=$(median < "$WORK/$id.wall_us" | awk '{printf "%.6f", $1 / 1e6}')
  MIN[$id]=$(sort -n "$WORK/$id.wall_us" | sed -n 1p | awk '{printf "%.6f", $1 / 1e6}')
  GBS[$id]=$(awk -v b="${BYTES[$id]}" -v t="${MED[$id]}" 'BEGIN {printf "%.3f", b / t / 1e9}')
  RSS[$id]=$(awk '/^RUSAGE/ {if ($2 > m) m = $2} END {printf "%.1f", m / 1024}' "$WORK/$id.rusage")
  CPUS[$id]=$(awk '/^RUSAGE/ {print $3 + $4}' "$WORK/$id.rusage" | median | awk '{printf "%.2f", $1}')
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
has() { [ -n "${MED[$1]:-}" ]; }

# The alternating pairs: run r of `a` with run r of `b`, b's time / a's (how many times faster
# a was). Prints "median min max" over the runs; nothing when either is missing.
pair_stats() { # a b
  has "$1" && has "$2" || return 0
  paste "$WORK/$1.wall_us" "$WORK/$2.wall_us" | awk 'NF == 2 && $1 > 0 {print $2 / $1}' | sort -g |
    awk '{v[NR] = $1} END {if (NR) printf "%.2f %.2f %.2f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR]}'
}
declare -A PAIR
for pair in istio.et-table-n:istio.grep istio.base-table-n:istio.grep json.et-table-n:json.jq json.base-table-n:json.jq; do
  PAIR[$pair]=$(pair_stats "${pair%%:*}" "${pair#*:}")
done
pair_text() { # a:b → "1.62× (1.41–1.80×, 5 pairs)"
  local med lo hi
  read -r med lo hi <<< "${PAIR[$1]:-}"
  [ -n "${med:-}" ] && printf '%s× (%s–%s×, %s pairs)' "$med" "$lo" "$hi" "$RUNS"
}

BASE_OF() { # the baseline a row's ratio is taken against
  case $1 in
    istio.*) echo istio.grep ;;
    json.*) if has json.jq; then echo json.jq; else echo json.grep; fi ;;
    big.*) echo "" ;;
  esac
}

GROUP_TITLE() {
  case $1 in
    istio) echo "Istio text, $(stat -c %s "$ISTIO") bytes: $(basename "$ISTIO")" ;;
    json) echo "Istio JSON, $(stat -c %s "$JSON") bytes: $(basename "$JSON")" ;;
    big) echo "Istio text (--big), $(stat -c %s "$BIGF") bytes: $(basename "$BIGF")" ;;
  esac
}

# Checks: envoy-triage's outputs must not depend on the thread count; counts must agree.
CHECKS=()
check_same() { # a b what
  if [ -f "$WORK/out/$1" ] && [ -f "$WORK/out/$2" ]; then
    if cmp -s "$WORK/out/$1" "$WORK/out/$2"; then
      CHECKS+=("OK    $3: -j 1 and -j $THREADS outputs are byte-identical")
    else
      diff "$WORK/out/$1" "$WORK/out/$2" > "$WORK/$1.vs.$2.diff" || true
      CHECKS+=("DIFF  $3: -j 1 and -j $THREADS outputs differ ($(wc -l < "$WORK/$1.vs.$2.diff") diff lines, see $WORK/$1.vs.$2.diff)")
    fi
  fi
}
check_same istio.et-json-1 istio.et-json-n "Istio text, JSON output"
check_same istio.et-table-1 istio.et-table-n "Istio text, table"
check_same json.et-json-1 json.et-json-n "Istio JSON, JSON output"
check_same json.et-table-1 json.et-table-n "Istio JSON, table"
if has big.et-json-1; then check_same big.et-json-1 big.et-json-n "Istio text --big, JSON output"; fi

json_field() { jq -r "$2" "$1" 2> /dev/null || echo "?"; }
for g in istio json big; do
  has $g.et-json-n || continue
  out="$WORK/out/$g.et-json-n"
  in=${C_INPUT[$g.et-json-n]}
  et_lines=$(json_field "$out" '.totals.lines')
  et_records=$(json_field "$out" '.totals.records')
  gen_lines=$(json_field "$in.stats.json" '.lines')
  gen_records=$(json_field "$in.stats.json" '.records')
  wc_lines=$(if has $g.wc; then awk '{print $1}' "$WORK/out/$g.wc"; else echo "$gen_lines"; fi)
  if [ "$et_lines" = "$wc_lines" ] && [ "$et_lines" = "$gen_lines" ] && [ "$et_records" = "$gen_records" ]; then
    CHECKS+=("OK    $g: envoy-triage lines $et_lines = wc -l = genlog's; records $et_records = genlog's")
  else
    CHECKS+=("DIFF  $g: envoy-triage lines $et_lines records $et_records; wc -l $wc_lines; genlog lines $gen_lines records $gen_records")
  fi
done
if has json.jq && has json.et-json-n; then
  jq_5xx=$(wc -l < "$WORK/out/json.jq")
  et_5xx=$(json_field "$WORK/out/json.et-json-n" '[.by_code | to_entries[] | select((.key | tonumber) >= 500) | .value] | add // 0')
  gen_5xx=$(json_field "$JSON.stats.json" '[.response_codes | to_entries[] | select((.key | tonumber) >= 500) | .value] | add // 0')
  if [ "$jq_5xx" = "$et_5xx" ] && [ "$et_5xx" = "$gen_5xx" ]; then
    CHECKS+=("OK    json: 5xx records: jq $jq_5xx = envoy-triage by_code = genlog's")
  else
    CHECKS+=("DIFF  json: 5xx records: jq $jq_5xx, envoy-triage by_code $et_5xx, genlog $gen_5xx")
  fi
fi
if [ -f "$WORK/failed" ]; then CHECKS+=("FAIL  commands that exited with an unexpected status: $(sort -u "$WORK/failed" | tr '\n' ' ')"); fi
if [ -n "$BASELINE" ]; then
  for g in istio json; do
    for n in 1 n; do
      has $g.base-table-$n && has $g.et-table-$n || continue
      threads=$([ $n = 1 ] && echo 1 || echo "$THREADS")
      CHECKS+=("INFO  $g, -j $threads, table: $(ratio "${MED[$g.base-table-$n]}" "${MED[$g.et-table-$n]}")× the baseline's speed (median $(printf %.3f "${MED[$g.base-table-$n]}") s → $(printf %.3f "${MED[$g.et-table-$n]}") s; CPU ${CPUS[$g.base-table-$n]} s → ${CPUS[$g.et-table-$n]} s); × grep $(ratio "${GBS[$g.base-table-$n]}" "${GBS[$g.grep]}") → $(ratio "${GBS[$g.et-table-$n]}" "${GBS[$g.grep]}")")
    done
  done
fi

# Targets (reported, never fatal)
TARGETS=()
target() { # name value op limit unit [note]
  local v=$2 op=$3 lim=$4 unit=$5 note=${6:-} verdict
  if [ -z "$v" ] || [ "$v" = n/a ]; then
    verdict="N/A "
  elif awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN {exit !((op == ">=" && v >= l) || (op == "<=" && v <= l))}'; then
    verdict=PASS
  else
    verdict=MISS
  fi
  TARGETS+=("$verdict|$1|$v $unit|$op $lim $unit|$note")
}
eff() { # id1 idN → throughput(N)/(N·throughput(1)), as a percentage of linear
  awk -v t1="${MED[$1]}" -v tn="${MED[$2]}" -v n="$THREADS" 'BEGIN {printf "%.0f", 100 * t1 / tn / n}'
}
if has istio.et-table-n; then
  target "Istio text, envoy-triage -j $THREADS (table)" "${GBS[istio.et-table-n]}" ">=" 1.5 "GB/s"
  read -r med lo _ <<< "${PAIR[istio.et-table-n:istio.grep]:-}"
  target "Istio text, -j $THREADS vs grep, median of pairs" "${med:-}" ">=" 1.5 "×" "$(pair_text istio.et-table-n:istio.grep)"
  target "Istio text, -j $THREADS vs grep, smallest pair" "${lo:-}" ">=" 1.3 "×"
fi
if has json.et-table-n; then
  target "Istio JSON, envoy-triage -j $THREADS (table)" "${GBS[json.et-table-n]}" ">=" 0.6 "GB/s"
  if has json.jq; then
    read -r med _ _ <<< "${PAIR[json.et-table-n:json.jq]:-}"
    target "Istio JSON, -j $THREADS vs jq, median of pairs" "${med:-}" ">=" 25 "×" "$(pair_text json.et-table-n:json.jq)"
  else
    target "Istio JSON, envoy-triage -j $THREADS vs jq" "" ">=" 25 "×" "jq not available"
  fi
fi
if [ "$THREADS" -gt 1 ]; then
  for g in istio json; do
    for o in table json; do
      has $g.et-$o-n || continue
      target "$g, $o output: -j $THREADS vs -j 1, % of linear" "$(eff $g.et-$o-1 $g.et-$o-n)" ">=" 90 "%" \
        "$(ratio "${MED[$g.et-$o-1]}" "${MED[$g.et-$o-n]}")× speed-up on $THREADS threads"
    done
  done
else
  target "scaling 1 → N threads" "" ">=" 80 "%" "only 1 thread"
fi
peak_rss() { # ids… → max RSS MiB
  local m=0 id
  for id in "$@"; do has "$id" && m=$(awk -v a="$m" -v b="${RSS[$id]}" 'BEGIN {print ((b > a) ? b : a)}'); done
  echo "$m"
}
if [ -n "$BIGF" ]; then
  target "peak RSS of envoy-triage on $BIG_SIZE" "$(peak_rss big.et-table-n big.et-json-n big.et-json-1)" "<=" 64 "MiB" "max over -j 1 / -j $THREADS, table / json"
else
  target "peak RSS of envoy-triage on 4G" "" "<=" 64 "MiB" \
    "not measured (use --big); on $SIZE: $(peak_rss istio.et-table-1 istio.et-table-n istio.et-json-1 istio.et-json-n json.et-table-1 json.et-table-n json.et-json-1 json.et-json-n) MiB"
fi

# The same figures for the baseline (--baseline), from the same pairs' yardstick runs.
if [ -n "$BASELINE" ]; then
  for g in istio json; do
    y=$([ $g = istio ] && echo grep || echo jq)
    [ -n "${PAIR[$g.base-table-n:$g.$y]:-}" ] || continue
    if [ $g = istio ]; then
      read -r med lo _ <<< "${PAIR[$g.base-table-n:$g.$y]}"
      target "baseline: Istio text, -j $THREADS vs grep, median of pairs" "$med" ">=" 1.5 "×" "$(pair_text $g.base-table-n:$g.$y)"
      target "baseline: Istio text, -j $THREADS vs grep, smallest pair" "$lo" ">=" 1.3 "×"
    else
      read -r med _ _ <<< "${PAIR[$g.base-table-n:$g.$y]}"
      target "baseline: Istio JSON, -j $THREADS vs jq, median of pairs" "$med" ">=" 25 "×" "$(pair_text $g.base-table-n:$g.$y)"
    fi
  done
  for g in istio json; do
    has $g.base-table-1 && has $g.base-table-n && [ "$THREADS" -gt 1 ] || continue
    target "baseline: $g, table output: -j $THREADS vs -j 1, % of linear" "$(eff $g.base-table-1 $g.base-table-n)" ">=" 90 "%" \
      "$(ratio "${MED[$g.base-table-1]}" "${MED[$g.base-table-n]}")× speed-up on $THREADS threads"
  done
  if has big.base-table-n; then
    target "baseline: peak RSS on $BIG_SIZE" "$(peak_rss big.base-table-n)" "<=" 64 "MiB" "-j $THREADS, table"
  fi
fi

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
report_text() {
  echo
  echo "envoy-triage end-to-end benchmark · $DATE"
  echo "machine   $NPROC CPUs · $CPU · ${MEM_GIB} GiB RAM · $KERNEL"
  echo "build     $V_ET (binary built $ET_BUILT$([ $BUILD = 0 ] && echo ", --no-build")) · $RUSTC · commit $COMMIT"
  echo "tools     $V_WC · $V_GREP · $V_MAWK · $V_JQ"
  echo "data      seed $SEED, $NOISE non-access lines, generator $GEN_HASH, in $DIR"
  echo "timing    $TIMING_NOTE; page cache warmed; GB/s = bytes / median seconds / 1e9; RSS = max over runs ($RUSAGE_NOTE);"
  echo "          CPU s = median user+sys; CPU/wall = CPU s / median s (about the cores kept busy)"
  echo "load      CPUs ${BUSY_START}% busy before the runs, ${BUSY_END}% after (1 s samples of /proc/stat); loadavg $LOAD_START → $LOAD_END; $SCHED_NOTE"
  [ -z "$BUSY_BY" ] || echo "busy      $BUSY_BY"
  [ ${#INSTALLED[@]} -eq 0 ] || echo "installed ${INSTALLED[*]}"
  for g in istio json big; do
    local first=1 id base
    for id in "${CASE_IDS[@]}"; do
      [ "${C_GROUP[$id]}" = $g ] || continue
      if [ $first = 1 ]; then
        first=0
        base=$(BASE_OF "$id")
        echo
        echo "$(GROUP_TITLE $g)"
        printf '  %-58s %9s %9s %8s %9s %9s %8s %8s\n' command "median s" "min s" "GB/s" "$([ -n "$base" ] && echo "x ${base#*.}" || echo ratio)" "RSS MiB" "CPU s" "CPU/wall"
        hr 125 | sed 's/^/  /'
      fi
      printf '  %-58s %9.3f %9.3f %8.3f %9s %9s %8s %8s\n' "${C_LABEL[$id]:0:58}" "${MED[$id]}" "${MIN[$id]}" "${GBS[$id]}" \
        "$([ -n "$base" ] && ratio "${GBS[$id]}" "${GBS[$base]}" || echo -)" "${RSS[$id]}" "${CPUS[$id]}" "$(ratio "${CPUS[$id]}" "${MED[$id]}")"
    done
  done
  echo
  echo "TARGETS"
  local t v name val lim note
  for t in "${TARGETS[@]}"; do
    IFS='|' read -r v name val lim note <<< "$t"
    printf '  %-4s  %-64s %-12s (target %s)%s\n' "$v" "$name" "${val//×/x}" "${lim//×/x}" "${note:+ · ${note//×/x}}"
  done
  echo
  echo "CHECKS"
  for t in "${CHECKS[@]}"; do echo "  $t"; done
}

report_markdown() {
  echo
  echo "<!-- bash benches/e2e.sh $ARGS · $DATE -->"
  echo "Machine: $NPROC CPUs, $CPU, ${MEM_GIB} GiB RAM, $KERNEL; $RUSTC; envoy-triage commit \`$COMMIT\` (binary built $ET_BUILT$([ $BUILD = 0 ] && echo ", --no-build"));"
  echo "Load: CPUs ${BUSY_START}% busy before the runs, ${BUSY_END}% after; loadavg $LOAD_START → $LOAD_END${BUSY_BY:+; busy: $BUSY_BY}; $SCHED_NOTE."
  echo "Tools: $V_WC; $V_GREP; $V_MAWK; $V_JQ."
  echo "Timing: $TIMING_NOTE; page cache warmed. GB/s = bytes / median s / 10^9. Peak RSS: max over runs ($RUSAGE_NOTE)."
  echo "CPU s: median user+sys; CPU/wall: CPU s / median s, about the cores kept busy."
  for g in istio json big; do
    local first=1 id base
    for id in "${CASE_IDS[@]}"; do
      [ "${C_GROUP[$id]}" = $g ] || continue
      if [ $first = 1 ]; then
        first=0
        base=$(BASE_OF "$id")
        echo
        echo "**$(GROUP_TITLE $g)**"
        echo
        echo "| command | median s | min s | GB/s | $([ -n "$base" ] && echo "× ${base#*.}" || echo ratio) | peak RSS MiB | CPU s | CPU/wall |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
      fi
      printf '| `%s` | %.3f | %.3f | %.3f | %s | %s | %s | %s |\n' "${C_LABEL[$id]//|/\\|}" "${MED[$id]}" "${MIN[$id]}" "${GBS[$id]}" \
        "$([ -n "$base" ] && ratio "${GBS[$id]}" "${GBS[$base]}" || echo -)" "${RSS[$id]}" "${CPUS[$id]}" "$(ratio "${CPUS[$id]}" "${MED[$id]}")"
    done
  done
  echo
  echo "| target | measured | wanted | verdict | note |"
  echo "|---|---:|---:|:---:|---|"
  local t v name val lim note
  for t in "${TARGETS[@]}"; do
    IFS='|' read -r v name val lim note <<< "$t"
    echo "| $name | $val | $lim | $v | $note |"
  done
  echo
  for t in "${CHECKS[@]}"; do echo "- $t"; done
}

report_text | tee "$WORK/report.txt"
if [ $MARKDOWN = 1 ]; then
  echo
  echo "----- Markdown -----"
  report_markdown | tee "$WORK/report.md"
fi
say
say "outputs, per-run timings and the reports are in $WORK"

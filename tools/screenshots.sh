#!/usr/bin/env bash
# Screenshots of the HTML report of sample-logs/ (or of the given log files), as a desktop
# (1280x800, and the whole page at 1280 wide) and a phone (390x844) show it, into DIR.
# Not committed: look at them after changing the report.
#
#   bash tools/screenshots.sh DIR [LOG…]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: tools/screenshots.sh DIR [LOG…]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
cargo build -q
target/debug/envoy-triage "${@:-sample-logs/}" -o html > "$out/report.html"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shot() {
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --window-size="$1" --screenshot="$out/$2" "file://$out/report.html" 2> /dev/null
}
shot 1280,800 desktop-1280x800.png
shot 390,844 phone-390x844.png
shot 1280,5000 desktop-full.png
shot 390,6000 phone-full.png
ls -l "$out"

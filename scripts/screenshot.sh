#!/usr/bin/env bash
# Renders a leakage report in headless Chromium (Debian's `chromium`, installed by
# scripts/setup.sh --dev) and saves a screenshot of its first WIDTH x HEIGHT pixels.
#   scripts/screenshot.sh REPORT_DIR/index.html OUT.png [WIDTH=1200] [HEIGHT=2400]
# Chromium runs with networking features off and a throw-away profile: the report is a
# self-contained page and must render without any request leaving the machine. Prints
# what the browser logged to its console, so that errors in the page show.
set -euo pipefail
page=$(realpath "$1")
png=$2
width=${3:-1200}
height=${4:-2400}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$browser" ]] || { echo "screenshot: chromium not found (sudo apt-get install chromium)" >&2; exit 1; }

"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="$width,$height" \
  --enable-logging=stderr --v=0 --screenshot="$(realpath -m "$png")" "file://$page" 2>"$profile/log" || {
  cat "$profile/log" >&2
  exit 1
}
grep -i "console" "$profile/log" || echo "screenshot: no console messages"
echo "screenshot: wrote $png (${width}x${height})"

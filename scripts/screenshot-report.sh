#!/usr/bin/env bash
# Renders a sweep's report.html with headless Chromium (Debian's chromium) to a PNG, to look at.
# Usage: scripts/screenshot-report.sh reports/smoke [out.png]
set -euo pipefail
dir=${1:?usage: scripts/screenshot-report.sh REPORT_DIR [OUT.png]}
out=${2:-$dir/report.png}
command -v chromium >/dev/null || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --window-size=1300,1400 --screenshot="$out" "file://$(cd "$dir" && pwd)/report.html" 2>/dev/null
echo "$out"

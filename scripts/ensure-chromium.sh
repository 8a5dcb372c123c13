#!/usr/bin/env bash
# Makes sure a headless Chromium is installed, for the report's browser test
# (tests/report/test_report.py renders learning360-report.html and checks the charts). Idempotent.
#
#   scripts/ensure-chromium.sh          # as root: apt-get install -y chromium if missing
#
# Not root and no browser: prints what to run and exits 0 (the browser tests then skip with the
# same hint, or fail under LEARNING360_REQUIRE_CHROMIUM=1), so `make test` works on a laptop.
set -euo pipefail

for candidate in "${LEARNING360_CHROMIUM:-}" chromium chromium-browser google-chrome; do
    if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1; then
        exit 0
    fi
done

if [[ "$(id -u)" -ne 0 ]]; then
    echo "ensure-chromium: no chromium found; the report's browser tests will skip." >&2
    echo "ensure-chromium: install it with: sudo apt-get install -y chromium" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: no apt-get here; install Chromium yourself (or set LEARNING360_CHROMIUM)" >&2
    exit 1
fi

echo "ensure-chromium: installing Chromium (apt-get install chromium)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null

if ! command -v chromium >/dev/null 2>&1; then
    echo "ensure-chromium: chromium installed but not on PATH" >&2
    exit 1
fi

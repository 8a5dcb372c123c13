#!/usr/bin/env bash
# Runs one `learning360 sync` (and, if asked, the report) for cron: no overlapping runs, a log
# file per day, the sync's exit code passed on, and one alert line on failure.
#
#   deploy/cron/run-sync.sh [extra `learning360 sync` arguments...]
#
# Environment (all optional; put them in the crontab or in $LEARNING360_ENV_FILE):
#   LEARNING360_HOME       project checkout with the .venv and .dlt/ (default: two levels up)
#   LEARNING360_BIN        the learning360 command (default: $LEARNING360_HOME/.venv/bin/learning360)
#   LEARNING360_LOG_DIR    where logs go (default: $LEARNING360_HOME/logs)
#   LEARNING360_LOCK       lock file (default: $LEARNING360_LOG_DIR/learning360-sync.lock)
#   LEARNING360_ENV_FILE   a file of `export VAR=...` lines to source first (credentials)
#   LEARNING360_REPORT     a path: also write the HTML report there after a good sync
#   LEARNING360_REPORT_ARGS  pipeline options for the report, e.g. "--destination postgres"
#                          (the sync's own arguments are not passed on: --resources etc.)
#   LEARNING360_ALERT_CMD  a command run on failure with the alert line as its last argument,
#                          e.g. 'logger -t learning360' or a script posting to your chat
#
# Exit codes: those of `learning360 sync` (0 ok, 1 failed, 2 configuration or credentials),
# 75 when another sync still holds the lock (the run is skipped, not queued).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${LEARNING360_HOME:-$(cd "$here/../.." && pwd)}"
bin="${LEARNING360_BIN:-$home/.venv/bin/learning360}"
log_dir="${LEARNING360_LOG_DIR:-$home/logs}"
lock="${LEARNING360_LOCK:-$log_dir/learning360-sync.lock}"
EXIT_LOCKED=75 # EX_TEMPFAIL

mkdir -p "$log_dir"
log="$log_dir/learning360-sync-$(date -u +%Y-%m-%d).log"

alert() {
    # one line, on stderr (cron mails it when MAILTO is set), in the log, and to the alert command
    local line="$1"
    echo "$line" >&2
    echo "$line" >>"$log"
    if [[ -n "${LEARNING360_ALERT_CMD:-}" ]]; then
        # shellcheck disable=SC2086  # the command may carry its own arguments
        ${LEARNING360_ALERT_CMD} "$line" || true
    fi
}

# one sync at a time: a second run exits at once while the first still holds the lock
exec 9>"$lock"
if ! flock -n 9; then
    alert "learning360 sync skipped at $(date -u +%FT%TZ): another sync still runs (lock $lock)"
    exit "$EXIT_LOCKED"
fi

if [[ -n "${LEARNING360_ENV_FILE:-}" ]]; then
    # shellcheck disable=SC1090
    source "$LEARNING360_ENV_FILE"
fi

cd "$home" || { alert "learning360 sync failed: no project directory $home"; exit 2; }

started="$(date -u +%FT%TZ)"
echo "=== $started learning360 sync $*" >>"$log"
"$bin" sync "$@" >>"$log" 2>&1
rc=$?

if [[ $rc -ne 0 ]]; then
    # the CLI's last line says what to fix (e.g. a rejected API key); put it in the alert
    reason="$(grep -m1 -h 'learning360 sync failed:' <(tail -n 50 "$log") || tail -n 1 "$log")"
    alert "learning360 sync FAILED (exit $rc) on $(hostname) at $started: ${reason:-see $log}"
    exit "$rc"
fi

if [[ -n "${LEARNING360_REPORT:-}" ]]; then
    # shellcheck disable=SC2086  # word-split the options on purpose
    if ! "$bin" report --output "$LEARNING360_REPORT" ${LEARNING360_REPORT_ARGS:-} >>"$log" 2>&1; then
        alert "learning360 report FAILED on $(hostname) after the sync of $started: see $log"
        exit 1
    fi
fi

echo "=== $(date -u +%FT%TZ) done" >>"$log"
exit 0

#!/usr/bin/env bash
# A local BigQuery for tests: the `bqemulator` PyPI package (REST API on loopback, DuckDB inside).
#
#   scripts/bqemulator.sh setup    # once: its own venv at .bqemu/venv (~30 s, ~580 MB)
#   scripts/bqemulator.sh start    # setup if needed, start, wait until ready, print the URL
#   scripts/bqemulator.sh status   # print the URL if running, exit 1 if not
#   scripts/bqemulator.sh stop     # stop the emulator started by `start`
#
# Settings (environment):
#   BQEMU_DIR      where the venv lives             (default: <repo>/.bqemu)
#   BQEMU_RUN_DIR  pid, url and log of one instance (default: $BQEMU_DIR/run); the pytest
#                  fixture passes its own so it never touches an emulator you started by hand
#   BQEMU_PORT     REST port on 127.0.0.1           (default: a free port)
#   BQEMU_PROJECT  default project id               (default: test-proj)
#   PYTHON         interpreter for the venv, >= 3.11 (default: python3)
#
# Why its own venv: bqemulator needs duckdb==1.5.5 plus the matching spatial extension wheel,
# the project pins duckdb<2 for dlt; the two must not fight. Why the extension dance: the
# emulator runs `INSTALL spatial` at start, which downloads from extensions.duckdb.org; we
# install it once from the `duckdb-extension-spatial` wheel into a private extension directory
# (HOME=$BQEMU_DIR/home, so ~/.duckdb of the user is left alone) and DuckDB then finds it
# offline.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BQEMU_DIR="${BQEMU_DIR:-$ROOT/.bqemu}"
BQEMU_RUN_DIR="${BQEMU_RUN_DIR:-$BQEMU_DIR/run}"
BQEMU_PROJECT="${BQEMU_PROJECT:-test-proj}"
PYTHON="${PYTHON:-python3}"
VENV="$BQEMU_DIR/venv"
EMU_HOME="$BQEMU_DIR/home"
STAMP="$VENV/.installed-1.4.0"
PIDFILE="$BQEMU_RUN_DIR/pid"
URLFILE="$BQEMU_RUN_DIR/url"
LOGFILE="$BQEMU_RUN_DIR/emulator.log"
PACKAGES=("bqemulator==1.4.0" "duckdb==1.5.5" "duckdb-extension-spatial==1.5.5" "numpy")

log() { echo "bqemulator.sh: $*" >&2; }

setup() {
    if [[ -f "$STAMP" ]]; then
        return 0
    fi
    log "creating $VENV (bqemulator 1.4.0, duckdb 1.5.5 + spatial; ~30 s, ~580 MB)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
    mkdir -p "$EMU_HOME"
    HOME="$EMU_HOME" "$VENV/bin/python" - <<'EOF'
import pathlib

import duckdb
import duckdb_extension_spatial

wheel_dir = pathlib.Path(duckdb_extension_spatial.__file__).parent
extension = next(wheel_dir.glob(f"extensions/v{duckdb.__version__}/spatial.duckdb_extension"))
con = duckdb.connect()
con.execute(f"INSTALL '{extension}'")
con.execute("LOAD spatial")
EOF
    touch "$STAMP"
}

pid_alive() {
    [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# GET <url>/readyz from the venv's python (no curl dependency); exit 0 when ready.
ready() {
    "$VENV/bin/python" - "$1" <<'EOF'
import sys
import urllib.request

# no proxy for loopback, whatever the environment says
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1] + "/readyz", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    setup
    mkdir -p "$BQEMU_RUN_DIR"
    if pid_alive && [[ -f "$URLFILE" ]] && ready "$(cat "$URLFILE")"; then
        cat "$URLFILE"
        return 0
    fi
    local port="${BQEMU_PORT:-$(free_port)}"
    local url="http://127.0.0.1:$port"
    rm -f "$URLFILE"
    # setsid: its own process group, so `stop` ends it and nothing else.
    # BQEMU_ENABLE_FORMAT_EXTENSIONS=false: skip downloading DuckDB's avro extension (offline;
    # dlt loads parquet/jsonl, never avro).
    HOME="$EMU_HOME" BQEMU_ENABLE_FORMAT_EXTENSIONS=false \
        setsid "$VENV/bin/bqemulator" start \
        --rest-host 127.0.0.1 --rest-port "$port" \
        --grpc-host 127.0.0.1 --grpc-port 0 \
        --ephemeral --project "$BQEMU_PROJECT" --log-level warning \
        >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 300); do
        if ready "$url"; then
            echo "$url" >"$URLFILE"
            echo "$url"
            return 0
        fi
        if ! pid_alive; then
            log "the emulator exited during start; last lines of $LOGFILE:"
            tail -n 30 "$LOGFILE" >&2
            return 1
        fi
        sleep 0.1
    done
    log "not ready after 30 s; see $LOGFILE"
    stop
    return 1
}

stop() {
    if pid_alive; then
        local pid
        pid="$(cat "$PIDFILE")"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$URLFILE"
}

status() {
    if pid_alive && [[ -f "$URLFILE" ]] && ready "$(cat "$URLFILE")"; then
        cat "$URLFILE"
    else
        return 1
    fi
}

case "${1:-}" in
    setup) setup ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 setup|start|stop|status" >&2
        exit 2
        ;;
esac

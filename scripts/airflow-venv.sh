#!/usr/bin/env bash
# A real Apache Airflow 3 for tests and local DAG runs, in its own venv under .airflow/.
#
#   scripts/airflow-venv.sh setup    # once: .airflow/venv with Airflow + this project (~1 min, ~650 MB)
#   scripts/airflow-venv.sh path     # setup if needed, print the venv's bin directory
#   scripts/airflow-venv.sh freeze   # rewrite deploy/airflow/constraints.txt from the venv
#
# Why its own venv: Airflow brings ~150 packages (FastAPI, SQLAlchemy 2, its task SDK) that the
# project's own venv does not need. The project is installed INTO it (`pip install -e .[postgres]`)
# with the pins of deploy/airflow/constraints.txt, as a data team installs it on its workers: the
# DAG's tasks import pipelines.tenants and run each tenant's sync as a child process of the task.
#
# Settings (environment):
#   AIRFLOW_VENV_DIR  where the venv lives          (default: <repo>/.airflow/venv)
#   PYTHON            interpreter for the venv, 3.11 or 3.12 (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AIRFLOW_VENV_DIR:-$ROOT/.airflow/venv}"
PYTHON="${PYTHON:-python3}"
AIRFLOW_VERSION="3.3.2"
CONSTRAINTS="$ROOT/deploy/airflow/constraints.txt"
# a new stamp whenever the pins or the project's dependencies change
STAMP="$VENV/.installed-$(cat "$CONSTRAINTS" "$ROOT/pyproject.toml" | sha256sum | cut -c1-12)"

log() { echo "airflow-venv.sh: $*" >&2; }

setup() {
    if [[ -f "$STAMP" ]]; then
        return 0
    fi
    log "creating $VENV (apache-airflow $AIRFLOW_VERSION + learning360[postgres]; ~1 min, ~650 MB)"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
    # --no-cache-dir: nothing is written outside the repo folder (CI caches nothing else)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
        -c "$CONSTRAINTS" "apache-airflow==$AIRFLOW_VERSION" -e "$ROOT[postgres]"
    touch "$STAMP"
}

freeze() {
    setup
    local tmp
    tmp="$(mktemp)"
    {
        head -n 4 "$CONSTRAINTS"
        "$VENV/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check \
            | grep -v -i '^learning360'
    } >"$tmp"
    mv "$tmp" "$CONSTRAINTS"
}

case "${1:-}" in
    setup) setup ;;
    path)
        setup
        echo "$VENV/bin"
        ;;
    freeze) freeze ;;
    *)
        echo "usage: $0 setup|path|freeze" >&2
        exit 2
        ;;
esac

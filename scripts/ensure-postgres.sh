#!/usr/bin/env bash
# Makes sure the PostgreSQL *server binaries* (initdb, pg_ctl, postgres) are installed, so the
# test fixture (tests/destinations/servers.py) can start its own throwaway server. Idempotent.
#
# It never starts, stops or configures the system cluster: the fixture runs a private server
# on a free loopback port with a temp data dir and removes it at the end.
#
#   scripts/ensure-postgres.sh          # as root: apt-get install -y postgresql if missing
#
# Not root and the binaries are missing: prints what to run and exits 0 (the postgres tests
# then skip with the same hint), so `make test` still works on a laptop without PostgreSQL.
set -euo pipefail

have_server_binaries() {
    local bindir
    if [[ -n "${LEARNING360_PG_BINDIR:-}" ]]; then
        bindir="$LEARNING360_PG_BINDIR"
        [[ -x "$bindir/pg_ctl" && -x "$bindir/initdb" && -x "$bindir/postgres" ]] && return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        bindir="$(pg_config --bindir 2>/dev/null || true)"
        [[ -n "$bindir" && -x "$bindir/pg_ctl" && -x "$bindir/initdb" && -x "$bindir/postgres" ]] \
            && return 0
    fi
    for bindir in /usr/lib/postgresql/*/bin; do
        [[ -x "$bindir/pg_ctl" && -x "$bindir/initdb" && -x "$bindir/postgres" ]] && return 0
    done
    return 1
}

if have_server_binaries; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "ensure-postgres: PostgreSQL server binaries not found; the postgres tests will skip." >&2
    echo "ensure-postgres: install them with: sudo apt-get install -y postgresql" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-postgres: no apt-get here; install the PostgreSQL server (initdb, pg_ctl) yourself" >&2
    exit 1
fi

echo "ensure-postgres: installing the PostgreSQL server binaries (apt-get install postgresql)" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d: apt must not start the system cluster (harmless where there is no init system)
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created_policy=1
fi
remove_policy() { if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi; }
trap remove_policy EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if ! have_server_binaries; then
    echo "ensure-postgres: postgresql installed but initdb/pg_ctl/postgres still not found" >&2
    exit 1
fi

"""Throwaway destinations for tests: a PostgreSQL server and a BigQuery emulator per session.

Load it as a pytest plugin (``pytest_plugins = ["tests.destinations.servers"]`` in tests/conftest.py)
and ask for a fixture:

* ``postgres_server`` (session) -> :class:`PostgresServer`: a private PostgreSQL on a free
  loopback port with a temp data dir, a login role with a password and a database it owns;
  stopped and deleted at the end of the session.
* ``postgres_dsn`` (session) -> ``"postgresql://user:pass@127.0.0.1:PORT/db"``.
* ``postgres_env`` (function) -> the DSN, also set as ``DESTINATION__POSTGRES__CREDENTIALS`` so
  ``dlt.pipeline(destination="postgres")`` (the CLI's path) finds it.
* ``bigquery_env`` (session) -> :class:`BigQueryEmulator`: the ``bqemulator`` package started by
  ``scripts/bqemulator.sh`` on a free loopback port (project ``test-proj``), with ``.env``,
  ``.destination()`` and ``.client()``; stopped at the end of the session.
* ``bigquery_destination`` (function) -> a ``dlt.destinations.bigquery`` bound to the emulator,
  with ``bigquery_env.env`` applied to ``os.environ`` for the test.

When a server cannot be had (no PostgreSQL binaries; no ``dlt[bigquery]`` or no emulator venv)
the fixture skips with the command that fixes it. ``LEARNING360_REQUIRE_DESTINATIONS=1`` turns
those skips into failures, for CI, where a silently skipped destination is a hole.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pipelines.verify import query_rows  # noqa: F401 - the BigQuery tests read through it

REPO_ROOT = Path(__file__).resolve().parents[2]
BQEMULATOR_SCRIPT = REPO_ROOT / "scripts" / "bqemulator.sh"
REQUIRE_ENV = "LEARNING360_REQUIRE_DESTINATIONS"

POSTGRES_USER = "learning360"
POSTGRES_PASSWORD = "learning360-test-pw"
POSTGRES_DB = "learning360"
# the bootstrap superuser of the throwaway cluster: trusted on its unix socket only
POSTGRES_SUPERUSER = "postgres"
# throwaway server: durability off, small memory, loopback only
POSTGRES_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c shared_buffers=64MB -c max_connections=40"
)

BIGQUERY_PROJECT = "test-proj"
BIGQUERY_LOCATION = "US"


def _unavailable(reason: str) -> None:
    """Skip, or fail when the environment says destinations are required (CI)."""
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false"):
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so this is an error, not a skip)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway PostgreSQL server."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    socket_dir: str
    superuser: str = POSTGRES_SUPERUSER

    @property
    def dsn(self) -> str:
        """``postgresql://user:pass@host:port/db``: what dlt and psycopg accept."""
        return (
            f"postgresql://{quote(self.user)}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.dbname)}"
        )

    def admin_connect(self, dbname: str = "postgres") -> Any:
        """A superuser psycopg connection over the unix socket (autocommit), for setup work."""
        import psycopg

        return psycopg.connect(
            host=self.socket_dir,
            port=self.port,
            user=self.superuser,
            dbname=dbname,
            autocommit=True,
        )


def find_postgres_bindir() -> Path | None:
    """The directory with ``pg_ctl``, ``initdb`` and ``postgres``, or None.

    ``LEARNING360_PG_BINDIR`` wins; then ``pg_config --bindir`` (which on Debian may belong to
    a client-only install, hence the check); then the newest ``/usr/lib/postgresql/*/bin``.
    """
    candidates: list[Path] = []
    if os.environ.get("LEARNING360_PG_BINDIR"):
        candidates.append(Path(os.environ["LEARNING360_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout
            candidates.append(Path(out.strip()))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("pg_ctl", "initdb", "postgres")):
            return bindir
    return None


def _pg_ctl_for(bindir: Path, workdir: Path) -> tuple[str, pwd.struct_passwd | None]:
    """The ``pg_ctl`` to hand to pytest-postgresql, and the OS user the server runs as.

    PostgreSQL refuses to run as root. As root we give pytest-postgresql a two-line wrapper
    that runs the real ``pg_ctl`` as the ``postgres`` OS user (``runuser``); the data dir is
    owned by that user. As anyone else the real ``pg_ctl`` is used directly.
    """
    if os.geteuid() != 0:
        return str(bindir / "pg_ctl"), None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        _unavailable(
            "running as root, PostgreSQL needs a non-root OS user 'postgres' to run the server; "
            "`apt-get install -y postgresql` creates it (or run the tests as a normal user)"
        )
        raise  # unreachable: _unavailable raises
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    wrapper = workdir / "pg_ctl-as-postgres"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# written by tests/destinations/servers.py: PostgreSQL refuses to run as root\n"
        "cd /\n"
        f'exec {runuser} -u postgres -- {bindir / "pg_ctl"} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(wrapper), owner


@contextlib.contextmanager
def throwaway_postgres(bindir: Path) -> Iterator[PostgresServer]:
    """Start a private PostgreSQL (pytest-postgresql's executor), yield it, stop and delete it.

    Auth: the superuser is trusted on the unix socket in the temp dir only; TCP on 127.0.0.1
    needs the password (scram-sha-256), like a real server, so a DSN with a wrong password
    fails here as it would in production.
    """
    from pytest_postgresql.executor import PostgreSQLExecutor

    workdir = Path(tempfile.mkdtemp(prefix="learning360-pg-"))
    try:
        pg_ctl, owner = _pg_ctl_for(bindir, workdir)
        if owner is not None:
            os.chown(workdir, owner.pw_uid, owner.pw_gid)
        port = _free_port()
        executor = PostgreSQLExecutor(
            executable=pg_ctl,
            host="127.0.0.1",
            port=port,
            datadir=str(workdir / "data"),
            unixsocketdir=str(workdir),
            logfile=str(workdir / "postgresql.log"),
            startparams="-w",
            dbname=POSTGRES_DB,
            user=POSTGRES_SUPERUSER,
            password="",  # initdb --auth=trust; pg_hba below narrows trust to the socket
            postgres_options=POSTGRES_SERVER_OPTIONS,
            timeout=60,
        )
        executor.init_directory()
        hba = Path(executor.datadir) / "pg_hba.conf"
        hba.write_text(
            "# written by tests/destinations/servers.py\n"
            "local all all trust\n"
            "host  all all 127.0.0.1/32 scram-sha-256\n"
        )
        if owner is not None:
            os.chown(hba, owner.pw_uid, owner.pw_gid)
        executor.start()
        try:
            server = PostgresServer(
                host="127.0.0.1",
                port=port,
                user=POSTGRES_USER,
                password=POSTGRES_PASSWORD,
                dbname=POSTGRES_DB,
                socket_dir=str(workdir),
            )
            with server.admin_connect() as conn:
                conn.execute(f"CREATE ROLE {POSTGRES_USER} LOGIN PASSWORD '{POSTGRES_PASSWORD}'")
                conn.execute(f"CREATE DATABASE {POSTGRES_DB} OWNER {POSTGRES_USER}")
            yield server
        finally:
            with contextlib.suppress(Exception):
                executor.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL for the whole test session (see :func:`throwaway_postgres`)."""
    try:
        import psycopg  # noqa: F401
        import pytest_postgresql  # noqa: F401
    except ImportError as exc:
        _unavailable(f"{exc.name} is not installed: pip install -e '.[dev]'")
    bindir = find_postgres_bindir()
    if bindir is None:
        _unavailable(
            "no PostgreSQL server binaries (pg_ctl, initdb, postgres) found via pg_config or "
            "/usr/lib/postgresql/*/bin: `apt-get install -y postgresql` (or "
            "scripts/ensure-postgres.sh as root), or set LEARNING360_PG_BINDIR"
        )
    with throwaway_postgres(bindir) as server:  # type: ignore[arg-type]
        yield server


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """``postgresql://learning360:...@127.0.0.1:PORT/learning360`` of the session's server."""
    return postgres_server.dsn


@pytest.fixture
def postgres_env(monkeypatch: pytest.MonkeyPatch, postgres_dsn: str) -> str:
    """The DSN, also exported the way a user configures dlt (for ``destination="postgres"``)."""
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    return postgres_dsn


# --------------------------------------------------------------------------------------------
# BigQuery (the bqemulator package, in its own venv)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BigQueryEmulator:
    """A running BigQuery emulator and what a dlt bigquery pipeline needs to use it."""

    url: str
    project: str = BIGQUERY_PROJECT
    location: str = BIGQUERY_LOCATION

    @property
    def env(self) -> dict[str, str]:
        """Environment for dlt + google-cloud-bigquery against the emulator.

        ``BIGQUERY_EMULATOR_HOST`` redirects the google client; the emulator cannot read
        gzipped load files, hence ``DISABLE_COMPRESSION``. Credentials cannot be expressed as
        environment variables (there is no anonymous mode in dlt's config): use
        :meth:`credentials` or :meth:`destination`.
        """
        return {
            "BIGQUERY_EMULATOR_HOST": self.url,
            "NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION": "true",
            "DESTINATION__BIGQUERY__LOCATION": self.location,
            "DESTINATION__BIGQUERY__CREDENTIALS__PROJECT_ID": self.project,
        }

    def credentials(self) -> Any:
        """dlt GCP credentials holding google's AnonymousCredentials, for project ``test-proj``."""
        from dlt.common.configuration.specs import GcpServiceAccountCredentials
        from dlt.common.configuration.specs.gcp_credentials import GcpDefaultCredentials
        from google.auth.credentials import AnonymousCredentials

        credentials = GcpServiceAccountCredentials()
        # the "default credentials" slot takes any google Credentials object and marks the
        # spec resolved; the service-account parser would reject AnonymousCredentials
        GcpDefaultCredentials.parse_native_representation(credentials, AnonymousCredentials())
        credentials.project_id = self.project
        return credentials

    def destination(self, **kwargs: Any) -> Any:
        """``dlt.destinations.bigquery`` bound to the emulator (needs :attr:`env` applied)."""
        import dlt

        kwargs.setdefault("location", self.location)
        return dlt.destinations.bigquery(credentials=self.credentials(), **kwargs)

    def client(self) -> Any:
        """A ``google.cloud.bigquery.Client`` on the emulator (no environment needed)."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),
            location=self.location,
            client_options=ClientOptions(api_endpoint=self.url),
        )


def _run_bqemulator(command: str, run_dir: Path, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "BQEMU_RUN_DIR": str(run_dir)}
    return subprocess.run(
        ["bash", str(BQEMULATOR_SCRIPT), command],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def bigquery_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    """The BigQuery emulator for the session: set up (first time ~30 s), start, stop."""
    try:
        import google.cloud.bigquery  # noqa: F401
    except ImportError:
        _unavailable(
            "the bigquery destination client is not installed: pip install -e '.[bigquery]'"
        )
    run_dir = tmp_path_factory.mktemp("bqemulator")
    try:
        result = _run_bqemulator("start", run_dir, timeout=900)
    except subprocess.TimeoutExpired:
        _run_bqemulator("stop", run_dir, timeout=60)
        _unavailable("scripts/bqemulator.sh start did not finish within 15 minutes")
    if result.returncode != 0:
        _unavailable(
            "could not set up or start the BigQuery emulator (scripts/bqemulator.sh start; "
            "it needs PyPI the first time to build .bqemu/venv):\n"
            + "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        )
    url = result.stdout.strip().splitlines()[-1]
    try:
        yield BigQueryEmulator(url=url)
    finally:
        _run_bqemulator("stop", run_dir, timeout=60)


@pytest.fixture
def bigquery_destination(monkeypatch: pytest.MonkeyPatch, bigquery_env: BigQueryEmulator) -> Any:
    """A dlt bigquery destination on the emulator, with its environment applied for the test."""
    for key, value in bigquery_env.env.items():
        monkeypatch.setenv(key, value)
    return bigquery_env.destination()

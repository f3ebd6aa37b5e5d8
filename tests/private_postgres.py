"""A PostgreSQL server of a test module's own, which its tests may stop, start and restart.

Fault tests must not touch the machine's shared server (127.0.0.1:5432), so this one is
made from nothing with Debian's `initdb` + `pg_ctl`: a temporary data directory, a free
loopback port, trust authentication, no other clients. As root (PostgreSQL refuses to run
as root) the server runs as the `postgres` user. Without the binaries the test is skipped,
and fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import IN_CI, free_port

BIN = Path(os.environ.get("FLOE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    """One server: `url(db)` to reach it, `stop`/`start`/`restart` to break it."""

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = free_port()
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_user:
            shutil.chown(root, "postgres")
        self._run(BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{root}'\nfsync = off\nmax_connections = 200\n"
            )

    def _run(self, *args: object) -> None:
        subprocess.run(
            [*self._as_user, *map(str, args)], check=True, capture_output=True, timeout=120
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "start")

    def stop(self) -> None:
        """Fast shutdown: every client's connection ends, open transactions roll back."""
        self._run(BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """Down, seen to be unreachable, then up again: a brief outage."""
        self.stop()
        assert not self.reachable()
        self.start()

    def reachable(self) -> bool:
        try:
            psycopg2.connect(self.url(), connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def new_database(self) -> str:
        """A new, empty database on this server; its URL."""
        name = f"floe_fault_{uuid.uuid4().hex[:12]}"
        admin = psycopg2.connect(self.url())
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        return self.url(name)


def private_postgres() -> Iterator[PrivatePostgres]:
    """The body of a module-scoped fixture: a started server, removed at the end."""
    if not (BIN / "initdb").exists():
        message = f"PostgreSQL server binaries not found in {BIN} (Debian package postgresql)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="floe_pg_"))
    try:
        server = PrivatePostgres(root)
        server.start()
        try:
            yield server
        finally:
            if server.reachable():
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

"""The bench clinic on PostgreSQL, for ``make loadtest``: seeded once a day into a database of its own, then copied
for each run with ``CREATE DATABASE ... TEMPLATE`` (a file copy, seconds), so runs start from the same data.

Every database made here is named after the one in the URL given (``tracker`` -> ``tracker_seed5000_1a2b3c4d``,
``tracker_loadrun``), beside it on the same server; the role needs CREATEDB. Without a URL, ``throwaway_server``
starts a private PostgreSQL 15 on a free loopback port in a temporary directory, as ``.ci/run`` does, and removes it
afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import Connection, Integer, create_engine, text
from sqlalchemy.engine import URL, make_url

from bench.app import bench_app
from bench.seed import SEED_FORMAT, migration_head, seed_clinic
from tracker.extensions import db
from tracker.models.base import utcnow

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@contextlib.contextmanager
def admin(url: URL) -> Iterator[Connection]:
    """A connection to the given database outside any transaction (CREATE and DROP DATABASE need that)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _quoted(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected database name {name!r}")
    return f'"{name}"'


def _exists(url: URL, name: str) -> bool:
    with admin(url) as connection:
        return bool(
            connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
        )


def drop(url: URL, name: str) -> None:
    with admin(url) as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)"))


def seed_name(url: URL, patients: int) -> str:
    key = hashlib.sha256(f"{SEED_FORMAT}-{migration_head()}-{utcnow():%Y%m%d}".encode()).hexdigest()[:8]
    return f"{url.database}_seed{patients}_{key}"


def ensure_seeded(url: URL, patients: int) -> tuple[str, float | None]:
    """The name of today's seeded database of ``patients`` (made now if missing; older ones dropped) and the
    seconds seeding took (None when it was there)."""
    name = seed_name(url, patients)
    if _exists(url, name):
        return name, None
    with admin(url) as connection:
        stale = (
            connection.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                {"pattern": f"{url.database}_seed{patients}_%"},
            )
            .scalars()
            .all()
        )
    for old in stale:
        drop(url, old)
    building = f"{name}_building"
    with admin(url) as connection:
        connection.execute(text(f"CREATE DATABASE {_quoted(building)}"))
    started = utcnow()
    app = bench_app(url.set(database=building).render_as_string(hide_password=False))
    with app.app_context():
        upgrade()
        seed_clinic(app, patients)
        reset_sequences()
        db.session.remove()
        db.engine.dispose()
    with admin(url) as connection:
        connection.execute(text(f"ALTER DATABASE {_quoted(building)} RENAME TO {_quoted(name)}"))
    return name, (utcnow() - started).total_seconds()


def reset_sequences() -> None:
    """The seeder writes explicit ids; move each id sequence past them, or the app's first insert collides."""
    with db.engine.begin() as connection:
        for table in db.metadata.sorted_tables:
            keys = list(table.primary_key.columns)
            if len(keys) != 1 or not isinstance(keys[0].type, Integer) or keys[0].autoincrement is False:
                continue
            column = keys[0].name
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:table, :column), COALESCE(MAX({column}), 1), "  # noqa: S608
                    f"MAX({column}) IS NOT NULL) FROM {table.name}"
                ),
                {"table": table.name, "column": column},
            )


def working_copy(url: URL, template: str) -> str:
    """A fresh copy of ``template`` for one run (replacing the last run's); its URL."""
    name = f"{url.database}_loadrun"
    drop(url, name)
    with admin(url) as connection:
        connection.execute(text(f"CREATE DATABASE {_quoted(name)} TEMPLATE {_quoted(template)}"))
    return url.set(database=name).render_as_string(hide_password=False)


def parse(raw: str) -> URL:
    url = make_url(raw)
    if not url.drivername.startswith("postgresql") or not url.database:
        raise ValueError(f"not a PostgreSQL URL with a database: {url.render_as_string()}")
    return url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """A private PostgreSQL 15 on loopback for this run (trust authentication); its
    URL. Run as root, the server runs as the ``postgres`` user, as ``.ci/run`` does it."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 is not installed ({PG_BIN}): bash scripts/system-deps.sh postgres")
    root = os.geteuid() == 0
    as_pg = ["runuser", "-u", "postgres", "--"] if root else []
    directory = Path(tempfile.mkdtemp(prefix="tracker-load-pg-"))
    data, log = directory / "data", directory / "server.log"
    if root:
        shutil.chown(directory, "postgres")
    port = _free_port()
    started = False
    try:
        subprocess.run(
            [
                *as_pg,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=trust",
            ],
            check=True,
            capture_output=True,
        )
        begun = subprocess.run(
            [
                *as_pg,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "300",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={directory}",
                "start",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        started = True
        if begun.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start: {begun.stdout}{begun.stderr}\n"
                + (log.read_text(errors="replace")[-2000:] if log.exists() else "")
            )
        subprocess.run(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "tracker"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/tracker"
    finally:
        if started:
            subprocess.run(
                [*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(directory, ignore_errors=True)

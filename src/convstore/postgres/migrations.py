"""The migration runner for the PostgreSQL backend: same design, server-grade lock.

The PostgreSQL migrations are numbered ``.sql`` files in their own folder,
``migrations/postgres/`` (shipped in the wheel as
``convstore/migrations/postgres``), checked and recorded exactly like the
SQLite ones (:mod:`convstore.sqlite.migrations`): a bookkeeping table with version,
name, SHA-256 checksum, applied time and duration; a changed file or an
applied version this code does not know is a :class:`MigrationError` and
nothing is touched; :func:`status` only reads.

Concurrency: a server that is already up to date is checked with two reads
and no lock. When something is pending, the runner opens one transaction,
takes a transaction-scoped advisory lock (``pg_advisory_xact_lock``, released
by COMMIT or ROLLBACK and so never leaked by a crashed process), *re-reads*
what is applied, and applies what is still missing. Several server processes
starting at once against a new database therefore serialise on the lock: the
first applies everything, the others wait, re-read, and find nothing to do.

One deliberate difference from the SQLite runner: PostgreSQL DDL is
transactional, so all pending migrations are applied in that one transaction
(each still recorded with its own row and duration). A failing migration rolls
the whole upgrade back: a server is never left half-way between two versions,
and "exactly one process applies" holds without a gap between steps.

Deploying (SPEC 6.1): clients never migrate. ``convstore server migrate
--conninfo ...`` (:func:`migrate_server`), run by the role that owns the
schema, applies what is pending and creates the NOLOGIN role
``convstore_service`` when it may. A client opening the server calls
:func:`check_schema`, which only reads: a schema missing one of the client's
migrations is a :class:`MigrationError` naming that command; a schema with
migrations the client does not know is served as long as the client is at or
above the recorded *oldest client served* (``convstore_compat``), which only
a migration declaring ``-- convstore: oldest-client N`` raises. Versions are
sorted, not necessarily contiguous (numbers are allocated per feature).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import MigrationError
from ..sqlite import _sql
from ..sqlite.migrations import (
    AppliedMigration,
    Migration,
    MigrationStatus,
    _check,
    load_migrations,
    migrations_dir,
)
from . import _pgsql

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "LOCK_KEY",
    "SERVICE_ROLE",
    "MIGRATE_COMMAND",
    "postgres_migrations_dir",
    "load_postgres_migrations",
    "known_migrations",
    "client_version",
    "status",
    "migrate",
    "check_schema",
    "ensure_service_role",
    "migrate_server",
]

#: The advisory lock key every convstore process agrees on ("convstor" as a bigint).
LOCK_KEY = int.from_bytes(b"convstor", "big")
_TABLE = "convstore_migrations"
_COMPAT = "convstore_compat"
#: The NOLOGIN role whose members may act for other owners.
SERVICE_ROLE = "convstore_service"
#: The deploy step every "not migrated" message names.
MIGRATE_COMMAND = "convstore server migrate --conninfo ..."
_OLDEST_CLIENT = re.compile(r"^--\s*convstore:\s*oldest-client\s+(\d+)\s*$", re.MULTILINE)


def postgres_migrations_dir() -> str:
    """``migrations/postgres`` inside the installed package, else in the repository."""
    return os.path.join(migrations_dir(), "postgres")


def load_postgres_migrations(folder: str | os.PathLike[str]) -> tuple[Migration, ...]:
    """Every ``NNNN_name.sql`` in ``folder``, checksummed, in version order.

    The SQLite folder's rules (:func:`convstore.sqlite.migrations.load_migrations`):
    versions may leave gaps (numbers are reserved per feature), a version is
    used once, and a file named otherwise is refused.
    """
    return load_migrations(folder)


def client_version(known: tuple[Migration, ...] | None = None) -> int:
    """This code's schema version: the highest migration it ships."""
    known = known_migrations() if known is None else known
    return known[-1].version if known else 0


def _declared_oldest_client(mig: Migration) -> int | None:
    found = _OLDEST_CLIENT.findall(mig.sql)
    return max(map(int, found)) if found else None


@functools.cache
def known_migrations() -> tuple[Migration, ...]:
    """The PostgreSQL migrations this code ships (read from disk once per process)."""
    return load_postgres_migrations(postgres_migrations_dir())


def _read_applied(conn: psycopg.Connection[Any]) -> tuple[AppliedMigration, ...]:
    row = conn.execute(_pgsql.MIGRATIONS_TABLE_EXISTS, {"table": _TABLE}).fetchone()
    if row is None or not row[0]:
        return ()
    # Dialect-neutral (no parameter), so generated once, in the SQLite module.
    rows = conn.execute(_sql.MIGRATIONS_SELECT_APPLIED).fetchall()
    return tuple(AppliedMigration(*r) for r in rows)


def status(
    conn: psycopg.Connection[Any], where: str, known: tuple[Migration, ...] | None = None
) -> MigrationStatus:
    """Applied and pending migrations, read without changing anything (and without a lock)."""
    known = known_migrations() if known is None else known
    applied = _read_applied(conn)
    return MigrationStatus(applied=applied, pending=_check(applied, known, where))


def migrate(
    conn: psycopg.Connection[Any],
    where: str,
    known: tuple[Migration, ...] | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[Migration, ...]:
    """Apply every pending migration under the advisory lock; return those applied here.

    ``conn`` must not be inside a transaction. Returns ``()`` when the database
    is already current (including when another process just made it so).
    """
    import psycopg

    known = known_migrations() if known is None else known
    if not status(conn, where, known).pending:
        return ()
    applied_here: list[Migration] = []
    current: Migration | None = None
    try:
        with conn.transaction():
            conn.execute(_pgsql.MIGRATIONS_LOCK, {"lock_key": LOCK_KEY})
            # Re-read under the lock: another process may have done the work meanwhile.
            pending = _check(_read_applied(conn), known, where)
            if pending:
                conn.execute(_pgsql.MIGRATIONS_CREATE_TABLE)
            for current in pending:
                started = time.perf_counter()
                conn.execute(current.sql.encode("utf-8"))
                conn.execute(
                    _pgsql.MIGRATIONS_INSERT,
                    {
                        "version": current.version,
                        "name": current.name,
                        "checksum": current.checksum,
                        "applied_at": int(clock()),
                        "duration_ms": (time.perf_counter() - started) * 1000.0,
                    },
                )
                applied_here.append(current)
                oldest = _declared_oldest_client(current)
                if oldest is not None:
                    conn.execute(_pgsql.COMPAT_RAISE_OLDEST_CLIENT, {"oldest": oldest})
    except psycopg.Error as exc:
        what = f"migration {current.name!r}" if current is not None else "migrating"
        raise MigrationError(
            f"{what} failed on {where}: {exc}; the whole upgrade was rolled back, "
            "nothing was changed"
        ) from None
    return tuple(applied_here)


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute(_pgsql.MIGRATIONS_TABLE_EXISTS, {"table": table}).fetchone()
    return row is not None and bool(row[0])


def check_schema(
    conn: psycopg.Connection[Any], where: str, known: tuple[Migration, ...] | None = None
) -> int:
    """Refuse a schema this client cannot use; return the server's oldest client served.

    Only reads (two or three statements, no lock). Raises
    :class:`MigrationError` when a migration this client ships is not applied
    (run :data:`MIGRATE_COMMAND`), when an applied file changed, or when the
    server has moved past this client (``oldest_client`` above
    :func:`client_version`: upgrade convstore). Migrations the client does not
    know are fine while it is still served: that is how additive upgrades
    keep older clients working.
    """
    known = known_migrations() if known is None else known
    mine = client_version(known)
    applied = _read_applied(conn)
    by_version = {m.version: m for m in known}
    oldest = 0
    if any(a.version >= 5 for a in applied) and _exists(conn, _COMPAT):
        row = conn.execute(_pgsql.COMPAT_OLDEST_CLIENT).fetchone()
        oldest = int(row[0]) if row is not None else 0
    if oldest > mine:
        raise MigrationError(
            f"{where} serves convstore clients from schema version {oldest} on, and this "
            f"convstore knows only up to {mine}: upgrade convstore"
        )
    for row in applied:
        mig = by_version.get(row.version)
        if mig is not None and mig.checksum != row.checksum:
            raise MigrationError(
                f"migration file {mig.name!r} differs from the one applied to {where} "
                f"(checksum {row.checksum[:12]}… recorded, {mig.checksum[:12]}… shipped): "
                "this convstore and the server's schema disagree; upgrade convstore"
            )
    done = {row.version for row in applied}
    pending = [m.name for m in known if m.version not in done]
    if pending:
        what = "has no convstore schema" if not applied else "is not migrated to this convstore"
        raise MigrationError(
            f"{where} {what} (pending: {', '.join(pending)}): run `{MIGRATE_COMMAND}` "
            "as the role that owns the schema, then open it again"
        )
    return oldest


def ensure_service_role(conn: psycopg.Connection[Any]) -> str | None:
    """Create the NOLOGIN role ``convstore_service`` when missing and allowed.

    Returns ``None`` when the role exists (or was created here), else the
    ``CREATE ROLE`` statement a role with CREATEROLE must run.
    """
    import psycopg

    row = conn.execute(_pgsql.ROLE_SERVICE_EXISTS).fetchone()
    if row is not None and row[0]:
        return None
    try:
        with conn.transaction():
            conn.execute(_pgsql.ROLE_SERVICE_CREATE)
    except psycopg.errors.DuplicateObject:
        return None  # created by a concurrent migrate
    except psycopg.errors.InsufficientPrivilege:
        return _pgsql.ROLE_SERVICE_CREATE + ";"
    return None


def migrate_server(
    conninfo: str, *, connect_timeout: float = 10.0
) -> tuple[tuple[Migration, ...], str | None]:
    """The deploy step: apply pending migrations, ensure ``convstore_service``.

    Run by the role that owns (or will own) the schema. Returns the
    migrations applied here and, when the service role could not be created,
    the ``CREATE ROLE`` statement to run as a role with CREATEROLE.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from ..errors import StoreError

    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise StoreError(f"invalid conninfo: {exc}") from None
    host, port = parts.get("host", "localhost"), parts.get("port", "5432")
    where = f"PostgreSQL server {host}:{port}/{parts.get('dbname', '')}"
    try:
        with psycopg.connect(
            conninfo, autocommit=True, connect_timeout=max(1, int(connect_timeout))
        ) as conn:
            applied = migrate(conn, where)
            hint = ensure_service_role(conn)
    except psycopg.Error as exc:
        raise StoreError(f"cannot migrate {where}: {exc}") from None
    return applied, hint


def ensure_current(
    conn: psycopg.Connection[Any], where: str, clock: Callable[[], float] = time.time
) -> None:
    """Bring the schema up to date; only reads when it already is (tests, tools)."""
    migrate(conn, where, clock=clock)

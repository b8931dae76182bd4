"""The migration runner for the PostgreSQL backend: same design, server-grade lock.

The PostgreSQL migrations are numbered ``.sql`` files in their own folder,
``migrations/postgres/`` (shipped in the wheel as
``convstore/migrations/postgres``), checked and recorded exactly like the
SQLite ones (:mod:`convstore.migrations`): a bookkeeping table with version,
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
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _pgsql
from .errors import MigrationError
from .migrations import (
    AppliedMigration,
    Migration,
    MigrationStatus,
    _check,
    load_migrations,
    migrations_dir,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["LOCK_KEY", "postgres_migrations_dir", "known_migrations", "status", "migrate"]

#: The advisory lock key every convstore process agrees on ("convstor" as a bigint).
LOCK_KEY = int.from_bytes(b"convstor", "big")
_TABLE = "convstore_migrations"


def postgres_migrations_dir() -> str:
    """``migrations/postgres`` inside the installed package, else in the repository."""
    return os.path.join(migrations_dir(), "postgres")


_KNOWN: tuple[Migration, ...] | None = None


def known_migrations() -> tuple[Migration, ...]:
    """The PostgreSQL migrations this code ships (read from disk once per process)."""
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = load_migrations(postgres_migrations_dir())
    return _KNOWN


def _read_applied(conn: psycopg.Connection[Any]) -> tuple[AppliedMigration, ...]:
    row = conn.execute(_pgsql.MIGRATIONS_TABLE_EXISTS, {"table": _TABLE}).fetchone()
    if row is None or not row[0]:
        return ()
    rows = conn.execute(_pgsql.MIGRATIONS_SELECT_APPLIED).fetchall()
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
    except psycopg.Error as exc:
        what = f"migration {current.name!r}" if current is not None else "migrating"
        raise MigrationError(
            f"{what} failed on {where}: {exc}; the whole upgrade was rolled back, "
            "nothing was changed"
        ) from None
    return tuple(applied_here)


def ensure_current(
    conn: psycopg.Connection[Any], where: str, clock: Callable[[], float] = time.time
) -> None:
    """Bring the schema up to date; only reads when it already is."""
    migrate(conn, where, clock=clock)

"""The migration runner: numbered ``.sql`` files applied once, in order, safely.

Migrations live in the top-level ``migrations/`` folder of the repository and
ship inside the wheel as ``convstore/migrations``. Each file is named
``NNNN_name.sql``; it is applied in its own ``BEGIN IMMEDIATE`` transaction
together with its bookkeeping row (version, name, SHA-256 checksum, applied
time, duration) and ``PRAGMA user_version``.

Opening an up-to-date database takes no write lock at all: the runner reads
``PRAGMA user_version`` and the bookkeeping table, and stops there. When
something is pending it takes the write lock, *re-reads* what is applied (a
process that started at the same moment may have done the work meanwhile) and
applies only what is still missing, so a dozen shells opening a brand-new
database at once produce exactly one application of each migration.

Example::

    >>> import apsw
    >>> from convstore.sqlite.migrations import migrate, status
    >>> conn = apsw.Connection(":memory:")
    >>> [m.version for m in migrate(conn, "(memory)")][:2]
    [1, 2]
    >>> status(conn, "(memory)").pending
    ()
"""

from __future__ import annotations

import os
import sys
import time

import apsw

from .._lean import TYPE_CHECKING, NamedTuple
from ..errors import MigrationError, StoreBusy, StoreError
from . import _sql

if TYPE_CHECKING:
    from collections.abc import Callable

# The bare C implementation: hashlib's import loads OpenSSL, a start-up cost. Its
# module is _sha2 from Python 3.12 on, _sha256 before; asking for the wrong one
# first would search the whole sys.path for it on every start (~0.1 ms).
try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:  # pragma: no cover - depends on the Python version
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - depends on the Python build
    from hashlib import sha256  # type: ignore[assignment,unused-ignore]

__all__ = [
    "Migration",
    "AppliedMigration",
    "MigrationStatus",
    "migrations_dir",
    "known_migrations",
    "status",
    "migrate",
    "check_compatible",
    "ensure_current",
]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


class Migration(NamedTuple):
    """A migration file the code knows."""

    version: int
    name: str
    path: str
    sql: str
    checksum: str


class AppliedMigration(NamedTuple):
    """A bookkeeping row: a migration as it was applied to a database."""

    version: int
    name: str
    checksum: str
    applied_at: int
    duration_ms: float


class MigrationStatus(NamedTuple):
    """What is applied and what is pending, as read without changing anything."""

    applied: tuple[AppliedMigration, ...]
    pending: tuple[Migration, ...]

    @property
    def current_version(self) -> int:
        """The highest applied version (0 for a new database)."""
        return self.applied[-1].version if self.applied else 0


def migrations_dir() -> str:
    """Where the migration files are: inside the installed package, else the repo's folder."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # convstore/
    packaged = os.path.join(here, "migrations")
    if os.path.isdir(packaged):
        return packaged
    return os.path.join(os.path.dirname(os.path.dirname(here)), "migrations")


def _version_of(filename: str) -> int | None:
    """``NNNN`` of ``NNNN_name.sql`` (lower-case name, digits, underscores), else None."""
    stem, dot, ext = filename.rpartition(".")
    number, sep, name = stem.partition("_")
    if not (dot and ext == "sql" and sep and name) or len(number) != 4 or not number.isdigit():
        return None
    return int(number) if set(name) <= _NAME_CHARS else None


def load_migrations(folder: str | os.PathLike[str]) -> tuple[Migration, ...]:
    """Read and checksum every ``NNNN_name.sql`` file in ``folder``, in version order."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise MigrationError(f"migrations folder {folder!r} is missing")
    found: list[Migration] = []
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith(".sql"):
            continue
        version = _version_of(filename)
        if version is None:
            raise MigrationError(f"migration file {filename!r} is not named NNNN_name.sql")
        path = os.path.join(folder, filename)
        with open(path, "rb") as f:
            data = f.read()
        found.append(
            Migration(
                version=version,
                name=filename,
                path=path,
                sql=data.decode("utf-8"),
                checksum=sha256(data).hexdigest(),
            )
        )
    # Versions are pre-allocated to parallel work, so gaps are allowed (a later
    # release may fill them); each version is used once and 0000 is reserved.
    previous = 0
    for mig in found:
        if mig.version <= previous:
            raise MigrationError(
                f"migration {mig.name!r} has version {mig.version}: versions must be unique "
                "and start at 0001"
            )
        previous = mig.version
    return tuple(found)


_known: tuple[Migration, ...] | None = None


def known_migrations() -> tuple[Migration, ...]:
    """The migrations this code ships (read from disk once per process)."""
    global _known
    if _known is None:
        _known = load_migrations(migrations_dir())
    return _known


def _read_applied(conn: apsw.Connection) -> tuple[AppliedMigration, ...]:
    if not conn.execute(_sql.MIGRATIONS_TABLE_EXISTS).get:
        return ()
    return tuple(AppliedMigration(*row) for row in conn.execute(_sql.MIGRATIONS_SELECT_APPLIED))


def _check(
    applied: tuple[AppliedMigration, ...], known: tuple[Migration, ...], where: str
) -> tuple[Migration, ...]:
    """Refuse unknown or changed migrations; return the pending ones."""
    by_version = {m.version: m for m in known}
    for row in applied:
        mig = by_version.get(row.version)
        if mig is None:
            raise MigrationError(
                f"database {where} has migration {row.version} ({row.name}) applied, which this "
                f"version of convstore does not know (it knows up to "
                f"{known[-1].version if known else 0}): the database "
                "was written by a newer convstore; upgrade convstore to open it"
            )
        if mig.checksum != row.checksum:
            raise MigrationError(
                f"migration file {mig.name!r} changed since it was applied to {where} "
                f"(checksum {row.checksum[:12]}… recorded, {mig.checksum[:12]}… on disk): "
                "restore the original file and add a new migration instead"
            )
    done = {row.version for row in applied}
    return tuple(m for m in known if m.version not in done)


def status(
    conn: apsw.Connection, where: str, known: tuple[Migration, ...] | None = None
) -> MigrationStatus:
    """Report applied and pending migrations without changing anything.

    Raises :class:`MigrationError` for an unknown applied version or a changed file.
    """
    known = known_migrations() if known is None else known
    applied = _read_applied(conn)
    return MigrationStatus(applied=applied, pending=_check(applied, known, where))


def migrate(
    conn: apsw.Connection,
    where: str,
    known: tuple[Migration, ...] | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[Migration, ...]:
    """Apply every pending migration, each in its own transaction; return those applied here.

    Safe against concurrent callers: each step takes the write lock with
    ``BEGIN IMMEDIATE`` (waiting on the busy timeout) and re-reads what is
    applied before doing anything.
    """
    known = known_migrations() if known is None else known
    applied_here: list[Migration] = []
    while True:
        try:
            conn.execute(_sql.BEGIN_IMMEDIATE)
        except apsw.BusyError:
            raise StoreBusy(
                f"database {where} stayed locked while waiting to apply migrations"
            ) from None
        try:
            pending = _check(_read_applied(conn), known, where)
            if not pending:
                conn.execute(_sql.COMMIT)
                return tuple(applied_here)
            mig = pending[0]
            started = time.perf_counter()
            conn.execute(_sql.MIGRATIONS_CREATE_TABLE)
            try:
                conn.execute(mig.sql)
                if mig.version == 6:  # the rowid events table: restore the search setup
                    from .search import after_rowid_migration

                    after_rowid_migration(conn)
                elif mig.version == 10:  # watermarks per write: none when indexing is off
                    from .search import after_pending_migration

                    after_pending_migration(conn)
            except apsw.Error as exc:
                raise MigrationError(
                    f"migration {mig.name!r} failed on {where}: {exc}; nothing was changed"
                ) from None
            duration_ms = (time.perf_counter() - started) * 1000.0
            conn.execute(
                _sql.MIGRATIONS_INSERT,
                {
                    "version": mig.version,
                    "name": mig.name,
                    "checksum": mig.checksum,
                    "applied_at": int(clock()),
                    "duration_ms": duration_ms,
                },
            )
            # user_version mirrors the highest applied version: the cheap read-only check
            # on open (a migration filling a gap never lowers it).
            highest = max(mig.version, conn.execute(_sql.PRAGMA_USER_VERSION).get)
            conn.execute(_sql.PRAGMA_SET_USER_VERSION.format(version=highest))
            conn.execute(_sql.COMMIT)
            applied_here.append(mig)
        except BaseException:
            if conn.in_transaction:
                conn.execute(_sql.ROLLBACK)
            raise


def _refuse_newer(conn: apsw.Connection, where: str, known: tuple[Migration, ...]) -> int:
    """Return ``PRAGMA user_version``; refuse a database newer than this code."""
    version = conn.execute(_sql.PRAGMA_USER_VERSION).get
    if not isinstance(version, int):
        raise StoreError(f"database {where} returned a non-integer user_version")
    latest = known[-1].version if known else 0
    if version > latest:
        raise MigrationError(
            f"database {where} is at schema version {version}, newer than this convstore knows "
            f"({latest}): upgrade convstore to open it; nothing was changed"
        )
    return version


def check_compatible(conn: apsw.Connection, where: str) -> None:
    """Read-only: raise :class:`MigrationError` when this code must not change the database.

    That is a database newer than this code, one whose applied migration
    files changed since, or another application's SQLite database (tables, no
    convstore bookkeeping): :class:`StoreError`. Run before anything rewrites
    the file (the switch to WAL).
    """
    from ._snapshot import read_snapshot  # off the cheap open's path

    with read_snapshot(conn):
        # The cheap open's test first: every shipped migration applied with the
        # shipped checksums is ours and current -- no migration file is read.
        if fingerprint(conn) == _sql.MIGRATIONS_FINGERPRINT:
            return
    known = known_migrations()
    # One read transaction: every read below sees the same snapshot. Otherwise
    # a process migrating the same new file could commit between "no
    # bookkeeping yet" and "there are tables", and ours would look foreign.
    with read_snapshot(conn):
        _refuse_newer(conn, where, known)
        applied = _read_applied(conn)
        foreign = not applied and bool(conn.execute(_sql.SCHEMA_USER_OBJECT_COUNT).get)
    if foreign:
        raise StoreError(
            f"database {where} already holds another application's tables and is not a "
            "convstore database: refusing to add convstore's schema to it; nothing was changed"
        )
    _check(applied, known, where)


def fingerprint(conn: apsw.Connection) -> str | None:
    """``"N:sha256"`` of the database's bookkeeping: ``user_version`` and its recorded checksums.

    Equal to :data:`convstore.sqlite._sql.MIGRATIONS_FINGERPRINT` exactly when the
    database has every shipped migration applied, each with the checksum of
    the file this code ships. ``None`` for a database without migrations.
    """
    # Every open runs this: two plain statements. (One statement reading both through
    # the pragma_user_version table function costs ~30 us more on a fresh connection.)
    version = conn.execute(_sql.PRAGMA_USER_VERSION).get
    if not version:
        return None  # a new database, or one migrations never touched
    try:
        joined = conn.execute(_sql.MIGRATIONS_STATE).get
    except apsw.SQLError:  # no bookkeeping table: not a database migrations made
        return None
    if not isinstance(joined, str):
        return None
    return f"{version}:{sha256(joined.encode()).hexdigest()}"


def ensure_current(
    conn: apsw.Connection,
    where: str,
    clock: Callable[[], float] = time.time,
) -> None:
    """Bring the schema up to date; read-only (no write lock) when it already is.

    The cheap open: when the database's :func:`fingerprint` equals the one
    recorded in :mod:`convstore.sqlite._sql` for the shipped migrations, it is up to
    date and nothing else is read -- no migration file is opened or hashed.
    Otherwise (a new, older, newer or tampered database, or migration files
    that changed after ``_sql.py`` was generated) the full check runs: every
    file is read and checksummed, as ``convstore migrate status`` always does.
    """
    if fingerprint(conn) == _sql.MIGRATIONS_FINGERPRINT:
        return
    known = known_migrations()
    version = _refuse_newer(conn, where, known)
    if version == (known[-1].version if known else 0):
        pending = _check(_read_applied(conn), known, where)
        if not pending:
            return
    migrate(conn, where, known, clock)

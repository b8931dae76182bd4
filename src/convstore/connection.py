"""Opening an APSW connection with every setting explicit and named.

Each ``set_*`` function sets exactly one thing, so a reader can see the
whole configuration in :func:`open_connection`::

    >>> from convstore.connection import open_connection
    >>> conn = open_connection(":memory:", timeout=1.0)
    >>> conn.execute("PRAGMA foreign_keys").fetchall()
    [(1,)]

Before SQLite is allowed to touch an existing file, its first 16 bytes are
checked: a file that is not an SQLite database is refused with a
:class:`~convstore.errors.StoreError` naming it, and its bytes are left
unchanged (WAL mode is never switched on over a foreign file).
"""

from __future__ import annotations

import os
import stat

import apsw

from . import _sql
from ._lean import TYPE_CHECKING
from .errors import StoreError

if TYPE_CHECKING:
    from typing import Literal, TypeAlias

    Synchronous: TypeAlias = Literal["NORMAL", "FULL"]
    PathArg: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

__all__ = [
    "MEMORY",
    "STATEMENT_CACHE_SIZE",
    "SQLITE_HEADER",
    "normalize_path",
    "check_file_header",
    "open_connection",
]

MEMORY = ":memory:"
SQLITE_HEADER = b"SQLite format 3\x00"
#: Large enough for every statement in :mod:`convstore._sql` plus the
#: variants the listing functions use, so hot statements are never re-prepared.
STATEMENT_CACHE_SIZE = 128
#: Owner read/write only: conversation logs are private.
FILE_MODE = 0o600


def normalize_path(path: PathArg) -> str:
    """Return ``path`` as a UTF-8-clean ``str``, or raise :class:`StoreError` naming it.

    >>> normalize_path(b"/tmp/x.db")
    '/tmp/x.db'
    """
    raw = os.fspath(path)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise StoreError(f"database path is not valid UTF-8: {raw!r}") from None
    else:
        text = raw
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise StoreError(f"database path is not valid UTF-8: {text!r}") from None
    if not text:
        raise StoreError("database path is empty")
    if "\x00" in text:
        raise StoreError(f"database path contains a NUL byte: {text!r}")
    return text


def check_file_header(path: str) -> bool:
    """Refuse a file SQLite must not touch. Return True when the file already exists.

    A missing or empty file is fine (SQLite creates the database); a
    directory, an unreadable file, or one whose header is not SQLite's raises
    :class:`StoreError` naming the path. Nothing is written.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreError(f"cannot open database {path!r}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"database path {path!r} is a directory, not a file")
    if st.st_size == 0:
        return True
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read database {path!r}: {exc.strerror}") from None
    if not header.startswith(SQLITE_HEADER):
        raise StoreError(f"{path!r} is not an SQLite database (unexpected file header)")
    if len(header) < 100:
        raise StoreError(f"database {path!r} is truncated or corrupt (header incomplete)")
    return True


def make_parent_directories(path: str) -> None:
    """Create the directories above ``path`` (owner-only), like ``mkdir -p``."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create directory {parent!r} for database: {exc}") from None


def set_busy_timeout(conn: apsw.Connection, timeout: float) -> None:
    """Wait up to ``timeout`` seconds for another connection's lock before failing busy."""
    conn.set_busy_timeout(max(0, int(timeout * 1000)))


def set_wal(conn: apsw.Connection) -> None:
    """Journal in WAL mode. Reads the mode first: an up-to-date file takes no write lock."""
    mode = conn.execute(_sql.PRAGMA_JOURNAL_MODE).get
    if str(mode).lower() != "wal":
        conn.execute(_sql.PRAGMA_JOURNAL_MODE_WAL).fetchall()


def set_synchronous(conn: apsw.Connection, level: Synchronous) -> None:
    """NORMAL: survives process crashes; FULL also survives power loss (slower commits)."""
    conn.execute(
        _sql.PRAGMA_SYNCHRONOUS_FULL if level == "FULL" else _sql.PRAGMA_SYNCHRONOUS_NORMAL
    )


def set_foreign_keys(conn: apsw.Connection) -> None:
    """Enforce REFERENCES clauses (events belong to an existing session)."""
    conn.execute(_sql.PRAGMA_FOREIGN_KEYS_ON)


def set_checkpoint_policy(conn: apsw.Connection) -> None:
    """Checkpoint every 1000 WAL pages and truncate the WAL back to 64 MiB afterwards."""
    conn.execute(_sql.PRAGMA_WAL_AUTOCHECKPOINT)
    conn.execute(_sql.PRAGMA_JOURNAL_SIZE_LIMIT)


def open_connection(
    path: str, *, timeout: float, synchronous: Synchronous = "NORMAL", vfs: str | None = None
) -> apsw.Connection:
    """Open ``path`` (or ``":memory:"``) with every setting explicit.

    ``path`` must already be normalised by :func:`normalize_path`. Raises
    :class:`StoreError` naming the file for anything that is not a usable
    SQLite database; raw ``apsw`` errors are translated by the caller.
    """
    is_memory = path == MEMORY
    if not is_memory:
        make_parent_directories(path)
        check_file_header(path)
    flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    # Owner-only umask while SQLite creates the file and its -wal/-shm: they are
    # 0600 from the first byte, with no window where others could read them.
    old_umask = os.umask(0o077)
    try:
        conn = apsw.Connection(path, flags=flags, statementcachesize=STATEMENT_CACHE_SIZE, vfs=vfs)
        try:
            set_busy_timeout(conn, timeout)
            if not is_memory:
                set_wal(conn)
            set_synchronous(conn, synchronous)
            set_foreign_keys(conn)
            set_checkpoint_policy(conn)
        except BaseException:
            conn.close()
            raise
    finally:
        os.umask(old_umask)
    return conn

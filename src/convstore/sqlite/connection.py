"""Opening an APSW connection with every setting explicit and named.

Each ``set_*`` function sets exactly one thing, so a reader can see the
whole configuration in :func:`open_connection`::

    >>> from convstore.sqlite.connection import open_connection
    >>> conn = open_connection(":memory:", timeout=1.0)
    >>> conn.execute("PRAGMA foreign_keys").fetchall()
    [(1,)]

Before SQLite is allowed to touch an existing file, its header is checked:
a file that is not an SQLite database is refused with a
:class:`~convstore.errors.StoreError` naming it, and its bytes are left
unchanged (WAL mode is never switched on over a foreign file). A file whose
header carries convstore's ``application_id`` is known to be ours and opens
directly; any other SQLite file is first examined on a read-only probe
connection (:func:`refuse_unless_ours`), then stamped with the id once it is
known to be ours.
"""

from __future__ import annotations

import os
import stat
import time

import apsw

from .._lean import TYPE_CHECKING
from ..errors import StoreError
from . import _sql
from .migrations import check_compatible, ensure_current, fingerprint

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from typing import Literal, TypeAlias

    from .migrations import MigrationStatus

    Synchronous: TypeAlias = Literal["NORMAL", "FULL"]
    PathArg: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

__all__ = [
    "MEMORY",
    "STATEMENT_CACHE_SIZE",
    "SQLITE_HEADER",
    "normalize_path",
    "check_file_header",
    "read_file_header",
    "APPLICATION_ID",
    "open_connection",
    "close_quietly",
    "BackgroundCheckpointer",
    "append_pages",
    "open_probe",
    "refuse_unless_ours",
    "create_owner_only",
    "read_migration_status",
]

MEMORY = ":memory:"
SQLITE_HEADER = b"SQLite format 3\x00"
#: Large enough for every statement in :mod:`convstore.sqlite._sql` plus the
#: variants the listing functions use, so hot statements are never re-prepared.
STATEMENT_CACHE_SIZE = 128
#: Owner read/write only: conversation logs are private.
FILE_MODE = 0o600
#: ``PRAGMA application_id`` of a convstore database ("cvst"), at offset 68 of
#: the file header: an existing file that carries it opens without the
#: read-only probe (its schema version is still checked, on the connection itself).
APPLICATION_ID = 0x63767374
_APPLICATION_ID_BYTES = APPLICATION_ID.to_bytes(4, "big")


def normalize_path(path: PathArg) -> str:
    """Return ``path`` as a UTF-8-clean ``str``, or raise :class:`StoreError` naming it.

    A value that is not a path at all (``123``, ``None``) is an
    :class:`~convstore.errors.InvalidArgument`.

    >>> normalize_path(b"/tmp/x.db")
    '/tmp/x.db'
    """
    from .._validate import path as valid_path

    return valid_path(path)


def check_file_header(path: str) -> bool:
    """Refuse a file SQLite must not touch. Return True when the file already exists.

    A missing or empty file is fine (SQLite creates the database); a
    directory, an unreadable file, or one whose header is not SQLite's raises
    :class:`StoreError` naming the path. Nothing is written.
    """
    return read_file_header(path) is not None


def read_file_header(path: str) -> bytes | None:
    """The 100-byte header of an existing database file; ``b""`` if empty, ``None`` if missing.

    Raises :class:`StoreError` naming the path for a directory, an unreadable
    file, or a header that is not SQLite's (see :func:`check_file_header`).
    """
    return _read_header(path)[0]


def _read_header(path: str) -> tuple[bytes | None, int]:
    """:func:`read_file_header` and the file's permission bits (0 when it is missing)."""
    try:
        fd = os.open(path, os.O_RDONLY)  # unbuffered: cheaper than open() for 100 bytes
    except (FileNotFoundError, NotADirectoryError):
        return None, 0  # the caller creates the folders (and reports a file in the way)
    except IsADirectoryError:
        raise StoreError(f"database path {path!r} is a directory, not a file") from None
    except PermissionError as exc:
        raise StoreError(f"cannot read database {path!r}: {exc.strerror}") from None
    except OSError as exc:
        raise StoreError(f"cannot open database {path!r}: {exc.strerror}") from None
    try:
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise StoreError(f"database path {path!r} is a directory, not a file")
            header = os.read(fd, 100)
        finally:
            os.close(fd)
    except IsADirectoryError:
        raise StoreError(f"database path {path!r} is a directory, not a file") from None
    except OSError as exc:
        raise StoreError(f"cannot read database {path!r}: {exc.strerror}") from None
    if header and not header.startswith(SQLITE_HEADER):
        raise StoreError(f"{path!r} is not an SQLite database (unexpected file header)")
    if header and len(header) < 100:
        raise StoreError(f"database {path!r} is truncated or corrupt (header incomplete)")
    return header, stat.S_IMODE(mode)


def _uri(path: str, query: str) -> str:
    """``file:`` URI of ``path`` (``%``, ``?`` and ``#`` escaped) with ``query``."""
    escaped = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{escaped}?{query}"


def open_probe(path: str, *, timeout: float, vfs: str | None = None) -> apsw.Connection:
    """A read-only look at an existing database file that writes nothing of it.

    A WAL-mode file with no ``-wal`` beside it (no connection has it open)
    holds all its data in the main file, which nothing is changing: it is
    opened ``immutable`` (no locks, no ``-shm``/``-wal`` created). Any other
    file is opened read-only with normal locking: a rollback-journal file
    gets no companion files, and a WAL file with a ``-wal`` (its application
    is running, or crashed) is read through that WAL -- the newest data,
    never a checkpoint (a read-only connection cannot), so the database and
    its ``-wal`` keep every byte; SQLite may update the shared-memory index
    ``-shm``, as every reader of that file does.
    """
    flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError as exc:
        raise StoreError(f"cannot read database {path!r}: {exc.strerror}") from None
    wal_mode = len(header) == 20 and header[18] == 2
    quiet = wal_mode and not os.path.exists(path + "-wal")
    query = "immutable=1" if quiet else "mode=ro"
    conn = apsw.Connection(_uri(path, query), flags=flags, vfs=vfs)
    set_busy_timeout(conn, timeout)
    return conn


def refuse_unless_ours(path: str, *, timeout: float, vfs: str | None = None) -> None:
    """Raise before anything opens ``path`` for writing, unless convstore may change it.

    Refuses, with the file left byte-for-byte as it was (in every journal
    mode, ``-wal`` included): another application's database (user objects,
    no convstore bookkeeping) with :class:`StoreError`; a database written by
    a newer convstore, or whose applied migration files changed, with
    :class:`~convstore.errors.MigrationError`.
    """
    try:
        conn = open_probe(path, timeout=timeout, vfs=vfs)
    except apsw.Error as exc:
        raise StoreError(f"cannot open database {path!r} to check it: {exc}") from None
    try:
        # The cheap open: an up-to-date convstore file is known by its fingerprint alone.
        if fingerprint(conn) != _sql.MIGRATIONS_FINGERPRINT:
            check_compatible(conn, repr(path))
    except (apsw.NotADBError, apsw.CorruptError) as exc:
        raise StoreError(f"database {path!r} is corrupt or not an SQLite database: {exc}") from None
    except apsw.Error as exc:
        raise StoreError(f"cannot read database {path!r} to check it: {exc}") from None
    finally:
        close_quietly(conn)


def read_migration_status(path: str, *, timeout: float = 5.0) -> MigrationStatus:
    """Applied and pending migrations of the database at ``path``, changing nothing (SPEC §3).

    No file or directory is created, the journal mode is not switched, no
    permission is changed: a missing or empty file reports every migration
    pending; an existing one is read through :func:`open_probe`. Raises
    :class:`StoreError` for a file that is not an SQLite database, and
    :class:`~convstore.errors.MigrationError` for an unknown applied version or
    a changed migration file. ``convstore migrate status`` is this.
    """
    from .migrations import MigrationStatus, known_migrations, status

    path = normalize_path(path)
    if path == MEMORY or not check_file_header(path) or os.path.getsize(path) == 0:
        return MigrationStatus(applied=(), pending=known_migrations())
    try:
        conn = open_probe(path, timeout=timeout)
    except apsw.Error as exc:
        raise StoreError(f"cannot open database {path!r} to read its status: {exc}") from None
    try:
        return status(conn, repr(path))
    except apsw.Error as exc:
        raise StoreError(f"cannot read the migration status of {path!r}: {exc}") from None
    finally:
        close_quietly(conn)


def create_owner_only(path: str) -> None:
    """Create ``path`` empty with mode 0600 unless it exists: SQLite then opens it.

    The mode is given to ``open(2)`` itself, so the file is never readable by
    others and the process umask is never changed (changing it is not
    thread-safe: another thread's files would get the wrong mode, or the
    umask could stay 077 for the host application). SQLite creates the
    ``-wal`` and ``-shm`` with the database file's own mode.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except FileExistsError:
        return  # created meanwhile by another process: SQLite opens theirs
    except OSError as exc:
        raise StoreError(f"cannot create database {path!r}: {exc.strerror}") from None
    os.close(fd)


def make_parent_directories(path: str) -> None:
    """Create the directories above ``path`` (owner-only), like ``mkdir -p``."""
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create directory {parent!r} for database: {exc}") from None


def restrict_to_owner(path: str) -> None:
    """Make an existing database and its ``-wal``/``-shm`` files owner-only (0600).

    New files are created 0600 (:func:`create_owner_only`); this covers a file
    that existed before with wider permissions (made by ``touch``, copied, or
    written by another tool), whose WAL SQLite creates with the same mode.
    """
    if os.name != "posix":
        return
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if stat.S_IMODE(os.stat(name).st_mode) & 0o077:
                os.chmod(name, FILE_MODE)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StoreError(
                f"cannot make {name!r} readable by its owner only: {exc.strerror}"
            ) from None


def set_busy_timeout(conn: apsw.Connection, timeout: float) -> None:
    """Wait up to ``timeout`` seconds for another connection's lock before failing busy."""
    conn.set_busy_timeout(max(0, int(timeout * 1000)))


def set_wal(conn: apsw.Connection, timeout: float, where: str) -> None:
    """Journal in WAL mode. Reads the mode first: an up-to-date file takes no write lock.

    Switching to WAL upgrades the statement's own read lock to a write lock,
    and SQLite never calls the busy handler for that upgrade (it could
    deadlock), so while another connection holds the write lock (a process
    that opened the same new file a moment earlier and is migrating it) the
    switch fails with ``SQLITE_BUSY`` at once, whatever the busy timeout. Retry
    it, re-reading the mode each time (the other process has usually switched
    the file already), until ``timeout`` seconds have passed.

    The switch rewrites the file header, so a database this code must not
    change (newer schema, changed migration) is refused first, read-only.
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            mode = conn.execute(_sql.PRAGMA_JOURNAL_MODE).get
            if str(mode).lower() != "wal":
                check_compatible(conn, where)
                conn.execute(_sql.PRAGMA_JOURNAL_MODE_WAL).fetchall()
            return
        except apsw.BusyError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)


def set_synchronous(conn: apsw.Connection, level: Synchronous) -> None:
    """NORMAL: survives process crashes; FULL also survives power loss (slower commits)."""
    conn.execute(
        _sql.PRAGMA_SYNCHRONOUS_FULL if level == "FULL" else _sql.PRAGMA_SYNCHRONOUS_NORMAL
    )


def set_foreign_keys(conn: apsw.Connection) -> None:
    """Enforce REFERENCES clauses (events belong to an existing session)."""
    conn.execute(_sql.PRAGMA_FOREIGN_KEYS_ON)


#: Checkpoint once the WAL holds this many pages (~4 MiB), as SQLite's own default does.
CHECKPOINT_PAGES = 1000
#: Past this many pages the committing call checkpoints itself: the background
#: checkpointer has fallen behind (or cannot run), and the WAL must stay bounded.
CHECKPOINT_INLINE_PAGES = 2000
#: With a background checkpointer, the writers' estimate of the pages they
#: committed (:meth:`BackgroundCheckpointer.tick`) between two looks at the WAL.
POLL_PAGES = 200
#: SQLite 3.51's status-only checkpoint mode (``None`` with an older SQLite).
_CHECKPOINT_NOOP: int | None = getattr(apsw, "SQLITE_CHECKPOINT_NOOP", None)


def checkpoint_after_commit(conn: apsw.Connection, dbname: str, pages: int) -> int:
    """WAL hook for connections without a background checkpointer: checkpoint in the call.

    This is SQLite's automatic checkpoint, made explicit so that its outcome is
    ours to decide. It runs after the transaction has committed; a checkpoint
    that cannot run (readers hold old snapshots, another checkpoint is running,
    the disk fails while copying pages back) leaves the committed data safe in
    the WAL and is retried after the next commit. So its errors are swallowed
    -- SQLite's built-in hook ignores them too -- and never turn a committed
    write into an error: with a VFS written in Python, APSW would otherwise
    re-raise the checkpoint's I/O error from the call that had just committed,
    and the caller would retry a write that was in fact stored.

    PASSIVE never waits on other connections, so a commit never blocks here. Once
    readers are gone a checkpoint completes, the next writer restarts the WAL
    from its beginning, and ``journal_size_limit`` cuts the file back: the WAL
    stays bounded even after a long-lived reader let it grow.
    """
    if pages >= CHECKPOINT_PAGES:
        _checkpoint_quietly(conn, dbname)
    return apsw.SQLITE_OK


def _checkpoint_quietly(conn: apsw.Connection, dbname: str) -> tuple[int, int]:
    """A PASSIVE checkpoint: (frames in the WAL, frames copied back); (-1, -1) if it failed."""
    try:
        log, done = conn.wal_checkpoint(dbname, apsw.SQLITE_CHECKPOINT_PASSIVE)
    except apsw.Error:
        return -1, -1  # retried after the next commit
    return log, done


class BackgroundCheckpointer:
    """PASSIVE checkpoints on a connection of their own, in a daemon thread.

    A checkpoint copies the WAL back into the database file: 10-30 ms for the
    ~4 MiB of a full WAL. Run by the committing call (SQLite's default), it
    lands on one append in every hundred or so -- that append's latency is the
    p99. Here the thread checkpoints while the caller goes on (WAL lets writers
    and a checkpoint run side by side), and the next commit after it restarts
    the log. Measured in ``benchmarks/RESULTS.md``.

    Who wakes it: with SQLite 3.51 or later, nothing on each commit. A WAL
    hook written in Python costs every commit a call into the interpreter
    (1-2.5 µs of a 40 µs append), so the writers instead count what they
    commit (:meth:`tick`: an append adds its estimated pages, a transaction
    enough to look at once) and every :data:`POLL_PAGES` look at the WAL's
    size (a status-only ``SQLITE_CHECKPOINT_NOOP``, ~1 µs) and wake the thread
    past :data:`CHECKPOINT_PAGES`. SQLite's own automatic checkpoint, in C, is
    the safety net at :data:`CHECKPOINT_INLINE_PAGES` (a writer that does not
    tick, a thread that fell behind). With an older SQLite, :meth:`hook` is
    the WAL hook, as before.

    Bounded WAL whatever happens: should the thread fall behind (the WAL
    passes :data:`CHECKPOINT_INLINE_PAGES`), the committing call checkpoints
    itself, as before. The thread and its connection start on the first
    checkpoint (a short-lived store never pays for them), restart after a
    ``fork``, and stop in :meth:`close`, before the store's own connection
    closes (the last connection to close checkpoints and removes the WAL).
    """

    def __init__(self, path: str, vfs: str | None) -> None:
        self._path = path
        self._vfs = vfs
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._wake: threading.Event | None = None
        self._ran: threading.Event | None = None
        self._stopping = False
        self._armed = True
        #: Checkpoints the thread has run, and the last one's (WAL frames, frames
        #: copied back): what tests and benchmarks read to see it working.
        self.checkpoints = 0
        self.last: tuple[int, int] = (0, 0)
        #: Pages committed (estimated by the writers) since the WAL was last looked at.
        self.owed = 0

    def tick(self, conn: apsw.Connection, pages: int) -> None:
        """After a commit on ``conn``: count its ``pages``; look at the WAL every POLL_PAGES.

        An append passes its estimated pages (:func:`append_pages`); a write
        transaction passes :data:`POLL_PAGES` (it looks at once: a batch
        writes many pages, and its commit already cost far more than a look).
        The look is the WAL hook's decision on the WAL's real size.
        """
        owed = self.owed + pages
        if owed < POLL_PAGES:
            self.owed = owed
            return
        self.owed = 0
        if _CHECKPOINT_NOOP is None:
            return  # the WAL hook decides (installed by set_checkpoint_policy)
        try:
            log = conn.wal_checkpoint("main", _CHECKPOINT_NOOP)[0]
        except apsw.Error:
            return  # SQLite's automatic checkpoint still bounds the WAL
        self.hook(conn, "main", log)

    def hook(self, conn: apsw.Connection, dbname: str, pages: int) -> int:
        """The WAL hook: wake the thread past the threshold; checkpoint inline past the cap.

        One wake-up per filling of the WAL: the commits that follow while the
        thread copies pages back must not wake it again (each extra checkpoint
        would fsync the database file once more -- a storm of fsyncs under a
        stream of commits). The next wake-up is armed once the WAL has been
        restarted (a commit sees fewer pages than the threshold).
        """
        if pages < CHECKPOINT_PAGES:
            self._armed = True
        elif pages >= CHECKPOINT_INLINE_PAGES:
            _checkpoint_quietly(conn, dbname)
        elif self._armed:
            self._armed = False
            self._request()
        return apsw.SQLITE_OK

    def _request(self) -> None:
        import threading

        if self._stopping:
            return
        if self._thread is None or self._wake is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._ran = threading.Event()
            self._wake = wake = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(wake,), name="convstore-checkpoint", daemon=True
            )
            self._thread.start()
        self._wake.set()

    def _run(self, wake: threading.Event) -> None:
        try:
            conn = apsw.Connection(self._path, flags=apsw.SQLITE_OPEN_READWRITE, vfs=self._vfs)
            conn.set_busy_timeout(0)
            # A connection that has never read the file does not know it is in WAL
            # mode: SQLite then makes every checkpoint on it a no-op, returning
            # (-1, -1). One read (the journal mode, from the header) opens the WAL.
            conn.execute(_sql.PRAGMA_JOURNAL_MODE).fetchall()
        except apsw.Error:
            return  # the committing calls checkpoint inline past the cap
        try:
            while True:
                wake.wait()
                wake.clear()
                if self._stopping:
                    return
                self.last = _checkpoint_quietly(conn, "main")
                self.checkpoints += 1
                if self._ran is not None:
                    self._ran.set()
        finally:
            close_quietly(conn)

    def wait_checkpoint(self, timeout: float) -> bool:
        """Wait until the thread has run a checkpoint since the last call; False on timeout.

        For tests and benchmarks: the thread's work is otherwise invisible.
        """
        ran = self._ran
        if ran is None or not ran.wait(timeout):
            return False
        ran.clear()
        return True

    def close(self) -> None:
        """Stop the thread (after the checkpoint it may be running) and close its connection."""
        self._stopping = True
        thread, wake = self._thread, self._wake
        if thread is not None and wake is not None and self._pid == os.getpid():
            wake.set()
            thread.join()
        self._thread = None


def set_checkpoint_policy(
    conn: apsw.Connection, checkpointer: BackgroundCheckpointer | None = None
) -> None:
    """Checkpoint once the WAL passes CHECKPOINT_PAGES; cut it to 8 MiB on restart.

    With ``checkpointer``, checkpoints run in its thread, off the committing
    call (inline only past :data:`CHECKPOINT_INLINE_PAGES`, by SQLite's own
    automatic checkpoint); the writers wake it through
    :meth:`BackgroundCheckpointer.tick`. Without, in the committing call
    (:func:`checkpoint_after_commit`, a WAL hook: it replaces SQLite's
    automatic checkpoint, and ``PRAGMA wal_autocheckpoint`` then reads 0).

    ``journal_size_limit`` is 8 MiB, about twice what the WAL reaches between
    checkpoints, so normal use never truncates. A reader that holds a snapshot
    for long stops checkpoints from finishing and the WAL grows past that
    (100k appends under one reader: ~22 MB); once the reader is gone, the next
    checkpoint completes, the next commit restarts the WAL and SQLite cuts the
    file back to the limit. (At 64 MiB, a WAL that had grown to 22 MB kept
    that size on disk for good.)
    """
    conn.execute(_sql.PRAGMA_JOURNAL_SIZE_LIMIT)
    if checkpointer is None:
        conn.set_wal_hook(checkpoint_after_commit)
    elif _CHECKPOINT_NOOP is None:
        conn.set_wal_hook(checkpointer.hook)
    else:
        # The writers tick; SQLite's C hook checkpoints inline only past the cap.
        conn.set_wal_hook(None)
        conn.wal_autocheckpoint(CHECKPOINT_INLINE_PAGES)


def append_pages(event_data: str) -> int:
    """Estimated WAL pages one append commits: the event's leaf, the id index, the
    session's row (3 pages), plus an overflow page per ~2 KB of payload past the first."""
    return 3 + (len(event_data) >> 11)


def close_quietly(conn: apsw.Connection) -> None:
    """Close ``conn`` on an error path without masking the error being raised.

    ``Connection.close`` checkpoints the WAL; when the disk is full or failing
    that checkpoint fails too and APSW re-raises the I/O error -- after the
    connection is already closed. The committed data is safe in the WAL either
    way, and the caller is about to raise the error that matters.
    """
    try:
        conn.close()
    except apsw.Error:
        return  # closed anyway; the caller raises the error that matters


def open_connection(
    path: str,
    *,
    timeout: float,
    synchronous: Synchronous = "NORMAL",
    vfs: str | None = None,
    checkpointer: BackgroundCheckpointer | None = None,
    clock: Callable[[], float] | None = None,
) -> apsw.Connection:
    """Open ``path`` (or ``":memory:"``) with every setting explicit.

    ``path`` must already be normalised by :func:`normalize_path`.
    ``checkpointer`` moves WAL checkpoints off the committing calls (see
    :class:`BackgroundCheckpointer`); the caller closes it before ``conn``.
    With ``clock`` (the timestamps of applied migrations) the schema is
    brought up to date too (:func:`~convstore.sqlite.migrations.ensure_current`).
    Raises :class:`StoreError` naming the file for anything that is not a
    usable SQLite database, :class:`~convstore.errors.MigrationError` for one
    this code must not change; raw ``apsw`` errors are translated by the caller.

    The cheap open: a file whose header carries :data:`APPLICATION_ID` is
    opened directly and its fingerprint checked on this connection; should
    the check refuse it (a newer convstore wrote it), the connection closes
    without checkpointing a ``-wal`` it found, so the files keep their bytes.
    Any other existing file is first checked on a read-only probe
    (:func:`refuse_unless_ours`), and stamped with the id once it is ours.
    """
    is_memory = path == MEMORY
    header: bytes | None = b""
    stamp = guard = False
    private = True  # the file is owner-only: so are the -wal/-shm SQLite creates beside it
    if not is_memory:
        header, mode = _read_header(path)
        private = header is None or not mode & 0o077
        if header is None:  # an existing file's folders exist
            make_parent_directories(path)
            create_owner_only(path)  # 0600 from the first byte, umask untouched
        if not header or header[68:72] != _APPLICATION_ID_BYTES:
            if header:
                # Before any read-write open: that would create a -wal, and closing it
                # would checkpoint someone else's WAL into their file.
                refuse_unless_ours(path, timeout=timeout, vfs=vfs)
            stamp = clock is not None
        else:
            # Ours by its header, but perhaps newer than this code: until its fingerprint
            # is read, a -wal found beside it must not be checkpointed by our close.
            guard = os.path.exists(path + "-wal")
    flags = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    conn = apsw.Connection(path, flags=flags, statementcachesize=STATEMENT_CACHE_SIZE, vfs=vfs)
    try:
        if guard:
            conn.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        set_busy_timeout(conn, timeout)
        if not is_memory:
            set_wal(conn, timeout, repr(path))
        if clock is not None:
            where = "in-memory database" if is_memory else repr(path)
            if fingerprint(conn) != _sql.MIGRATIONS_FINGERPRINT:
                if not stamp:
                    check_compatible(conn, where)  # ours by its header alone so far
                ensure_current(conn, where, clock)
            if stamp and not is_memory:
                set_application_id(conn, timeout)
        if guard:
            conn.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0)
        set_synchronous(conn, synchronous)
        set_foreign_keys(conn)
        set_checkpoint_policy(conn, checkpointer)
        if not (is_memory or private):
            restrict_to_owner(path)
    except BaseException:
        close_quietly(conn)
        raise
    return conn


def set_application_id(conn: apsw.Connection, timeout: float) -> None:
    """Stamp convstore's :data:`APPLICATION_ID` into the header, once, so later opens are cheap.

    Only for a database already known to be ours and current. A file that
    cannot take the write at once (another writer holds the lock, a read-only
    file) is simply stamped on a later open -- the open never waits for it:
    the id only makes opens cheaper, it never decides what is refused.
    """
    try:
        if conn.execute(_sql.PRAGMA_APPLICATION_ID).get == APPLICATION_ID:
            return
        set_busy_timeout(conn, 0)
        try:
            conn.execute(_sql.PRAGMA_APPLICATION_ID_SET)
        finally:
            set_busy_timeout(conn, timeout)
    except apsw.Error:
        return

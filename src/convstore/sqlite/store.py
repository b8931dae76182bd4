"""``SessionStore``: sessions and their append-only event log in one SQLite file.

One method per operation, one statement per method where the operation allows
it; every statement is a constant from :mod:`convstore.sqlite._sql`. Writes that span
several statements run in one ``BEGIN IMMEDIATE`` transaction, so a failed call
changes nothing and a concurrent writer waits (up to ``timeout``) instead of
failing half-way.

Example::

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     s = store.create_session("s1", directory="/home/me/project")
    ...     _ = store.append_event("s1", "e1", None, "inv1", "user_message", '{"content": "hi"}')
    ...     _ = store.append_event("s1", "e2", "e1", "inv1", "text", '{"content": "hello"}')
    ...     [e.id for e in store.load_events("s1")], store.get_session("s1").head_id
    (['e1', 'e2'], 'e2')
"""

from __future__ import annotations

import time
from itertools import chain, repeat

import apsw

from .. import _validate as _v
from .._common import (
    BULK_INSERT_ROWS,
    COMPACTION_EVENT_TYPE,
    FIRST_PAGE,
    Closing,
    event_refused,
    list_filter,
    listing_arguments,
    listing_statements,
    why_not_appended,
)
from .._lean import TYPE_CHECKING, NamedTuple, ReadOnly, cast
from ..errors import (
    CommitUncertain,
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    SessionArchived,
    SessionNotFound,
    StoreBusy,
    StoreClosed,
    StoreError,
)
from ..models import SessionSummary, StoredEvent, StoredSession
from . import _sql
from .connection import (
    MEMORY,
    POLL_PAGES,
    BackgroundCheckpointer,
    append_pages,
    close_quietly,
    normalize_path,
    open_connection,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType
    from typing import Any

    from .. import lifecycle
    from .._common import Clock
    from .._importplan import ImportPlan, StoredState
    from . import exporting, retention
    from . import search as search_tool
    from .connection import PathArg, Synchronous

__all__ = ["SessionStore", "NewEvent"]

#: ``tuple.__new__(Record, row)``: builds a record from a row entirely in C, about
#: twice as fast as ``Record._make`` — it matters when a load returns thousands.
_new_tuple = tuple.__new__

_INT64_MAX = (1 << 63) - 1
#: An event's key is ``sid * 2**32 + seq`` (migration 0006).
_EVENT_KEY_FACTOR = 4294967296
#: Windows beyond this many seconds are clamped by :func:`convstore._validate.window`.
_WINDOW_LIMIT = _v.TIME_LIMIT * 2
#: Timestamps and windows taken without further checks: (-_TIME_LIMIT, _TIME_LIMIT).
_TIME_LIMIT = _v.TIME_LIMIT
_TIME_LOW = -_TIME_LIMIT  # (computed once: ``-_TIME_LIMIT`` in a test allocates an int)

#: Extended result codes of a failed fsync: the outcome of that commit is unknown.
_FSYNC_FAILED = frozenset({apsw.SQLITE_IOERR_FSYNC, apsw.SQLITE_IOERR_DIR_FSYNC})


class NewEvent(NamedTuple):
    """One event for :meth:`SessionStore.append_events` (a plain 5-tuple works too)."""

    id: str
    parent_id: str | None
    invocation_id: str
    event_type: str
    event_data: str


class _ToolMethod:
    """A :class:`SessionStore` method whose code lives in a history-tool module.

    ``store.search(...)`` is :func:`convstore.sqlite.search.search` bound to the
    store, imported on first use, so ``import convstore`` stays lean and the
    signature and docstring are written once, where the code is.
    """

    __slots__ = ("_function", "_module", "_name")

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name
        self._function: Any = None

    def __get__(self, store: SessionStore | None, owner: type | None = None) -> Any:
        function = self._function
        if function is None:
            import sys

            __import__(f"convstore.{self._module}")
            function = self._function = getattr(
                sys.modules[f"convstore.{self._module}"], self._name
            )
        return function if store is None else function.__get__(store, owner)


class Atomic:
    """The write transaction :meth:`SessionStore.atomic` returns (a context manager).

    A class rather than :func:`contextlib.contextmanager`: it costs a few
    hundred nanoseconds on the append's hot path instead of a generator's
    microsecond, and ``import convstore`` stays free of :mod:`contextlib`.
    ``doing`` and ``event_id`` may be updated inside the block so that an
    error names the step that failed.
    """

    __slots__ = ("_store", "doing", "event_id")

    def __init__(self, store: SessionStore, doing: str, event_id: str | None = None) -> None:
        self._store = store
        self.doing = doing
        self.event_id = event_id

    def __enter__(self) -> apsw.Connection:
        store = self._store
        try:
            store._conn.execute(_sql.BEGIN_IMMEDIATE)
        except apsw.Error as exc:
            raise store.translate_error(exc, self.doing) from None
        return store._conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store = self._store
        if exc is None:
            try:
                store._conn.execute(_sql.COMMIT)
            except apsw.Error as error:
                store._rollback()
                raise store.translate_error(error, self.doing) from None
            if store._checkpointer is not None:  # a transaction: look at the WAL now
                store._checkpointer.tick(store._conn, POLL_PAGES)
            return
        store._rollback()
        if isinstance(exc, apsw.ConstraintError) and self.event_id is not None:
            raise constraint_error(str(exc), self.event_id) from None
        typed = store.translate_error(exc, self.doing)
        if typed is not exc:
            raise typed from None

    def catch_up_search(self) -> int:
        """Inside the block: index the events appended since the last catch-up (bulk, exact)."""
        return self._store.catch_up_search()


def _stored_state(row: tuple[Any, ...]) -> StoredState:
    """A :data:`_sql.SESSION_GET` row as the import plan's view of the stored session."""
    from .._importplan import StoredState

    _, head, server, directory, git_root, created, updated, archived = row
    return StoredState(directory, git_root, created, updated, archived, head, server)


def event_row(sid: int, seq: int, event: NewEvent | StoredEvent, created_at: int) -> dict[str, Any]:
    """The parameters of :data:`_sql.EVENT_APPEND_BATCH_ROW` for one event at ``seq``."""
    return {
        "sid": sid,
        "seq": seq,
        "event_id": event.id,
        "parent_id": event.parent_id,
        "invocation_id": event.invocation_id,
        "event_type": event.event_type,
        "event_data": event.event_data,
        "created_at": created_at,
    }


def constraint_error(message: str, event_id: str) -> StoreError:
    """Sort SQLite's constraint failure (its message) into the typed error for ``event_id``."""
    if "UNIQUE" in message or "PRIMARY KEY" in message:
        return event_refused("duplicate", event_id)
    return event_refused("json" if "CHECK" in message else "other", event_id, message)


if TYPE_CHECKING:
    #: The columns of an :meth:`SessionStore.append_events` batch: ids, parents,
    #: invocation ids, event types, event data -- one tuple each, in batch order.
    _Columns = tuple[tuple[Any, ...], ...]


def _batch_columns(events: object) -> _Columns:
    """The fields of an :meth:`SessionStore.append_events` batch, as five columns, checked.

    Every field of every item passes :func:`convstore._validate.event_fields`
    (or this raises the error naming the item). A list of plain ASCII tuples
    is checked column by column (:func:`_plain_columns`); anything else item
    by item. Returns ``()`` for an empty batch. Columns, not rows: the checks,
    the insert's bindings and the returned records are then each built by one
    C-level pass over them (``zip``, ``map``), with no Python frame per item.
    """
    if type(events) is list:
        columns = _plain_columns(events)
        if columns is not None:
            return columns
    if isinstance(events, str | bytes) or not hasattr(events, "__iter__"):
        raise InvalidArgument(
            f"events must be an iterable of (id, parent_id, invocation_id, event_type, "
            f"event_data) tuples, got {type(events).__name__}"
        )
    items: list[tuple[Any, ...]] = []
    append = items.append
    check = _v.event_fields
    for index, item in enumerate(cast("Iterable[object]", events)):
        if not (isinstance(item, tuple) and len(item) == 5):
            fields = tuple(item) if isinstance(item, list) else None
            if fields is None or len(fields) != 5:
                raise InvalidEvent(
                    f"events[{index}] must be a 5-tuple (id, parent_id, invocation_id, "
                    f"event_type, event_data), got {_v._clip(item)}"
                )
            item = fields
        check(*item)
        append(item)
    return tuple(zip(*items, strict=True))


_STR_OR_NONE = frozenset((str, type(None)))


def _plain_columns(items: list[Any]) -> _Columns | None:
    """The batch's columns if every item surely passes the item-by-item checks, else ``None``.

    A fast path, each check one C-speed pass over the whole batch: exact
    5-tuples of ``str`` (the parent ``str`` or ``None``), every text ASCII
    without NUL or backslash (no escape to check) and, when long, with too
    few brackets to nest too deep. Anything else -- non-ASCII text, an
    escape, another type -- returns ``None`` and the batch is checked item by
    item, with the error naming the item. Never columns for a batch the
    item-by-item checks would refuse. (Types are counted, not collected in a
    set: a list and its ``count`` cost about half as much per item.)
    """
    size = len(items)
    if not size or list(map(type, items)).count(tuple) != size:
        return None
    try:  # tuples of unequal lengths fail the strict zip, of another length the unpacking
        ids, parents, invocations, kinds, datas = columns = tuple(zip(*items, strict=True))
    except ValueError:
        return None
    texts = (*ids, *invocations, *kinds, *datas)
    if list(map(type, texts)).count(str) != len(texts):
        return None
    if not set(map(type, parents)) <= _STR_OR_NONE:
        return None
    # The usual chain, each parent the item before, leaves only the first parent to
    # check (all are str or None by now: a plain comparison). ``filter`` drops None.
    outside = parents[:1] if parents[1:] == ids[:-1] else parents
    text = "".join((*texts, *filter(None, outside)))
    if "\x00" in text or "\\" in text or not text.isascii():
        return None
    limit = _v.MAX_JSON_DEPTH
    if (
        max(map(len, datas)) > 2 * limit
        and _v.more_brackets_than(text, limit)  # the batch's brackets: can any nest deep?
        and any(len(d) > 2 * limit and _v.more_brackets_than(d, limit) for d in datas)
    ):
        return None
    return columns


class _CheckEachItem(Exception):
    """Internal: the fast batch hit a replayed or bad item; roll back and go item by item."""


class SessionStore(Closing):
    """A local conversation store on one SQLite file (or ``":memory:"``).

    Opening creates missing parent directories, switches the file to WAL,
    sets the busy timeout to ``timeout`` seconds and applies pending
    migrations; the file and its ``-wal``/``-shm`` companions are created
    owner-only (0600). ``clock`` replaces ``time.time`` for every timestamp the
    store writes or compares (tests pass a fake instead of sleeping).

    ``synchronous="FULL"`` makes every commit survive power loss, not only a
    process crash, at the cost of an fsync per transaction.

    >>> store = SessionStore(":memory:", clock=lambda: 1_700_000_000)
    >>> store.create_session("s1").created_at
    1700000000
    >>> store.close()
    """

    __slots__ = ("_checkpointer", "_clock", "_conn", "_path", "_search_index", "_timeout")

    def __init__(
        self,
        path: PathArg,
        *,
        timeout: float = 5.0,
        clock: Clock | None = None,
        synchronous: Synchronous = "NORMAL",
        vfs: str | None = None,
    ) -> None:
        # Every argument first: a refused call creates no file and no directory.
        timeout = _v.seconds(timeout, "timeout")
        _v.clock(clock)
        if synchronous not in ("NORMAL", "FULL"):
            raise InvalidArgument(f"synchronous must be 'NORMAL' or 'FULL': {synchronous!r}")
        _v.optional_text(vfs, "vfs")
        self._path = normalize_path(path)
        self._timeout = timeout
        self._clock: Clock = clock if clock is not None else time.time
        # Checkpoints off the appending call, on a thread of their own; not through a
        # caller's VFS (it may not expect a second thread) nor for ":memory:" (no WAL).
        background = self._path != MEMORY and vfs is None
        self._checkpointer = BackgroundCheckpointer(self._path, vfs) if background else None
        try:
            self._conn = open_connection(
                self._path,
                timeout=self._timeout,
                synchronous=synchronous,
                vfs=vfs,
                checkpointer=self._checkpointer,
                clock=self.now,  # and the schema brought up to date
            )
        except apsw.Error as exc:
            raise self.translate_error(exc, "opening the database") from None
        # Whether appends keep the full-text index (a setting stored in the file): read
        # when first asked (indexes_search), not by the open -- a statement less there.
        self._search_index: bool | None = None

    def _close_quietly(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        close_quietly(self._conn)

    # -- plumbing ------------------------------------------------------------

    path = ReadOnly[str](
        "_path", 'The database path as given (normalised to ``str``), or ``":memory:"``.'
    )
    timeout = ReadOnly[float](
        "_timeout",
        "How long a call waits for another writer's lock, in seconds (the busy timeout).",
    )
    connection = ReadOnly[apsw.Connection](
        "_conn", "The underlying APSW connection, for advanced use (benchmarks, inspection)."
    )

    @property
    def checkpoints_in_background(self) -> bool:
        """Whether a background thread checkpoints the WAL (not for ``":memory:"``, a VFS)."""
        return self._checkpointer is not None

    @property
    def indexes_search(self) -> bool:
        """Whether full-text indexing is on, as this store last read the setting.

        The open does not read it (a statement less on every open): the first
        access does, then this returns what was read. :meth:`search_indexing`
        reads it again from the file (another process may have switched it).
        """
        if self._search_index is None:
            return self.search_indexing()
        return self._search_index

    def now(self) -> int:
        """``clock()`` as whole seconds; :class:`InvalidArgument` naming ``clock`` if it is not."""
        value = self._clock()  # what the clock raises is the caller's own: it passes through
        if type(value) is float and _TIME_LOW < value < _TIME_LIMIT:
            return int(value)  # time.time, and most clocks (NaN and infinities fail the range)
        if type(value) is int and _TIME_LOW < value < _TIME_LIMIT:
            return value
        return _v.clock_value(value)

    def catch_up_search(self) -> int:
        """Index every event appended since the last catch-up; inside a write transaction.

        Batches, imports and the history tools' transactions call it (the
        tools through :meth:`Atomic.catch_up_search`), so the index is exact
        when they commit; :meth:`index_pending` is the same in a transaction of
        its own.

        Appends leave the full-text index alone (migration 0005): each pending
        session carries a watermark, and this single range statement indexes
        everything above the watermarks at once, then clears them. With
        indexing off it only clears them. Returns the rows indexed.
        """
        conn = self._conn
        if not conn.execute(_sql.SEARCH_PENDING_ANY).get:
            return 0
        indexed = 0
        # The stored setting, not this process's copy: another process may have switched it.
        self._search_index = conn.execute(_sql.SEARCH_INDEXING_GET).get != "off"
        if self._search_index:
            conn.execute(_sql.SEARCH_CATCH_UP)
            indexed = conn.changes()
        conn.execute(_sql.SEARCH_PENDING_CLEAR)
        return indexed

    def index_pending(self) -> int:
        """Bring the full-text index up to date now; return how many events it indexed.

        Appends do not index (that would double what each commit writes); the
        index catches up in bulk instead -- inside :meth:`search`, inside
        imports and purges, and here. A client may call this
        when it is idle so that the next search has nothing to catch up. Cheap
        when there is nothing to do: one read, no write lock.

        >>> with SessionStore(":memory:") as store:
        ...     _ = store.create_session("s1")
        ...     _ = store.append_event("s1", "e1", None, "i", "user", '{"content": "hi"}')
        ...     store.index_pending(), store.index_pending()
        (1, 0)
        """
        doing = "indexing new events for search"
        try:
            if not self._conn.execute(_sql.SEARCH_PENDING_ANY).get:
                return 0
        except apsw.Error as exc:
            raise self.translate_error(exc, doing) from None
        with self.atomic(doing):
            indexed = self.catch_up_search()
        return indexed

    def translate_error(self, exc: BaseException, doing: str) -> BaseException:
        """The one place a raw error becomes the typed error a caller can act on.

        Typed errors pass through; ``apsw`` errors map by kind (busy, closed,
        corrupt, fsync failure, disk full, permissions, I/O); a
        :class:`UnicodeDecodeError` is *stored* text that is not UTF-8 (a
        damaged file); any other :class:`UnicodeError` is an argument that
        cannot be stored (:class:`InvalidArgument`). Anything else (an
        interrupt, a bug) is returned unchanged. The history tools
        (:mod:`convstore.sqlite.search`, :mod:`convstore.sqlite.exporting`,
        :mod:`convstore.sqlite.retention`) translate their errors here too.

        >>> with SessionStore(":memory:") as store:
        ...     type(store.translate_error(apsw.BusyError("locked"), "testing")).__name__
        'StoreBusy'
        """
        if isinstance(exc, StoreError):
            return exc
        where = "in-memory database" if self._path == MEMORY else f"database {self._path!r}"
        if isinstance(exc, UnicodeDecodeError):
            return StoreError(
                f"{where} is corrupt: stored text is not valid UTF-8 ({doing}): {exc.reason}"
            )
        if isinstance(exc, UnicodeError):
            return InvalidArgument(f"{doing}: a value is not valid UTF-8 text ({exc})")
        if not isinstance(exc, apsw.Error):
            return exc
        if isinstance(exc, apsw.BusyError | apsw.LockedError):
            return StoreBusy(
                f"{where} stayed locked by another connection for more than "
                f"{self._timeout:g}s while {doing}"
            )
        if isinstance(exc, apsw.ConnectionClosedError):
            return StoreClosed(f"the store for {where} is closed (while {doing})")
        if isinstance(exc, apsw.NotADBError | apsw.CorruptError):
            return StoreError(f"{where} is corrupt or not an SQLite database ({doing}): {exc}")
        if getattr(exc, "extendedresult", None) in _FSYNC_FAILED:
            return CommitUncertain(
                f"the disk failed to flush {where} while {doing} ({exc}): the change may or may "
                "not have been stored; retry with the same ids"
            )
        if isinstance(exc, apsw.FullError):
            return StoreError(f"disk full: {where} could not grow while {doing}")
        if isinstance(exc, apsw.ReadOnlyError | apsw.PermissionsError | apsw.CantOpenError):
            return StoreError(f"cannot write {where} while {doing}: {exc}")
        if isinstance(exc, apsw.IOError):
            return StoreError(f"I/O error on {where} while {doing}: {exc}")
        return StoreError(f"{where}: {doing} failed: {exc}")

    def read_failed(self, exc: apsw.Error | UnicodeError, doing: str) -> None:
        """Raise the typed error for a failed read, or return when nothing can match.

        An argument that cannot be stored (a lone surrogate: a
        :class:`UnicodeEncodeError`) matches nothing, and the caller answers
        "not found"; stored bytes that are not UTF-8 are a damaged file and
        must not pass for an empty result.
        """
        if isinstance(exc, UnicodeError) and not isinstance(exc, UnicodeDecodeError):
            return
        raise self.translate_error(exc, doing) from None

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already done so."""
        try:
            if self._conn.in_transaction:
                self._conn.execute(_sql.ROLLBACK)
        except apsw.Error:
            pass

    def atomic(self, doing: str = "writing", event_id: str | None = None) -> Atomic:
        """A write transaction: ``with store.atomic("what it does") as conn: ...``.

        ``BEGIN IMMEDIATE`` on entry (waiting up to ``timeout`` for another
        writer), ``COMMIT`` on a clean exit; any error inside rolls back and
        leaves as the typed error :meth:`translate_error` gives, naming
        ``doing``. A constraint failure while ``event_id`` is set (the body may
        update it as it goes) is sorted into :class:`DuplicateId` or
        :class:`InvalidEvent` for that event. Every write of the store and of
        the history tools runs in one of these.

        >>> with SessionStore(":memory:") as store:
        ...     _ = store.create_session("s1")
        ...     with store.atomic("renaming metadata") as conn:
        ...         _ = conn.execute("SELECT 1")
        ...     store._conn.in_transaction
        False
        """
        return Atomic(self, doing, event_id)

    def close(self) -> None:
        """Close the connection. Further calls raise :class:`StoreError`. Idempotent."""
        if self._checkpointer is not None:
            self._checkpointer.close()  # first: the last connection to close removes the WAL
        try:
            self._conn.close()
        except apsw.Error as exc:
            raise self.translate_error(exc, "closing") from None

    def __repr__(self) -> str:
        return f"SessionStore({self._path!r})"

    # -- sessions ------------------------------------------------------------

    def create_session(
        self, id: str, directory: str | None = None, git_root: str | None = None
    ) -> StoredSession:
        """Create an empty session and return it.

        A retry of a call that did create it (same ``id``, ``directory`` and
        ``git_root``, e.g. after :class:`CommitUncertain`) is an idempotent
        replay: it returns the stored session and writes nothing (SPEC §2.1).
        Raises :class:`DuplicateId` when ``id`` is taken by a session with
        another directory or git root (the stored session is left as it was).
        """
        _v.text(id, "session id")
        _v.optional_text(directory, "directory")
        _v.optional_text(git_root, "git_root")
        now = self.now()
        doing = f"creating session {id!r}"
        try:
            self._conn.execute(
                _sql.SESSION_INSERT,
                {"session_id": id, "directory": directory, "git_root": git_root, "now": now},
            )
        except apsw.ConstraintError:
            stored = self.get_session(id)
            if stored is not None and (stored.directory, stored.git_root) == (directory, git_root):
                return stored  # a replay of the call that created it
            raise DuplicateId(
                f"session id {id!r} is already used (with directory {stored and stored.directory!r}"
                f", git_root {stored and stored.git_root!r})"
            ) from None
        except (apsw.Error, UnicodeError) as exc:
            raise self.translate_error(exc, doing) from None
        return StoredSession(id, None, None, directory, git_root, now, now, None)

    def get_session(self, id: str) -> StoredSession | None:
        """Return the session named ``id``, or ``None`` when there is none."""
        if not _v.lookup_text(id, "session id"):
            return None
        try:
            row = self._conn.execute(_sql.SESSION_GET, (id,)).fetchone()
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, f"reading session {id!r}")
            return None
        return None if row is None else _new_tuple(StoredSession, row)

    def find_resumable_session(
        self, directory: str | None, git_root: str | None, max_age_secs: int
    ) -> StoredSession | None:
        """The newest live session for ``directory`` or ``git_root``, active within the window.

        A session matches when its ``directory`` equals ``directory`` or its
        (non-null) ``git_root`` equals ``git_root``, it is not archived, and its
        ``updated_at`` (last activity) is later than ``now - max_age_secs``.
        Newest activity wins. Read-only: it never modifies anything.
        """
        # The usual call -- two ASCII paths, a window of whole seconds -- is decided in
        # a few comparisons (a client start is timed against the floor, SPEC §5, and
        # this check ran as long as the two lookups it guards); anything else gets
        # the full checks of _resume_filters. (A path with a NUL may take this way:
        # bound as it is, it equals no stored path -- none can hold a NUL -- so it
        # matches nothing, as _resume_filters decides for it.)
        if (
            type(directory) is str
            and type(git_root) is str
            and type(max_age_secs) is int
            and directory.isascii()
            and git_root.isascii()
            and _TIME_LOW < max_age_secs < _TIME_LIMIT
        ):
            by_directory = by_git_root = True
            now = self._clock()  # self.now(), inlined for the usual clocks
            if (type(now) is float or type(now) is int) and _TIME_LOW < now < _TIME_LIMIT:
                cutoff = int(now) - max_age_secs  # within ±2**63: no clamp needed
            else:
                cutoff = _v.clock_value(now) - max_age_secs
        else:
            by_directory, by_git_root, cutoff = self._resume_filters(
                directory, git_root, max_age_secs
            )
        execute = self._conn.execute
        best: tuple[Any, ...] | None = None
        try:
            if by_directory:
                best = execute(_sql.SESSION_RESUMABLE_BY_DIRECTORY, (directory, cutoff)).fetchone()
            if by_git_root:
                by_root = execute(_sql.SESSION_RESUMABLE_BY_GIT_ROOT, (git_root, cutoff)).fetchone()
                if by_root is not None and (best is None or by_root[6] > best[6]):
                    best = by_root
        except apsw.Error as exc:
            raise self.translate_error(exc, "looking up a resumable session") from None
        return None if best is None else _new_tuple(StoredSession, best)

    def _resume_filters(
        self, directory: object, git_root: object, max_age_secs: object
    ) -> tuple[bool, bool, int]:
        """Whether to look up by directory and by git root, and the cutoff (checked in full)."""
        # A text that cannot be stored (a NUL, a lone surrogate) matches nothing: its
        # filter is skipped, and the other one still finds its session.
        by_directory = directory is not None and _v.optional_lookup_text(directory, "directory")
        by_git_root = git_root is not None and _v.optional_lookup_text(git_root, "git_root")
        # Rounded up (``t > now - 1.5`` is ``t > now - 2`` in whole seconds); infinity
        # means no age limit (or, negative, that nothing is young enough).
        if type(max_age_secs) is int and -_WINDOW_LIMIT < max_age_secs < _WINDOW_LIMIT:
            age = max_age_secs  # what _v.window returns for it
        else:
            age = _v.window(max_age_secs, "max_age_secs")
        # SQLite integers are 64-bit: a huge window means "any age", not an OverflowError.
        return by_directory, by_git_root, min(max(self.now() - age, -_INT64_MAX), _INT64_MAX)

    def update_server_session_id(self, session_id: str, server_session_id: str) -> None:
        """Record the id a sync server gave this session."""
        _v.optional_text(server_session_id, "server_session_id")
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        try:
            self._conn.execute(
                _sql.SESSION_SET_SERVER_ID,
                {"server_session_id": server_session_id, "session_id": session_id},
            )
            changed = self._conn.changes()
        except (apsw.Error, UnicodeError) as exc:
            doing = f"setting the server id of session {session_id!r}"
            raise self.translate_error(exc, doing) from None
        if changed == 0:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    def archive_session(self, session_id: str) -> None:
        """Archive a session: it stays readable, is never resumed, refuses appends.

        Archiving an archived session keeps its first ``archived_at``.
        """
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        now = self.now()
        doing = f"archiving session {session_id!r}"
        try:
            self._conn.execute(_sql.SESSION_ARCHIVE, {"now": now, "session_id": session_id})
            if self._conn.changes() == 0 and self.session_state(session_id) is None:
                raise SessionNotFound(f"session {session_id!r} does not exist")
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, doing)  # an id that cannot be stored names no session
            raise SessionNotFound(f"session {session_id!r} does not exist") from None

    def _session_exists(self, session_id: str) -> bool:
        """Whether the session exists (``False`` for an id that cannot be stored)."""
        try:
            return self.session_state(session_id) is not None
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, f"reading session {session_id!r}")
            return False

    def move_head(self, head_id: str, now: int, added: int, session_id: str) -> None:
        """Point the session at its new head, count the events, record the activity time.

        Inside the append's transaction. ``updated_at`` is only written when the
        second changed: most appends of a streamed answer land in the same
        second, and skipping it spares three index entries per append.
        """
        params = {"head_id": head_id, "now": now, "added": added, "session_id": session_id}
        self._conn.execute(_sql.SESSION_MOVE_HEAD_SAME_SECOND, params)
        if self._conn.changes() == 0:
            self._conn.execute(_sql.SESSION_MOVE_HEAD, params)

    def session_state(self, session_id: str) -> tuple[int, int | None, int] | None:
        """``(sid, archived_at, event_count)`` of a session, or ``None``.

        Semi-public, like :meth:`move_head`, :meth:`why_not_appended`,
        :meth:`read_failed` and :meth:`catch_up_search`: the building blocks the
        backend's own modules (:mod:`convstore.sqlite.blobs`,
        :mod:`convstore.lifecycle`, the history tools) write with, so that none
        of them touches the store's private attributes.
        """
        row = self._conn.execute(_sql.SESSION_STATE, {"session_id": session_id}).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    # -- events --------------------------------------------------------------

    def why_not_appended(
        self, session_id: str, event_id: str, parent_id: str | None
    ) -> StoreError:
        """Explain an append that inserted nothing (inside the failed transaction; semi-public)."""
        state = self.session_state(session_id)
        return why_not_appended(
            session_id, event_id, parent_id, None if state is None else state[1] is not None
        )

    def _replay(
        self,
        event_id: str,
        session_id: str,
        parent_id: str | None,
        invocation_id: str,
        event_type: str,
        event_data: str,
        *,
        compare_parent: bool = True,
    ) -> StoredEvent | None:
        """The stored event when this append is an idempotent replay (SPEC §2.1), else None.

        ``None``: no event has this id. An event of this id with any differing
        field (the parent only when ``compare_parent``) is :class:`DuplicateId`.
        """
        row = self._conn.execute(_sql.EVENT_GET_BY_ID, {"event_id": event_id}).fetchone()
        if row is None:
            return None
        stored: StoredEvent = _new_tuple(StoredEvent, row)
        if (
            stored.session_id == session_id
            and stored.invocation_id == invocation_id
            and stored.event_type == event_type
            and stored.event_data == event_data
            and (not compare_parent or stored.parent_id == parent_id)
        ):
            return stored
        raise DuplicateId(
            f"event id {event_id!r} is already used by a different event (of session "
            f"{stored.session_id!r}); a retry must repeat the session, parent, invocation, "
            "type and data exactly"
        )

    def append_event(
        self,
        session_id: str,
        event_id: str,
        parent_id: str | None,
        invocation_id: str,
        event_type: str,
        event_data: str,
    ) -> StoredEvent:
        """Append one event and move the session's ``head_id``/``updated_at``, atomically.

        ``parent_id`` must be ``None`` or an event of the same session;
        ``event_data`` must be JSON text. Errors (nothing is written for any):
        :class:`SessionNotFound`, :class:`SessionArchived`, :class:`DuplicateId`
        (event id taken anywhere in the store), :class:`InvalidEvent`.

        Retrying an append that was in fact stored (same id, session, parent,
        invocation, type and data -- after :class:`CommitUncertain`, say) is an
        idempotent replay: it returns the stored event and writes nothing.

        One SQL statement (no ``BEGIN``/``COMMIT``) in the usual case. The
        event's time is the clock's, or the session's ``updated_at`` when that
        is later (another writer's, or a clock that stepped back): the log's
        time never moves backwards.
        """
        _v.append_arguments(session_id, event_id, parent_id, invocation_id, event_type, event_data)
        clock = self._clock
        if clock is time.time:
            now = int(clock())
        else:  # a clock of whole seconds takes no further call (a fake, a fixed one)
            value = clock()
            if type(value) is int and _TIME_LOW < value < _TIME_LIMIT:
                now = value
            else:
                now = _v.clock_value(value)
        # The fast path: one statement, no BEGIN/COMMIT (migration 0006). The
        # trigger behind the view event_append checks the session (exists, not
        # archived, its updated_at not ahead of `now`) and the parent, inserts
        # the event and moves the head; anything else aborts it with nothing
        # written, and the careful path below runs in a transaction of its own.
        try:
            self._conn.execute(
                _sql.EVENT_APPEND_ONE,
                (session_id, event_id, parent_id, invocation_id, event_type, event_data, now),
            )
        except apsw.ConstraintError:
            return self._append_event_checked(
                (session_id, event_id, parent_id, invocation_id, event_type, event_data)
            )
        except (apsw.Error, UnicodeError) as exc:
            doing = f"appending event {event_id!r} to session {session_id!r}"
            raise self.translate_error(exc, doing) from None
        checkpointer = self._checkpointer
        if checkpointer is not None:  # its pages, estimated (append_pages), counted
            checkpointer.tick(self._conn, 3 + (len(event_data) >> 11))
        return _new_tuple(
            StoredEvent,
            (event_id, session_id, parent_id, invocation_id, event_type, event_data, now),
        )

    def _append_event_checked(
        self, event: tuple[str, str, str | None, str, str, str], *, at_head: bool = False
    ) -> StoredEvent:
        """:meth:`append_event` in an explicit transaction: replays, typed errors, a late clock.

        ``event`` is the append's arguments, already checked, in
        :meth:`append_event`'s order; ``at_head``: :meth:`append_event_at_head`'s
        (``parent_id`` ``None``: the head read inside the write is the parent,
        and a replay does not compare it). Taken when the one-statement append
        wrote nothing. Under the write lock:
        an idempotent replay returns the stored event; a session whose
        ``updated_at`` is ahead of the clock (another writer committed between
        our clock read and our write, or the clock stepped back) gets its
        ``updated_at`` as the event's time, so the log's time never moves
        backwards; anything else is the typed error saying why.
        """
        session_id, event_id, parent_id, invocation_id, event_type, event_data = event
        doing = f"appending event {event_id!r} to session {session_id!r}"
        with Atomic(self, doing, event_id) as conn:
            now = self.now()  # under the write lock: the log's time never moves backwards
            cursor = conn.execute(_sql.SESSION_CURSOR, {"session_id": session_id}).fetchone()
            if cursor is not None and cursor[0] > now:
                now = cursor[0]
            params = {
                "session_id": session_id,
                "event_id": event_id,
                "invocation_id": invocation_id,
                "event_type": event_type,
                "event_data": event_data,
                "now": now,
            }
            try:
                if at_head:  # the statement returns the parent it read: the head
                    rows = conn.execute(_sql.EVENT_APPEND_AT_HEAD, params).fetchall()
                    inserted = len(rows)
                    if rows:
                        parent_id = cast("str | None", rows[0][0])
                else:
                    conn.execute(_sql.EVENT_APPEND, {**params, "parent_id": parent_id})
                    inserted = conn.changes()
            except apsw.ConstraintError as exc:
                if not isinstance(constraint_error(str(exc), event_id), DuplicateId):
                    raise
                inserted = 0
            if inserted == 0:
                fields = (session_id, parent_id, invocation_id, event_type, event_data)
                replay = self._replay(event_id, *fields, compare_parent=not at_head)
                if replay is not None:
                    return replay  # nothing was written: the empty transaction commits
                raise self.why_not_appended(session_id, event_id, parent_id)
            self.move_head(event_id, now, 1, session_id)
        return StoredEvent(
            event_id, session_id, parent_id, invocation_id, event_type, event_data, now
        )

    def append_event_at_head(
        self,
        session_id: str,
        event_id: str,
        invocation_id: str,
        event_type: str,
        event_data: str,
    ) -> StoredEvent:
        """Append one event whose parent is the session's head *as read inside the write*.

        This is the client's append: two processes appending to one session at
        the same moment produce one linear chain (the second sees the first's
        event as head), never a silent fork. Errors as :meth:`append_event`.
        A replay (the event is stored with the same session, invocation, type
        and data; the parent is not compared, since on a retry the head is the
        event itself) returns the stored event and writes nothing.
        """
        _v.append_arguments(
            session_id, event_id, None, invocation_id, event_type, event_data, check_parent=False
        )
        clock = self._clock
        if clock is time.time:
            now = int(clock())
        else:  # as in append_event
            value = clock()
            if type(value) is int and _TIME_LOW < value < _TIME_LIMIT:
                now = value
            else:
                now = _v.clock_value(value)
        # One statement, as in append_event: the head is read inside the insert,
        # which holds the write lock from its first step.
        try:
            rows = self._conn.execute(
                _sql.EVENT_APPEND_AT_HEAD_ONE,
                (session_id, event_id, invocation_id, event_type, event_data, now),
            ).fetchall()
        except apsw.ConstraintError:
            rows = []
        except (apsw.Error, UnicodeError) as exc:
            doing = f"appending event {event_id!r} to session {session_id!r}"
            raise self.translate_error(exc, doing) from None
        if not rows:
            return self._append_event_checked(
                (session_id, event_id, None, invocation_id, event_type, event_data), at_head=True
            )
        checkpointer = self._checkpointer
        if checkpointer is not None:
            checkpointer.tick(self._conn, append_pages(event_data))
        return _new_tuple(
            StoredEvent,
            (event_id, session_id, rows[0][0], invocation_id, event_type, event_data, now),
        )

    def append_events(
        self, session_id: str, events: Iterable[NewEvent | Sequence[str | None]]
    ) -> list[StoredEvent]:
        """Append many events to one session in a single transaction (all or nothing).

        Each item is ``(id, parent_id, invocation_id, event_type, event_data)``;
        a parent may be an event earlier in the same batch. The head moves to
        the last event. Streaming clients that write many small events should
        batch them here: one commit instead of one per event. Like single
        appends, batches leave the search index to catch up later (at the
        next search, import or :meth:`index_pending`): a batch is a hot path
        too, and FTS5's work costs several times the insert itself.

        An item already stored with exactly these fields is an idempotent
        replay (a retried batch): it is skipped, returned as stored, and the
        rest are appended. Errors name the first offending item.

        >>> with SessionStore(":memory:") as store:
        ...     _ = store.create_session("s1")
        ...     batch = [("e1", None, "i", "t", "{}"), ("e2", "e1", "i", "t", "{}")]
        ...     [e.id for e in store.append_events("s1", batch)]
        ['e1', 'e2']
        """
        _v.text(session_id, "session id")
        columns = _batch_columns(events)
        if not columns:
            return []
        ids = columns[0]
        doing = f"appending {len(ids)} events to session {session_id!r}"
        try:
            with Atomic(self, doing) as conn:
                now = self.now()  # under the write lock: the log's time never moves backwards
                sid, count = self._writable_state(session_id)
                try:
                    self._insert_batch(conn, sid, count, columns, now)
                except apsw.ConstraintError:
                    raise _CheckEachItem from None  # rolls the partial batch back
                self.move_head(ids[-1], now, len(ids), session_id)
        except _CheckEachItem:
            # A replayed, duplicate, orphaned or invalid item: check each one, then write.
            return self._append_events_checked(
                session_id, list(map(NewEvent._make, zip(*columns, strict=True))), doing
            )
        # The records built in C, field by field: (id, session_id, parent_id, ..., created_at).
        fields = zip(ids, repeat(session_id), *columns[1:], repeat(now))
        return list(map(_new_tuple, repeat(StoredEvent), fields))

    @staticmethod
    def _insert_batch(
        conn: apsw.Connection, sid: int, count: int, columns: _Columns, now: int
    ) -> None:
        """Insert a batch's rows after ``count``; raise :class:`_CheckEachItem` if one is refused.

        Parents are checked before anything is written: a parent that is an
        earlier row of the batch (the usual chain, each parent the row before:
        one tuple comparison finds it) or none needs no lookup; a parent
        outside the batch (usually the first row's: the session's head) must
        be a stored event of this session -- looked up before the batch is
        inserted, so it cannot be a later row of the batch. Then the rows go
        in :data:`~convstore._common.BULK_INSERT_ROWS` to a statement
        (``EVENT_INSERT_ROWS``; the last few by its one-row form), by
        ``executemany`` over tuples zipped in C from the columns: the first
        key, the time, then the rows' fields. Duplicates and invalid JSON
        still fail the table's constraints (:class:`apsw.ConstraintError`,
        for the caller, who rolls the whole batch back). The session's search
        work is recorded once, when the caller moves the count (migration 0010).
        """
        ids, parents = columns[0], columns[1]
        outside: Sequence[str | None]
        if parents[1:] == ids[:-1]:  # every field is a str or None here: a plain comparison
            outside = parents[:1]
        else:
            seen: set[str] = set()
            add = seen.add
            outside = []
            for event_id, parent in zip(ids, parents, strict=True):
                if parent not in seen:
                    outside.append(parent)
                add(event_id)
        for parent in outside:
            if parent is None:
                continue
            if not conn.execute(_sql.EVENT_IN_SESSION, {"event_id": parent, "sid": sid}).get:
                raise _CheckEachItem  # the parent is not an event of this session
        # One flat iterator over the rows' fields, drawn 5 * BULK_INSERT_ROWS at a
        # time, then 5 at a time. zip draws from its arguments in order, so it stops
        # at the end of its key range before taking a field of the next statement.
        key = sid * _EVENT_KEY_FACTOR + count + 1
        end = key + len(ids)
        split = end - len(ids) % BULK_INSERT_ROWS
        fields = chain.from_iterable(zip(*columns, strict=True))
        if split > key:
            chunk = [fields] * (5 * BULK_INSERT_ROWS)
            conn.executemany(
                _sql.EVENT_INSERT_ROWS,
                zip(range(key, split, BULK_INSERT_ROWS), repeat(now), *chunk),
            )
        if split < end:
            conn.executemany(
                _sql.EVENT_INSERT_ROWS_ONE, zip(range(split, end), repeat(now), *[fields] * 5)
            )

    def _writable_state(self, session_id: str) -> tuple[int, int]:
        """``(sid, event_count)`` of a session that takes appends, or the error saying why not."""
        state = self.session_state(session_id)
        if state is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        sid, archived_at, count = state
        if archived_at is not None:
            raise SessionArchived(
                f"session {session_id!r} is archived; start a new session to continue"
            )
        return sid, count

    def _append_events_checked(
        self, session_id: str, items: list[NewEvent], doing: str
    ) -> list[StoredEvent]:
        """:meth:`append_events`, item by item: skip replays, blame the first bad item exactly.

        Its own write transaction (the fast path's was rolled back). Each item
        in order: an id already stored is a replay (identical fields: skipped)
        or :class:`DuplicateId`; an id repeated within the batch is
        :class:`DuplicateId`; a parent must be an event of this session or an
        earlier item. Only then is anything inserted.
        """
        with Atomic(self, doing) as conn:
            now = self.now()
            result: list[StoredEvent] = []
            fresh: list[NewEvent] = []
            batch_ids: set[str] = set()
            sid = count = -1
            for item in items:
                replay = self._replay(item.id, session_id, *item[1:])
                if replay is not None:
                    result.append(replay)
                    continue
                if sid < 0:  # the first new item: the session must take appends
                    sid, count = self._writable_state(session_id)
                if item.id in batch_ids:
                    raise DuplicateId(f"event id {item.id!r} appears twice in the batch")
                parent = item.parent_id
                if (
                    parent is not None
                    and parent not in batch_ids
                    and not conn.execute(
                        _sql.EVENT_IN_SESSION, {"event_id": parent, "sid": sid}
                    ).get
                ):
                    raise InvalidEvent(
                        f"event {item.id!r}: parent {parent!r} is not an event of session "
                        f"{session_id!r}"
                    )
                batch_ids.add(item.id)
                fresh.append(item)
                result.append(StoredEvent(item.id, session_id, *item[1:], now))
            for seq, e in enumerate(fresh, start=count + 1):
                try:
                    conn.execute(_sql.EVENT_APPEND_BATCH_ROW, event_row(sid, seq, e, now))
                except apsw.ConstraintError as exc:
                    raise constraint_error(str(exc), e.id) from None
            if fresh:  # else every item was a replay: nothing written, nothing moves
                self.move_head(fresh[-1].id, now, len(fresh), session_id)
        return result

    def load_events(self, session_id: str) -> list[StoredEvent]:
        """Every event of the session in append order (empty for an unknown session)."""
        if not _v.lookup_text(session_id, "session id"):
            return []
        try:
            # fetchall() first: APSW's own loop is ~8 % faster than iterating the cursor
            # row by row, and the records are then built in C (no Python frame per row).
            rows = self._conn.execute(_sql.EVENTS_LOAD, (session_id,)).fetchall()
            return list(map(_new_tuple, repeat(StoredEvent), rows))
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, f"loading events of session {session_id!r}")
            return []

    def get_event(self, session_id: str, event_id: str) -> StoredEvent | None:
        """One event of a session by id, or ``None`` (also for another session's event)."""
        if not (_v.lookup_text(session_id, "session id") & _v.lookup_text(event_id, "event id")):
            return None
        try:
            params = {"event_id": event_id, "session_id": session_id}
            row = self._conn.execute(_sql.EVENT_GET, params).fetchone()
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, f"reading event {event_id!r}")
            return None
        return None if row is None else _new_tuple(StoredEvent, row)

    def history(self, session_id: str, *, full: bool = False) -> list[StoredEvent]:
        """The conversation as the model should see it: head back to root, oldest first.

        Follows ``parent_id`` from the session's ``head_id`` in one recursive
        query, so after :meth:`set_head` (a fork or rewind) only the current
        branch is returned; :meth:`load_events` still returns every event.
        After :meth:`compact`, the newest summary stands for the events it
        covers; ``full=True`` returns the whole branch, originals included.
        """
        if not _v.lookup_text(session_id, "session id"):
            return []
        try:
            if full:
                rows = self._conn.execute(_sql.EVENTS_HISTORY, {"session_id": session_id})
                return list(map(_new_tuple, repeat(StoredEvent), rows))
            # The same walk, stopping at what the newest summary covers (SPEC §9).
            from .. import _lifecycle_sql

            rows = self._conn.execute(
                _lifecycle_sql.EVENTS_HISTORY_COMPACTED, {"session_id": session_id}
            )
            chain = list(map(_new_tuple, repeat(StoredEvent), rows))
            if not any(event.event_type == COMPACTION_EVENT_TYPE for event in chain):
                return chain  # nothing to fold: convstore.lifecycle stays unimported
            from ..lifecycle import fold_history

            return fold_history(chain)
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, f"reading the history of session {session_id!r}")
            return []

    def set_head(self, session_id: str, event_id: str) -> None:
        """Move the session's head to one of its own events (fork / rewind).

        The next :meth:`append_event_at_head` starts a branch there. Raises
        :class:`SessionNotFound`, :class:`SessionArchived`, or
        :class:`InvalidEvent` when ``event_id`` is not an event of this session.
        """
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        if not _v.lookup_text(event_id, "event id"):
            raise InvalidEvent(f"event {event_id!r} is not an event of session {session_id!r}")
        doing = f"moving the head of session {session_id!r} to {event_id!r}"
        with Atomic(self, doing):
            now = self.now()  # under the write lock: updated_at never moves backwards
            self._conn.execute(
                _sql.SESSION_SET_HEAD, {"head_id": event_id, "now": now, "session_id": session_id}
            )
            if self._conn.changes() == 0:
                why = self.why_not_appended(session_id, event_id, event_id)
                if isinstance(why, InvalidEvent):
                    why = InvalidEvent(
                        f"event {event_id!r} is not an event of session {session_id!r}"
                    )
                raise why

    # -- metadata ------------------------------------------------------------

    def set_metadata(self, session_id: str, key: str, value: str) -> None:
        """Set (insert or replace) one metadata value of a session.

        >>> with SessionStore(":memory:") as store:
        ...     _ = store.create_session("s1")
        ...     store.set_metadata("s1", "title", "Fix the build")
        ...     store.get_metadata("s1", "title")
        'Fix the build'
        """
        _v.text(key, "metadata key")
        _v.text(value, "metadata value")
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        doing = f"setting metadata {key!r} of session {session_id!r}"
        try:
            self._conn.execute(
                _sql.METADATA_SET,
                {"session_id": session_id, "key": key, "value": value, "now": self.now()},
            )
            changed = self._conn.changes()
        except (apsw.Error, UnicodeError) as exc:
            raise self.translate_error(exc, doing) from None
        if changed == 0:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    def get_metadata(self, session_id: str, key: str) -> str | None:
        """One metadata value, ``None`` when unset; :class:`SessionNotFound` for no session."""
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        _v.lookup_text(key, "metadata key")  # a key that cannot be stored was never set: None below
        try:
            params = {"session_id": session_id, "key": key}
            row = self._conn.execute(_sql.METADATA_GET, params).fetchone()
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, f"reading metadata of session {session_id!r}")
            # A key that cannot be stored was never set: the session alone decides
            # between None and SessionNotFound.
            row = (None,) if self._session_exists(session_id) else None
        if row is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        return cast("str | None", row[0])

    # -- listing -------------------------------------------------------------

    def list_sessions(
        self,
        directory: str | None = None,
        git_root: str | None = None,
        include_archived: bool = False,
        limit: int = 20,
        before: str | StoredSession | SessionSummary | None = None,
    ) -> list[SessionSummary]:
        """Sessions, newest activity first, for a "resume which conversation?" chooser.

        Filters: ``directory`` and/or ``git_root`` (either matches when both are
        given). Keyset-paginated: pass the last row of a page (or its id) as
        ``before`` to get the next page; no OFFSET, so page 1000 costs what page
        1 does. ``event_count`` comes from a counter kept by every append.

        >>> with SessionStore(":memory:", clock=iter(range(100, 200)).__next__) as store:
        ...     for i in range(3):
        ...         _ = store.create_session(f"s{i}", directory="/p")
        ...     page = store.list_sessions(directory="/p", limit=2)
        ...     [s.id for s in page], [s.id for s in store.list_sessions(before=page[-1])]
        (['s2', 's1'], ['s0'])
        """
        checked = listing_arguments(directory, git_root, include_archived, limit, before)
        if checked is None:
            return []
        directory, git_root, limit = checked
        try:
            if before is None:
                cursor: tuple[Any, ...] = FIRST_PAGE
            else:
                before_id = before if isinstance(before, str) else before.id
                found = self._conn.execute(
                    _sql.SESSION_CURSOR, {"session_id": before_id}
                ).fetchone()
                if found is None:
                    raise SessionNotFound(f"session {before_id!r} (the page cursor) does not exist")
                cursor = found if isinstance(before, str) else (before.updated_at, found[1])
            sql = _LIST_SQL[list_filter(directory, git_root), include_archived]
            params = {
                "cursor_updated_at": cursor[0],
                "cursor_sid": cursor[1],
                "limit": limit,
                "directory": directory,
                "git_root": git_root,
            }
            rows = self._conn.execute(sql, params)
            return list(map(_new_tuple, repeat(SessionSummary), rows))
        except (apsw.Error, UnicodeError) as exc:
            raise self.translate_error(exc, "listing sessions") from None

    # -- import (export/import, sync) -----------------------------------------

    def get_all_metadata(self, session_id: str) -> dict[str, str]:
        """Every metadata key and value of a session (empty for none or no session)."""
        if not _v.lookup_text(session_id, "session id"):
            return {}
        try:
            rows = self._conn.execute(_sql.METADATA_ALL, {"session_id": session_id})
            return {cast(str, key): cast(str, value) for key, value in rows}
        except (apsw.Error, UnicodeError) as exc:
            self.read_failed(exc, f"reading metadata of session {session_id!r}")
            return {}

    def import_session(
        self,
        session: StoredSession | SessionSummary,
        events: Iterable[StoredEvent],
        *,
        merge: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> int:
        """Write a session and its events with their original ids, parents and timestamps.

        All in one transaction: on any error nothing is written. ``events`` are
        taken in append order (parents before children). Without ``merge``, an
        existing session id is :class:`DuplicateId`. With ``merge=True``
        (sync's pull), an existing session — the same directory, git root and
        creation time, else :class:`DuplicateId` — receives only the events it
        lacks: identical events already stored are skipped, an event whose id
        exists with different content raises :class:`DuplicateId` naming it.
        The head follows the newer activity; archiving is kept. The rules are
        :mod:`convstore._importplan`'s, shared with the PostgreSQL backend.
        Returns the number of events inserted.

        >>> with SessionStore(":memory:") as a, SessionStore(":memory:") as b:
        ...     _ = a.create_session("s1")
        ...     _ = a.append_event("s1", "e1", None, "i", "t", "{}")
        ...     b.import_session(a.get_session("s1"), a.load_events("s1"))
        1
        """
        from .._importplan import check_import, plan_import, references  # import and sync only

        evs, meta = check_import(session, events, metadata)
        with Atomic(self, f"importing session {session.id!r}") as conn:
            row = conn.execute(_sql.SESSION_GET, (session.id,)).fetchone()
            state = None if row is None else self.session_state(session.id)
            existing: dict[str, StoredEvent] = {}
            for ev in evs:
                found = conn.execute(_sql.EVENT_GET_BY_ID, {"event_id": ev.id}).fetchone()
                if found is not None:
                    existing[ev.id] = _new_tuple(StoredEvent, found)
            plan = plan_import(
                session,
                evs,
                merge=merge,
                stored=None if row is None else _stored_state(row),
                existing=existing,
                known=[
                    ref
                    for ref in references(session, evs)
                    if state is not None
                    and conn.execute(_sql.EVENT_IN_SESSION, {"event_id": ref, "sid": state[0]}).get
                ],
                stored_metadata=self.get_all_metadata(session.id) if row and meta else None,
                metadata=meta,
            )
            self._write_import(conn, session, plan, state)
        return len(plan.events)

    def _write_import(
        self,
        conn: apsw.Connection,
        session: StoredSession | SessionSummary,
        plan: ImportPlan,
        state: tuple[int, int | None, int] | None,
    ) -> None:
        """Execute an import plan inside the import's transaction."""
        if state is None:
            conn.execute(
                _sql.SESSION_IMPORT_INSERT,
                {
                    "session_id": session.id,
                    "head_id": None,  # set with the events, below
                    "server_session_id": plan.server_session_id,
                    "directory": session.directory,
                    "git_root": session.git_root,
                    "created_at": session.created_at,
                    "updated_at": plan.updated_at,
                    "archived_at": plan.archived_at,
                },
            )
            sid, count = conn.last_insert_rowid(), 0
        else:
            sid, count = state[0], state[2]
        for ev in plan.events:
            count += 1
            conn.execute(_sql.EVENT_APPEND_BATCH_ROW, event_row(sid, count, ev, ev.created_at))
        if plan.touch:  # always when events were added: their count records the search work
            conn.execute(
                _sql.SESSION_SET_IMPORTED_STATE,
                {
                    "sid": sid,
                    "head_id": plan.head_id,
                    "server_session_id": plan.server_session_id,
                    "updated_at": plan.updated_at,
                    "archived_at": plan.archived_at,
                    "event_count": count,
                },
            )
        self.catch_up_search()  # after the count moved: the watermark is recorded
        for key, value in plan.metadata:
            conn.execute(
                _sql.METADATA_IMPORT,
                {"sid": sid, "key": key, "value": value, "updated_at": plan.updated_at},
            )

    # -- history tools: search, export/import, retention --------------------
    # Their code lives in convstore.sqlite.search, convstore.sqlite.exporting and
    # convstore.sqlite.retention, which use only this class's public surface (atomic,
    # translate_error, connection, search_indexing). Each is a method here by
    # reference, imported on first use: no copied signatures, and
    # ``import convstore`` loads none of them.

    if TYPE_CHECKING:
        search = search_tool.search
        search_fields = search_tool.search_fields
        set_search_indexing = search_tool.set_search_indexing
        configure_search = search_tool.configure_search
        export_jsonl = exporting.export_jsonl
        import_jsonl = exporting.import_jsonl
        purge = retention.purge
        compact = lifecycle.compact
        record_usage = lifecycle.record_usage
        usage = lifecycle.usage
        apply_retention = retention.apply_retention
    else:
        search = _ToolMethod("sqlite.search", "search")
        search_fields = _ToolMethod("sqlite.search", "search_fields")
        set_search_indexing = _ToolMethod("sqlite.search", "set_search_indexing")
        configure_search = _ToolMethod("sqlite.search", "configure_search")
        export_jsonl = _ToolMethod("sqlite.exporting", "export_jsonl")
        import_jsonl = _ToolMethod("sqlite.exporting", "import_jsonl")
        purge = _ToolMethod("sqlite.retention", "purge")
        # The conversation lifecycle (SPEC §9): convstore.lifecycle, convstore.sqlite.retention.
        compact = _ToolMethod("lifecycle", "compact")
        record_usage = _ToolMethod("lifecycle", "record_usage")
        usage = _ToolMethod("lifecycle", "usage")
        apply_retention = _ToolMethod("sqlite.retention", "apply_retention")

    def search_indexing(self) -> bool:
        """Whether this database keeps new events in the full-text index (default: on).

        >>> with SessionStore(":memory:") as store:
        ...     store.search_indexing()
        True
        """
        try:
            value = self._conn.execute(_sql.SEARCH_INDEXING_GET).get
        except apsw.Error as exc:
            raise self.translate_error(exc, "reading the search setting") from None
        self._search_index = value != "off"  # another process may have switched it
        return self._search_index


_LIST_SQL = listing_statements(_sql)

"""Retention: delete archived sessions for good, in short transactions.

:func:`purge` removes every session archived before a cutoff together with
its events, metadata and search-index rows. It works in batches of at most
``batch_size`` events (a session larger than that is taken apart over several
batches, newest events first), each batch its own short ``BEGIN IMMEDIATE``
transaction, so a client appending to a live session waits milliseconds, not
the length of the purge. An interrupted purge leaves whole batches done and
simply continues when run again.

Deleted pages go to SQLite's free list and are reused by later writes; pass
``vacuum=True`` to also give the space back to the file system (``VACUUM``,
or ``PRAGMA incremental_vacuum`` on a database created with
``auto_vacuum=INCREMENTAL``) after merging the search index's segments.

>>> from convstore import SessionStore
>>> now = [1_700_000_000]
>>> with SessionStore(":memory:", clock=lambda: now[0]) as store:
...     _ = store.create_session("old")
...     _ = store.append_event("old", "e1", None, "i", "user", '{"content": "bye"}')
...     store.archive_session("old")
...     now[0] += 86_400
...     store.purge(archived_before=now[0] - 3600)
PurgeReport(sessions=1, events=1, metadata=0, batches=1, dry_run=False, bytes_freed=0)
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol, cast

import apsw

from .. import _lifecycle_sql as _L
from .. import _validate as _v
from ..errors import InvalidArgument
from . import _sql

if TYPE_CHECKING:
    from .store import SessionStore

__all__ = [
    "PurgeReport",
    "purge",
    "DEFAULT_BATCH_SIZE",
    "RetentionPolicy",
    "RetentionReport",
    "apply_retention",
    "DatabaseStats",
    "database_stats",
]

#: Events deleted per transaction by default: a few milliseconds of write lock.
DEFAULT_BATCH_SIZE = 2000
_AUTO_VACUUM_INCREMENTAL = 2
_INT64_MAX = (1 << 63) - 1
_new_tuple = tuple.__new__


class PurgeReport(NamedTuple):
    """What :func:`purge` removed (or, with ``dry_run``, would remove)."""

    sessions: int
    events: int
    metadata: int
    batches: int
    dry_run: bool
    bytes_freed: int


def _as_cutoff(archived_before: object) -> int:
    """Whole seconds keeping ``archived_at < archived_before`` exact (1.5 -> 2, never 1)."""
    return _v.cutoff(archived_before, "archived_before")


def _purge_counts(store: SessionStore, cutoff: int) -> PurgeReport:
    """What :func:`purge` would delete (its ``dry_run``): counts only, nothing written."""
    conn = store.connection
    try:
        counts = [
            conn.execute(sql, {"cutoff": cutoff}).get
            for sql in (
                _sql.PURGE_COUNT_SESSIONS,
                _sql.PURGE_COUNT_EVENTS,
                _sql.PURGE_COUNT_METADATA,
            )
        ]
    except apsw.Error as exc:
        raise store.translate_error(exc, "counting sessions to purge") from None
    return PurgeReport(int(counts[0]), int(counts[1]), int(counts[2]), 0, True, 0)


def purge(
    store: SessionStore,
    *,
    archived_before: int,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    vacuum: bool = False,
    progress: Callable[[PurgeReport], None] | None = None,
) -> PurgeReport:
    """Delete sessions archived before ``archived_before`` (Unix seconds), for good.

    Their events, metadata and search-index rows go too, in batches of at
    most ``batch_size`` events, each its own short write transaction.
    ``dry_run`` only counts. ``vacuum`` then returns the freed space to
    the file system. Returns a :class:`~convstore.sqlite.retention.PurgeReport`;
    ``progress`` gets the running report after every batch. Live
    (unarchived) sessions are never touched.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
    ...     _ = store.create_session("s1")
    ...     store.archive_session("s1")
    ...     store.purge(archived_before=1_800_000_000, dry_run=True).sessions
    1
    """
    cutoff = _as_cutoff(archived_before)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument(f"batch_size must be a positive int: {batch_size!r}")
    _v.integer(batch_size, "batch_size", low=1)
    _v.boolean(dry_run, "dry_run")
    _v.boolean(vacuum, "vacuum")
    if progress is not None and not callable(progress):
        raise InvalidArgument(f"progress must be a callable or None, got {type(progress).__name__}")
    if dry_run:
        return _purge_counts(store, cutoff)
    report = purge_in_batches(lambda: _SqliteBatch.of(store, cutoff), batch_size, progress)
    return report._replace(bytes_freed=_vacuum(store)) if vacuum else report


class PurgeBatch(Protocol):
    """One purge batch's statements, inside its own write transaction (either backend)."""

    def candidates(self, after: int, limit: int) -> Sequence[int]:
        """Storage keys of sessions to purge above ``after``, in key order, at most ``limit``."""
        ...

    def delete_events(self, sid: int, budget: int) -> int:
        """Delete at most ``budget`` of the session's events; how many went."""
        ...

    def has_events(self, sid: int) -> bool:
        """Whether the session still has events (after :meth:`delete_events`)."""
        ...

    def delete_rest(self, sid: int) -> tuple[int, int]:
        """Delete the session's metadata, then the session: ``(metadata rows, sessions)``."""
        ...


def purge_in_batches(
    batch: Callable[[], contextlib.AbstractContextManager[PurgeBatch]],
    batch_size: int,
    progress: Callable[[PurgeReport], None] | None,
) -> PurgeReport:
    """The purge loop of both backends: batches of at most ``batch_size`` events.

    Each ``with batch() as ops:`` is one short write transaction: the next
    candidate sessions, their events up to the batch's budget (a huge session
    spreads over several batches), then, once a session has no events left,
    its metadata and its row (one unit of budget). ``progress`` gets the
    running report after every batch; so local and server reports are the
    same batch by batch.
    """
    sessions = events = metadata = batches = 0
    after = 0
    while True:
        with batch() as ops:
            candidates = ops.candidates(after, batch_size)
            budget = batch_size
            for sid in candidates:
                if budget <= 0:
                    break
                deleted = ops.delete_events(sid, budget)
                events += deleted
                budget -= deleted
                if budget <= 0 and ops.has_events(sid):
                    break  # the rest of this session goes in the next batch
                meta, gone = ops.delete_rest(sid)
                metadata += meta
                sessions += gone
                budget -= 1
                after = sid
        if not candidates:
            break
        batches += 1
        if progress is not None:
            progress(PurgeReport(sessions, events, metadata, batches, False, 0))
    return PurgeReport(sessions, events, metadata, batches, False, 0)


class _SqliteBatch:
    """:class:`PurgeBatch` on the local store's write connection."""

    __slots__ = ("_conn", "_cutoff")

    def __init__(self, conn: apsw.Connection, cutoff: int) -> None:
        self._conn = conn
        self._cutoff = cutoff

    @classmethod
    @contextlib.contextmanager
    def of(cls, store: SessionStore, cutoff: int) -> Iterator[_SqliteBatch]:
        write = store.atomic(f"purging sessions archived before {cutoff}")
        with write as conn:
            # Index pending events first: the delete trigger removes index rows.
            write.catch_up_search()
            yield cls(conn, cutoff)

    def candidates(self, after: int, limit: int) -> Sequence[int]:
        params = {"cutoff": self._cutoff, "after_sid": after, "limit": limit}
        return [cast(int, row[0]) for row in self._conn.execute(_sql.PURGE_CANDIDATES, params)]

    def delete_events(self, sid: int, budget: int) -> int:
        self._conn.execute(_sql.PURGE_EVENTS_CHUNK, {"sid": sid, "budget": budget})
        return self._conn.changes()

    def has_events(self, sid: int) -> bool:
        return bool(self._conn.execute(_sql.PURGE_HAS_EVENTS, {"sid": sid}).fetchall())

    def delete_rest(self, sid: int) -> tuple[int, int]:
        self._conn.execute(_sql.PURGE_METADATA, {"sid": sid})
        metadata = self._conn.changes()
        self._conn.execute(_sql.PURGE_SESSION, {"sid": sid})
        return metadata, self._conn.changes()


def _vacuum(store: SessionStore) -> int:
    """Merge the search index, then return free pages to the file system; bytes freed."""
    conn = store.connection
    doing = "compacting the database after a purge"
    try:
        before = int(conn.execute(_sql.PRAGMA_PAGE_COUNT).get)
        with store.atomic(doing):
            conn.execute(_sql.SEARCH_OPTIMIZE)
        if conn.execute(_sql.PRAGMA_AUTO_VACUUM).get == _AUTO_VACUUM_INCREMENTAL:
            conn.execute(_sql.PRAGMA_INCREMENTAL_VACUUM).fetchall()
        else:
            conn.execute(_sql.VACUUM)
        after = int(conn.execute(_sql.PRAGMA_PAGE_COUNT).get)
        size = int(conn.execute(_sql.PRAGMA_PAGE_SIZE).get)
    except apsw.Error as exc:
        raise store.translate_error(exc, doing) from None
    return max(0, before - after) * size


# -- retention policies (issue 18, SPEC §9) ------------------------------------

_DAY = 86_400
_MAX_DAYS = 1_000_000
_MAX_BYTES = 1 << 62


def _days(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{what} must be a number of days or None, got {value!r}")
    if not (math.isfinite(value) and 0 <= value <= _MAX_DAYS):
        raise InvalidArgument(f"{what} must be between 0 and {_MAX_DAYS} days: {value!r}")
    return float(value)


class RetentionPolicy:
    """What :meth:`~convstore.SessionStore.apply_retention` may do; every rule is opt-in.

    * ``archive_idle_days``: archive live sessions with no activity for that long;
    * ``delete_archived_after_days``: delete sessions archived at least that long ago;
    * ``max_bytes``: when the stored data exceeds it, also delete archived
      sessions, oldest archive first, until it fits (live sessions never).

    >>> RetentionPolicy(archive_idle_days=30, max_bytes=10**9)
    RetentionPolicy(archive_idle_days=30.0, delete_archived_after_days=None, max_bytes=1000000000)
    >>> RetentionPolicy(max_bytes=-1)
    Traceback (most recent call last):
    ...
    convstore.errors.InvalidArgument: max_bytes must be an int between 0 and 4611686018427387904: -1
    """

    __slots__ = ("archive_idle_days", "delete_archived_after_days", "max_bytes")

    archive_idle_days: float | None
    delete_archived_after_days: float | None
    max_bytes: int | None

    def __init__(
        self,
        *,
        archive_idle_days: float | None = None,
        delete_archived_after_days: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        if max_bytes is not None and (
            isinstance(max_bytes, bool)
            or not isinstance(max_bytes, int)
            or not 0 <= max_bytes <= _MAX_BYTES
        ):
            raise InvalidArgument(
                f"max_bytes must be an int between 0 and {_MAX_BYTES}: {max_bytes!r}"
            )
        object.__setattr__(self, "archive_idle_days", _days(archive_idle_days, "archive_idle_days"))
        object.__setattr__(
            self,
            "delete_archived_after_days",
            _days(delete_archived_after_days, "delete_archived_after_days"),
        )
        object.__setattr__(self, "max_bytes", max_bytes)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("RetentionPolicy is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetentionPolicy) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[float | None, float | None, int | None]:
        return (self.archive_idle_days, self.delete_archived_after_days, self.max_bytes)

    def __repr__(self) -> str:
        return (
            f"RetentionPolicy(archive_idle_days={self.archive_idle_days!r}, "
            f"delete_archived_after_days={self.delete_archived_after_days!r}, "
            f"max_bytes={self.max_bytes!r})"
        )


class RetentionReport(NamedTuple):
    """What :func:`apply_retention` did — or, with ``dry_run``, exactly what it would do.

    ``archived``/``deleted`` are session ids; ``bytes_freed`` is the stored
    size of the deleted sessions (events, metadata, usage rows);
    ``database_bytes`` the data's size before the run; ``over_budget`` is
    true when deleting every eligible archived session still leaves the data
    above ``max_bytes`` (live sessions are never deleted to fit).
    """

    dry_run: bool
    archived: tuple[str, ...]
    deleted: tuple[str, ...]
    events_deleted: int
    bytes_freed: int
    database_bytes: int
    over_budget: bool


def check_policy(policy: object, dry_run: object) -> RetentionPolicy:
    """Validate ``apply_retention``'s arguments (every backend runs this first)."""
    if not isinstance(policy, RetentionPolicy):
        raise InvalidArgument(f"policy must be a RetentionPolicy, got {type(policy).__name__}")
    if not isinstance(dry_run, bool):
        raise InvalidArgument(f"dry_run must be True or False, got {dry_run!r}")
    return policy


def cutoff(now: int, days: float) -> int:
    """Unix seconds ``days`` before ``now``."""
    return now - int(days * _DAY)


def data_bytes(store: SessionStore) -> int:
    """Bytes of the database file in use (pages minus the free list)."""
    conn = store.connection
    pages = int(conn.execute(_sql.PRAGMA_PAGE_COUNT).get)
    free = int(conn.execute(_L.PRAGMA_FREELIST_COUNT).get)
    return (pages - free) * int(conn.execute(_sql.PRAGMA_PAGE_SIZE).get)


class _Plan(NamedTuple):
    archive: list[tuple[int, str]]
    delete: list[tuple[int, str, int, int]]  # sid, id, bytes, events
    database_bytes: int
    over_budget: bool
    idle_cutoff: int


def _plan(store: SessionStore, policy: RetentionPolicy, now: int) -> _Plan:
    conn = store.connection
    archive: list[tuple[int, str]] = []
    idle_cutoff = 0
    if policy.archive_idle_days is not None:
        idle_cutoff = cutoff(now, policy.archive_idle_days)
        idle = conn.execute(_L.RETENTION_IDLE_LIVE, {"cutoff": idle_cutoff})
        archive = [(r[0], r[1]) for r in idle]
    delete: list[tuple[int, str, int, int]] = []
    chosen: set[int] = set()

    def add(sid: int, sid_text: str) -> int:
        freed, count = conn.execute(_L.RETENTION_SESSION_BYTES, {"sid": sid}).fetchone() or (0, 0)
        delete.append((sid, sid_text, int(freed or 0), int(count or 0)))
        chosen.add(sid)
        return int(freed or 0)

    if policy.delete_archived_after_days is not None:
        before = cutoff(now, policy.delete_archived_after_days) + 1  # archived at or before
        for row in conn.execute(_L.RETENTION_ARCHIVED, {"cutoff": before}).fetchall():
            add(cast(int, row[0]), cast(str, row[1]))
    size = data_bytes(store)
    over = False
    if policy.max_bytes is not None:
        remaining = size - sum(d[2] for d in delete)
        if remaining > policy.max_bytes:
            for row in conn.execute(_L.RETENTION_ARCHIVED, {"cutoff": _INT64_MAX}).fetchall():
                if row[0] in chosen:
                    continue
                remaining -= add(cast(int, row[0]), cast(str, row[1]))
                if remaining <= policy.max_bytes:
                    break
            over = remaining > policy.max_bytes
    return _Plan(archive, delete, size, over, idle_cutoff)


def apply_retention(
    store: SessionStore, policy: RetentionPolicy, *, dry_run: bool = True
) -> RetentionReport:
    """Apply a retention policy — by default only report what it would do.

    ``store.apply_retention(policy, dry_run=True)``: archives live sessions
    idle longer than ``archive_idle_days``; deletes sessions archived longer
    than ``delete_archived_after_days`` ago, and (oldest archive first) as
    many more archived sessions as it takes to bring the data under
    ``max_bytes``. A live session is never deleted. Returns a
    :class:`RetentionReport`; a real run reports exactly what the dry run did.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     store.apply_retention(RetentionPolicy(archive_idle_days=30)).archived
    ()

    The plan is read from one snapshot; a real run then archives in one short
    transaction and deletes each session in batches of
    :data:`DEFAULT_BATCH_SIZE` events, re-checking inside every write that
    the session is still idle (to archive) or still archived (to delete).
    """
    policy = check_policy(policy, dry_run)
    conn = store.connection
    now = store.now()
    doing = "planning retention"
    try:
        conn.execute(_sql.BEGIN_DEFERRED)
        try:
            plan = _plan(store, policy, now)
        finally:
            if conn.in_transaction:
                conn.execute(_sql.COMMIT)
    except apsw.Error as exc:
        raise store.translate_error(exc, doing) from None
    if dry_run:
        return RetentionReport(
            True,
            tuple(a[1] for a in plan.archive),
            tuple(d[1] for d in plan.delete),
            sum(d[3] for d in plan.delete),
            sum(d[2] for d in plan.delete),
            plan.database_bytes,
            plan.over_budget,
        )
    archived: list[str] = []
    if plan.archive:
        with store.atomic("archiving idle sessions") as write:
            for sid, sid_text in plan.archive:
                params = {"now": now, "sid": sid, "cutoff": plan.idle_cutoff}
                write.execute(_L.RETENTION_ARCHIVE, params)
                if write.changes():
                    archived.append(sid_text)
    deleted: list[str] = []
    events = freed = 0
    for sid, sid_text, size, count in plan.delete:
        if _delete_archived(store, sid, sid_text):
            deleted.append(sid_text)
            events += count
            freed += size
    return RetentionReport(
        False,
        tuple(archived),
        tuple(deleted),
        events,
        freed,
        plan.database_bytes,
        plan.over_budget,
    )


def _delete_archived(store: SessionStore, sid: int, sid_text: str) -> bool:
    """Delete one archived session in short batches; ``False`` when it is not archived."""
    doing = f"deleting archived session {sid_text!r}"
    while True:
        with store.atomic(doing) as conn:
            # Index pending events first: the delete trigger removes index rows.
            store.catch_up_search()
            if not conn.execute(_L.RETENTION_IS_ARCHIVED, {"sid": sid}).fetchall():
                done, result = True, False  # gone, or live again: never delete it
            else:
                conn.execute(_sql.PURGE_EVENTS_CHUNK, {"sid": sid, "budget": DEFAULT_BATCH_SIZE})
                done = not conn.execute(_sql.PURGE_HAS_EVENTS, {"sid": sid}).fetchall()
                if done:
                    conn.execute(_sql.PURGE_METADATA, {"sid": sid})
                    conn.execute(_sql.PURGE_SESSION, {"sid": sid})
                result = True
        if done:
            return result


# -- stats -----------------------------------------------------------------------


class SessionSize(NamedTuple):
    """One session's stored size, for :func:`database_stats`."""

    id: str
    events: int
    bytes: int
    updated_at: int
    archived_at: int | None


class DayGrowth(NamedTuple):
    """What one UTC day (``YYYY-MM-DD``) added."""

    day: str
    sessions: int
    events: int
    bytes: int


class DatabaseStats(NamedTuple):
    """What ``convstore stats`` prints: size, largest sessions, growth per day."""

    file_bytes: int
    data_bytes: int
    sessions: int
    archived_sessions: int
    events: int
    largest: tuple[SessionSize, ...]
    growth: tuple[DayGrowth, ...]


def database_stats(store: SessionStore, *, top: int = 10, days: int = 7) -> DatabaseStats:
    """Size of the database, its ``top`` largest sessions and the last ``days`` days' growth.

    Reads only (one snapshot). The largest sessions and the growth scan the
    event log once each: seconds on a database of millions of events.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     database_stats(store).sessions
    0
    """
    for what, value, high in (("top", top, 10_000), ("days", days, 36_500)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise InvalidArgument(f"{what} must be an int between 0 and {high}: {value!r}")
    from ..lifecycle import usage_day_key

    conn = store.connection
    doing = "reading database statistics"
    try:
        conn.execute(_sql.BEGIN_DEFERRED)
        try:
            sessions, archived, events = conn.execute(_L.STATS_COUNTS).fetchone() or (0, 0, 0)
            largest = tuple(
                _new_tuple(SessionSize, row) for row in conn.execute(_L.STATS_LARGEST, {"top": top})
            )
            since = (store.now() // _DAY - days + 1) * _DAY
            made: dict[int, int] = {
                cast(int, d): cast(int, n)
                for d, n in conn.execute(_L.STATS_GROWTH_SESSIONS, {"since": since})
            }
            added: dict[int, tuple[int, int]] = {
                cast(int, d): (cast(int, n), cast(int, b))
                for d, n, b in conn.execute(_L.STATS_GROWTH_EVENTS, {"since": since})
            }
            growth = tuple(
                DayGrowth(usage_day_key(d), int(made.get(d, 0)), *added.get(d, (0, 0)))
                for d in sorted(set(made) | set(added))
            )
            size = data_bytes(store)
        finally:
            if conn.in_transaction:
                conn.execute(_sql.COMMIT)
    except apsw.Error as exc:
        raise store.translate_error(exc, doing) from None
    file_bytes = 0
    if store.path != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                file_bytes += os.path.getsize(store.path + suffix)
    return DatabaseStats(
        file_bytes, size, int(sessions), int(archived), int(events), largest, growth
    )

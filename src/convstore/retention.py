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

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, cast

import apsw

from . import _sql
from .errors import InvalidArgument

if TYPE_CHECKING:
    from .store import SessionStore

__all__ = ["PurgeReport", "purge", "DEFAULT_BATCH_SIZE"]

#: Events deleted per transaction by default: a few milliseconds of write lock.
DEFAULT_BATCH_SIZE = 2000
_AUTO_VACUUM_INCREMENTAL = 2


class PurgeReport(NamedTuple):
    """What :func:`purge` removed (or, with ``dry_run``, would remove)."""

    sessions: int
    events: int
    metadata: int
    batches: int
    dry_run: bool
    bytes_freed: int


def _as_cutoff(archived_before: object) -> int:
    if isinstance(archived_before, bool) or not isinstance(archived_before, int | float):
        raise InvalidArgument(
            f"archived_before must be Unix seconds (int), got {archived_before!r}"
        )
    return int(archived_before)


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
    the file system. Returns a :class:`~convstore.retention.PurgeReport`;
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
    conn = store.connection
    if dry_run:
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

    sessions = events = metadata = batches = 0
    after_sid = 0
    while True:
        write = store.atomic(f"purging sessions archived before {cutoff}")
        with write:
            # Index pending events first: the delete trigger removes index rows.
            write.catch_up_search()
            candidates = conn.execute(
                _sql.PURGE_CANDIDATES,
                {"cutoff": cutoff, "after_sid": after_sid, "limit": batch_size},
            ).fetchall()
            budget = batch_size
            for row in candidates:
                sid = cast(int, row[0])
                if budget <= 0:
                    break
                conn.execute(_sql.PURGE_EVENTS_CHUNK, {"sid": sid, "budget": budget})
                deleted = conn.changes()
                events += deleted
                budget -= deleted
                if budget <= 0 and conn.execute(_sql.PURGE_HAS_EVENTS, {"sid": sid}).fetchall():
                    break  # the rest of this session goes in the next batch
                conn.execute(_sql.PURGE_METADATA, {"sid": sid})
                metadata += conn.changes()
                conn.execute(_sql.PURGE_SESSION, {"sid": sid})
                sessions += conn.changes()
                budget -= 1
                after_sid = sid
        if not candidates:
            break
        batches += 1
        if progress is not None:
            progress(PurgeReport(sessions, events, metadata, batches, False, 0))
    freed = _vacuum(store) if vacuum else 0
    return PurgeReport(sessions, events, metadata, batches, False, freed)


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

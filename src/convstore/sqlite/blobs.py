"""What agent frameworks need beyond the conversation log: blobs, deletion, a bare head.

These are the SQLite side of :class:`~convstore.service.ExtendedSessionService`
(what :class:`~convstore.LocalSessionService` exposes), written as functions
on an open :class:`~convstore.SessionStore` so the integrations add a module
instead of editing ``store.py``:

- **blobs** (migration 0008, table ``session_blobs``): raw bytes attached to
  a session under a ``namespace`` and a ``key``, with small JSON ``meta`` the
  caller can filter on. LangGraph's checkpoints and pending writes live here,
  as bytes, not base64 text.
- :func:`delete_session` removes a session with its events, metadata and
  blobs, for good (ADK's ``delete_session``, LangGraph's ``delete_thread``);
  the id can then be created again.
- :func:`clear_head` moves a session's head back to "no event" (the events
  stay): undoing the first item of a conversation.

>>> from convstore import SessionStore
>>> with SessionStore(":memory:") as store:
...     _ = store.create_session("t1")
...     put_blobs(store, "t1", "ckpt", [("0001", '{"step": 1}', b"\\x00\\x01")])
...     get_blob(store, "t1", "ckpt", "0001").data
b'\\x00\\x01'
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import apsw

from .. import _validate as _v
from .._common import COMPACTION_EVENT_TYPE
from ..errors import InvalidArgument, SessionArchived, SessionNotFound, StoreError
from . import _blobsql

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ..models import StoredEvent, StoredSession
    from .store import SessionStore

__all__ = [
    "ANY_HEAD",
    "Blob",
    "HeadMoved",
    "SessionTail",
    "check_metadata_if",
    "check_tail",
    "get_session_with_tail",
    "set_metadata_if",
    "append_event_with_metadata",
    "archive_session_with_metadata",
    "create_session_with_metadata",
    "get_blob_with_children",
    "append_events_at_head",
    "has_summary",
    "history_tail",
    "history_tail_values",
    "tail_values",
    "tuples",
    "pop_head",
    "clear_head",
    "delete_blobs",
    "delete_session",
    "get_blob",
    "latest_blob",
    "list_blobs",
    "check_blob_listing",
    "BlobListing",
    "put_blobs",
    "prefix_range",
]

_TOP = "\U0010ffff"


class Blob(NamedTuple):
    """One stored blob: where it is, its JSON ``meta`` text and its raw ``data``."""

    session_id: str
    namespace: str
    key: str
    meta: str
    data: bytes
    created_at: int


class SessionTail(NamedTuple):
    """A session as one snapshot saw it (:func:`get_session_with_tail`).

    ``events`` are the tail of the history of the chain that ends at
    ``session.head_id`` (its last event is the head unless a compaction
    summary, shown first, is the head), and ``metadata`` holds every key and
    value the session had at that same moment.
    """

    session: StoredSession
    events: list[StoredEvent]
    metadata: dict[str, str]


def prefix_range(prefix: str) -> tuple[str, str]:
    """``(low, high)`` such that ``low <= s < high`` holds for every ``s`` starting with ``prefix``.

    >>> prefix_range("ab") == ("ab", "ab\\U0010ffff")
    True
    """
    return prefix, prefix + _TOP


def tuples(items: object, size: int, what: str) -> list[tuple[Any, ...]]:
    """``items`` as a list of ``size``-tuples, or :class:`InvalidArgument` naming ``what``.

    >>> tuples([("k", "{}", b"")], 3, "blob (key, meta, data)")
    [('k', '{}', b'')]
    """
    if isinstance(items, str | bytes) or not hasattr(items, "__iter__"):
        raise InvalidArgument(f"expected an iterable of {what} tuples, got {type(items).__name__}")
    out = []
    for item in items:  # type: ignore[attr-defined,unused-ignore]
        if not isinstance(item, tuple | list) or len(item) != size:
            raise InvalidArgument(f"each item must be a {what} tuple, got {item!r:.80}")
        out.append(tuple(item))
    return out


def _sql_limit(limit: int | None) -> int:
    """A ``LIMIT`` SQLite can bind: ``-1`` (none) for ``None`` and past 64 bits."""
    return -1 if limit is None or limit >= 1 << 62 else limit


def _check_text(value: object, what: str) -> str:
    """A ``str`` both backends can store (valid UTF-8, no NUL): :func:`convstore._validate.text`."""
    from .. import _validate

    return _validate.text(value, what)


def _sid(store: SessionStore, session_id: str, *, live: bool) -> int:
    state = store.session_state(session_id)
    if state is None:
        raise SessionNotFound(f"session {session_id!r} does not exist")
    if live and state[1] is not None:
        raise SessionArchived(
            f"session {session_id!r} is archived; start a new session to continue"
        )
    return state[0]


def put_blobs(
    store: SessionStore,
    session_id: str,
    namespace: str,
    items: Iterable[tuple[str, str, bytes]],
    *,
    replace: bool = True,
) -> None:
    """Store ``(key, meta, data)`` blobs of one session in one transaction (all or nothing).

    ``replace`` decides what happens to a key already stored: overwritten
    (True) or left as it was (False). Raises :class:`SessionNotFound`, and
    :class:`InvalidArgument` for a non-JSON ``meta`` or non-bytes ``data``.
    Blobs can be written to an archived session (they are not events).
    """
    _check_text(namespace, "blob namespace")
    rows = []
    for key, meta, data in tuples(items, 3, "blob (key, meta, data)"):
        _check_text(key, "blob key")
        _check_text(meta, "blob meta")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgument(f"blob {key!r}: data must be bytes, got {type(data).__name__}")
        rows.append((key, meta, bytes(data)))
    doing = f"storing {len(rows)} blobs in session {session_id!r}"
    with store.atomic(doing) as conn:
        sid = _sid(store, session_id, live=False)
        now = store.now()
        sql = _blobsql.BLOB_PUT_REPLACE if replace else _blobsql.BLOB_PUT_KEEP
        try:
            conn.executemany(
                sql,
                [
                    {
                        "sid": sid,
                        "namespace": namespace,
                        "key": key,
                        "meta": meta,
                        "data": data,
                        "created_at": now,
                    }
                    for key, meta, data in rows
                ],
            )
        except apsw.ConstraintError as exc:
            raise InvalidArgument(f"{doing}: meta is not valid JSON ({exc})") from None
        except UnicodeError as exc:
            raise InvalidArgument(f"{doing}: a value is not valid UTF-8 ({exc})") from None


def _read(store: SessionStore, sql: str, params: dict[str, object], doing: str) -> list[Blob]:
    try:
        return list(map(Blob._make, store.connection.execute(sql, params)))
    except (apsw.Error, UnicodeError) as exc:
        store.read_failed(exc, doing)
        return []


def get_blob(store: SessionStore, session_id: str, namespace: str, key: str) -> Blob | None:
    """One blob, or ``None`` (also when the session does not exist)."""
    rows = _read(
        store,
        _blobsql.BLOB_GET,
        {"session_id": session_id, "namespace": namespace, "key": key},
        f"reading blob {key!r} of session {session_id!r}",
    )
    return rows[0] if rows else None


def latest_blob(store: SessionStore, session_id: str, namespace: str) -> Blob | None:
    """The blob with the greatest key in one namespace of a session, or ``None``."""
    rows = _read(
        store,
        _blobsql.BLOB_LATEST,
        {"session_id": session_id, "namespace": namespace},
        f"reading the latest blob of session {session_id!r}",
    )
    return rows[0] if rows else None


def get_blob_with_children(
    store: SessionStore, session_id: str, namespace: str, key: str | None, child_namespace: str
) -> tuple[Blob | None, list[Blob]]:
    """One blob (``key``, or the latest in ``namespace`` when ``None``) and its children.

    The children are the blobs of ``child_namespace`` whose key is the
    blob's key, a tab, and anything (a checkpoint's pending writes), in key
    order. One statement, so one read snapshot.
    """
    try:
        found: list[Any] = store.connection.execute(
            _blobsql.BLOB_WITH_CHILDREN,
            {
                "session_id": session_id,
                "namespace": namespace,
                "key": key,
                "child": child_namespace,
            },
        ).fetchall()
    except (apsw.Error, UnicodeError) as exc:
        store.read_failed(exc, f"reading blob {key!r} of session {session_id!r}")
        return None, []
    if not found:
        return None, []
    # The rows are (key, meta, data, created_at): the session and namespaces are the
    # caller's, not fetched again per row.
    head = found[0]
    blob = Blob(session_id, namespace, head[0], head[1], head[2], head[3])
    return blob, [Blob(session_id, child_namespace, *row) for row in found[1:]]


class BlobListing(NamedTuple):
    """``list_blobs``' arguments, checked (:func:`check_blob_listing`)."""

    session_id: str | None
    namespace_prefix: str
    key_prefix: str
    exact: bool
    newest_first: bool
    before_key: str | None
    limit: int | None
    storable: bool  # False: a text that could never be stored, so nothing matches


def check_blob_listing(
    session_id: object,
    namespace_prefix: object,
    key_prefix: object,
    exact: object,
    newest_first: object,
    before_key: object,
    limit: object,
) -> BlobListing:
    """Validate ``list_blobs``' arguments (every backend runs this before reading)."""
    from .. import _validate as _v

    ok = (session_id is None or _v.lookup_text(session_id, "session id")) & _v.lookup_text(
        namespace_prefix, "namespace prefix"
    )
    ok &= _v.lookup_text(key_prefix, "key prefix")
    ok &= before_key is None or _v.lookup_text(before_key, "before_key")
    if limit is not None:
        _v.integer(limit, "limit")
    if newest_first and (not exact or session_id is None or key_prefix):
        raise InvalidArgument("newest_first needs exact=True, a session and no key prefix")
    values = (session_id, namespace_prefix, key_prefix, exact, newest_first, before_key, limit)
    return BlobListing._make((*values, ok))  # the types were checked above


def list_blobs(
    store: SessionStore,
    session_id: str | None,
    namespace_prefix: str = "",
    key_prefix: str = "",
    *,
    exact: bool = False,
    newest_first: bool = False,
    before_key: str | None = None,
    limit: int | None = None,
) -> list[Blob]:
    """Blobs whose namespace and key start with the prefixes, by session, namespace, key.

    ``session_id=None`` lists every session's blobs. ``exact``: the namespace
    must equal ``namespace_prefix`` (one index range instead of a prefix scan).
    ``newest_first`` (with ``exact`` and a session; no key prefix): greatest
    key first, only keys below ``before_key``, at most ``limit`` — one index
    range read backwards, so "the 10 newest" costs 10 rows. An argument of
    the wrong type is :class:`InvalidArgument`; a text that could never be
    stored matches nothing.
    """
    checked = check_blob_listing(
        session_id, namespace_prefix, key_prefix, exact, newest_first, before_key, limit
    )
    if not checked.storable:
        return []
    low, high = prefix_range(namespace_prefix)
    klow, khigh = prefix_range(key_prefix)
    if newest_first:
        return _read(
            store,
            _blobsql.BLOB_LIST_EXACT_DESC,
            {
                "session_id": session_id,
                "namespace": namespace_prefix,
                "before_key": _TOP if before_key is None else before_key,
                "limit": _sql_limit(limit),
            },
            f"listing blobs of {session_id!r}",
        )
    if exact and session_id is not None:
        return _read(
            store,
            _blobsql.BLOB_LIST_EXACT,
            {
                "session_id": session_id,
                "namespace": namespace_prefix,
                "key_low": klow,
                "key_high": khigh,
            },
            f"listing blobs of {session_id!r}",
        )
    sql = _blobsql.BLOB_LIST_ALL if session_id is None else _blobsql.BLOB_LIST
    ranges = {"low": low, "high": high, "key_low": klow, "key_high": khigh}
    return _read(
        store, sql, {"session_id": session_id, **ranges}, f"listing blobs of {session_id!r}"
    )


def delete_blobs(store: SessionStore, session_id: str, namespace_prefix: str = "") -> None:
    """Delete a session's blobs whose namespace starts with the prefix (nothing if no session)."""
    low, high = prefix_range(namespace_prefix)
    doing = f"deleting blobs of session {session_id!r}"
    with store.atomic(doing) as conn:
        state = store.session_state(session_id)
        if state is not None:
            conn.execute(_blobsql.BLOB_DELETE, {"sid": state[0], "low": low, "high": high})


def delete_session(store: SessionStore, session_id: str) -> bool:
    """Delete a session, its events, metadata and blobs, for good; ``False`` if there was none.

    Unlike :meth:`~convstore.SessionStore.archive_session` nothing is kept: a
    framework asked for deletion (ADK ``delete_session``, LangGraph
    ``delete_thread``). The id (and its events' ids) can be used again.
    """
    _check_text(session_id, "session id")
    doing = f"deleting session {session_id!r}"
    with store.atomic(doing) as conn:
        state = store.session_state(session_id)
        if state is not None:
            # As purge does: index what is pending first, so the index's delete
            # triggers see every row they must remove and no watermark is orphaned.
            store.catch_up_search()
            sid = {"sid": state[0]}
            conn.execute(_blobsql.DELETE_SESSION_EVENTS, sid)
            conn.execute(_blobsql.DELETE_SESSION_METADATA, sid)
            conn.execute(_blobsql.DELETE_SESSION_BLOBS, sid)
            conn.execute(_blobsql.DELETE_SESSION, sid)
    return state is not None


def clear_head(store: SessionStore, session_id: str) -> None:
    """Move the session's head back to "no event"; every event stays in the log.

    :meth:`~convstore.SessionStore.history` is then empty and the next
    append-at-head starts a new root. Raises :class:`SessionNotFound` and
    :class:`SessionArchived`.
    """
    doing = f"clearing the head of session {session_id!r}"
    with store.atomic(doing) as conn:
        conn.execute(_blobsql.SESSION_CLEAR_HEAD, {"session_id": session_id})
        if conn.changes() == 0:
            _sid(store, session_id, live=True)


def _append_at_head(
    store: SessionStore,
    conn: apsw.Connection,
    session_id: str,
    now: int,
    event_id: str,
    invocation_id: str,
    event_type: str,
    event_data: str,
) -> list[Any]:
    """Append one event after the session's head, inside ``store.atomic()``; its row or ``[]``.

    ``[]``: nothing was inserted (no such session, or it is archived); the
    head move that follows then changes nothing, and the caller decides
    whether that is an error.
    """
    from . import _sql

    row: list[Any] = conn.execute(
        _sql.EVENT_APPEND_AT_HEAD,
        {
            "event_id": event_id,
            "invocation_id": invocation_id,
            "event_type": event_type,
            "event_data": event_data,
            "now": now,
            "session_id": session_id,
        },
    ).fetchall()
    store.move_head(event_id, now, 1, session_id)
    return row


def append_events_at_head(
    store: SessionStore, session_id: str, items: Sequence[tuple[str, str, str, str]]
) -> list[StoredEvent]:
    """Append ``(event_id, invocation_id, event_type, event_data)`` items as one chain at the head.

    One write transaction: the first item's parent is the head *as read inside
    the write*, each next item's parent is the one before, and the head ends
    on the last. All or nothing; errors as
    :meth:`~convstore.SessionStore.append_event_at_head`.
    """
    from ..errors import InvalidEvent
    from ..models import StoredEvent

    items = tuples(items, 4, "(event_id, invocation_id, event_type, event_data)")
    for event_id, invocation_id, event_type, event_data in items:
        _check_text(event_id, "event id")
        _check_text(invocation_id, "invocation_id")
        _check_text(event_type, "event_type")
        if type(event_data) is not str:
            raise InvalidEvent(f"event {event_id!r}: event_data must be JSON text")
    if not items:
        return []
    doing = f"appending {len(items)} events to session {session_id!r}"
    out: list[StoredEvent] = []
    atomic = store.atomic(doing, items[0][0])
    with atomic as conn:
        now = store.now()
        for event_id, invocation_id, event_type, event_data in items:
            atomic.event_id = event_id
            row = _append_at_head(
                store, conn, session_id, now, event_id, invocation_id, event_type, event_data
            )
            if not row:
                raise store.why_not_appended(session_id, event_id, None)
            out.append(
                StoredEvent(
                    event_id,
                    session_id,
                    cast("str | None", row[0][0]),
                    invocation_id,
                    event_type,
                    event_data,
                    now,
                )
            )
    return out


def history_tail(
    store: SessionStore, session_id: str, limit: int | None, *, full: bool = False
) -> list[StoredEvent]:
    """The last ``limit`` events of :meth:`~convstore.SessionStore.history`, oldest first.

    Walks back from the head only ``limit`` steps (``None``: the whole chain),
    so reading the latest 200 items of a long conversation costs 200 rows.
    Like ``history()``, a compacted chain starts at its newest summary (SPEC
    §9); ``full=True`` returns the originals instead. When the tail read holds
    no summary it is already the folded history's tail; otherwise the whole
    chain is read and folded.
    """
    from ..models import StoredEvent

    if not check_tail(limit, full):
        return []
    doing = f"reading the history of session {session_id!r}"
    wanted = {"session_id": session_id, "limit": _sql_limit(limit)}
    try:
        rows: list[Any] = store.connection.execute(_blobsql.HISTORY_TAIL_LINEAR, wanted).fetchall()
        if _chains(rows, limit):
            rows.reverse()
            out = [StoredEvent(*row[1:]) for row in rows]
        else:
            chain = store.connection.execute(_blobsql.HISTORY_TAIL, wanted)
            out = [StoredEvent(*row) for row in chain]
    except (apsw.Error, UnicodeError) as exc:
        store.read_failed(exc, doing)
        return []
    if full or not has_summary(out):
        return out
    folded = store.history(session_id)
    return folded if limit is None else folded[-limit:]


def check_tail(limit: object, full: object) -> bool:
    """Check :func:`history_tail`'s ``limit`` and ``full`` (both backends); ``False``: no events.

    >>> check_tail(10, False), check_tail(0, True)
    (True, False)
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgument(f"limit must be an int or None: {limit!r}")
    if type(full) is not bool:
        raise InvalidArgument(f"full must be a bool: {full!r}")
    return limit is None or limit > 0


def get_session_with_tail(
    store: SessionStore, session_id: str, limit: int | None, *, full: bool = False
) -> SessionTail | None:
    """The session, the last ``limit`` events of its history and its metadata, from one snapshot.

    What :meth:`~convstore.SessionStore.get_session`, :func:`history_tail`
    (same ``limit`` and ``full``; ``0`` reads no events) and
    :meth:`~convstore.SessionStore.get_all_metadata` return, read in one
    read transaction, so an append landing meanwhile is either in all three
    or in none: the events are the history of ``session.head_id``'s chain and
    the metadata is the one written with them. A reader that remembers the head to make its
    next write conditional (the ADK adapter's stale-session check) reads
    this way. ``None`` when the session does not exist. Never waits for a
    writer (WAL). (The PostgreSQL service reads it with one statement, or a
    repeatable-read transaction when the tail forked or holds a summary.)

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     _ = store.create_session("s1")
    ...     _ = append_events_at_head(store, "s1", [("e1", "i", "t", "{}"), ("e2", "i", "t", "{}")])
    ...     store.set_metadata("s1", "k", "v")
    ...     got = get_session_with_tail(store, "s1", 1)
    ...     got.session.head_id, [e.id for e in got.events], got.metadata
    ('e2', ['e2'], {'k': 'v'})
    """
    wanted = check_tail(limit, full)
    if not _v.lookup_text(session_id, "session id"):
        return None
    from ._snapshot import read_snapshot

    try:
        with read_snapshot(store.connection):
            session = store.get_session(session_id)
            if session is None:
                return None
            events = history_tail(store, session_id, limit, full=full) if wanted else []
            metadata = store.get_all_metadata(session_id)
    except apsw.Error as exc:
        raise store.translate_error(exc, f"reading session {session_id!r}") from None
    return SessionTail(session, events, metadata)


def history_tail_values(
    store: SessionStore, session_id: str, limit: int | None
) -> list[Any] | None:
    """The parsed ``event_data`` of :func:`history_tail`'s events (oldest first), or ``None``.

    The fast path of a reader that only wants the data (the OpenAI Agents
    adapter's ``get_items``): one statement sums the newest ``limit`` events
    up in one row, so a page of 200 costs one row and one ``json.loads`` of
    one array instead of 200 row objects. ``None`` means "call
    :func:`history_tail`": the tail forked, or holds a compaction summary
    the caller must present.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgument(f"limit must be an int or None: {limit!r}")
    if limit is not None and limit <= 0:
        return []
    try:
        row = store.connection.execute(
            _blobsql.HISTORY_TAIL_DATA, {"session_id": session_id, "limit": _sql_limit(limit)}
        ).fetchone()
    except (apsw.Error, UnicodeError) as exc:
        store.read_failed(exc, f"reading the history of session {session_id!r}")
        return None
    assert row is not None
    return tail_values(row, limit)


def tail_values(row: Sequence[Any], limit: int | None) -> list[Any] | None:
    """Check one ``HISTORY_TAIL_DATA`` row (both backends): the values oldest first, or ``None``.

    The row's ids, parents and data lists come in one same order; when the
    ids chain from the head through the parents, that order is the head's
    chain backwards, so the data is the tail newest first (reversed here).
    A full page, or one that ends at a root, is the whole answer.
    """
    count, summaries, head, ids_text, parents_text, data = row
    if not count:
        return []
    if summaries or head is None:
        return None
    ids = ids_text.split("\x1f")
    parents = parents_text.split("\x1f")
    if len(ids) != count or len(parents) != count or ids[0] != head or parents[:-1] != ids[1:]:
        return None
    if count != limit and parents[-1] != "\x1e":
        return None  # a short page that does not reach the root: not the whole tail
    values: list[Any] = json.loads(data)
    values.reverse()
    return values


def has_summary(events: Sequence[StoredEvent]) -> bool:
    """Whether any of ``events`` is a compaction summary (its history needs folding)."""
    return any(event.event_type == COMPACTION_EVENT_TYPE for event in events)


def _chains(rows: list[Any], limit: int | None) -> bool:
    """Whether the newest events (head first) are the head's chain, as far as asked."""
    if not rows:
        return True  # no events at all: the history is empty
    expected = rows[0][0]  # the head
    for row in rows:
        if row[1] != expected:
            return False
        expected = row[3]  # its parent must be the next row
    # All rows chain. A full page is the tail; a short one must end at the root.
    return (limit is not None and len(rows) == limit) or expected is None


def pop_head(store: SessionStore, session_id: str) -> StoredEvent | None:
    """Move the head back to its parent and return the event it left (``None``: no head).

    The event stays in the log (:meth:`~convstore.SessionStore.load_events`
    still returns it); only the conversation the head describes loses it.
    One write transaction. Raises :class:`SessionArchived` for an archived
    session; an unknown session has nothing to pop (``None``).
    """
    from ..models import StoredEvent
    from . import _sql

    doing = f"popping the head of session {session_id!r}"
    with store.atomic(doing) as conn:
        row = conn.execute(_blobsql.SESSION_HEAD_EVENT, {"session_id": session_id}).fetchone()
        if row is None:
            state = store.session_state(session_id)
            if state is not None and state[1] is not None:
                _sid(store, session_id, live=True)
            popped = None
        else:
            popped = StoredEvent(*row)
            if popped.parent_id is None:
                conn.execute(_blobsql.SESSION_CLEAR_HEAD, {"session_id": session_id})
            else:
                params = {
                    "head_id": popped.parent_id,
                    "now": store.now(),
                    "session_id": session_id,
                }
                conn.execute(_sql.SESSION_SET_HEAD, params)
    return popped


class HeadMoved(StoreError):
    """The session's head is not the one the caller last saw: its copy is stale.

    Raised by :func:`append_event_with_metadata` when ``expected_head`` is
    given and differs; nothing was written.
    """


ANY_HEAD = "\x00any-head"
"""``expected_head`` value meaning "do not check the head"."""


def append_event_with_metadata(
    store: SessionStore,
    session_id: str,
    expected_head: str | None,
    event: tuple[str, str, str, str] | None,
    metadata: Sequence[tuple[str, str, str]] = (),
) -> StoredEvent | None:
    """Append one event at the head and upsert metadata, in one transaction.

    ``expected_head`` is the head the caller last saw (``None``: no event
    yet), or :data:`ANY_HEAD` to skip the check; a different head raises
    :class:`HeadMoved`. ``event`` is ``(event_id, invocation_id, event_type,
    event_data)`` or ``None`` (metadata only). ``metadata`` holds
    ``(session_id, key, value)`` upserts; they may target other sessions
    (shared state), which are created, empty, when missing. All or nothing.
    """
    from ..models import StoredEvent
    from . import _sql

    metadata = _check_metadata(metadata)
    doing = f"committing an event to session {session_id!r}"
    appended: StoredEvent | None = None
    with store.atomic(doing, None if event is None else event[0]) as conn:
        now = store.now()
        row = conn.execute(_sql.SESSION_GET, (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        if row[7] is not None:
            raise SessionArchived(
                f"session {session_id!r} is archived; start a new session to continue"
            )
        if expected_head != ANY_HEAD and row[1] != expected_head:
            raise HeadMoved(
                f"session {session_id!r} moved on (head {row[1]!r}, expected "
                f"{expected_head!r}): reload it"
            )
        _upsert_metadata(store, conn, now, metadata, {session_id})
        if event is not None:
            event_id, invocation_id, event_type, event_data = event
            parent = _append_at_head(store, conn, session_id, now, *event)
            appended = StoredEvent(
                event_id,
                session_id,
                cast("str | None", parent[0][0]),
                invocation_id,
                event_type,
                event_data,
                now,
            )
    return appended


def _check_metadata(metadata: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    rows = tuples(metadata, 3, "metadata (session_id, key, value)")
    for target, key, value in rows:
        _check_text(target, "session id")
        _check_text(key, "metadata key")
        _check_text(value, "metadata value")
    return rows


def _upsert_metadata(
    store: SessionStore,
    conn: apsw.Connection,
    now: int,
    metadata: Sequence[tuple[str, str, str]],
    known: set[str],
) -> None:
    """Upsert ``(session_id, key, value)`` rows inside ``store.atomic()``.

    A target session that does not exist (and is not in ``known``) is created
    empty first: shared state lives on sessions of its own.
    """
    from . import _sql

    for target, key, value in metadata:
        if target not in known:
            if store.session_state(target) is None:
                new = {"session_id": target, "directory": None, "git_root": None, "now": now}
                conn.execute(_sql.SESSION_INSERT, new)
            known.add(target)
        conn.execute(
            _sql.METADATA_SET, {"session_id": target, "key": key, "value": value, "now": now}
        )


def create_session_with_metadata(
    store: SessionStore,
    session_id: str,
    directory: str | None,
    git_root: str | None,
    metadata: Sequence[tuple[str, str, str]] = (),
) -> StoredSession:
    """Create a session that must not exist yet, and upsert metadata, in one transaction.

    Unlike :meth:`~convstore.SessionStore.create_session` there is no
    idempotent replay: an id already stored (whatever its directory) is
    :class:`~convstore.DuplicateId`, so of two callers racing to create the
    same id exactly one succeeds (ADK's ``create_session``). ``metadata``
    holds ``(session_id, key, value)`` upserts, for the new session or others
    (created empty when missing). All or nothing.
    """
    from .. import _validate as _v
    from ..errors import DuplicateId
    from ..models import StoredSession
    from . import _sql

    _v.text(session_id, "session id")
    _v.optional_text(directory, "directory")
    _v.optional_text(git_root, "git_root")
    metadata = _check_metadata(metadata)
    doing = f"creating session {session_id!r}"
    with store.atomic(doing) as conn:
        if store.session_state(session_id) is not None:
            raise DuplicateId(f"session id {session_id!r} is already used")
        now = store.now()
        conn.execute(
            _sql.SESSION_INSERT,
            {"session_id": session_id, "directory": directory, "git_root": git_root, "now": now},
        )
        _upsert_metadata(store, conn, now, metadata, {session_id})
    return StoredSession(session_id, None, None, directory, git_root, now, now, None)


def archive_session_with_metadata(
    store: SessionStore, session_id: str, metadata: Sequence[tuple[str, str, str]] = ()
) -> None:
    """Archive a live session and upsert metadata, in one transaction.

    A session already archived is :class:`~convstore.SessionArchived` (nothing
    written), so of two callers racing to archive it exactly one succeeds
    (the OpenAI Agents adapter's ``clear_session`` moves its generation
    pointer this way). :class:`~convstore.SessionNotFound` when missing.
    """
    from . import _sql

    _check_text(session_id, "session id")
    metadata = _check_metadata(metadata)
    doing = f"archiving session {session_id!r}"
    with store.atomic(doing) as conn:
        _sid(store, session_id, live=True)
        now = store.now()
        conn.execute(_sql.SESSION_ARCHIVE, {"session_id": session_id, "now": now})
        _upsert_metadata(store, conn, now, metadata, {session_id})


def set_metadata_if(
    store: SessionStore,
    session_id: str,
    key: str,
    expected: str | None,
    metadata: Sequence[tuple[str, str, str]] = (),
) -> bool:
    """Upsert ``metadata`` only if the session's ``key`` holds ``expected``: a compare-and-set.

    One transaction: the session's current value of ``key`` (``None``: unset)
    is compared with ``expected``; when equal, the ``(session_id, key,
    value)`` upserts of ``metadata`` are written (usually ``key``'s new value,
    and others that move with it; a target session that is missing is created
    empty) and the result is ``True``; otherwise nothing is written and the
    result is ``False``: another writer moved ``key`` since the caller read
    it, so re-read and decide again. Of several callers that read the same
    value and race to move it, exactly one succeeds. Archived sessions
    accept it (metadata is not an event). :class:`SessionNotFound` when the
    session does not exist; :class:`InvalidArgument` for a value that is not
    a storable ``str``.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     _ = store.create_session("s1")
    ...     first = set_metadata_if(store, "s1", "ptr", None, [("s1", "ptr", "g2")])
    ...     again = set_metadata_if(store, "s1", "ptr", None, [("s1", "ptr", "g9")])
    ...     first, again, store.get_metadata("s1", "ptr")
    (True, False, 'g2')
    """
    from . import _sql

    metadata = check_metadata_if(session_id, key, expected, metadata)
    doing = f"setting metadata of session {session_id!r} where {key!r} is {expected!r}"
    with store.atomic(doing) as conn:
        _sid(store, session_id, live=False)
        row = conn.execute(_sql.METADATA_GET, {"session_id": session_id, "key": key}).fetchone()
        if (None if row is None else row[0]) != expected:
            return False
        _upsert_metadata(store, conn, store.now(), metadata, {session_id})
    return True


def check_metadata_if(
    session_id: object, key: object, expected: object, metadata: object
) -> list[tuple[str, str, str]]:
    """Check :func:`set_metadata_if`'s arguments (both backends); the metadata rows.

    Each text must be a storable ``str`` (``expected`` may be ``None``), else
    :class:`InvalidArgument` naming it.
    """
    _check_text(session_id, "session id")
    _check_text(key, "metadata key")
    _v.optional_text(expected, "expected metadata value")
    return _check_metadata(metadata)  # type: ignore[arg-type]  # checked there

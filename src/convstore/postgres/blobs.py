"""What agent frameworks need beyond the event log, on the PostgreSQL team server.

A mixin of :class:`convstore.postgres.PostgresSessionService` that makes it an
:class:`~convstore.service.ExtendedSessionService`, so the framework adapters
(:mod:`convstore.integrations`) run on the team server with the same
``service=`` line as on a local file. Same semantics, validation and errors as
the local store's :mod:`convstore.sqlite.blobs` (read it for each method's
contract); here:

- blobs live in ``session_blobs`` (``migrations/postgres/0007``): ``bytea``
  payloads, JSON-checked ``meta`` text, keys in the "C" collation so order and
  prefix ranges are code-point order, as in SQLite;
- every statement is scoped by the service's owner and the table has forced
  row-level security like every other one (SPEC 6.1): another owner's
  session and blobs read as missing;
- every write is one transaction on one pooled connection, under the
  session's row lock where it reads before it writes (``pop_head``,
  ``append_event_with_metadata``, ``archive_session_with_metadata``), so two
  clients can never both win a check-then-write;
- the statements are in :mod:`convstore.postgres._pgblobsql` (built by
  :mod:`convstore.postgres._pgblobsqlbuild`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _validate as _v
from .._common import front
from ..errors import DuplicateId, InvalidArgument, SessionArchived, SessionNotFound
from ..models import StoredEvent, StoredSession
from ..sqlite import blobs as sqlite_blobs
from ..sqlite.blobs import (
    ANY_HEAD,
    Blob,
    BlobListing,
    HeadMoved,
    SessionTail,
    check_metadata_if,
    check_tail,
    has_summary,
    prefix_range,
    tail_values,
    tuples,
)
from . import _pgblobsql as B
from . import _pgsql
from ._host import ServiceHost

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["PostgresBlobsMixin"]

_TOP = "\U0010ffff"


def _blob(row: Any) -> Blob:
    return Blob(row[0], row[1], row[2], row[3], bytes(row[4]), row[5])


def _check_metadata(metadata: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    out = []
    for target, key, value in tuples(metadata, 3, "metadata (session_id, key, value)"):
        _v.text(target, "session id")
        _v.text(key, "metadata key")
        _v.text(value, "metadata value")
        out.append((target, key, value))
    return out


class PostgresBlobsMixin(ServiceHost):
    """Blobs, deletion, head moves and atomic state writes for the PostgreSQL service."""

    __slots__ = ()

    # -- blobs ---------------------------------------------------------------------

    def put_blobs(
        self,
        session_id: str,
        namespace: str,
        items: Iterable[tuple[str, str, bytes]],
        *,
        replace: bool = True,
    ) -> None:
        """See :func:`convstore.sqlite.blobs.put_blobs` (one statement for the whole batch)."""
        _v.text(session_id, "session id")
        _v.text(namespace, "blob namespace")
        _v.boolean(replace, "replace")
        rows: dict[str, tuple[str, bytes]] = {}
        for key, meta, data in tuples(items, 3, "blob (key, meta, data)"):
            _v.text(key, "blob key")
            _v.text(meta, "blob meta")
            if not isinstance(data, bytes | bytearray | memoryview):
                raise InvalidArgument(
                    f"blob {key!r}: data must be bytes, got {type(data).__name__}"
                )
            if replace or key not in rows:  # a key twice: the last wins (replace), else the first
                rows[key] = (meta, bytes(data))
        doing = f"storing {len(rows)} blobs in session {session_id!r}"

        def bad_meta(exc: BaseException) -> BaseException:
            from psycopg import errors as pgerrors

            if isinstance(exc, pgerrors.CheckViolation | pgerrors.InvalidTextRepresentation):
                return InvalidArgument(f"{doing}: meta is not valid JSON ({exc})")
            return exc

        params = self._mine(
            session_id,
            namespace=namespace,
            keys=list(rows),
            metas=[meta for meta, _ in rows.values()],
            datas=[data for _, data in rows.values()],
        )
        sql = B.BLOB_PUT_REPLACE if replace else B.BLOB_PUT_KEEP
        with self._conn(doing, write=True, mapper=bad_meta) as conn:
            found = conn.execute(sql, params).fetchone()
        if not found or not found[0]:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    def get_blob(self, session_id: str, namespace: str, key: str) -> Blob | None:
        """See :func:`convstore.sqlite.blobs.get_blob`."""
        if not (
            _v.lookup_text(session_id, "session id")
            & _v.lookup_text(namespace, "blob namespace")
            & _v.lookup_text(key, "blob key")
        ):
            return None
        row = self._one(
            B.BLOB_GET,
            self._mine(session_id, namespace=namespace, key=key),
            f"reading blob {key!r} of session {session_id!r}",
        )
        return None if row is None else _blob(row)

    def latest_blob(self, session_id: str, namespace: str) -> Blob | None:
        """See :func:`convstore.sqlite.blobs.latest_blob`."""
        if not (
            _v.lookup_text(session_id, "session id") & _v.lookup_text(namespace, "blob namespace")
        ):
            return None
        row = self._one(
            B.BLOB_LATEST,
            self._mine(session_id, namespace=namespace),
            f"reading the latest blob of session {session_id!r}",
        )
        return None if row is None else _blob(row)

    def get_blob_with_children(
        self, session_id: str, namespace: str, key: str | None, child_namespace: str
    ) -> tuple[Blob | None, list[Blob]]:
        """See :func:`convstore.sqlite.blobs.get_blob_with_children` (one statement)."""
        if not (
            _v.lookup_text(session_id, "session id")
            & _v.lookup_text(namespace, "blob namespace")
            & _v.lookup_text(child_namespace, "blob namespace")
            & (key is None or _v.lookup_text(key, "blob key"))
        ):
            return None, []
        rows = self._all(
            B.BLOB_WITH_CHILDREN,
            self._mine(session_id, namespace=namespace, key=key, child=child_namespace),
            f"reading blob {key!r} of session {session_id!r}",
        )
        if not rows:
            return None, []
        return _blob(rows[0][1:]), [_blob(row[1:]) for row in rows[1:]]

    @front(sqlite_blobs.list_blobs, sqlite_blobs.check_blob_listing)
    def list_blobs(self, args: BlobListing) -> list[Blob]:
        """See :func:`convstore.sqlite.blobs.list_blobs`."""
        session_id, namespace_prefix, key_prefix, exact, newest_first, before_key, limit, ok = args
        if not ok:
            return []
        low, high = prefix_range(namespace_prefix)
        klow, khigh = prefix_range(key_prefix)
        doing = f"listing blobs of {session_id!r}"
        if newest_first:
            assert session_id is not None
            params = self._mine(
                session_id,
                namespace=namespace_prefix,
                before_key=_TOP if before_key is None else before_key,
                limit=None if limit is None or limit < 0 else limit,
            )
            return [_blob(r) for r in self._all(B.BLOB_LIST_EXACT_DESC, params, doing)]
        ranges = {"key_low": klow, "key_high": khigh}
        if session_id is None:
            params = {"owner": self._owner, "low": low, "high": high, **ranges}
            return [_blob(r) for r in self._all(B.BLOB_LIST_ALL, params, doing)]
        if exact:
            params = self._mine(session_id, namespace=namespace_prefix, **ranges)
            return [_blob(r) for r in self._all(B.BLOB_LIST_EXACT, params, doing)]
        params = self._mine(session_id, low=low, high=high, **ranges)
        return [_blob(r) for r in self._all(B.BLOB_LIST, params, doing)]

    def delete_blobs(self, session_id: str, namespace_prefix: str = "") -> None:
        """See :func:`convstore.sqlite.blobs.delete_blobs`."""
        if not (
            _v.lookup_text(session_id, "session id")
            & _v.lookup_text(namespace_prefix, "namespace prefix")
        ):
            return
        low, high = prefix_range(namespace_prefix)
        self._rowcount(
            B.BLOB_DELETE,
            self._mine(session_id, low=low, high=high),
            f"deleting blobs of session {session_id!r}",
        )

    # -- sessions ------------------------------------------------------------------

    def delete_session(self, session_id: str) -> bool:
        """See :func:`convstore.sqlite.blobs.delete_session` (events, metadata, blobs, usage)."""
        _v.text(session_id, "session id")
        with self._conn(f"deleting session {session_id!r}", write=True) as conn:
            return bool(conn.execute(B.SESSION_DELETE, self._mine(session_id)).fetchall())

    def clear_head(self, session_id: str) -> None:
        """See :func:`convstore.sqlite.blobs.clear_head`."""
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        doing = f"clearing the head of session {session_id!r}"
        if self._rowcount(B.SESSION_CLEAR_HEAD, self._mine(session_id), doing) == 0:
            row = self._one(_pgsql.SESSION_STATE, self._mine(session_id), doing)
            if row is None:
                raise SessionNotFound(f"session {session_id!r} does not exist")
            raise SessionArchived(
                f"session {session_id!r} is archived; start a new session to continue"
            )

    def _upsert_metadata(
        self, conn: Any, metadata: list[tuple[str, str, str]], known: set[str]
    ) -> None:
        """Upsert ``(session_id, key, value)`` rows in the caller's transaction.

        Sorted, so two transactions touching the same shared rows lock them in
        the same order (no deadlock); a missing target session is created empty.
        """
        if not metadata:
            return
        with conn.cursor() as cur:
            targets = sorted({target for target, _, _ in metadata} - known)
            if targets:
                cur.executemany(B.SESSION_ENSURE, [self._mine(target) for target in targets])
            cur.executemany(
                _pgsql.METADATA_SET,
                [
                    self._mine(target, key=key, value=value)
                    for target, key, value in sorted(metadata, key=lambda m: (m[0], m[1]))
                ],
            )

    def create_session_with_metadata(
        self,
        session_id: str,
        directory: str | None,
        git_root: str | None,
        metadata: Sequence[tuple[str, str, str]] = (),
    ) -> StoredSession:
        """See :func:`convstore.sqlite.blobs.create_session_with_metadata`."""
        _v.text(session_id, "session id")
        _v.optional_text(directory, "directory")
        _v.optional_text(git_root, "git_root")
        rows = _check_metadata(metadata)
        doing = f"creating session {session_id!r}"

        def duplicate(exc: BaseException) -> BaseException:
            from psycopg import errors as pgerrors

            if isinstance(exc, pgerrors.UniqueViolation):
                return DuplicateId(f"session id {session_id!r} is already used")
            return exc

        params = self._mine(session_id, directory=directory, git_root=git_root)
        with self._conn(doing, write=True, mapper=duplicate) as conn, conn.transaction():
            row = conn.execute(_pgsql.SESSION_INSERT, params).fetchone()
            self._upsert_metadata(conn, rows, {session_id})
        created: int = row[0]
        return StoredSession(session_id, None, None, directory, git_root, created, created, None)

    def archive_session_with_metadata(
        self, session_id: str, metadata: Sequence[tuple[str, str, str]] = ()
    ) -> None:
        """See :func:`convstore.sqlite.blobs.archive_session_with_metadata`."""
        _v.text(session_id, "session id")
        rows = _check_metadata(metadata)
        doing = f"archiving session {session_id!r}"
        with self._conn(doing, write=True) as conn, conn.transaction():
            sid = self._lock_live(conn, session_id)[0]
            conn.execute(B.SESSION_ARCHIVE_SID, {"sid": sid})
            self._upsert_metadata(conn, rows, {session_id})

    def _lock_live(self, conn: Any, session_id: str) -> Any:
        """Lock the session's row for the transaction: ``(sid, head_id, archived_at, …head)``."""
        row = conn.execute(B.SESSION_LOCK_HEAD, self._mine(session_id)).fetchone()
        if row is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        if row[2] is not None:
            raise SessionArchived(
                f"session {session_id!r} is archived; start a new session to continue"
            )
        return row

    # -- events --------------------------------------------------------------------

    def append_events_at_head(
        self, session_id: str, items: Sequence[tuple[str, str, str, str]]
    ) -> list[StoredEvent]:
        """See :func:`convstore.sqlite.blobs.append_events_at_head` (one statement)."""
        from ..errors import InvalidEvent

        _v.text(session_id, "session id")
        rows = tuples(items, 4, "(event_id, invocation_id, event_type, event_data)")
        for event_id, invocation_id, event_type, event_data in rows:
            _v.text(event_id, "event id")
            _v.text(invocation_id, "invocation_id")
            _v.text(event_type, "event_type")
            if type(event_data) is not str:
                raise InvalidEvent(f"event {event_id!r}: event_data must be JSON text")
            _v.text(event_data, f"event {event_id!r} event_data", error=InvalidEvent)
        if not rows:
            return []
        ids = [r[0] for r in rows]
        doing = f"appending {len(rows)} events to session {session_id!r}"

        def culprit(exc: BaseException) -> BaseException:
            from psycopg import errors as pgerrors

            if isinstance(exc, pgerrors.UniqueViolation):
                return self._event_error(exc, _repeated(ids) or _culprit_id(exc, ids))
            bad = next((r[0] for r in rows if not _v.is_json(r[3])), ids[0])
            return self._event_error(exc, bad)

        params = self._mine(
            session_id,
            ids=ids,
            prevs=[None, *ids[:-1]],
            invs=[r[1] for r in rows],
            types=[r[2] for r in rows],
            datas=[r[3] for r in rows],
            last_id=ids[-1],
        )
        with self._conn(doing, write=True, mapper=culprit) as conn:
            out = conn.execute(B.EVENTS_APPEND_AT_HEAD, params).fetchall()
        if not out:
            raise self._why_not(session_id, ids[0], None)
        return [
            StoredEvent(r[0], session_id, parent, r[1], r[2], r[3], created)
            for r, (parent, created) in zip(rows, out, strict=True)
        ]

    def history_tail(
        self, session_id: str, limit: int | None, *, full: bool = False
    ) -> list[StoredEvent]:
        """See :func:`convstore.sqlite.blobs.history_tail` (one range read when unforked)."""
        if not check_tail(limit, full) or not _v.lookup_text(session_id, "session id"):
            return []
        limit = None if limit is None else min(limit, _v.TIME_LIMIT)
        with self._conn(f"reading the history of session {session_id!r}") as conn:
            return _tail(conn, self._mine(session_id, limit=limit), limit, full)

    def get_session_with_tail(
        self, session_id: str, limit: int | None, *, full: bool = False
    ) -> SessionTail | None:
        """See :func:`convstore.sqlite.blobs.get_session_with_tail` (one statement, usually)."""
        wanted = check_tail(limit, full)
        if not _v.lookup_text(session_id, "session id"):
            return None
        limit = None if limit is None else min(limit, _v.TIME_LIMIT) if wanted else 0
        params = self._mine(session_id, limit=limit)
        doing = f"reading session {session_id!r}"
        # The usual case: one statement (so one snapshot) whose newest events chain.
        row = self._one(B.SESSION_WITH_TAIL, params, doing)
        if row is None:
            return None
        session = StoredSession._make(row[:8])
        columns = [[] if c is None else c for c in row[10:]]
        rows = [(session.head_id, e[0], session_id, *e[1:]) for e in zip(*columns, strict=True)]
        events = [StoredEvent(*r[1:]) for r in reversed(rows)]
        if _chains(rows, limit) and (full or not has_summary(events)):
            return SessionTail(session, events, dict(zip(row[8] or [], row[9] or [], strict=True)))
        # A forked tail or a compaction summary: the walk, in one repeatable-read snapshot.
        with self._conn(doing) as conn, conn.transaction():
            conn.execute(_pgsql.TX_SNAPSHOT)
            again = conn.execute(_pgsql.SESSION_GET, params).fetchone()
            if again is None:
                return None
            events = _tail(conn, params, limit, full)
            metadata = conn.execute(B.METADATA_ALL, params).fetchall()
        return SessionTail(StoredSession._make(again), events, dict(metadata))

    def history_tail_values(self, session_id: str, limit: int | None) -> list[Any] | None:
        """See :func:`convstore.sqlite.blobs.history_tail_values` (one row back)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise InvalidArgument(f"limit must be an int or None: {limit!r}")
        if (limit is not None and limit <= 0) or not _v.lookup_text(session_id, "session id"):
            return []
        limit = None if limit is None else min(limit, _v.TIME_LIMIT)
        row = self._one(
            B.HISTORY_TAIL_DATA,
            self._mine(session_id, limit=limit),
            f"reading the history of session {session_id!r}",
        )
        return tail_values(row, limit)

    def pop_head(self, session_id: str) -> StoredEvent | None:
        """See :func:`convstore.sqlite.blobs.pop_head` (under the session's row lock)."""
        if not _v.lookup_text(session_id, "session id"):
            return None
        doing = f"popping the head of session {session_id!r}"
        with self._conn(doing, write=True) as conn, conn.transaction():
            row = conn.execute(B.SESSION_LOCK_HEAD, self._mine(session_id)).fetchone()
            if row is None:
                return None
            sid, head, archived, parent, inv, event_type, data, created = row
            if archived is not None:
                raise SessionArchived(
                    f"session {session_id!r} is archived; start a new session to continue"
                )
            if head is None:
                return None
            conn.execute(B.SESSION_SET_HEAD_TO, {"head_id": parent, "sid": sid})
        return StoredEvent(head, session_id, parent, inv, event_type, data, created)

    def append_event_with_metadata(
        self,
        session_id: str,
        expected_head: str | None,
        event: tuple[str, str, str, str] | None,
        metadata: Sequence[tuple[str, str, str]] = (),
    ) -> StoredEvent | None:
        """See :func:`convstore.sqlite.blobs.append_event_with_metadata` (row lock, one tx)."""
        _v.text(session_id, "session id")
        rows = _check_metadata(metadata)
        if event is not None:
            _v.event_fields(*event[:1], None, *event[1:], check_parent=False)
        doing = f"committing an event to session {session_id!r}"
        mapper = None
        if event is not None:
            event_id = event[0]
            mapper = lambda exc: self._event_error(exc, event_id)  # noqa: E731
        with self._conn(doing, write=True, mapper=mapper) as conn, conn.transaction():
            head = self._lock_live(conn, session_id)[1]
            if expected_head != ANY_HEAD and head != expected_head:
                raise HeadMoved(
                    f"session {session_id!r} moved on (head {head!r}, expected "
                    f"{expected_head!r}): reload it"
                )
            self._upsert_metadata(conn, rows, {session_id})
            if event is None:
                return None
            event_id, invocation_id, event_type, event_data = event
            found = conn.execute(
                _pgsql.EVENT_APPEND_AT_HEAD,
                self._mine(
                    session_id,
                    event_id=event_id,
                    parent_id=None,
                    invocation_id=invocation_id,
                    event_type=event_type,
                    event_data=event_data,
                ),
            ).fetchone()
        return StoredEvent(
            event_id, session_id, found[0], invocation_id, event_type, event_data, found[1]
        )

    def set_metadata_if(
        self,
        session_id: str,
        key: str,
        expected: str | None,
        metadata: Sequence[tuple[str, str, str]] = (),
    ) -> bool:
        """See :func:`convstore.sqlite.blobs.set_metadata_if` (under the session's row lock).

        The lock orders it against every write that takes the session's row
        lock (these, ``append_event_with_metadata``,
        ``archive_session_with_metadata``, appends, ``pop_head``), so of
        several callers that read the same value exactly one succeeds. A plain
        :meth:`set_metadata` of the same key takes no such lock: it is
        last-writer-wins against this as against any other write.
        """
        rows = check_metadata_if(session_id, key, expected, metadata)
        doing = f"setting metadata of session {session_id!r} where {key!r} is {expected!r}"
        with self._conn(doing, write=True) as conn, conn.transaction():
            # The row lock orders this against every other locked write of the
            # session (these, appends, archives); the value is read after it.
            if conn.execute(B.SESSION_LOCK_HEAD, self._mine(session_id)).fetchone() is None:
                raise SessionNotFound(f"session {session_id!r} does not exist")
            value = conn.execute(_pgsql.METADATA_GET, self._mine(session_id, key=key)).fetchone()
            if value[0] != expected:
                return False
            self._upsert_metadata(conn, rows, {session_id})
        return True

    def get_all_metadata(self, session_id: str) -> dict[str, str]:
        """Every metadata key and value of a session (empty for none or no session)."""
        if not _v.lookup_text(session_id, "session id"):
            return {}
        rows = self._all(
            B.METADATA_ALL, self._mine(session_id), f"reading metadata of session {session_id!r}"
        )
        return {key: value for key, value in rows}


def _tail(conn: Any, params: dict[str, Any], limit: int | None, full: bool) -> list[StoredEvent]:
    """``history_tail``'s events, read on ``conn`` (so inside its transaction, if any)."""
    rows = conn.execute(B.HISTORY_TAIL_LINEAR, params).fetchall()
    if _chains(rows, limit):
        rows.reverse()
        out = [StoredEvent(*row[1:]) for row in rows]
    else:
        out = [StoredEvent(*row) for row in conn.execute(B.HISTORY_TAIL, params).fetchall()]
    if full or not has_summary(out):
        return out
    folded = read_history(conn, params, full=False)
    return folded if limit is None else folded[-limit:]


def read_history(conn: Any, params: dict[str, Any], *, full: bool) -> list[StoredEvent]:
    """The head's chain, oldest first, read on ``conn`` (one recursive query); folded
    at its newest compaction summary unless ``full`` (``history()`` is this)."""
    chain = list(map(StoredEvent._make, conn.execute(_pgsql.EVENTS_HISTORY, params).fetchall()))
    if full:
        return chain
    from ..lifecycle import fold_history

    return fold_history(chain)


def _chains(rows: list[Any], limit: int | None) -> bool:
    """Whether the newest events (head first) are the head's chain, as far as asked."""
    if not rows:
        return True
    expected = rows[0][0]
    for row in rows:
        if row[1] != expected:
            return False
        expected = row[3]
    return (limit is not None and len(rows) == limit) or expected is None


def _culprit_id(exc: BaseException, ids: list[str]) -> str:
    """The event id a unique violation names (its detail quotes the key), else the first."""
    detail = str(getattr(getattr(exc, "diag", None), "message_detail", "") or "")
    return next((i for i in ids if f"={i})" in detail or f", {i})" in detail), ids[0])


def _repeated(ids: list[str]) -> str | None:
    """An id given twice in one batch, or ``None``."""
    seen: set[str] = set()
    for event_id in ids:
        if event_id in seen:
            return event_id
        seen.add(event_id)
    return None

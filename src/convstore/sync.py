"""Sync between a local :class:`~convstore.SessionStore` and the team server.

``push(store, service)`` sends the local sessions and events the server does
not have yet; ``pull(store, service)`` brings the server's sessions (those of
the service's owner, from every machine that pushed) into the local store.
Both keep every id, parent and timestamp, so a conversation pulled on another
machine is the same conversation, and resuming it there works as usual.

Rules (SPEC 6, sync v2):

* **Incremental.** Sessions whose state (head, last activity, archive time,
  event count, metadata) already matches are skipped after one batched
  comparison per page. For the others, each side's events are numbered in
  append order (``seq``); one batched question per page (the server's event
  at position *m*, the smaller of the two counts, against the local one)
  finds the high-water mark both sides share, and only the events after it
  travel. One new event in a 10,000-event session costs one event's rows and
  a constant number of round trips. When the positions disagree (histories
  interleaved differently), the session falls back to a full merge, which
  still writes only what is missing.
* **A refused session is skipped, not fatal.** When the receiving side
  refuses a session (an event id it has with other content, JSON it cannot
  store, a value the other backend cannot hold), the session is left
  untouched there, reported in :attr:`SyncReport.skipped` with the reason,
  and every other session still syncs. Connection errors still raise.
* **Concurrent edits keep both branches.** When both sides appended after
  their last common event, the merge stores both sides' events everywhere;
  the head follows the newer activity, so ``history()`` shows that branch,
  and the other branch stays addressable (``load_events``, ``set_head`` to
  its last event). The session is named in :attr:`SyncReport.conflicts`.
* **Metadata: last writer wins**, value by value, on each value's own
  ``updated_at`` (a tie keeps the server's value).
* **Resumable, never half-written.** Each session is written in one
  transaction; running an interrupted sync again finishes the work.
* **Ids.** The server keeps a session under the same id as the client
  (UUIDv7 ids are unique across machines), so the ``server_session_id`` a
  push records locally is that id, scoped to the service's owner.

Example (``service`` a :class:`convstore.postgres.PostgresSessionService`)::

    report = push(store, service)      # SyncReport(sessions_checked=…, …)
    pull(other_store, service)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from . import lifecycle as _lifecycle
from ._common import like
from ._lean import ReadOnly
from .errors import DuplicateId, InvalidArgument, InvalidEvent, StoreError
from .models import SessionSummary, StoredEvent, StoredSession
from .service import SessionService
from .sqlite import _sql
from .sqlite.store import SessionStore

__all__ = ["SyncReport", "SyncServer", "push", "pull"]


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one push or pull did."""

    #: Sessions compared on both sides.
    sessions_checked: int = 0
    #: Sessions created or merged on the receiving side.
    sessions_written: int = 0
    #: Events the receiving side did not have and now has.
    events_written: int = 0
    #: ``(session_id, reason)`` for each session the receiving side refused.
    skipped: tuple[tuple[str, str], ...] = ()
    #: Sessions both sides had appended to after their last common event.
    conflicts: tuple[str, ...] = ()

    sessions = ReadOnly[int](
        "sessions_written",
        "Sessions created or merged on the receiving side (``sessions_written``).",
    )
    events = ReadOnly[int](
        "events_written", "Events written on the receiving side (``events_written``)."
    )

    @property
    def sessions_unchanged(self) -> int:
        """Sessions that were already in sync."""
        return self.sessions_checked - self.sessions_written


class SyncServer(SessionService, Protocol):
    """What a server backend offers sync (``PostgresSessionService`` does).

    A :class:`~convstore.SessionService` (sync pages through its
    ``list_sessions``) plus bulk reads and the merge-capable import.
    """

    def session_summaries(self, ids: Sequence[str]) -> dict[str, SessionSummary]: ...

    def session_metadata(self, ids: Sequence[str]) -> dict[str, dict[str, str]]: ...

    def export_session(
        self, session_id: str
    ) -> tuple[StoredSession, list[StoredEvent], dict[str, str]] | None: ...

    def export_session_after(
        self, session_id: str, after: int
    ) -> tuple[StoredSession, list[StoredEvent], dict[str, str]] | None: ...

    def events_at(self, positions: dict[str, int]) -> dict[str, StoredEvent]: ...

    def metadata_times(self, ids: Sequence[str]) -> dict[str, dict[str, tuple[str, int]]]: ...

    def merge_metadata(self, session_id: str, values: dict[str, tuple[str, int]]) -> int: ...

    @like(SessionStore.import_session)
    def import_session(self) -> None:
        """Write a session with its original ids (``merge=True``: into the same session)."""


def _state(s: SessionSummary) -> tuple[object, ...]:
    """What must match for a session to count as in sync (server id aside)."""
    return (
        s.head_id,
        s.directory,
        s.git_root,
        s.created_at,
        s.updated_at,
        s.archived_at,
        s.event_count,
    )


def _session(s: SessionSummary, server_session_id: str | None) -> StoredSession:
    return StoredSession(
        s.id,
        s.head_id,
        server_session_id,
        s.directory,
        s.git_root,
        s.created_at,
        s.updated_at,
        s.archived_at,
    )


def _pages(lister: SessionStore | SyncServer, batch_size: int) -> Iterator[list[SessionSummary]]:
    """Every session (archived too), a page at a time, newest activity first."""
    before: SessionSummary | None = None
    while True:
        page = lister.list_sessions(include_archived=True, limit=batch_size, before=before)
        if not page:
            return
        yield page
        if len(page) < batch_size:
            return
        before = page[-1]


def _check_batch(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument(f"batch_size must be a positive int: {batch_size!r}")


def _local_event_at(store: SessionStore, session_id: str, seq: int) -> StoredEvent | None:
    try:
        at = {"session_id": session_id, "seq": seq}
        row = store.connection.execute(_sql.SYNC_EVENT_AT, at).fetchone()
    except Exception as exc:
        raise store.translate_error(exc, f"reading session {session_id!r}") from None
    return None if row is None else StoredEvent._make(row)


def _local_events_after(store: SessionStore, session_id: str, seq: int) -> list[StoredEvent]:
    try:
        rows = store.connection.execute(
            _sql.SYNC_EVENTS_AFTER, {"session_id": session_id, "seq": seq}
        ).fetchall()
    except Exception as exc:
        raise store.translate_error(exc, f"reading session {session_id!r}") from None
    return [StoredEvent._make(r) for r in rows]


def _local_metadata_times(store: SessionStore, session_id: str) -> dict[str, tuple[str, int]]:
    try:
        this = {"session_id": session_id}
        rows = store.connection.execute(_sql.SYNC_METADATA_TIMES, this).fetchall()
    except Exception as exc:
        raise store.translate_error(exc, f"reading the metadata of {session_id!r}") from None
    return {str(k): (str(v), int(cast(int, t))) for k, v, t in rows}


def _values(times: dict[str, tuple[str, int]]) -> dict[str, str]:
    return {k: v for k, (v, _) in times.items()}


def _newer(
    mine: dict[str, tuple[str, int]], theirs: dict[str, tuple[str, int]], *, ties: bool
) -> dict[str, tuple[str, int]]:
    """Values of ``mine`` that win over ``theirs``: later ``updated_at`` (or equal, if ``ties``)."""
    out = {}
    for key, (value, at) in mine.items():
        other = theirs.get(key)
        if other is None or (other[0] != value and (at > other[1] or (ties and at == other[1]))):
            out[key] = (value, at)
    return out


def _merge_local_metadata(
    store: SessionStore, session_id: str, values: dict[str, tuple[str, int]]
) -> None:
    if not values:
        return
    with store.atomic(f"merging metadata into session {session_id!r}"):
        for key, (value, at) in sorted(values.items()):
            store.connection.execute(
                _sql.SYNC_METADATA_PUT_IF_NEWER,
                {"session_id": session_id, "key": key, "value": value, "updated_at": at},
            )


def _common_positions(
    service: SyncServer,
    pairs: Iterable[tuple[SessionSummary, SessionSummary | None]],
    store: SessionStore,
) -> dict[str, int]:
    """Per session: the position up to which both sides hold the same events.

    Asks the server for its event at ``min(local count, server count)`` for a
    whole page in one round trip and compares it, every field, with the local
    event there (an id reused with other content is no common position).
    Sessions missing on one side, or whose events at that position differ,
    are absent (they take the full merge).
    """
    positions = {
        a.id: min(a.event_count, b.event_count)
        for a, b in pairs
        if b is not None and min(a.event_count, b.event_count) > 0
    }
    remote = service.events_at(positions) if positions else {}
    common: dict[str, int] = {}
    for sid, m in positions.items():
        there = remote.get(sid)
        if there is not None and there == _local_event_at(store, sid, m):
            common[sid] = m
    return common


#: What the receiving side may refuse for one session without stopping the sync.
_REFUSED = (DuplicateId, InvalidArgument)


def push(store: SessionStore, service: SyncServer, *, batch_size: int = 200) -> SyncReport:
    """Send the local sessions and events the server does not have; record server ids.

    Incremental (only events after the common position travel); a session
    the server refuses is skipped and named in :attr:`SyncReport.skipped`;
    sessions appended on both sides are named in :attr:`SyncReport.conflicts`.
    Safe to re-run after an interruption.
    """
    _check_batch(batch_size)
    checked = written = events = 0
    skipped: list[tuple[str, str]] = []
    conflicts: list[str] = []
    for page in _pages(store, batch_size):
        ids = [s.id for s in page]
        remote = service.session_summaries(ids)
        remote_times = service.metadata_times(ids)
        times = {s.id: _local_metadata_times(store, s.id) for s in page}
        todo = [
            local
            for local in page
            if (there := remote.get(local.id)) is None
            or _state(there) != _state(local)
            or _values(remote_times.get(local.id, {})) != _values(times[local.id])
        ]
        common = _common_positions(service, ((t, remote.get(t.id)) for t in todo), store)
        for local in page:
            checked += 1
            if local in todo:
                there = remote.get(local.id)
                server_count = there.event_count if there is not None else 0
                newer = _newer(times[local.id], remote_times.get(local.id, {}), ties=False)
                try:
                    added, both = _push_one(store, service, local, server_count, common)
                    if newer:
                        service.merge_metadata(local.id, newer)
                except _REFUSED as exc:
                    skipped.append((local.id, str(exc)))
                    continue
                written += 1
                events += added
                if both:
                    conflicts.append(local.id)
            if local.server_session_id != local.id:
                store.update_server_session_id(local.id, local.id)
        _lifecycle.sync_usage(store, service, ids, direction="push")  # the token ledger
    return SyncReport(checked, written, events, tuple(skipped), tuple(conflicts))


def _push_one(
    store: SessionStore,
    service: SyncServer,
    local: SessionSummary,
    server_count: int,
    common: dict[str, int],
) -> tuple[int, bool]:
    """Push one session's events; return (events added, whether both sides had new ones).

    Metadata travels separately, last-writer-wins on each value's own time.
    """
    session = _session(local, local.id)
    m = common.get(local.id)
    if m is not None:
        try:
            added = service.import_session(
                session, _local_events_after(store, local.id, m), merge=True
            )
            return added, local.event_count > m and server_count > m
        except InvalidEvent:
            pass  # e.g. a parent before the common position: the full merge decides
    added = service.import_session(session, store.load_events(local.id), merge=True)
    return added, added > 0 and server_count > local.event_count - added


def pull(store: SessionStore, service: SyncServer, *, batch_size: int = 200) -> SyncReport:
    """Bring the server's sessions (the service owner's) into the local store.

    Sessions and events keep their ids, parents and timestamps; sessions the
    local store already has receive only the events after the common
    position. A session the local store refuses is skipped and named in
    :attr:`SyncReport.skipped`; concurrent appends in :attr:`SyncReport.conflicts`.
    """
    _check_batch(batch_size)
    local_state: dict[str, SessionSummary] = {}
    for page in _pages(store, batch_size):
        local_state.update((s.id, s) for s in page)
    checked = written = events = 0
    skipped: list[tuple[str, str]] = []
    conflicts: list[str] = []
    for page in _pages(service, batch_size):
        remote_times = service.metadata_times([s.id for s in page])
        todo: list[SessionSummary] = []
        for remote in page:
            checked += 1
            here = local_state.get(remote.id)
            if (
                here is not None
                and _state(here) == _state(remote)
                and _values(_local_metadata_times(store, remote.id))
                == _values(remote_times.get(remote.id, {}))
            ):
                if here.server_session_id != remote.id:
                    store.update_server_session_id(remote.id, remote.id)
                continue
            todo.append(remote)
        pairs = [(here, r) for r in todo if (here := local_state.get(r.id)) is not None]
        common = _common_positions(service, pairs, store)
        for remote in todo:
            here = local_state.get(remote.id)
            local_count = here.event_count if here is not None else 0
            try:
                result = _pull_one(store, service, remote, local_count, common)
                if result is not None:
                    mine = _local_metadata_times(store, remote.id)
                    theirs = remote_times.get(remote.id, {})
                    _merge_local_metadata(store, remote.id, _newer(theirs, mine, ties=True))
            except _REFUSED as exc:
                skipped.append((remote.id, str(exc)))
                continue
            if result is None:  # deleted on the server meanwhile
                continue
            added, both = result
            written += 1
            events += added
            if both:
                conflicts.append(remote.id)
        _lifecycle.sync_usage(store, service, [s.id for s in page], direction="pull")
    return SyncReport(checked, written, events, tuple(skipped), tuple(conflicts))


def _pull_one(
    store: SessionStore,
    service: SyncServer,
    remote: SessionSummary,
    local_count: int,
    common: dict[str, int],
) -> tuple[int, bool] | None:
    """Pull one session; None when it vanished from the server meanwhile."""
    m = common.get(remote.id)
    if m is not None:
        exported = service.export_session_after(remote.id, m)
        if exported is None:
            return None
        session, evs, _ = exported
        try:
            added = _store_import(store, session, evs)
            return added, local_count > m and remote.event_count > m
        except InvalidEvent:
            pass  # the full merge decides
    exported = service.export_session(remote.id)
    if exported is None:
        return None
    session, evs, _ = exported
    added = _store_import(store, session, evs)
    return added, added > 0 and local_count > len(evs) - added


def _store_import(store: SessionStore, session: StoredSession, evs: list[StoredEvent]) -> int:
    """Import into the local store; a refusal of the data becomes :class:`InvalidEvent`.

    SQLite reports some refusals (a CHECK such as ``json_valid`` on JSON nested
    deeper than it parses) as a plain :class:`StoreError`; its typed
    subclasses (busy, uncertain commit, ...) still propagate.
    """
    try:
        return store.import_session(session._replace(server_session_id=session.id), evs, merge=True)
    except StoreError as exc:
        if type(exc) is StoreError and "constraint" in str(exc).lower():
            raise InvalidEvent(f"the local store refused session {session.id!r}: {exc}") from None
        raise

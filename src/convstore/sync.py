"""Sync between a local :class:`~convstore.SessionStore` and the team server.

``push(store, service)`` sends the local sessions and events the server does
not have yet; ``pull(store, service)`` brings the server's sessions (those of
the service's owner, from every machine that pushed) into the local store.
Both keep every id, parent and timestamp, so a conversation pulled on another
machine is the same conversation, and resuming it there works as usual.

Rules:

* **Idempotent.** Sessions whose state (head, last activity, archive time,
  event count, metadata) already matches on both sides are skipped after one
  batched comparison; anything else is merged, and merging skips identical
  events. Pushing or pulling twice changes nothing the second time.
* **Batched.** Sessions are compared a page (``batch_size``) at a time;
  events travel in bulk, one transaction per session.
* **Resumable, never half-written.** Each session is written in one
  transaction, so an interrupted push (or pull) leaves every session either
  fully written or untouched; running it again finishes the work.
* **Conflicts stop the sync.** An event whose id exists on the other side with
  different content raises :class:`~convstore.DuplicateId` naming the event
  and its session; that session is not written at all (sessions written
  before it stay written — they are complete).
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
from typing import Protocol

from . import lifecycle as _lifecycle
from .errors import DuplicateId, InvalidArgument
from .models import SessionSummary, StoredEvent, StoredSession
from .service import SessionService
from .store import SessionStore

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

    def import_session(
        self,
        session: StoredSession | SessionSummary,
        events: Iterable[StoredEvent],
        *,
        merge: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> int: ...


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


def _pages(
    lister: SessionStore | SyncServer, batch_size: int
) -> Iterator[list[SessionSummary]]:
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


def push(store: SessionStore, service: SyncServer, *, batch_size: int = 200) -> SyncReport:
    """Send the local sessions and events the server does not have; record server ids.

    Raises :class:`~convstore.DuplicateId` naming the event on a conflict
    (nothing of that session is written). Safe to re-run after an interruption.
    """
    _check_batch(batch_size)
    checked = written = events = 0
    for page in _pages(store, batch_size):
        ids = [s.id for s in page]
        remote = service.session_summaries(ids)
        remote_meta = service.session_metadata(ids)
        for local in page:
            checked += 1
            meta = store.get_all_metadata(local.id)
            there = remote.get(local.id)
            if (
                there is None
                or _state(there) != _state(local)
                or remote_meta.get(local.id, {}) != meta
            ):
                try:
                    events += service.import_session(
                        _session(local, local.id),
                        store.load_events(local.id),
                        merge=True,
                        metadata=meta or None,
                    )
                except DuplicateId as exc:
                    raise DuplicateId(
                        f"push stopped at session {local.id!r}: {exc} "
                        f"({written} sessions written before it are complete; re-run after "
                        "resolving the conflict)"
                    ) from None
                written += 1
            if local.server_session_id != local.id:
                store.update_server_session_id(local.id, local.id)
        _lifecycle.sync_usage(store, service, ids, direction="push")  # the token ledger
    return SyncReport(checked, written, events)


def pull(store: SessionStore, service: SyncServer, *, batch_size: int = 200) -> SyncReport:
    """Bring the server's sessions (the service owner's) into the local store.

    Sessions and events keep their ids, parents and timestamps; sessions the
    local store already has receive only the events they lack. Raises
    :class:`~convstore.DuplicateId` naming the event on a conflict.
    """
    _check_batch(batch_size)
    local_state: dict[str, SessionSummary] = {}
    for page in _pages(store, batch_size):
        local_state.update((s.id, s) for s in page)
    checked = written = events = 0
    for page in _pages(service, batch_size):
        remote_meta = service.session_metadata([s.id for s in page])
        for remote in page:
            checked += 1
            here = local_state.get(remote.id)
            meta = remote_meta.get(remote.id, {})
            if (
                here is not None
                and _state(here) == _state(remote)
                and store.get_all_metadata(remote.id) == meta
            ):
                if here.server_session_id != remote.id:
                    store.update_server_session_id(remote.id, remote.id)
                continue
            exported = service.export_session(remote.id)
            if exported is None:  # deleted on the server meanwhile
                continue
            session, evs, meta = exported
            try:
                events += store.import_session(
                    session._replace(server_session_id=session.id),
                    evs,
                    merge=True,
                    metadata=meta or None,
                )
            except DuplicateId as exc:
                raise DuplicateId(
                    f"pull stopped at session {remote.id!r}: {exc} "
                    f"({written} sessions written before it are complete)"
                ) from None
            written += 1
        _lifecycle.sync_usage(store, service, [s.id for s in page], direction="pull")
    return SyncReport(checked, written, events)

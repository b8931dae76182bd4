"""An in-memory SessionService: proves the manager needs nothing but the protocol."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from convstore import (
    DuplicateId,
    InvalidEvent,
    SessionArchived,
    SessionNotFound,
    SessionSummary,
    StoredEvent,
    StoredSession,
)


@dataclass
class _Session:
    row: StoredSession
    events: list[StoredEvent] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    order: int = 0


class FakeSessionService:
    """Dictionaries instead of SQL; same observable behaviour as LocalSessionService."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._event_ids: set[str] = set()
        self._counter = 0

    def _now(self) -> int:
        return int(self._clock())

    def _get(self, id: str) -> _Session:
        s = self._sessions.get(id)
        if s is None:
            raise SessionNotFound(f"session {id!r} does not exist")
        return s

    def create_session(
        self, id: str, directory: str | None = None, git_root: str | None = None
    ) -> StoredSession:
        if id in self._sessions:
            raise DuplicateId(id)
        now = self._now()
        self._counter += 1
        row = StoredSession(id, None, None, directory, git_root, now, now, None)
        self._sessions[id] = _Session(row, order=self._counter)
        return row

    def get_session(self, id: str) -> StoredSession | None:
        s = self._sessions.get(id)
        return None if s is None else s.row

    def find_resumable_session(
        self, directory: str | None, git_root: str | None, max_age_secs: int
    ) -> StoredSession | None:
        cutoff = self._now() - max_age_secs
        live = [
            s
            for s in self._sessions.values()
            if s.row.archived_at is None
            and s.row.updated_at > cutoff
            and (
                (directory is not None and s.row.directory == directory)
                or (git_root is not None and s.row.git_root == git_root)
            )
        ]
        if not live:
            return None
        return max(live, key=lambda s: (s.row.updated_at, s.order)).row

    def append_event(
        self,
        session_id: str,
        event_id: str,
        parent_id: str | None,
        invocation_id: str,
        event_type: str,
        event_data: str,
    ) -> StoredEvent:
        s = self._get(session_id)
        if s.row.archived_at is not None:
            raise SessionArchived(session_id)
        if event_id in self._event_ids:
            raise DuplicateId(event_id)
        if parent_id is not None and parent_id not in {e.id for e in s.events}:
            raise InvalidEvent(parent_id)
        try:
            json.loads(event_data)
        except ValueError:
            raise InvalidEvent(event_id) from None
        now = self._now()
        ev = StoredEvent(
            event_id, session_id, parent_id, invocation_id, event_type, event_data, now
        )
        s.events.append(ev)
        self._event_ids.add(event_id)
        s.row = s.row._replace(head_id=event_id, updated_at=now)
        return ev

    def append_event_at_head(
        self, session_id: str, event_id: str, invocation_id: str, event_type: str, event_data: str
    ) -> StoredEvent:
        head = self._get(session_id).row.head_id
        return self.append_event(session_id, event_id, head, invocation_id, event_type, event_data)

    def get_event(self, session_id: str, event_id: str) -> StoredEvent | None:
        s = self._sessions.get(session_id)
        return next((e for e in s.events if e.id == event_id), None) if s else None

    def load_events(self, session_id: str) -> list[StoredEvent]:
        s = self._sessions.get(session_id)
        return list(s.events) if s else []

    def history(self, session_id: str, *, full: bool = False) -> list[StoredEvent]:
        s = self._sessions.get(session_id)
        if s is None:
            return []
        by_id = {e.id: e for e in s.events}
        chain: list[StoredEvent] = []
        cur = s.row.head_id
        while cur is not None:
            chain.append(by_id[cur])
            cur = by_id[cur].parent_id
        if full:
            return chain[::-1]
        from convstore.lifecycle import fold_history

        return fold_history(chain[::-1])

    def set_head(self, session_id: str, event_id: str) -> None:
        s = self._get(session_id)
        if s.row.archived_at is not None:
            raise SessionArchived(session_id)
        if event_id not in {e.id for e in s.events}:
            raise InvalidEvent(event_id)
        s.row = s.row._replace(head_id=event_id, updated_at=self._now())

    def archive_session(self, session_id: str) -> None:
        s = self._get(session_id)
        if s.row.archived_at is None:
            s.row = s.row._replace(archived_at=self._now())

    def update_server_session_id(self, session_id: str, server_session_id: str) -> None:
        s = self._get(session_id)
        s.row = s.row._replace(server_session_id=server_session_id)

    def set_metadata(self, session_id: str, key: str, value: str) -> None:
        self._get(session_id).metadata[key] = value

    def get_metadata(self, session_id: str, key: str) -> str | None:
        return self._get(session_id).metadata.get(key)

    def list_sessions(
        self,
        directory: str | None = None,
        git_root: str | None = None,
        include_archived: bool = False,
        limit: int = 20,
        before: object = None,
    ) -> list[SessionSummary]:
        rows = sorted(
            self._sessions.values(), key=lambda s: (s.row.updated_at, s.order), reverse=True
        )
        out = [
            SessionSummary(*s.row, len(s.events))
            for s in rows
            if (include_archived or s.row.archived_at is None)
            and (
                (directory is None and git_root is None)
                or (directory is not None and s.row.directory == directory)
                or (git_root is not None and s.row.git_root == git_root)
            )
        ]
        if before is not None:
            ids = [r.id for r in out]
            bid = before if isinstance(before, str) else before.id  # type: ignore[attr-defined]
            out = out[ids.index(bid) + 1 :]
        return out[:limit]

    def close(self) -> None:
        pass

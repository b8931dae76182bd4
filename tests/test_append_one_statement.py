"""``append_event`` and ``append_event_at_head`` run one statement (migration 0006's trigger).

The usual append is a single autocommit insert into the view ``event_append``
whose trigger inserts the event and moves the head. Everything it refuses
falls back to the careful transactional path, so every typed error and the
idempotent replay (SPEC §2.1) are unchanged; a session whose ``updated_at`` is
ahead of the clock gets that time, so the log's time never moves backwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apsw
import pytest

from convstore import (
    DuplicateId,
    InvalidEvent,
    SessionArchived,
    SessionNotFound,
    SessionStore,
)


def _traced(store: SessionStore) -> list[str]:
    seen: list[str] = []

    def tracer(cursor: Any, sql: str, bindings: Any) -> bool:
        seen.append(sql.split()[0].upper())
        return True

    store.connection.exec_trace = tracer
    return seen


@pytest.mark.parametrize("at_head", [False, True])
def test_the_usual_append_is_one_statement(tmp_path: Path, at_head: bool) -> None:
    with SessionStore(tmp_path / "a.db", clock=lambda: 1_700_000_000) as store:
        store.create_session("s")
        store.append_event("s", "e1", None, "i", "user", '{"content": "hi"}')
        seen = _traced(store)
        if at_head:
            stored = store.append_event_at_head("s", "e2", "i", "text", '{"content": "yo"}')
        else:
            stored = store.append_event("s", "e2", "e1", "i", "text", '{"content": "yo"}')
        store.connection.exec_trace = None
        assert seen == ["INSERT"]  # no BEGIN, no COMMIT, no separate head move
        assert stored.parent_id == "e1" and stored.created_at == 1_700_000_000
        session = store.get_session("s")
        assert session is not None and session.head_id == "e2"
        assert store.list_sessions()[0].event_count == 2
        assert [e.id for e in store.load_events("s")] == ["e1", "e2"]
        assert store.load_events("s")[1] == stored
        assert [h.event_id for h in store.search("yo")] == ["e2"]  # the watermark fired


@pytest.mark.parametrize("at_head", [False, True])
def test_refusals_fall_back_and_keep_their_typed_errors(tmp_path: Path, at_head: bool) -> None:
    def append(store: SessionStore, sid: str, eid: str, data: str = "{}") -> object:
        if at_head:
            return store.append_event_at_head(sid, eid, "i", "t", data)
        head = store.get_session(sid).head_id if store.get_session(sid) else None
        return store.append_event(sid, eid, head, "i", "t", data)

    with SessionStore(tmp_path / "a.db") as store:
        store.create_session("s")
        first = append(store, "s", "e1")
        with pytest.raises(SessionNotFound):
            append(store, "nope", "x1")
        with pytest.raises(InvalidEvent):
            append(store, "s", "x2", "{not json")
        with pytest.raises(InvalidEvent):
            append(store, "s", "x3", '{"a": 1}\x00garbage')  # SQLite's json_valid says 1
        with pytest.raises(DuplicateId):
            append(store, "s", "e1", '{"other": 1}')
        if at_head:  # an idempotent replay writes nothing
            assert store.append_event_at_head("s", "e1", "i", "t", "{}") == first
        else:
            assert store.append_event("s", "e1", None, "i", "t", "{}") == first
        if not at_head:
            store.create_session("t")
            store.append_event("t", "t1", None, "i", "t", "{}")
            with pytest.raises(InvalidEvent, match="parent"):
                store.append_event("s", "x4", "t1", "i", "t", "{}")
        store.archive_session("s")
        with pytest.raises(SessionArchived):
            append(store, "s", "x5")
        assert [e.id for e in store.load_events("s")] == ["e1"]
        count = store.connection.execute("SELECT event_count FROM sessions WHERE id = 's'").get
        assert count == 1


@pytest.mark.parametrize("at_head", [False, True])
def test_a_session_ahead_of_the_clock_gives_the_event_its_time(
    tmp_path: Path, at_head: bool
) -> None:
    """Another writer committed a later second (or the clock stepped back): never backwards."""
    now = [1_700_000_100]
    with SessionStore(tmp_path / "a.db", clock=lambda: now[0]) as store:
        store.create_session("s")
        store.append_event("s", "e1", None, "i", "t", "{}")
        now[0] -= 50
        if at_head:
            stored = store.append_event_at_head("s", "e2", "i", "t", "{}")
        else:
            stored = store.append_event("s", "e2", "e1", "i", "t", "{}")
        assert stored.created_at == 1_700_000_100
        assert [e.created_at for e in store.load_events("s")] == [1_700_000_100] * 2
        session = store.get_session("s")
        assert session is not None and session.updated_at == 1_700_000_100
        assert session.head_id == "e2"


def test_a_busy_database_is_store_busy_not_a_fallback_wait(tmp_path: Path) -> None:
    from convstore import StoreBusy

    db = tmp_path / "a.db"
    with SessionStore(db, timeout=0) as store:
        store.create_session("s")
        other = apsw.Connection(str(db))
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreBusy):
                store.append_event("s", "e1", None, "i", "t", "{}")
            with pytest.raises(StoreBusy):
                store.append_event_at_head("s", "e2", "i", "t", "{}")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.load_events("s") == []

"""import_session: original ids and timestamps, all or nothing, idempotent merge."""

from __future__ import annotations

import pytest
from conftest import FakeClock

from convstore import DuplicateId, InvalidEvent, SessionStore, StoredEvent


def _source(clock: FakeClock) -> SessionStore:
    src = SessionStore(":memory:", clock=clock)
    src.create_session("s1", "/p", "/g")
    src.append_event("s1", "e1", None, "i1", "user", '{"content": "a"}')
    clock.advance(5)
    src.append_event("s1", "e2", "e1", "i1", "text", '{"content": "b"}')
    src.set_metadata("s1", "title", "T")
    src.update_server_session_id("s1", "srv-1")
    return src


def test_round_trip_keeps_ids_parents_timestamps_head_and_metadata(clock: FakeClock) -> None:
    src = _source(clock)
    session = src.get_session("s1")
    assert session is not None
    clock.advance(1000)
    with SessionStore(":memory:", clock=clock) as dst:
        n = dst.import_session(session, src.load_events("s1"), metadata=src.get_all_metadata("s1"))
        assert n == 2
        assert dst.get_session("s1") == session
        assert dst.load_events("s1") == src.load_events("s1")
        assert dst.get_all_metadata("s1") == {"title": "T"}
        assert dst.list_sessions()[0].event_count == 2


def test_conflicting_session_id_writes_nothing(clock: FakeClock) -> None:
    src = _source(clock)
    session = src.get_session("s1")
    assert session is not None
    with SessionStore(":memory:", clock=clock) as dst:
        dst.create_session("s1")
        with pytest.raises(DuplicateId, match="s1"):
            dst.import_session(session, src.load_events("s1"))
        assert dst.load_events("s1") == []


def test_bad_parent_midway_rolls_back_everything(clock: FakeClock) -> None:
    src = _source(clock)
    session = src.get_session("s1")
    assert session is not None
    events = src.load_events("s1")
    broken = [events[0], events[1]._replace(parent_id="nope")]
    with SessionStore(":memory:", clock=clock) as dst:
        with pytest.raises(InvalidEvent, match="nope"):
            dst.import_session(session, broken)
        assert dst.get_session("s1") is None


def test_merge_adds_only_missing_events_and_refuses_conflicts(clock: FakeClock) -> None:
    src = _source(clock)
    session = src.get_session("s1")
    assert session is not None
    events = src.load_events("s1")
    with SessionStore(":memory:", clock=clock) as dst:
        assert dst.import_session(session._replace(head_id="e1"), events[:1]) == 1
        assert dst.import_session(session, events, merge=True) == 1
        assert dst.import_session(session, events, merge=True) == 0  # idempotent
        assert dst.load_events("s1") == events
        other = StoredEvent("e2", "s1", "e1", "i1", "text", '{"content": "changed"}', 0)
        with pytest.raises(DuplicateId, match="e2"):
            dst.import_session(session, [events[0], other], merge=True)
        assert dst.load_events("s1") == events

"""SessionManager: resume by last activity, boundary events, /new, history and fork.

Every test runs on each backend in ``SERVICE_BACKENDS`` (the local SQLite
store and an in-memory fake), so the manager relies on the protocol alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FakeClock

from convstore import (
    BOUNDARY_EVENT_TYPE,
    InvalidEvent,
    SessionManager,
    SessionNotFound,
    SessionService,
)

HOUR = 3600


def manager(
    service: SessionService, clock: FakeClock, cwd: str | Path, **kw: object
) -> SessionManager:
    return SessionManager(service, cwd=cwd, clock=clock, **kw)  # type: ignore[arg-type]


def test_start_without_history_creates_a_session_and_appends_nothing(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    m = manager(service, clock, tmp_path)
    assert m.start() is False
    session = service.get_session(m.session_id)
    assert session is not None
    assert session.directory == str(tmp_path)
    assert service.load_events(m.session_id) == []


def test_resume_appends_exactly_one_boundary_event_with_both_invocations_and_gap(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    first = manager(service, clock, tmp_path)
    first.start()
    first.append("user_message", {"content": "hello"})
    clock.advance(600)
    second = manager(service, clock, tmp_path)
    assert second.start() is True
    assert second.session_id == first.session_id
    events = service.load_events(first.session_id)
    assert [e.event_type for e in events] == ["user_message", BOUNDARY_EVENT_TYPE]
    data = json.loads(events[-1].event_data)
    gap = data.pop("gap_secs")
    assert data == {
        "previous_invocation_id": first.invocation_id,
        "invocation_id": second.invocation_id,
    }
    assert 600 <= gap <= 600 + clock.slack  # server time: the seconds the test itself took
    assert events[-1].invocation_id == second.invocation_id
    assert events[-1].parent_id == events[0].id


def test_resume_picks_the_most_recently_used_not_the_most_recently_created(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    old = manager(service, clock, tmp_path, session_continue_minutes=0)
    old.start()
    clock.advance(10)
    newer = manager(service, clock, tmp_path, session_continue_minutes=0)
    newer.start()
    clock.advance(10)
    old.append("user_message", "{}")  # the older session is used last
    clock.advance(10)
    m = manager(service, clock, tmp_path)
    assert m.start() is True
    assert m.session_id == old.session_id


def test_resume_window_edges(service: SessionService, clock: FakeClock, tmp_path: Path) -> None:
    first = manager(service, clock, tmp_path, session_continue_minutes=60)
    first.start()
    first.append("user_message", "{}")
    # Last activity just inside the window (on the server: minus the seconds the test
    # may take between the append and the lookup, both stamped by the server's clock).
    clock.advance(HOUR - 1 - clock.slack)
    inside = manager(service, clock, tmp_path, session_continue_minutes=60)
    assert inside.start() is True
    clock.advance(HOUR)  # exactly one window after the boundary event: outside
    outside = manager(service, clock, tmp_path, session_continue_minutes=60)
    assert outside.start() is False
    assert outside.session_id != first.session_id


def test_zero_minutes_disables_resuming_and_negative_is_an_error(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    manager(service, clock, tmp_path).start()
    m = manager(service, clock, tmp_path, session_continue_minutes=0)
    assert m.start() is False
    with pytest.raises(ValueError, match="session_continue_minutes"):
        manager(service, clock, tmp_path, session_continue_minutes=-1)


def test_git_root_resume_from_a_subdirectory(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "c").mkdir(parents=True)
    first = manager(service, clock, tmp_path / "a")
    first.start()
    assert first.git_root == str(tmp_path)
    later = manager(service, clock, tmp_path / "b" / "c")
    assert later.start() is True
    assert later.session_id == first.session_id


def test_git_worktree_file_marks_the_root(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / ".git").write_text("gitdir: /elsewhere/.git/worktrees/wt\n")
    (tmp_path / "x").mkdir()
    m = manager(service, clock, tmp_path / "x")
    assert m.git_root == str(tmp_path)


def test_new_session_archives_the_current_one_and_start_resumes_the_new_one(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    m = manager(service, clock, tmp_path)
    m.start()
    old_id = m.session_id
    m.append("user_message", "{}")
    m.new_session()
    assert m.session_id != old_id
    old = service.get_session(old_id)
    assert old is not None and old.archived_at is not None
    clock.advance(5)
    again = manager(service, clock, tmp_path)
    assert again.start() is True
    assert again.session_id == m.session_id


def test_fork_then_append_shows_only_the_new_branch(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    m = manager(service, clock, tmp_path)
    m.start()
    a = m.append("user_message", {"content": "a"})
    b = m.append("text", {"content": "b"})
    m.fork(a)
    c = m.append("text", {"content": "c"})
    assert [e.id for e in m.history()] == [a, c]
    assert [e.id for e in service.load_events(m.session_id)] == [a, b, c]


def test_fork_to_another_sessions_event_is_refused(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    one = manager(service, clock, tmp_path / "1", session_continue_minutes=0)
    one.start()
    foreign = one.append("text", "{}")
    two = manager(service, clock, tmp_path / "2", session_continue_minutes=0)
    two.start()
    mine = two.append("text", "{}")
    with pytest.raises(InvalidEvent):
        two.fork(foreign)
    session = service.get_session(two.session_id)
    assert session is not None and session.head_id == mine


def test_append_accepts_objects_and_json_text_and_refuses_bad_json(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    m = manager(service, clock, tmp_path)
    m.start()
    m.append("a", {"content": "héllo", "n": [1, 2]})
    m.append("b", '{"content": "raw"}')
    with pytest.raises(InvalidEvent):
        m.append("c", "{not json")
    events = service.load_events(m.session_id)
    assert [json.loads(e.event_data) for e in events] == [
        {"content": "héllo", "n": [1, 2]},
        {"content": "raw"},
    ]


def test_ids_are_time_ordered(service: SessionService, clock: FakeClock, tmp_path: Path) -> None:
    m = manager(service, clock, tmp_path)
    m.start()
    ids = [m.append("t", "{}") for _ in range(50)]
    assert ids == sorted(ids)
    assert all(i[14] == "7" for i in ids)  # UUID version 7


def test_metadata_upserts_and_missing_session_is_session_not_found(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    m = manager(service, clock, tmp_path)
    m.start()
    assert service.get_metadata(m.session_id, "title") is None
    service.set_metadata(m.session_id, "title", "first")
    service.set_metadata(m.session_id, "title", "second")
    assert service.get_metadata(m.session_id, "title") == "second"
    with pytest.raises(SessionNotFound):
        service.set_metadata("missing", "title", "x")
    with pytest.raises(SessionNotFound):
        service.get_metadata("missing", "title")


def test_session_id_before_start_is_a_clear_error(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = manager(service, clock, tmp_path).session_id


def test_bad_arguments_and_use_before_start_are_typed_store_errors(
    service: SessionService, clock: FakeClock, tmp_path: Path
) -> None:
    from convstore import InvalidArgument, InvalidEvent, NotStarted, StoreError

    for bad in ("60", -1, float("nan"), float("inf"), True):
        with pytest.raises(InvalidArgument, match="session_continue_minutes"):
            manager(service, clock, tmp_path, session_continue_minutes=bad)
    with pytest.raises(InvalidArgument, match="cwd"):
        SessionManager(service, cwd=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="clock"):
        SessionManager(service, cwd=str(tmp_path), clock=5)  # type: ignore[arg-type]
    m = manager(service, clock, tmp_path)
    with pytest.raises(NotStarted, match="start") as info:
        m.append("user", {"content": "too early"})
    assert isinstance(info.value, StoreError)
    m.start()
    with pytest.raises(InvalidEvent, match="JSON"):
        m.append("user", {"not": object()})

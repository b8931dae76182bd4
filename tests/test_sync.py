"""push/pull between local SQLite stores and the PostgreSQL team server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock, unique_owner

from convstore import DuplicateId, SessionManager, SessionStore, StoredEvent
from convstore.sync import SyncReport, pull, push

pytestmark = pytest.mark.usefixtures("pg_dsn")


def _server_view(svc: Any) -> dict[str, tuple[Any, ...]]:
    """Everything the server holds for the owner, by session id."""
    out = {}
    for s in svc.list_sessions(include_archived=True, limit=1000):
        exported = svc.export_session(s.id)
        out[s.id] = (s, exported[1], exported[2])
    return out


def _local_view(store: SessionStore) -> dict[str, tuple[Any, ...]]:
    return {
        s.id: (s, store.load_events(s.id), store.get_all_metadata(s.id))
        for s in store.list_sessions(include_archived=True, limit=1000)
    }


def _work(store: SessionStore, clock: FakeClock, cwd: Path, n: int, label: str) -> str:
    """A few conversations with a fork, an archived session and metadata."""
    from convstore import LocalSessionService

    svc = LocalSessionService(store)
    m = SessionManager(svc, cwd=cwd, clock=clock)
    m.start()
    ids = [m.append("user_message", {"content": f"{label} {i}"}) for i in range(n)]
    m.fork(ids[1])
    m.append("text", {"content": f"{label} branch"})
    svc.set_metadata(m.session_id, "title", f"{label}'s work")
    first = m.session_id
    clock.advance(5)
    m.new_session()  # archives the first
    m.append("user_message", {"content": f"{label} second"})
    clock.advance(5)
    return first


def test_two_machines_push_and_each_pulls_the_others_history_intact(
    tmp_path: Path, pg_service: Any, clock: FakeClock
) -> None:
    a = SessionStore(tmp_path / "a.db", clock=clock)
    b = SessionStore(tmp_path / "b.db", clock=clock)
    try:
        _work(a, clock, tmp_path / "pa", 5, "A")
        _work(b, clock, tmp_path / "pb", 7, "B")
        a_before, b_before = _local_view(a), _local_view(b)

        ra = push(a, pg_service)
        assert ra == SyncReport(sessions_checked=2, sessions_written=2, events_written=7)
        rb = push(b, pg_service)
        assert rb.sessions_written == 2 and rb.events_written == 9

        # Server ids recorded locally; nothing else changed locally.
        for store, before in ((a, a_before), (b, b_before)):
            for sid, (summary, events, meta) in _local_view(store).items():
                assert summary.server_session_id == sid
                assert summary._replace(server_session_id=None) == before[sid][0]
                assert (events, meta) == before[sid][1:]

        # The server has all four sessions exactly.
        server = _server_view(pg_service)
        assert set(server) == set(a_before) | set(b_before)
        for sid, (summary, events, meta) in {**a_before, **b_before}.items():
            assert server[sid][1] == events
            assert server[sid][2] == meta
            assert _strip(server[sid][0]) == _strip(summary)

        # Each machine pulls the other's history, intact: ids, parents, times, head, metadata.
        assert pull(a, pg_service).events_written == 9
        assert pull(b, pg_service).events_written == 7
        for store in (a, b):
            view = _local_view(store)
            assert set(view) == set(server)
            for sid, (summary, events, meta) in view.items():
                assert events == server[sid][1]
                assert meta == server[sid][2]
                assert _strip(summary) == _strip(server[sid][0])
                assert summary.server_session_id == sid
            # history (the forked branch) is the same on both sides
            for sid in server:
                assert store.history(sid) == pg_service.history(sid)

        # Idempotent: nothing left to do in either direction.
        for store in (a, b):
            assert push(store, pg_service) == SyncReport(4, 0, 0)
            assert pull(store, pg_service) == SyncReport(4, 0, 0)
        assert _server_view(pg_service) == server
    finally:
        a.close()
        b.close()


def _strip(s: Any) -> tuple[Any, ...]:
    return (s.id, s.head_id, s.directory, s.git_root, s.created_at, s.updated_at, s.archived_at)


def test_new_local_events_after_a_push_are_sent_and_resume_works_on_the_other_side(
    tmp_path: Path, pg_service: Any, clock: FakeClock
) -> None:
    from convstore import LocalSessionService

    # Real time on the laptop: the server resumes by its own clock, and pushed
    # events keep the laptop's timestamps.
    a = SessionStore(tmp_path / "a.db")
    try:
        m = SessionManager(LocalSessionService(a), cwd=tmp_path)
        m.start()
        m.append("user_message", "{}")
        push(a, pg_service)
        m.append("text", '{"more": true}')
        report = push(a, pg_service)
        assert (report.sessions_written, report.events_written) == (1, 1)
        # A client on the server resumes the pushed conversation where it ended.
        there = SessionManager(pg_service, cwd=tmp_path)
        assert there.start() is True and there.session_id == m.session_id
        assert [e.event_type for e in there.history()] == [
            "user_message",
            "text",
            "invocation_boundary",
        ]
        # ... and pulling it back brings the boundary event home.
        assert pull(a, pg_service).events_written == 1
        assert a.load_events(m.session_id) == pg_service.load_events(m.session_id)
    finally:
        a.close()


class _Flaky:
    """A server that fails after ``ok`` session imports: an interrupted push."""

    def __init__(self, inner: Any, ok: int) -> None:
        self._inner, self._ok = inner, ok

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def import_session(self, *args: Any, **kw: Any) -> int:
        if self._ok == 0:
            raise ConnectionError("network down")
        self._ok -= 1
        result: int = self._inner.import_session(*args, **kw)
        return result


def test_interrupted_push_resumes_and_finishes(
    tmp_path: Path, pg_service: Any, clock: FakeClock
) -> None:
    with SessionStore(tmp_path / "a.db", clock=clock) as a:
        for i in range(7):
            clock.advance(1)
            a.create_session(f"s{i}", f"/p{i}")
            a.append_event(f"s{i}", f"e{i}", None, "inv", "t", f'{{"i": {i}}}')
        with pytest.raises(ConnectionError):
            push(a, _Flaky(pg_service, ok=3), batch_size=2)
        assert len(pg_service.list_sessions(limit=100)) == 3
        report = push(a, pg_service, batch_size=2)
        assert (report.sessions_checked, report.sessions_written, report.events_written) == (
            7,
            4,
            4,
        )
        assert push(a, pg_service, batch_size=2) == SyncReport(7, 0, 0)
        assert all(s.server_session_id == s.id for s in a.list_sessions(limit=100))
        for i in range(7):
            assert pg_service.load_events(f"s{i}") == a.load_events(f"s{i}")


def test_conflicting_event_names_the_event_and_writes_nothing_of_that_session(
    tmp_path: Path, pg_dsn: str, clock: FakeClock
) -> None:
    from convstore.postgres import PostgresSessionService

    with (
        PostgresSessionService(pg_dsn, owner=unique_owner()) as svc,
        SessionStore(tmp_path / "a.db", clock=clock) as a,
        SessionStore(tmp_path / "b.db", clock=clock) as b,
    ):
        for store, text in ((a, '{"v": "a"}'), (b, '{"v": "b"}')):
            store.create_session("same", "/p")
            store.append_event("same", "e1", None, "i", "t", text)
        b.append_event("same", "e2", "e1", "i", "t", "{}")
        push(a, svc)
        before = svc.export_session("same")
        report = push(b, svc)  # refused: skipped and reported, not fatal
        assert [sid for sid, _ in report.skipped] == ["same"]
        assert re.search(r"'e1'", report.skipped[0][1])
        assert svc.export_session("same") == before  # e2 not half-written either
        assert b.get_session("same").server_session_id is None
        # pull refuses the conflict the same way, and leaves b as it was
        b_before = _local_view(b)
        report = pull(b, svc)
        assert [sid for sid, _ in report.skipped] == ["same"] and "'e1'" in report.skipped[0][1]
        assert _local_view(b) == b_before


def test_server_import_is_owner_scoped_and_refuses_a_different_session_with_that_id(
    pg_dsn: str, clock: FakeClock, pg_service: Any
) -> None:
    from convstore.postgres import PostgresSessionService

    session = pg_service.create_session("s", "/p")
    ev = StoredEvent("e1", "s", None, "i", "t", "{}", 5)
    assert pg_service.import_session(session, [ev], merge=True) == 1
    with pytest.raises(DuplicateId, match="'s'"):
        pg_service.import_session(session, [ev])  # merge=False: refuses an existing session
    with pytest.raises(DuplicateId, match="different directory"):
        pg_service.import_session(session._replace(directory="/q"), [], merge=True)
    with PostgresSessionService(pg_dsn, owner=unique_owner()) as other:
        assert other.import_session(session, [ev]) == 1  # its own copy
        assert other.load_events("s") == pg_service.load_events("s")
    assert pg_service.list_sessions()[0].event_count == 1


def test_pull_into_an_empty_store_from_sessions_created_on_the_server(
    tmp_path: Path, pg_service: Any, clock: FakeClock
) -> None:
    m = SessionManager(pg_service, cwd=tmp_path, clock=clock)
    m.start()
    for i in range(3):
        m.append("text", {"i": i})
    pg_service.set_metadata(m.session_id, "model", "x")
    with SessionStore(tmp_path / "fresh.db", clock=clock) as store:
        assert pull(store, pg_service) == SyncReport(1, 1, 3)
        assert store.load_events(m.session_id) == pg_service.load_events(m.session_id)
        assert store.get_metadata(m.session_id, "model") == "x"
        assert store.get_session(m.session_id).server_session_id == m.session_id
        assert pull(store, pg_service) == SyncReport(1, 0, 0)

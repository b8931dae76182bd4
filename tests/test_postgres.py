"""PostgreSQL backend: errors leave nothing written, ownership, linear concurrent appends.

The SessionService contract itself runs on this backend through the
parametrized ``service`` fixture (test_manager.py, test_listing.py); these
tests cover what only a shared server has.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
from typing import Any

import pytest
from conftest import PYTHON, FakeClock, child_env, unique_owner

from convstore import (
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    SessionArchived,
    SessionManager,
    SessionNotFound,
    StoreError,
)

pytestmark = pytest.mark.usefixtures("pg_dsn")


def _snapshot(svc: Any, session_id: str) -> tuple[Any, ...]:
    return (svc.get_session(session_id), svc.load_events(session_id))


def test_it_is_a_session_service(pg_service: Any) -> None:
    from convstore import SessionService

    assert isinstance(pg_service, SessionService)


def test_errors_are_typed_name_the_object_and_write_nothing(pg_service: Any) -> None:
    svc = pg_service
    svc.create_session("s1", "/p")
    svc.append_event("s1", "e1", None, "i", "t", '{"a": 1}')
    before = _snapshot(svc, "s1")

    with pytest.raises(SessionNotFound, match="'nope'"):
        svc.append_event("nope", "x1", None, "i", "t", "{}")
    with pytest.raises(DuplicateId, match="'e1'"):
        svc.append_event("s1", "e1", "e1", "i", "t", "{}")
    with pytest.raises(DuplicateId, match="'e1'"):
        svc.append_event_at_head("s1", "e1", "i", "t", "{}")
    with pytest.raises(InvalidEvent, match=r"'x2'.*JSON"):
        svc.append_event("s1", "x2", "e1", "i", "t", "{not json")
    with pytest.raises(InvalidEvent, match=r"'x3'.*JSON"):
        svc.append_event_at_head("s1", "x3", "i", "t", "")
    with pytest.raises(InvalidEvent, match="parent 'ghost'"):
        svc.append_event("s1", "x4", "ghost", "i", "t", "{}")
    with pytest.raises(InvalidEvent):
        svc.append_event("s1", "x5", None, "i", "t", "nul\x00byte")
    with pytest.raises(InvalidEvent):
        svc.append_event("s1", 5, None, "i", "t", "{}")
    with pytest.raises(DuplicateId, match="'s1'"):
        svc.create_session("s1")
    with pytest.raises(InvalidArgument):
        svc.create_session("bad\udcff")
    with pytest.raises(InvalidEvent, match="'e9'"):
        svc.set_head("s1", "e9")
    with pytest.raises(SessionNotFound):
        svc.set_head("nope", "e1")
    assert _snapshot(svc, "s1") == before

    # a parent in another session of the same owner is refused too
    svc.create_session("s2")
    with pytest.raises(InvalidEvent, match="'s2'"):
        svc.append_event("s2", "x6", "e1", "i", "t", "{}")
    assert svc.load_events("s2") == []

    svc.archive_session("s1")
    archived = svc.get_session("s1")
    with pytest.raises(SessionArchived, match="'s1'"):
        svc.append_event_at_head("s1", "x7", "i", "t", "{}")
    with pytest.raises(SessionArchived):
        svc.set_head("s1", "e1")
    svc.archive_session("s1")  # idempotent, keeps the first time
    assert _snapshot(svc, "s1") == (archived, before[1])


def test_event_data_text_is_kept_byte_for_byte(pg_service: Any) -> None:
    svc = pg_service
    svc.create_session("s")
    text = '{ "b" : 1,  "a": [1, 2.50], "u": "h\\u00e9llo ☃" }'
    svc.append_event("s", "e", None, "i", "t", text)
    assert svc.load_events("s")[0].event_data == text
    assert svc.get_event("s", "e").event_data == text


def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    from convstore.postgres import PostgresSessionService

    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1/") as info:
        PostgresSessionService(
            "host=127.0.0.1 port=1 dbname=x password=hunter2 connect_timeout=1",
            owner="a",
            timeout=1,
        )
    assert "hunter2" not in str(info.value)


def test_an_owner_sees_nothing_of_another_owners_sessions(pg_dsn: str, clock: FakeClock) -> None:
    from convstore.postgres import PostgresSessionService

    a = PostgresSessionService(pg_dsn, owner=unique_owner("a"))
    b = PostgresSessionService(pg_dsn, owner=unique_owner("b"))
    try:
        a.create_session("shared-id", "/p", "/root")
        a.append_event("shared-id", "ev1", None, "i", "t", '{"secret": 1}')
        a.set_metadata("shared-id", "title", "A's")
        a_before = _snapshot(a, "shared-id")

        # Reads: exactly as for an id that does not exist.
        assert b.get_session("shared-id") is None
        assert b.get_event("shared-id", "ev1") is None
        assert b.load_events("shared-id") == []
        assert b.history("shared-id") == []
        assert b.find_resumable_session("/p", "/root", 3600) is None
        assert b.list_sessions() == []
        assert b.list_sessions(directory="/p", include_archived=True) == []
        assert b.session_summaries(["shared-id"]) == {}
        assert b.export_session("shared-id") is None
        # Writes: SessionNotFound, the same message as for a missing id.
        for call in (
            lambda: b.append_event("shared-id", "ev2", None, "i", "t", "{}"),
            lambda: b.append_event_at_head("shared-id", "ev2", "i", "t", "{}"),
            lambda: b.archive_session("shared-id"),
            lambda: b.set_head("shared-id", "ev1"),
            lambda: b.set_metadata("shared-id", "title", "B's"),
            lambda: b.get_metadata("shared-id", "title"),
            lambda: b.update_server_session_id("shared-id", "x"),
            lambda: b.list_sessions(before="shared-id"),
        ):
            with pytest.raises(SessionNotFound) as mine:
                call()
            assert "shared-id" in str(mine.value)

        # ... with the very message a missing id gets: no hint that it exists.
        def message(session_id: str) -> str:
            with pytest.raises(SessionNotFound) as info:
                b.append_event(session_id, "ev2", None, "i", "t", "{}")
            return str(info.value)

        assert message("shared-id") == message("never-existed").replace(
            "never-existed", "shared-id"
        )

        # B may use the same ids without learning anything, and without touching A.
        b.create_session("shared-id", "/p", "/root")
        b.append_event("shared-id", "ev1", None, "i", "t", '{"mine": 2}')
        assert b.get_metadata("shared-id", "title") is None
        assert [e.event_data for e in b.load_events("shared-id")] == ['{"mine": 2}']
        assert _snapshot(a, "shared-id") == a_before
        assert a.get_metadata("shared-id", "title") == "A's"
    finally:
        a.close()
        b.close()


def test_reads_of_unknown_ids_are_empty(pg_service: Any) -> None:
    assert pg_service.get_session("x") is None
    assert pg_service.get_event("x", "y") is None
    assert pg_service.load_events("x") == []
    assert pg_service.history("x") == []


APPENDER = r"""
import sys
from convstore.postgres import PostgresSessionService
from convstore import SessionManager
dsn, owner, cwd, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
service = PostgresSessionService(dsn, owner=owner, max_size=1)
m = SessionManager(service, cwd=cwd)
assert m.start() is True, "expected to resume the shared session"
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()
for i in range(n):
    m.append("text", {"i": i})
print(m.session_id)
service.close()
"""


def _assert_linear(svc: Any, session_id: str, expected: int) -> None:
    events = svc.load_events(session_id)
    assert len(events) == expected
    assert len({e.id for e in events}) == expected
    assert events[0].parent_id is None
    for prev, ev in itertools.pairwise(events):
        assert ev.parent_id == prev.id
    session = svc.get_session(session_id)
    assert session.head_id == events[-1].id
    assert svc.list_sessions(limit=1)[0].event_count == expected
    assert [e.id for e in svc.history(session_id)] == [e.id for e in events]


def test_eight_threads_appending_at_head_form_one_chain(pg_dsn: str, tmp_path: Any) -> None:
    from convstore.postgres import PostgresSessionService

    svc = PostgresSessionService(pg_dsn, owner=unique_owner(), max_size=8)
    try:
        first = SessionManager(svc, cwd=tmp_path)
        first.start()
        first.append("user_message", {"content": "start"})
        n, writers = 60, 8
        barrier = threading.Barrier(writers)
        errors: list[BaseException] = []

        def write() -> None:
            try:
                m = SessionManager(svc, cwd=tmp_path)
                assert m.start() is True
                barrier.wait(timeout=60)
                for i in range(n):
                    m.append("text", {"i": i})
            except BaseException as exc:  # pragma: no cover - reported below
                barrier.abort()  # never leave the others waiting
                errors.append(exc)

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        _assert_linear(svc, first.session_id, 1 + writers + writers * n)
    finally:
        svc.close()


def test_eight_processes_appending_at_head_form_one_chain(pg_dsn: str, tmp_path: Any) -> None:
    from convstore.postgres import PostgresSessionService

    owner = unique_owner()
    svc = PostgresSessionService(pg_dsn, owner=owner)
    try:
        first = SessionManager(svc, cwd=tmp_path)
        first.start()
        first.append("user_message", {"content": "start"})
        n, writers = 60, 8
        procs = [
            subprocess.Popen(
                [PYTHON, "-c", APPENDER, pg_dsn, owner, str(tmp_path), str(n)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=child_env(),
            )
            for _ in range(writers)
        ]
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=120)[0].split() for p in procs]
        assert [p.returncode for p in procs] == [0] * writers
        assert {o[-1] for o in outs} == {first.session_id}
        _assert_linear(svc, first.session_id, 1 + writers + writers * n)
    finally:
        svc.close()


def test_pool_exhaustion_is_store_busy(pg_dsn: str) -> None:
    from convstore import StoreBusy
    from convstore.postgres import PostgresSessionService

    svc = PostgresSessionService(pg_dsn, owner=unique_owner(), max_size=1, timeout=0.2)
    try:
        with svc._conn("holding the only connection"), pytest.raises(StoreBusy, match="busy"):
            svc.get_session("x")
    finally:
        svc.close()

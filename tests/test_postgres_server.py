"""SPEC 6.1 on a real server: server time, bounded calls, the right error per cause."""

from __future__ import annotations

import time

from conftest import unique_owner


def test_timestamps_come_from_the_server_and_updated_at_never_moves_back(pg_dsn: str) -> None:
    from convstore.postgres import PostgresSessionService

    owner = unique_owner()
    ahead = time.time() + 7200
    with (
        PostgresSessionService(pg_dsn, owner=owner) as server_time,
        PostgresSessionService(pg_dsn, owner=owner, clock=lambda: ahead) as fast,
    ):
        before = int(time.time())
        s = server_time.create_session("s", directory="/p")
        assert before - 2 <= s.created_at <= time.time() + 2
        e = server_time.append_event_at_head("s", "e1", "i", "user", "{}")
        assert before - 2 <= e.created_at <= time.time() + 2
        fast.append_event_at_head("s", "e2", "i", "user", "{}")  # a clock 2 h ahead
        moved = server_time.get_session("s")
        assert moved is not None and moved.updated_at == int(ahead)
        server_time.append_event_at_head("s", "e3", "i", "user", "{}")
        server_time.set_head("s", "e1")
        after = server_time.get_session("s")
        assert after is not None and after.updated_at == int(ahead)  # never backwards
        # The resume cutoff is computed on the server: found within a minute.
        found = server_time.find_resumable_session("/p", None, 60)
        assert found is not None and found.id == "s"


def test_resume_window_uses_the_server_clock_not_the_clients(pg_dsn: str) -> None:
    from convstore.postgres import PostgresSessionService

    owner = unique_owner()
    with PostgresSessionService(pg_dsn, owner=owner) as svc:
        svc.create_session("fresh", directory="/q")
    # A client whose own clock is 2 h slow still resumes: no clock is passed,
    # so the window is measured against the server's time.
    slow = time.time() - 7200
    real_time = time.time
    try:
        time.time = lambda: slow  # type: ignore[assignment]
        with PostgresSessionService(pg_dsn, owner=owner) as client:
            found = client.find_resumable_session("/q", None, 3600)
    finally:
        time.time = real_time  # type: ignore[assignment]
    assert found is not None and found.id == "fresh"

"""SPEC 6.1 on a real server: server time, bounded calls, the right error per cause."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import unique_owner

from convstore import StoreError


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


# -- failure paths on a cluster of our own (stopped, restarted, killed) ------------


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Any]:
    """A cluster these tests may stop, freeze and restart without disturbing the others."""
    from conftest import require_postgres
    from pgcluster import temporary_cluster

    require_postgres()  # server binaries and psycopg, or skip with the install hint
    from convstore.postgres_migrations import migrate_server

    cluster = temporary_cluster()
    cluster.start()
    try:
        cluster.dsn = cluster.create_database("faults")
        migrate_server(cluster.dsn)
        yield cluster
    finally:
        try:
            cluster.stop(mode="immediate")
        finally:
            shutil.rmtree(cluster.datadir.parent, ignore_errors=True)


def _server_pids(cluster: Any) -> list[int]:
    """The postmaster and every process it started."""
    postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                pids.append(int(entry))
    return pids


def _wait_until_up(dsn: str, seconds: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # polling a condition (the server accepting), not a guessed delay


def test_first_calls_after_a_server_restart_succeed(own_cluster: Any) -> None:
    from convstore.postgres import PostgresSessionService

    with PostgresSessionService(own_cluster.dsn, owner="r", min_size=4, max_size=4) as svc:
        svc.pool.wait(timeout=10)  # four idle connections
        svc.create_session("before-restart")
        own_cluster.stop(mode="fast")
        own_cluster.start()
        results = [svc.get_session("before-restart") for _ in range(4)]
        assert all(r is not None for r in results)
        svc.append_event_at_head("before-restart", "after", "i", "user", "{}")


def test_a_down_server_is_a_connection_error_within_timeout(own_cluster: Any) -> None:
    from convstore import StoreBusy
    from convstore.postgres import PostgresSessionService

    svc = PostgresSessionService(own_cluster.dsn, owner="d", timeout=2)
    try:
        own_cluster.stop(mode="fast")
        for call in (lambda: svc.get_session("x"), lambda: svc.create_session("y")):
            t0 = time.monotonic()
            with pytest.raises(StoreError) as info:
                call()
            assert time.monotonic() - t0 < 3.0
            assert not isinstance(info.value, StoreBusy), info.value
            assert "127.0.0.1" in str(info.value)
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="cannot connect"):
            PostgresSessionService(own_cluster.dsn, owner="d", timeout=2)
        assert time.monotonic() - t0 < 3.0
    finally:
        svc.close()
        own_cluster.start()


def test_a_hung_server_returns_within_timeout_plus_one_second(own_cluster: Any) -> None:
    from convstore import CommitUncertain, StoreBusy
    from convstore.postgres import PostgresSessionService

    svc = PostgresSessionService(own_cluster.dsn, owner="h", timeout=2, min_size=3, max_size=4)
    svc.pool.wait(timeout=10)  # idle connections ready: the calls below reach the server
    svc.create_session("h")
    pids = _server_pids(own_cluster)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="did not answer within 2s") as info:
            svc.get_session("h")
        assert time.monotonic() - t0 < 3.0 and not isinstance(info.value, StoreBusy)
        t0 = time.monotonic()
        with pytest.raises(CommitUncertain):
            svc.append_event_at_head("h", "frozen", "i", "user", "{}")
        assert time.monotonic() - t0 < 3.0
        t0 = time.monotonic()
        with pytest.raises(StoreError):
            PostgresSessionService(own_cluster.dsn, owner="h", timeout=2)
        assert time.monotonic() - t0 < 3.0
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    # The server answers again: the retry with the same id is safe either way.
    _wait_until_up(own_cluster.dsn)
    ev = svc.append_event_at_head("h", "frozen", "i", "user", "{}")
    assert [e.id for e in svc.load_events("h")] == ["frozen"] and ev.id == "frozen"
    svc.close()


def test_connection_lost_during_a_write_is_commit_uncertain(own_cluster: Any) -> None:
    import psycopg

    from convstore import CommitUncertain
    from convstore.postgres import PostgresSessionService

    # The test cluster runs with synchronous_commit=off; a crash must not lose the setup.
    dsn = own_cluster.dsn + " options='-c synchronous_commit=on'"
    svc = PostgresSessionService(dsn, owner="k", timeout=5, max_size=1)
    svc.create_session("k")
    with svc._conn("reading the backend pid") as conn:
        pid = conn.info.backend_pid
    outcome: list[BaseException | None] = []
    locker = psycopg.connect(own_cluster.dsn)
    try:
        locker.execute("SELECT 1 FROM sessions WHERE owner = 'k' FOR UPDATE")

        def append() -> None:
            try:
                svc.append_event_at_head("k", "lost", "i", "user", "{}")
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        writer = threading.Thread(target=append)
        writer.start()
        deadline = time.monotonic() + 10
        while True:  # until the append waits on the row lock
            row = locker.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row == ("Lock",) or time.monotonic() > deadline:
                break
        assert row == ("Lock",)
        os.kill(pid, signal.SIGKILL)  # the connection dies with the write in flight
        writer.join(timeout=10)
        assert len(outcome) == 1 and isinstance(outcome[0], CommitUncertain), outcome
    finally:
        with contextlib.suppress(psycopg.Error):
            locker.close()
    _wait_until_up(own_cluster.dsn)
    svc.append_event_at_head("k", "lost", "i", "user", "{}")  # the safe retry
    svc.append_event_at_head("k", "lost", "i", "user", "{}")  # and again: a replay
    assert [e.id for e in svc.load_events("k")] == ["lost"]
    svc.close()


def test_server_purge_has_the_local_semantics(pg_dsn: str) -> None:
    from convstore import InvalidArgument, SessionStore
    from convstore.postgres import PostgresSessionService

    t = [1_700_000_000]
    owner = unique_owner()
    with (
        PostgresSessionService(pg_dsn, owner=owner, clock=lambda: t[0]) as svc,
        PostgresSessionService(pg_dsn, owner=unique_owner(), clock=lambda: t[0]) as other,
        SessionStore(":memory:", clock=lambda: t[0]) as local,
    ):
        for side in (svc, local, other):
            for name, n in (("old1", 3), ("old2", 2), ("live", 1), ("recent", 1)):
                side.create_session(name, "/p")
                for i in range(n):
                    side.append_event_at_head(name, f"{name}-{i}", "i", "text", "{}")
                side.set_metadata(name, "title", name)
            side.archive_session("old1")
            side.archive_session("old2")
        t[0] += 100
        for side in (svc, local, other):
            side.archive_session("recent")
        with pytest.raises(InvalidArgument):
            svc.purge(archived_before="soon")  # type: ignore[arg-type]
        expected = local.purge(archived_before=t[0], dry_run=True)
        assert svc.purge(archived_before=t[0], dry_run=True) == expected
        assert expected[:3] == (2, 5, 2)
        seen: list[Any] = []
        report = svc.purge(archived_before=t[0], batch_size=4, progress=seen.append)
        assert report[:3] == local.purge(archived_before=t[0])[:3] == (2, 5, 2)
        assert report.batches == 2 and len(seen) == 2
        assert {s.id for s in svc.list_sessions(include_archived=True)} == {"live", "recent"}
        assert svc.load_events("old1") == [] and svc.get_session("old2") is None
        assert len(other.list_sessions(include_archived=True)) == 4  # another owner untouched

"""SPEC 6.1 on a real server: server time, bounded calls, the right error per cause."""

from __future__ import annotations

import contextlib
import json
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
    import psycopg

    from convstore import SessionManager
    from convstore.postgres import PostgresSessionService

    owner = unique_owner()
    ahead = time.time() + 7200
    behind = time.time() - 7200
    with (
        PostgresSessionService(pg_dsn, owner=owner) as server_time,
        PostgresSessionService(pg_dsn, owner=owner, clock=lambda: ahead) as fast,
        PostgresSessionService(pg_dsn, owner=owner, clock=lambda: behind) as slow,
    ):
        before = int(time.time())
        s = fast.create_session("s", directory="/p")  # a client clock 2 h ahead...
        assert before - 2 <= s.created_at <= time.time() + 2  # ...is not what is stored
        e = slow.append_event_at_head("s", "e1", "i", "user", "{}")  # nor one 2 h behind
        assert before - 2 <= e.created_at <= time.time() + 2
        fast.set_metadata("s", "k", "v")
        for side in (fast, slow):
            got = side.get_session("s")
            assert got is not None and before - 2 <= got.updated_at <= time.time() + 2
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            meta_time = conn.execute(
                "SELECT updated_at FROM session_metadata WHERE owner = %s", (owner,)
            ).fetchone()
            assert meta_time is not None and before - 2 <= meta_time[0] <= time.time() + 2
            # A session whose updated_at is ahead of the server (an imported event
            # stamped by a faster machine): set by the schema owner, not a client.
            future = int(ahead)
            conn.execute(
                "UPDATE sessions SET updated_at = %s WHERE owner = %s", (future, owner)
            )
        server_time.append_event_at_head("s", "e2", "i", "user", "{}")
        server_time.set_head("s", "e1")
        after = server_time.get_session("s")
        assert after is not None and after.updated_at == future  # never backwards
        # The resume cutoff is computed on the server; the slow client's clock
        # only feeds the boundary event's gap (clamped at 0).
        found = slow.find_resumable_session("/p", None, 60)
        assert found is not None and found.id == "s"
        manager = SessionManager(slow, cwd="/p")
        assert manager.start() is True
        boundary = slow.load_events("s")[-1]
        assert json.loads(boundary.event_data)["gap_secs"] == 0
        assert before - 2 <= boundary.created_at <= time.time() + 2
        fast.archive_session("s")
        archived = server_time.get_session("s")
        assert archived is not None and archived.archived_at is not None
        assert before - 2 <= archived.archived_at <= time.time() + 2


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


def _purge_fixture(side: Any) -> None:
    """Two old archived sessions, a live one, a recently archived one; one is large."""
    for name, n in (("old1", 3), ("old2", 2), ("huge", 23), ("live", 1), ("recent", 1)):
        side.create_session(name, "/p")
        for i in range(n):
            side.append_event_at_head(name, f"{name}-{i}", "i", "text", "{}")
        side.set_metadata(name, "title", name)
    side.record_usage("huge", "huge-7", model="m", input_tokens=1, output_tokens=1)
    for name in ("old1", "old2", "huge"):
        side.archive_session(name)


def test_server_purge_has_the_local_semantics(pg_dsn: str) -> None:
    from conftest import age_owner

    from convstore import InvalidArgument, SessionStore
    from convstore.postgres import PostgresSessionService

    t = [1_700_000_000]
    owner, bystander = unique_owner(), unique_owner()
    with (
        PostgresSessionService(pg_dsn, owner=owner) as svc,
        PostgresSessionService(pg_dsn, owner=bystander) as other,
        SessionStore(":memory:", clock=lambda: t[0]) as local,
    ):
        for side in (svc, local, other):
            _purge_fixture(side)
        # 100 s pass: locally by the store's clock, on the server by ageing the rows.
        t[0] += 100
        for who in (owner, bystander):
            age_owner(pg_dsn, who, 100)
        for side in (svc, local, other):
            side.archive_session("recent")
        server_cutoff = int(time.time()) - 50  # between the old archives and "recent"
        with pytest.raises(InvalidArgument):
            svc.purge(archived_before="soon")  # type: ignore[arg-type]
        expected = local.purge(archived_before=t[0] - 50, dry_run=True)
        assert svc.purge(archived_before=server_cutoff, dry_run=True) == expected
        assert expected[:3] == (3, 28, 3)
        seen: list[Any] = []
        local_seen: list[Any] = []
        report = svc.purge(archived_before=server_cutoff, batch_size=4, progress=seen.append)
        local_report = local.purge(
            archived_before=t[0] - 50, batch_size=4, progress=local_seen.append
        )
        assert report == local_report and report[:3] == (3, 28, 3)
        assert seen == local_seen  # the same batches, report by report
        # Every transaction is bounded, the huge session's too: <= 4 events a batch.
        before = [report._replace(events=0), *seen[:-1]]
        steps = [b.events - a.events for a, b in zip(before, seen, strict=True)]
        assert max(steps) <= 4 and report.batches == len(seen) >= 28 // 4
        assert {s.id for s in svc.list_sessions(include_archived=True)} == {"live", "recent"}
        assert svc.load_events("old1") == [] and svc.get_session("huge") is None
        assert svc.usage() == []
        assert len(other.list_sessions(include_archived=True)) == 5  # another owner untouched
        assert other.purge(archived_before=server_cutoff, dry_run=True)[:3] == (3, 28, 3)


def test_an_interrupted_server_purge_leaves_a_consistent_archived_session(pg_dsn: str) -> None:
    from conftest import age_owner

    from convstore.postgres import PostgresSessionService

    class Stop(Exception):
        pass

    def stop_after_two(report: Any) -> None:
        if report.batches == 2:
            raise Stop

    owner = unique_owner()
    with PostgresSessionService(pg_dsn, owner=owner) as svc:
        _purge_fixture(svc)
        age_owner(pg_dsn, owner, 100)
        cutoff = int(time.time()) - 50
        with pytest.raises(Stop):
            svc.purge(archived_before=cutoff, batch_size=10, progress=stop_after_two)
        # Batch 1: old1 (3+1), old2 (2+1), 3 of huge's newest events; batch 2: 10 more.
        huge = svc.get_session("huge")
        assert huge is not None and huge.archived_at is not None
        left = svc.load_events("huge")
        assert [e.id for e in left] == [f"huge-{i}" for i in range(10)]
        assert svc.purge(archived_before=cutoff, dry_run=True)[:3] == (1, 10, 1)
        assert svc.usage() != []  # huge-7's usage is still there with its event
        final = svc.purge(archived_before=cutoff, batch_size=10)
        assert final[:3] == (1, 10, 1)
        assert svc.get_session("huge") is None and svc.usage() == []
        assert {s.id for s in svc.list_sessions(include_archived=True)} == {"live", "recent"}

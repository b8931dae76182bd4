"""The lifecycle through the service layer, on both backends (local SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock, unique_owner

from convstore import (
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    LocalSessionService,
    SessionArchived,
    SessionManager,
    SessionNotFound,
)
from convstore.lifecycle import UsageTotal, usage_day_key
from convstore.retention import RetentionPolicy
from convstore.service import LifecycleService
from convstore.tools import RecallTools

DAY = 86_400


@pytest.fixture(params=["local", "postgres"])
def svc(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Any]:
    if request.param == "local":
        service: Any = LocalSessionService(tmp_path / "l.db", clock=clock)
    else:
        dsn = request.getfixturevalue("pg_dsn")  # skips first without the postgres extra
        from convstore.postgres import PostgresSessionService

        owner = unique_owner()
        clock.follow_server(dsn, owner)  # server time: advancing ages the owner's rows
        service = PostgresSessionService(dsn, owner=owner, max_size=4)
    yield service
    service.close()


def _chain(svc: Any, sid: str, n: int, prefix: str = "e") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(1, n + 1)]
    for eid in ids:
        svc.append_event_at_head(sid, eid, "inv", "user", json.dumps({"content": f"say {eid}"}))
    return ids


def _ids(events: list[Any]) -> list[str]:
    return [e.id for e in events]


def test_is_a_lifecycle_service(svc: Any) -> None:
    assert isinstance(svc, LifecycleService)


def test_compaction(svc: Any) -> None:
    svc.create_session("s1")
    _chain(svc, "s1", 4)
    s1 = svc.compact("s1", {"content": "1-2"}, through_event_id="e2", event_id="S1")
    assert svc.compact("s1", {"content": "1-2"}, through_event_id="e2", event_id="S1") == s1
    assert s1.parent_id == "e4" and json.loads(s1.event_data)["compacted_through"] == "e2"
    assert _ids(svc.history("s1")) == ["S1", "e3", "e4"]
    assert _ids(svc.history("s1", full=True)) == ["e1", "e2", "e3", "e4", "S1"]
    assert len(svc.load_events("s1")) == 5
    with pytest.raises(InvalidEvent, match="already covered"):
        svc.compact("s1", "{}", through_event_id="e1")
    with pytest.raises(DuplicateId):
        svc.compact("s1", "{}", through_event_id="e3", event_id="e1")
    svc.compact("s1", {"content": "1-3"}, through_event_id="e3", event_id="S2")
    assert _ids(svc.history("s1")) == ["S2", "e4"]
    svc.set_head("s1", "e2")  # fork before both summaries
    assert _ids(svc.history("s1")) == ["e1", "e2"]
    with pytest.raises(SessionNotFound):
        svc.compact("nope", "{}", through_event_id="e1")
    with pytest.raises(InvalidEvent):
        svc.compact("s1", "not json", through_event_id="e1")
    assert len(svc.load_events("s1")) == 6  # nothing written by the refused calls
    svc.archive_session("s1")
    with pytest.raises(SessionArchived):
        svc.compact("s1", "{}", through_event_id="e1")


def test_manager_history_honours_compaction_after_resume(svc: Any, clock: FakeClock) -> None:
    m = SessionManager(svc, cwd="/p", clock=clock)
    m.start()
    ids = [m.append("user", {"content": f"m{i}"}) for i in range(3)]
    summary = svc.compact(m.session_id, {"content": "sum"}, through_event_id=ids[1])
    clock.advance(60)
    m2 = SessionManager(svc, cwd="/p", clock=clock)
    assert m2.start() is True
    assert _ids(m2.history())[:2] == [summary.id, ids[2]] and len(m2.history()) == 3


def test_usage(svc: Any, clock: FakeClock) -> None:
    svc.create_session("a")
    svc.create_session("b")
    _chain(svc, "a", 2, "a")
    clock.advance(DAY)
    _chain(svc, "b", 1, "b")
    svc.record_usage("a", "a1", model="m1", input_tokens=10, output_tokens=1, cost=0.5)
    svc.record_usage("a", "a1", model="m1", input_tokens=10, output_tokens=1, cost=0.5)  # retry
    svc.record_usage("a", "a2", model="m2", input_tokens=3, output_tokens=3, cached_tokens=2)
    svc.record_usage("b", "b1", model="m1", input_tokens=5, output_tokens=5, cost=0.25)
    assert svc.usage() == [UsageTotal("m1", 15, 6, 0, 0.75, 2), UsageTotal("m2", 3, 3, 2, None, 1)]
    assert [t.key for t in svc.usage(group_by="session")] == ["a", "b"]
    b1 = svc.get_event("b", "b1").created_at  # the backend's own clock (the server's)
    a2 = svc.get_event("a", "a2").created_at
    assert b1 - DAY - clock.slack <= a2 <= b1 - DAY
    days = [usage_day_key(a2 // DAY), usage_day_key(b1 // DAY)]
    assert days[0] < days[1]
    assert [t.key for t in svc.usage(group_by="day")] == days
    assert svc.usage(session_id="b") == [UsageTotal("m1", 5, 5, 0, 0.25, 1)]
    assert svc.usage(since=b1) == [UsageTotal("m1", 5, 5, 0, 0.25, 1)]
    svc.compact("a", {"content": "s"}, through_event_id="a2")
    assert svc.usage(session_id="a")[0].input_tokens == 10  # survives compaction
    with pytest.raises(DuplicateId):
        svc.record_usage("a", "a1", model="m1", input_tokens=11, output_tokens=1)
    with pytest.raises(SessionNotFound):
        svc.record_usage("zz", "a1", model="m1", input_tokens=1, output_tokens=1)
    with pytest.raises(InvalidEvent):
        svc.record_usage("b", "a1", model="m1", input_tokens=1, output_tokens=1)
    for bad in ({"input_tokens": -1}, {"cost": math.nan}, {"model": ""}, {"output_tokens": 2**60}):
        args: dict[str, Any] = {"model": "m9", "input_tokens": 1, "output_tokens": 1, **bad}
        with pytest.raises(InvalidArgument):
            svc.record_usage("a", "a1", **args)
    with pytest.raises(InvalidArgument, match="group_by"):
        svc.usage(group_by="hour")
    assert len(svc.usage()) == 2


def test_retention(svc: Any, clock: FakeClock) -> None:
    svc.create_session("idle")
    _chain(svc, "idle", 2, "i")
    svc.create_session("gone")
    _chain(svc, "gone", 3, "g")
    svc.record_usage("gone", "g1", model="m", input_tokens=1, output_tokens=1)
    svc.archive_session("gone")
    clock.advance(100 * DAY)
    svc.create_session("fresh")
    policy = RetentionPolicy(archive_idle_days=30, delete_archived_after_days=30, max_bytes=0)
    dry = svc.apply_retention(policy)
    assert dry.dry_run and dry.archived == ("idle",) and dry.deleted == ("gone",)
    assert dry.events_deleted == 3 and dry.bytes_freed > 0 and dry.over_budget
    assert svc.get_session("gone") is not None and svc.get_session("idle").archived_at is None
    real = svc.apply_retention(policy, dry_run=False)
    assert real._replace(dry_run=True) == dry
    assert svc.get_session("gone") is None
    assert svc.get_session("fresh") is not None and svc.get_session("idle") is not None
    assert svc.usage() == []
    with pytest.raises(InvalidArgument):
        svc.apply_retention("30 days")


def test_recall_tools_scope(svc: Any) -> None:
    svc.create_session("mine", directory="/a")
    svc.create_session("theirs", directory="/b")
    svc.append_event_at_head("mine", "m1", "i", "user", '{"content": "the WAL checkpoint"}')
    svc.append_event_at_head("theirs", "t1", "i", "user", '{"content": "the WAL secret"}')
    tools = RecallTools(svc, directory="/a")
    found = tools.call("search_conversations", {"query": "wal"})
    assert "session mine" in found and "theirs" not in found and "secret" not in found
    assert "theirs" not in tools.call("list_conversations", {})
    assert tools.call("read_conversation", {"session_id": "theirs"}).startswith("error:")
    assert "checkpoint" in tools.call("read_conversation", {"session_id": "mine"})


def test_postgres_usage_and_retention_are_scoped_by_owner(pg_dsn: str, clock: FakeClock) -> None:
    from convstore.postgres import PostgresSessionService

    with PostgresSessionService(pg_dsn, owner=unique_owner()) as alice, \
            PostgresSessionService(pg_dsn, owner=unique_owner()) as bob:
        alice.create_session("s")
        alice.append_event("s", "e", None, "i", "user", '{"content": "alice only"}')
        alice.record_usage("s", "e", model="m", input_tokens=1, output_tokens=1)
        alice.archive_session("s")
        bob.create_session("s")
        bob.append_event("s", "e", None, "i", "user", "{}")
        assert bob.usage() == []
        with pytest.raises(InvalidEvent):  # bob's "e" has no usage; alice's is invisible
            bob.compact("s", "{}", through_event_id="nope")
        assert bob.apply_retention(RetentionPolicy(delete_archived_after_days=0)).deleted == ()
        assert RecallTools(bob).call("search_conversations", {"query": "alice"}).startswith("No")
        assert alice.apply_retention(RetentionPolicy(delete_archived_after_days=0)).deleted == (
            "s",
        )


def test_usage_survives_sync_both_ways(pg_dsn: str, clock: FakeClock) -> None:
    from convstore import SessionStore
    from convstore.postgres import PostgresSessionService
    from convstore.sync import pull, push

    owner = unique_owner()
    with SessionStore(":memory:", clock=clock) as laptop, SessionStore(
        ":memory:", clock=clock
    ) as desktop, PostgresSessionService(pg_dsn, owner=owner) as server:
        laptop.create_session("s")
        laptop.append_event("s", "e1", None, "i", "assistant", '{"content": "a"}')
        laptop.record_usage("s", "e1", model="m", input_tokens=7, output_tokens=3, cost=0.5)
        push(laptop, server)
        assert server.usage() == laptop.usage()
        # Usage recorded after the events were synced still travels.
        laptop.record_usage("s", "e1", model="m2", input_tokens=1, output_tokens=1)
        push(laptop, server)
        assert server.usage() == laptop.usage()
        pull(desktop, server)
        assert desktop.usage() == laptop.usage()
        laptop.compact("s", {"content": "sum"}, through_event_id="e1")
        push(laptop, server)
        pull(desktop, server)
        assert desktop.usage() == laptop.usage() == server.usage()
        assert [e.event_type for e in desktop.history("s")] == ["compaction"]
        push(laptop, server)  # idempotent
        assert len(server.usage()) == 2

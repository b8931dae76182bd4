"""The conversation lifecycle on the local store (SPEC §9): compaction, usage, retention, stats."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import FakeClock

from convstore import (
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    LocalSessionService,
    SessionArchived,
    SessionManager,
    SessionNotFound,
    SessionStore,
    StoreError,
)
from convstore.lifecycle import COMPACTION_EVENT_TYPE, UsageTotal, fold_history
from convstore.retention import RetentionPolicy, RetentionReport, database_stats

DAY = 86_400


def _chain(store: SessionStore, sid: str, n: int, prefix: str = "e") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(1, n + 1)]
    for eid in ids:
        store.append_event_at_head(sid, eid, "inv", "user", json.dumps({"content": f"msg {eid}"}))
    return ids


def _ids(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.id for e in events]


def _snapshot(store: SessionStore) -> list[tuple[object, ...]]:
    conn = store.connection
    out: list[tuple[object, ...]] = []
    for table in ("sessions", "session_events", "session_metadata", "usage_ledger"):
        out.extend(conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall())
    return out


# -- compaction ------------------------------------------------------------------


def test_compact_replaces_covered_events_in_history_and_keeps_the_originals(
    store: SessionStore,
) -> None:
    store.create_session("s1")
    _chain(store, "s1", 5)
    summary = store.compact("s1", '{"content": "summary of 1-3"}', through_event_id="e3")
    assert summary.event_type == COMPACTION_EVENT_TYPE
    assert summary.parent_id == "e5"
    assert json.loads(summary.event_data) == {
        "content": "summary of 1-3",
        "compacted_through": "e3",
    }
    assert _ids(store.history("s1")) == [summary.id, "e4", "e5"]
    assert _ids(store.history("s1", full=True)) == ["e1", "e2", "e3", "e4", "e5", summary.id]
    assert _ids(store.load_events("s1")) == ["e1", "e2", "e3", "e4", "e5", summary.id]
    assert store.get_session("s1").head_id == summary.id  # type: ignore[union-attr]
    # The originals stay searchable and exported.
    assert {h.event_id for h in store.search("msg")} >= {"e1", "e2", "e3"}
    kinds = [json.loads(line).get("id") for line in store.export_jsonl(["s1"])]
    assert "e1" in kinds and summary.id in kinds
    # New events follow the summary.
    store.append_event_at_head("s1", "e6", "inv", "user", "{}")
    assert _ids(store.history("s1")) == [summary.id, "e4", "e5", "e6"]


def test_compacting_twice_folds_the_first_summary_into_the_second(store: SessionStore) -> None:
    store.create_session("s1")
    _chain(store, "s1", 4)
    first = store.compact("s1", {"content": "1-2"}, through_event_id="e2", event_id="S1")
    _chain(store, "s1", 2, prefix="f")
    # e1 is hidden by the first summary: compacting through it is refused, nothing written.
    before = _snapshot(store)
    with pytest.raises(InvalidEvent, match="already covered"):
        store.compact("s1", {"content": "x"}, through_event_id="e1")
    assert _snapshot(store) == before
    second = store.compact("s1", {"content": "1-4 and f1"}, through_event_id="f1", event_id="S2")
    assert _ids(store.history("s1")) == ["S2", "f2"]
    assert first.id in _ids(store.history("s1", full=True))
    # Compacting through an event before the first summary's position folds it too.
    store.set_head("s1", "S1")
    assert _ids(store.history("s1")) == ["S1", "e3", "e4"]
    store.set_head("s1", second.id)
    third = store.compact("s1", {"content": "all"}, through_event_id="S2", event_id="S3")
    assert _ids(store.history("s1")) == [third.id]


def test_compact_through_a_visible_event_before_an_earlier_summary(store: SessionStore) -> None:
    store.create_session("s1")
    _chain(store, "s1", 5)
    store.compact("s1", {"content": "1-2"}, through_event_id="e2", event_id="S1")
    # e4 is visible (after e2) but sits before S1 on the chain: S1 is folded in.
    store.compact("s1", {"content": "1-4"}, through_event_id="e4", event_id="S2")
    assert _ids(store.history("s1")) == ["S2", "e5"]


def test_forking_before_a_summary_brings_the_originals_back(store: SessionStore) -> None:
    svc = LocalSessionService(store)
    manager = SessionManager(svc, cwd="/p", clock=lambda: 1_700_000_000)
    manager.start()
    ids = [manager.append("user", {"content": f"m{i}"}) for i in range(4)]
    summary = store.compact(manager.session_id, {"content": "sum"}, through_event_id=ids[2])
    assert _ids(manager.history()) == [summary.id, ids[3]]
    manager.fork(ids[1])
    assert _ids(manager.history()) == ids[:2]
    new = manager.append("user", {"content": "branch"})
    assert _ids(manager.history()) == [*ids[:2], new]
    assert summary.id in _ids(store.load_events(manager.session_id))


def test_resuming_a_compacted_session_keeps_the_summary_first(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "s.db"
    with LocalSessionService(path, clock=clock) as svc:
        m = SessionManager(svc, cwd="/p", clock=clock)
        assert m.start() is False
        ids = [m.append("user", {"content": f"m{i}"}) for i in range(3)]
        summary = svc.compact(m.session_id, {"content": "sum"}, through_event_id=ids[1])
    clock.advance(60)
    with LocalSessionService(path, clock=clock) as svc:
        m2 = SessionManager(svc, cwd="/p", clock=clock)
        assert m2.start() is True  # resumed: one boundary event appended
        hist = m2.history()
        assert hist[0].id == summary.id and hist[1].id == ids[2]
        assert len(hist) == 3 and hist[2].event_type != COMPACTION_EVENT_TYPE
        assert len(svc.history(m2.session_id, full=True)) == 5


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"session_id": "nope", "through_event_id": "e1"}, SessionNotFound),
        ({"through_event_id": "zz"}, InvalidEvent),
        ({"through_event_id": 3}, InvalidEvent),
        ({"session_id": 7, "through_event_id": "e1"}, InvalidArgument),
        ({"summary_data": "not json", "through_event_id": "e1"}, InvalidEvent),
        ({"summary_data": "[1, 2]", "through_event_id": "e1"}, InvalidEvent),
        ({"summary_data": '{"a": NaN}', "through_event_id": "e1"}, InvalidEvent),
        ({"summary_data": 42, "through_event_id": "e1"}, InvalidEvent),
        ({"summary_data": '{"compacted_through": "e2"}', "through_event_id": "e1"}, InvalidEvent),
        ({"through_event_id": "e1", "event_id": "e2"}, DuplicateId),
        ({"through_event_id": "e1", "event_id": 5}, InvalidArgument),
    ],
)
def test_compact_refuses_bad_arguments_and_writes_nothing(
    store: SessionStore, kwargs: dict[str, object], error: type[Exception]
) -> None:
    store.create_session("s1")
    _chain(store, "s1", 2)
    args = {"session_id": "s1", "summary_data": '{"content": "s"}', **kwargs}
    before = _snapshot(store)
    with pytest.raises(error):
        store.compact(args.pop("session_id"), args.pop("summary_data"), **args)  # type: ignore[arg-type]
    assert _snapshot(store) == before


def test_compact_an_archived_or_empty_session_is_refused(store: SessionStore) -> None:
    store.create_session("empty")
    with pytest.raises(InvalidEvent, match="no events"):
        store.compact("empty", "{}", through_event_id="x")
    store.create_session("s1")
    _chain(store, "s1", 1)
    store.archive_session("s1")
    with pytest.raises(SessionArchived):
        store.compact("s1", "{}", through_event_id="e1")


def test_compact_through_another_branch_is_refused(store: SessionStore) -> None:
    store.create_session("s1")
    _chain(store, "s1", 3)
    store.set_head("s1", "e1")
    store.append_event_at_head("s1", "b1", "inv", "user", "{}")
    with pytest.raises(InvalidEvent, match="not on the current branch"):
        store.compact("s1", "{}", through_event_id="e3")


def test_a_user_event_of_type_compaction_without_the_key_is_an_ordinary_event(
    store: SessionStore,
) -> None:
    store.create_session("s1")
    _chain(store, "s1", 2)
    store.append_event_at_head("s1", "c", "inv", COMPACTION_EVENT_TYPE, '{"content": "x"}')
    assert _ids(store.history("s1")) == ["e1", "e2", "c"]
    assert fold_history([]) == []


# -- usage ledger ------------------------------------------------------------------


def test_usage_totals_by_model_day_and_session(store: SessionStore, clock: FakeClock) -> None:
    store.create_session("a")
    store.create_session("b")
    store.append_event("a", "a1", None, "i", "assistant", "{}")
    clock.advance(DAY)
    store.append_event("a", "a2", "a1", "i", "assistant", "{}")
    store.append_event("b", "b1", None, "i", "assistant", "{}")
    store.record_usage("a", "a1", model="m1", input_tokens=10, output_tokens=1, cost=0.5)
    store.record_usage("a", "a2", model="m1", input_tokens=20, output_tokens=2, cached_tokens=5)
    store.record_usage("a", "a2", model="m2", input_tokens=1, output_tokens=1)
    store.record_usage("b", "b1", model="m2", input_tokens=100, output_tokens=10, cost=1.25)
    assert store.usage() == [
        UsageTotal("m1", 30, 3, 5, 0.5, 2),
        UsageTotal("m2", 101, 11, 0, 1.25, 2),
    ]
    assert store.usage(group_by="session") == [
        UsageTotal("a", 31, 4, 5, 0.5, 3),
        UsageTotal("b", 100, 10, 0, 1.25, 1),
    ]
    days = store.usage(group_by="day")
    assert [d.key for d in days] == ["2023-11-14", "2023-11-15"]
    assert [d.events for d in days] == [1, 3]
    assert store.usage(session_id="b") == [UsageTotal("m2", 100, 10, 0, 1.25, 1)]
    assert store.usage(since=int(clock()) - 10) == [
        UsageTotal("m1", 20, 2, 5, None, 1),
        UsageTotal("m2", 101, 11, 0, 1.25, 2),
    ]
    assert store.usage(session_id="nope") == []


def test_usage_queries_read_the_rollup_and_only_since_s_day_of_the_ledger(
    store: SessionStore,
) -> None:
    """Totals read the (session, model, day) rollup -- a row per group -- and the
    ledger only for since's own day, through its covering index: never a ledger scan."""
    from convstore import _lifecycle_sql as L

    for group in ("MODEL", "DAY", "SESSION"):
        for scope, params in (("", {"since": 0}), ("_SESSION", {"since": 0, "session_id": "s"})):
            sql = "EXPLAIN QUERY PLAN " + getattr(L, f"USAGE_BY_{group}{scope}")
            plan = " ".join(str(r[3]) for r in store.connection.execute(sql, params))
            assert "COVERING INDEX usage_ledger_by_day (<expr>=? AND created_at>?)" in plan, plan
            assert "SCAN usage_ledger" not in plan, plan
            rollup = {
                "MODEL": "SCAN usage_rollup USING COVERING INDEX usage_rollup_by_model",
                "DAY": "SEARCH usage_rollup USING COVERING INDEX usage_rollup_by_day (day>?)",
                "SESSION": "SCAN usage_rollup",  # the primary key, in sid order
            }[group]
            if scope:
                rollup = "SEARCH usage_rollup USING PRIMARY KEY (sid=?"
            assert rollup in plan, plan
            # The rollup is grouped as it is read; sorting happens only for the
            # one day read from the ledger and for the final few groups.
            assert scope or plan.count("TEMP B-TREE FOR GROUP BY") == 2, plan


def test_record_usage_retry_is_a_noop_and_a_different_record_is_duplicate(
    store: SessionStore,
) -> None:
    store.create_session("a")
    store.append_event("a", "a1", None, "i", "assistant", "{}")
    store.record_usage("a", "a1", model="m", input_tokens=1, output_tokens=2, cost=0.1)
    store.record_usage("a", "a1", model="m", input_tokens=1, output_tokens=2, cost=0.1)
    with pytest.raises(DuplicateId, match="already recorded"):
        store.record_usage("a", "a1", model="m", input_tokens=9, output_tokens=2)
    assert store.usage()[0].events == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"session_id": "nope"}, SessionNotFound, "nope"),
        ({"event_id": "zz"}, InvalidEvent, "zz"),
        ({"event_id": "b1"}, InvalidEvent, "b1"),  # another session's event
        ({"model": ""}, InvalidArgument, "model"),
        ({"model": 3}, InvalidArgument, "model"),
        ({"input_tokens": -1}, InvalidArgument, "input_tokens"),
        ({"output_tokens": 1.5}, InvalidArgument, "output_tokens"),
        ({"cached_tokens": True}, InvalidArgument, "cached_tokens"),
        ({"input_tokens": 10**30}, InvalidArgument, "input_tokens"),
        ({"cost": math.nan}, InvalidArgument, "cost"),
        ({"cost": math.inf}, InvalidArgument, "cost"),
        ({"cost": -0.01}, InvalidArgument, "cost"),
        ({"cost": "1"}, InvalidArgument, "cost"),
        ({"session_id": None}, InvalidArgument, "session_id"),
        ({"model": "m\udc80"}, InvalidArgument, "UTF-8"),
    ],
)
def test_record_usage_validates_and_writes_nothing(
    store: SessionStore, kwargs: dict[str, object], error: type[Exception], names: str
) -> None:
    store.create_session("a")
    store.create_session("b")
    store.append_event("a", "a1", None, "i", "assistant", "{}")
    store.append_event("b", "b1", None, "i", "assistant", "{}")
    args: dict[str, object] = {
        "session_id": "a",
        "event_id": "a1",
        "model": "m",
        "input_tokens": 1,
        "output_tokens": 1,
        **kwargs,
    }
    with pytest.raises(error, match=names):
        store.record_usage(args.pop("session_id"), args.pop("event_id"), **args)  # type: ignore[arg-type]
    assert store.usage() == []


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"group_by": "week"}, "group_by"),
        ({"group_by": None}, "group_by"),
        ({"since": math.nan}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": True}, "since"),
        ({"session_id": 5}, "session_id"),
    ],
)
def test_usage_validates_its_arguments(
    store: SessionStore, kwargs: dict[str, object], names: str
) -> None:
    with pytest.raises(InvalidArgument, match=names):
        store.usage(**kwargs)  # type: ignore[arg-type]


def test_usage_with_huge_since_is_empty_not_an_overflow(store: SessionStore) -> None:
    assert store.usage(since=10**30) == []
    assert store.usage(since=-(10**30)) == []


def test_usage_survives_compaction_and_export_import(store: SessionStore) -> None:
    store.create_session("a")
    _chain(store, "a", 3)
    store.record_usage("a", "e2", model="m", input_tokens=5, output_tokens=6, cost=0.25)
    store.compact("a", {"content": "s"}, through_event_id="e3")
    assert store.usage() == [UsageTotal("m", 5, 6, 0, 0.25, 1)]
    lines = list(store.export_jsonl())
    assert any(json.loads(line)["kind"] == "usage" for line in lines)
    with SessionStore(":memory:") as other:
        other.import_jsonl(lines)
        assert other.usage() == store.usage()
        assert _ids(other.history("a")) == _ids(store.history("a"))


def test_an_export_of_format_1_still_imports(store: SessionStore) -> None:
    old = [
        '{"kind":"session","format":1,"id":"s","head_id":"e1","server_session_id":null,'
        '"directory":null,"git_root":null,"created_at":1,"updated_at":1,"archived_at":null,'
        '"event_count":1,"metadata":{}}',
        '{"kind":"event","session_id":"s","id":"e1","parent_id":null,"invocation_id":"i",'
        '"event_type":"user","event_data":"{}","created_at":1}',
    ]
    assert store.import_jsonl(old).events == 1
    assert store.usage() == []


def test_import_refuses_a_usage_line_for_an_unknown_event(store: SessionStore) -> None:
    store.create_session("a")
    _chain(store, "a", 1)
    store.record_usage("a", "e1", model="m", input_tokens=1, output_tokens=1)
    lines = list(store.export_jsonl())
    bad = [line.replace('"event_id":"e1"', '"event_id":"nope"') for line in lines]
    with SessionStore(":memory:") as other:
        with pytest.raises(InvalidArgument, match="nope"):
            other.import_jsonl(bad)
        assert other.list_sessions(include_archived=True) == []


# -- retention ------------------------------------------------------------------------


def _retention_world(store: SessionStore, clock: FakeClock) -> None:
    """old-live (idle 100 days), old-archived (archived 60 days ago), fresh (live)."""
    store.create_session("old-live")
    _chain(store, "old-live", 3, prefix="ol")
    store.create_session("old-archived")
    _chain(store, "old-archived", 5, prefix="oa")
    store.set_metadata("old-archived", "title", "t")
    store.record_usage("old-archived", "oa1", model="m", input_tokens=1, output_tokens=1)
    clock.advance(40 * DAY)
    store.archive_session("old-archived")
    clock.advance(60 * DAY)
    store.create_session("fresh")
    _chain(store, "fresh", 2, prefix="fr")


def test_retention_dry_run_reports_exactly_and_writes_nothing(
    store: SessionStore, clock: FakeClock
) -> None:
    _retention_world(store, clock)
    policy = RetentionPolicy(archive_idle_days=30, delete_archived_after_days=30)
    before = _snapshot(store)
    report = store.apply_retention(policy)
    assert _snapshot(store) == before
    assert report.dry_run is True
    assert report.archived == ("old-live",)
    assert report.deleted == ("old-archived",)
    assert report.events_deleted == 5 and report.bytes_freed > 0
    real = store.apply_retention(policy, dry_run=False)
    assert real._replace(dry_run=True) == report
    assert store.get_session("old-archived") is None
    assert store.get_session("old-live").archived_at == int(clock())  # type: ignore[union-attr]
    assert store.get_session("fresh").archived_at is None  # type: ignore[union-attr]
    assert store.usage() == []  # the deleted session's usage went with it
    again = store.apply_retention(policy)
    assert again.deleted == () and again.archived == ()


def test_retention_never_deletes_a_live_session_even_over_budget(
    store: SessionStore, clock: FakeClock
) -> None:
    _retention_world(store, clock)
    report = store.apply_retention(RetentionPolicy(max_bytes=0), dry_run=False)
    assert report.deleted == ("old-archived",)
    assert report.over_budget is True
    assert {s.id for s in store.list_sessions()} == {"old-live", "fresh"}
    # A session archived in this run is not deleted in the same run.
    report = store.apply_retention(
        RetentionPolicy(archive_idle_days=1, delete_archived_after_days=0, max_bytes=0),
        dry_run=False,
    )
    assert report.archived == ("old-live",) and report.deleted == ()


def test_retention_max_bytes_deletes_oldest_archive_first_only_as_needed(
    store: SessionStore, clock: FakeClock
) -> None:
    for name in ("a", "b", "c"):
        store.create_session(name)
        _chain(store, name, 3, prefix=name)
        store.archive_session(name)
        clock.advance(DAY)
    size = store.apply_retention(RetentionPolicy()).database_bytes
    report = store.apply_retention(RetentionPolicy(max_bytes=size - 1))
    assert report.deleted == ("a",) and not report.over_budget


def test_retention_runs_only_when_asked(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "r.db"
    with SessionStore(path, clock=clock) as store:
        store.create_session("s")
        store.archive_session("s")
    clock.advance(10_000 * DAY)
    with SessionStore(path, clock=clock) as store:
        assert store.get_session("s") is not None


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"archive_idle_days": -1}, "archive_idle_days"),
        ({"archive_idle_days": math.nan}, "archive_idle_days"),
        ({"delete_archived_after_days": math.inf}, "delete_archived_after_days"),
        ({"delete_archived_after_days": "30"}, "delete_archived_after_days"),
        ({"max_bytes": -1}, "max_bytes"),
        ({"max_bytes": 1.5}, "max_bytes"),
        ({"max_bytes": 10**30}, "max_bytes"),
        ({"max_bytes": True}, "max_bytes"),
    ],
)
def test_retention_policy_validates(kwargs: dict[str, object], names: str) -> None:
    with pytest.raises(InvalidArgument, match=names):
        RetentionPolicy(**kwargs)  # type: ignore[arg-type]


def test_apply_retention_validates(store: SessionStore) -> None:
    with pytest.raises(InvalidArgument, match="policy"):
        store.apply_retention({"max_bytes": 1})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="dry_run"):
        store.apply_retention(RetentionPolicy(), dry_run="no")  # type: ignore[arg-type]
    policy = RetentionPolicy(max_bytes=5)
    with pytest.raises(AttributeError):
        policy.max_bytes = 6  # type: ignore[misc]
    same = RetentionPolicy(max_bytes=5)
    assert policy == same and hash(policy) == hash(same)
    assert isinstance(store.apply_retention(policy), RetentionReport)


def test_database_stats(tmp_path: Path, clock: FakeClock) -> None:
    with SessionStore(tmp_path / "s.db", clock=clock) as store:
        store.create_session("small")
        _chain(store, "small", 1, prefix="s")
        store.create_session("big")
        store.append_event("big", "b1", None, "i", "user", json.dumps({"content": "x" * 5000}))
        stats = database_stats(store, top=5)
        assert stats.sessions == 2 and stats.events == 2 and stats.archived_sessions == 0
        assert [s.id for s in stats.largest] == ["big", "small"]
        assert stats.largest[0].bytes > 5000
        assert stats.file_bytes >= stats.data_bytes > 0
        assert stats.growth[-1].sessions == 2 and stats.growth[-1].events == 2
        with pytest.raises(InvalidArgument, match="top"):
            database_stats(store, top=-1)
        store.close()
        with pytest.raises(StoreError):
            database_stats(store)


def test_history_walk_that_stops_at_the_summary_matches_the_full_fold(
    store: SessionStore,
) -> None:
    """Random appends, forks and compactions: history() == fold_history(history(full=True))."""
    import random

    rng = random.Random(18)
    store.create_session("s")
    n = 0
    for _ in range(300):
        action = rng.random()
        visible = store.history("s")
        if action < 0.6 or not visible:
            n += 1
            store.append_event_at_head("s", f"e{n}", "i", "user", f'{{"content": "m{n}"}}')
        elif action < 0.8:
            target = rng.choice(visible).id
            n += 1
            store.compact("s", {"content": f"sum{n}"}, through_event_id=target, event_id=f"e{n}")
        else:
            store.set_head("s", rng.choice(store.load_events("s")).id)
        assert store.history("s") == fold_history(store.history("s", full=True))


def test_the_async_twins_exist_and_work() -> None:
    """SPEC §7: each lifecycle method has a coroutine twin with the same parameters."""
    import asyncio
    import inspect

    from convstore.aio import AsyncLocalSessionService, AsyncSessionStore

    names = ("compact", "record_usage", "usage", "apply_retention")
    for name in names:
        sync = inspect.signature(getattr(SessionStore, name)).parameters
        twin = inspect.signature(getattr(AsyncSessionStore, name)).parameters
        assert list(sync)[1:] == list(twin)[1:]  # after self (or the tool module's store)
        assert hasattr(AsyncLocalSessionService, name)

    async def run() -> None:
        async with await AsyncSessionStore.open(":memory:", clock=lambda: 1_700_000_000) as s:
            await s.create_session("s")
            await s.append_event("s", "e1", None, "i", "user", '{"content": "x"}')
            await s.compact("s", {"content": "sum"}, through_event_id="e1")
            assert len(await s.history("s")) == 1 and len(await s.history("s", full=True)) == 2
            await s.record_usage("s", "e1", model="m", input_tokens=1, output_tokens=2)
            assert (await AsyncLocalSessionService(s).usage())[0].output_tokens == 2
            assert (await s.apply_retention(RetentionPolicy())).dry_run

    asyncio.run(run())

"""The usage rollup (SQLite 0009, PostgreSQL 0010) keeps usage() equal to the ledger.

Totals read per (session, model, day) sums kept by triggers; these tests
check them against an oracle computed in Python from what was recorded,
after every way a ledger row comes or goes: record, compaction,
export/import, sync, retention, purge (chunked), a hand-made UPDATE, and the
upgrade of a database whose ledger predates the rollup.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock, unique_owner

from convstore import LocalSessionService, MigrationError, SessionStore
from convstore.lifecycle import UsageTotal, usage_day_key
from convstore.retention import RetentionPolicy

DAY = 86_400


class _Side:
    """A backend, plus raw SQL on its database as the schema owner (for invariants)."""

    def __init__(self, service: Any, rollup_sql: Any, per_event: bool) -> None:
        self.service = service
        self.rollup_sql = rollup_sql
        # Mid-purge, a server ledger row goes with its event; a local one with its
        # session (the last batch of that session).
        self.per_event = per_event
        self.times: dict[tuple[str, str], int] = {}

    def __getattr__(self, name: str) -> Any:
        if not hasattr(self.service, name) and hasattr(self.service, "store"):
            return getattr(self.service.store, name)  # purge: the local store's own
        return getattr(self.service, name)


@pytest.fixture(params=["local", "postgres"])
def svc(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Any]:
    if request.param == "local":
        service: Any = LocalSessionService(tmp_path / "l.db", clock=clock)
        side = _Side(service, lambda sql: service.store.connection.execute(sql).fetchall(), False)
    else:
        dsn = request.getfixturevalue("pg_dsn")
        import psycopg

        from convstore.postgres import PostgresSessionService

        owner = unique_owner()
        clock.follow_server(dsn, owner)  # server time: advancing ages the owner's rows
        service = PostgresSessionService(dsn, owner=owner, max_size=2)

        def rollup_sql(sql: str) -> list[Any]:
            with psycopg.connect(dsn, autocommit=True) as conn:
                return conn.execute(
                    sql.replace("WHERE 1=1", "WHERE owner = %(o)s"), {"o": owner}
                ).fetchall()

        side = _Side(service, rollup_sql, True)
    yield side
    service.close()


#: (session, event, model, input, output, cached, cost)
RECORDS = [
    ("a", "a1", "m1", 10, 1, 0, 0.5),
    ("a", "a2", "m2", 3, 3, 2, None),
    ("a", "a3", "m1", 7, 2, 1, 0.25),
    ("b", "b1", "m1", 5, 5, 0, 0.125),
    ("b", "b2", "m2", 1, 1, 1, None),
    ("c", "c1", "m2", 100, 10, 0, 2.0),
    ("c", "c2", "m2", 50, 5, 5, None),
]


def _oracle(
    side: Any,
    recorded: list[tuple[Any, ...]],
    group: str,
    since: int | None = None,
    session: str | None = None,
) -> list[UsageTotal]:
    """Totals computed in Python from the records and the events' stored times."""
    sums: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, None, 0])
    for sid, eid, model, i, o, c, cost in recorded:
        if session is not None and sid != session:
            continue
        event = side.get_event(sid, eid)  # None: deleted by a purge
        if event is not None:
            side.times[sid, eid] = event.created_at
        gone = event is None if side.per_event else side.get_session(sid) is None
        if gone:
            continue
        at = side.times[sid, eid]
        if since is not None and at < since:
            continue
        key = {"model": model, "session": sid, "day": usage_day_key(at // DAY)}[group]
        row = sums[key]
        row[0] += i
        row[1] += o
        row[2] += c
        if cost is not None:
            row[3] = (row[3] or 0.0) + cost
        row[4] += 1
    return [UsageTotal(k, *v) for k, v in sorted(sums.items())]


def _check(side: Any, recorded: list[tuple[Any, ...]]) -> None:
    """usage() equals the oracle for every grouping, since and session; the rollup
    equals a GROUP BY of the ledger, with no empty group left behind."""
    _oracle(side, recorded, "model")  # refreshes side.times
    times = sorted(set(side.times.values()))
    for group in ("model", "day", "session"):
        assert side.usage(group_by=group) == _oracle(side, recorded, group), group
        for since in [*times, times[-1] + 1] if times else [0]:
            got = side.usage(group_by=group, since=since)
            assert got == _oracle(side, recorded, group, since), (group, since)
        for sid in ("a", "b", "c"):
            assert side.usage(group_by=group, session_id=sid) == _oracle(
                side, recorded, group, session=sid
            ), (group, sid)
    rollup = side.rollup_sql(
        "SELECT sid, model, day, input_tokens, output_tokens, cached_tokens, cost, costed, "
        "events FROM usage_rollup WHERE 1=1 ORDER BY 1, 2, 3"
    )
    ledger = side.rollup_sql(
        "SELECT sid, model, created_at / 86400, SUM(input_tokens), SUM(output_tokens), "
        "SUM(cached_tokens), SUM(cost), COUNT(cost), COUNT(*) FROM usage_ledger WHERE 1=1 "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    assert [
        tuple(int(x) if isinstance(x, int) or type(x).__name__ == "Decimal" else x for x in r)
        for r in rollup
    ] == [
        tuple(int(x) if isinstance(x, int) or type(x).__name__ == "Decimal" else x for x in r)
        for r in ledger
    ]


def _fill(side: Any, clock: FakeClock) -> list[tuple[Any, ...]]:
    for sid in ("a", "b", "c"):
        side.create_session(sid, directory="/p")
    for n, (sid, eid, *_rest) in enumerate(RECORDS):
        side.append_event_at_head(sid, eid, "i", "assistant", '{"content": "x"}')
        if n in (2, 4):
            clock.advance(DAY)  # the ledger spans three days
    for sid, eid, model, i, o, c, cost in RECORDS:
        side.record_usage(
            sid, eid, model=model, input_tokens=i, output_tokens=o, cached_tokens=c, cost=cost
        )
    return list(RECORDS)


def test_totals_follow_the_ledger_through_compaction_retention_and_purge(
    svc: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(svc.service, LocalSessionService):
        from convstore.postgres import lifecycle as pg_lifecycle

        monkeypatch.setattr(pg_lifecycle, "_DELETE_BATCH", 1)  # retention: an event a statement
    recorded = _fill(svc, clock)
    _check(svc, recorded)
    svc.record_usage("a", "a1", model="m1", input_tokens=10, output_tokens=1, cost=0.5)  # retry
    svc.compact("a", {"content": "summary"}, through_event_id="a2")
    _check(svc, recorded)
    # Retention deletes an archived session (its ledger rows and groups go).
    svc.archive_session("b")
    clock.advance(40 * DAY)
    report = svc.apply_retention(RetentionPolicy(delete_archived_after_days=30), dry_run=False)
    assert report.deleted == ("b",)
    _check(svc, recorded)
    # A chunked purge of c: the totals stay exact after every batch.
    svc.archive_session("c")
    clock.advance(1)
    cutoff = int(svc.get_session("c").archived_at) + 1
    seen: list[Any] = []

    def check_batch(report: Any) -> None:
        seen.append(report)
        _check(svc, recorded)

    svc.purge(archived_before=cutoff, batch_size=1, progress=check_batch)
    assert len(seen) >= 2 and svc.get_session("c") is None
    _check(svc, recorded)
    assert [t.key for t in svc.usage(group_by="session")] == ["a"]


def test_a_hand_made_update_of_a_ledger_row_keeps_the_sums(svc: Any, clock: FakeClock) -> None:
    recorded = _fill(svc, clock)
    svc.rollup_sql(
        "UPDATE usage_ledger SET input_tokens = input_tokens + 1000, cost = NULL "
        "WHERE 1=1 AND model = 'm1' RETURNING 1"
    )
    changed = [
        (s, e, m, i + 1000 if m == "m1" else i, o, c, None if m == "m1" else k)
        for s, e, m, i, o, c, k in recorded
    ]
    _check(svc, changed)


def test_totals_survive_export_import_and_sync(pg_dsn: str, clock: FakeClock) -> None:
    from convstore.postgres import PostgresSessionService
    from convstore.sync import pull, push

    with SessionStore(":memory:", clock=clock) as laptop:
        recorded = _fill(LocalSessionService(laptop), clock)
        expected = laptop.usage(group_by="day")
        with SessionStore(":memory:") as copy:
            copy.import_jsonl(laptop.export_jsonl())
            for group in ("model", "day", "session"):
                assert copy.usage(group_by=group) == laptop.usage(group_by=group)
        owner = unique_owner()
        with (
            PostgresSessionService(pg_dsn, owner=owner) as server,
            SessionStore(":memory:") as desktop,
        ):
            push(laptop, server)
            pull(desktop, server)
            for side in (server, desktop):
                assert side.usage(group_by="day") == expected
                for group in ("model", "session"):
                    assert side.usage(group_by=group) == laptop.usage(group_by=group)
            assert len(recorded) == sum(t.events for t in server.usage())


def test_a_sqlite_ledger_from_before_the_rollup_is_summed_on_upgrade(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "old.db"
    with SessionStore(path, clock=clock) as store:
        recorded = _fill(LocalSessionService(store), clock)
        expected = {g: store.usage(group_by=g) for g in ("model", "day", "session")}
        # Back to the schema before 0009: no rollup, no triggers, 0009 not recorded.
        with store.atomic("simulating a database from before 0009") as conn:
            for trigger in ("usage_rollup_add", "usage_rollup_remove", "usage_rollup_change"):
                conn.execute(f"DROP TRIGGER {trigger}")
            conn.execute("DROP TABLE usage_rollup")
            conn.execute("DELETE FROM convstore_migrations WHERE version = 9")
    with SessionStore(path, clock=clock) as store:  # opening applies 0009
        assert store.connection.execute("SELECT COUNT(*) FROM usage_rollup").fetchone()[0] > 0
        for group, totals in expected.items():
            assert store.usage(group_by=group) == totals
        store.record_usage("a", "a2", model="m3", input_tokens=1, output_tokens=1)
        assert [t.key for t in store.usage()] == ["m1", "m2", "m3"]
        assert len(recorded) + 1 == sum(t.events for t in store.usage())


def test_a_server_ledger_from_before_the_rollup_is_summed_by_server_migrate(
    pg_cluster: Any,
) -> None:
    import psycopg

    from convstore.postgres import PostgresSessionService
    from convstore.postgres_migrations import migrate_server

    dsn = pg_cluster.create_database(f"rollup_{uuid.uuid4().hex[:10]}")
    migrate_server(dsn)
    clock = FakeClock()
    with PostgresSessionService(dsn, owner="alice") as svc:
        clock.follow_server(dsn, "alice")
        recorded = _fill(svc, clock)
        expected = {g: svc.usage(group_by=g) for g in ("model", "day", "session")}
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("DROP TABLE usage_rollup")
        conn.execute("DROP FUNCTION convstore_usage_rollup_add() CASCADE")
        conn.execute("DROP FUNCTION convstore_usage_rollup_remove() CASCADE")
        conn.execute("DELETE FROM convstore_migrations WHERE version = 10")
    with pytest.raises(MigrationError, match="server migrate"):
        PostgresSessionService(dsn, owner="alice")  # a client needs the rollup
    migrate_server(dsn)
    with PostgresSessionService(dsn, owner="alice") as svc:
        for group, totals in expected.items():
            assert svc.usage(group_by=group) == totals
        assert len(recorded) == sum(t.events for t in svc.usage())


def test_server_totals_read_the_owner_s_rollup_and_one_day_of_the_ledger(pg_dsn: str) -> None:
    """The plan: an index range of the owner's rollup rows and of since's day in the ledger
    (sequential scans disabled, so the test shows the indexes serve it at any size)."""
    import psycopg

    from convstore import _lifecycle_sql as L

    with psycopg.connect(pg_dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        for name in ("PG_USAGE_BY_MODEL", "PG_USAGE_BY_DAY", "PG_USAGE_BY_SESSION"):
            params = {"owner": "o", "since": 1_700_000_000, "session_id": None}
            plan = "\n".join(
                r[0] for r in conn.execute("EXPLAIN " + getattr(L, name), params).fetchall()
            )
            assert "usage_rollup_by_owner" in plan, plan
            assert "usage_ledger_by_day" in plan, plan
            assert "Seq Scan" not in plan, plan

"""Every hot-path statement reaches its rows through an index (EXPLAIN QUERY PLAN; not timed).

Benchmarks never fail CI, so this is what catches a performance regression in
review: a statement that starts scanning ``sessions`` or ``session_events``, or
sorts in a temporary B-tree, is linear in the table (10M events) instead of
logarithmic. Plans are taken on a small populated file with no ``ANALYZE``
statistics, as the library ships them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from convstore import SessionStore, _sql

#: Statement name in convstore._sql -> why it is on a hot path.
HOT_PATH = {
    "EVENT_APPEND": "append_event",
    "EVENT_APPEND_AT_HEAD": "append_event_at_head (the client's append)",
    "EVENT_APPEND_BATCH_ROW": "append_events, once per event",
    "SESSION_MOVE_HEAD": "every append",
    "SESSION_GET": "get_session",
    "SESSION_RESUMABLE_BY_DIRECTORY": "find_resumable_session (every client start)",
    "SESSION_RESUMABLE_BY_GIT_ROOT": "find_resumable_session (every client start)",
    "EVENTS_LOAD": "load_events",
    "SESSION_STATE": "append_events, error paths",
    "EVENT_IN_SESSION": "parent check",
}
RESUMABLE = {"SESSION_RESUMABLE_BY_DIRECTORY", "SESSION_RESUMABLE_BY_GIT_ROOT"}
TABLES = ("sessions", "session_events")


def plan(conn: apsw.Connection, sql: str) -> list[str]:
    """The detail lines of ``EXPLAIN QUERY PLAN sql``, every parameter bound to NULL."""
    numbered = [int(n) for n in re.findall(r"\?(\d+)", sql)]
    names: dict[str, None] | tuple[None, ...] = dict.fromkeys(re.findall(r":(\w+)", sql), None)
    if numbered:
        names = (None,) * max(numbered)
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, names)]


def problems(details: list[str], *, no_temp_btree: bool) -> list[str]:
    """Full scans of the two big tables (of the table or a whole index), and temp sorts."""
    bad = []
    for d in details:
        m = re.match(r"SCAN (\w+)", d)
        if m and m.group(1) in TABLES:
            bad.append(d)
        if no_temp_btree and "USE TEMP B-TREE" in d:
            bad.append(d)
    return bad


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[apsw.Connection]:
    path: Path = tmp_path_factory.mktemp("plans") / "plans.db"
    now = [1_700_000_000]
    with SessionStore(path, clock=lambda: now[0]) as store:
        for s in range(60):
            sid = f"s{s:03d}"
            store.create_session(sid, directory=f"/p{s % 7}", git_root=f"/g{s % 3}")
            parent = None
            for e in range(20):
                now[0] += 1
                eid = f"{sid}-e{e:03d}"
                store.append_event(sid, eid, parent, "inv", "text", '{"n": 1}')
                parent = eid
            if s % 5 == 0:
                store.archive_session(sid)
    c = apsw.Connection(str(path))
    yield c
    c.close()


@pytest.mark.parametrize("name", sorted(HOT_PATH))
def test_hot_statement_uses_an_index(conn: apsw.Connection, name: str) -> None:
    sql = getattr(_sql, name)
    details = plan(conn, sql)
    bad = problems(details, no_temp_btree=True)
    assert not bad, f"{name} ({HOT_PATH[name]}) no longer uses an index: {bad}\nplan: {details}"
    # Every access to a big table is a SEARCH through an index or the primary key.
    touched = [d for d in details if re.match(r"(SEARCH|SCAN) (sessions|session_events)\b", d)]
    assert touched, f"{name}: no access to sessions/session_events in the plan: {details}"
    for d in touched:
        assert re.search(r"USING (COVERING )?INDEX|USING (INTEGER )?PRIMARY KEY", d), (name, d)


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_resume_lookup_is_one_index_range_in_order(conn: apsw.Connection, name: str) -> None:
    """Newest-first comes from the index itself: 1000 sessions in a directory cost one seek."""
    details = plan(conn, getattr(_sql, name))
    assert len(details) == 1, details
    assert re.match(r"SEARCH sessions USING INDEX \w+ \(\w+=\? AND updated_at>\?\)", details[0])


def test_the_checker_catches_scans_and_sorts(conn: apsw.Connection) -> None:
    """The reference schema's resume query would fail here: temp B-tree for ORDER BY."""
    sorted_scan = plan(conn, 'SELECT id FROM sessions ORDER BY "directory" DESC')
    assert problems(sorted_scan, no_temp_btree=True)
    event_scan = plan(conn, "SELECT id FROM session_events WHERE event_type = :event_type")
    assert problems(event_scan, no_temp_btree=False)


#: Statements that read every event on purpose (whole-database statistics).
WHOLE_TABLE = {"STATS_GROWTH_EVENTS"}


def _event_statements() -> Iterator[tuple[str, str]]:
    from convstore import _lifecycle_sql
    from convstore.sqlite import _blobsql

    for module in (_sql, _lifecycle_sql, _blobsql):
        for name, sql in vars(module).items():
            if (
                name.isupper()
                and isinstance(sql, str)
                and "session_events" in sql
                and not name.startswith("PG_")
                and not re.match(r"\s*(CREATE|DROP)\b", sql)
            ):
                yield name, sql


def any_plan(conn: apsw.Connection, sql: str) -> list[str]:
    """``EXPLAIN QUERY PLAN`` with every parameter (named or numbered) bound to NULL."""
    numbered = [int(n) for n in re.findall(r"\?(\d+)", sql)]
    if numbered:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, [None] * max(numbered))]
    return plan(conn, sql)


def test_no_statement_scans_the_events_by_session(conn: apsw.Connection) -> None:
    """Since migration 0006 ``sid``/``seq`` are computed columns: ``sid = ?`` would scan.

    Every statement that touches ``session_events`` must reach it through its
    key (``rid`` ranges, ``rowid = ...``) or the id index -- never a SCAN.
    """
    checked = 0
    for name, sql in _event_statements():
        details = any_plan(conn, sql)
        scans = [d for d in details if re.match(r"SCAN (session_events|e)\b(?! USING)", d)]
        scans += [d for d in details if re.match(r"SCAN (session_events|e) USING", d)]
        if name in WHOLE_TABLE:
            continue
        assert not scans, f"{name} scans the events: {scans}\nplan: {details}"
        checked += 1
    assert checked >= 30


def test_the_checker_catches_a_scan_by_session(conn: apsw.Connection) -> None:
    details = any_plan(conn, "SELECT id FROM session_events WHERE sid = ?1 ORDER BY seq")
    assert any(re.match(r"SCAN session_events\b", d) for d in details), details

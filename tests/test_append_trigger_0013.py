"""Migration 0013: the one-statement append inserts with VALUES (no temporary copy of the event).

The trigger behind the view ``event_append`` is driven here on raw SQL, so a
refusal cannot hide behind the store's careful fallback path: every case the
trigger must refuse aborts with nothing written, and every case it accepts
writes exactly the event and the head move. Then a populated file of the
schema before 0013 is upgraded: nothing lost, and appends (and search) keep
working on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apsw
import pytest

from convstore import InvalidEvent, SessionNotFound, SessionStore, _sql
from convstore.sqlite.migrations import known_migrations, migrate, status
from convstore.sqlite.search import check_index

T = 1_700_000_000
APPEND = _sql.EVENT_APPEND_ONE


def _state(conn: apsw.Connection) -> tuple[list[tuple[Any, ...]], ...]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql)]

    return (
        rows(
            "SELECT rid, id, parent_id, invocation_id, event_type, event_data, created_at "
            "FROM session_events ORDER BY rid"
        ),
        rows("SELECT * FROM sessions ORDER BY sid"),
        rows("SELECT * FROM search_pending ORDER BY sid"),
        rows("SELECT updated_at, sid FROM sessions INDEXED BY sessions_activity ORDER BY 1, 2"),
    )


@pytest.fixture
def conn(tmp_path: Path) -> Any:
    with SessionStore(tmp_path / "t.db", clock=lambda: T) as store:
        store.create_session("s", directory="/d")
        store.create_session("t", directory="/d")
        store.create_session("gone", directory="/d")
        store.append_event("s", "s1", None, "i", "text", '{"content": "one"}')
        store.append_event("t", "t1", None, "i", "text", '{"content": "other"}')
        store.archive_session("gone")
        store.index_pending()
        yield store.connection


@pytest.mark.parametrize(
    ("case", "args"),
    [
        ("unknown session", ("nope", "x", None, "i", "t", "{}", T)),
        ("archived session", ("gone", "x", None, "i", "t", "{}", T)),
        ("session ahead of the clock", ("s", "x", None, "i", "t", "{}", T - 1)),
        ("parent unknown", ("s", "x", "missing", "i", "t", "{}", T)),
        ("parent in another session", ("s", "x", "t1", "i", "t", "{}", T)),
        ("event as its own parent", ("s", "x", "x", "i", "t", "{}", T)),
        ("id taken in this session", ("s", "s1", None, "i", "t", "{}", T)),
        ("id taken in another session", ("s", "t1", "s1", "i", "t", "{}", T)),
        ("invalid JSON", ("s", "x", "s1", "i", "t", "{nope", T)),
    ],
)
def test_the_trigger_refuses_with_nothing_written(
    conn: Any, case: str, args: tuple[object, ...]
) -> None:
    before = _state(conn)
    with pytest.raises(apsw.ConstraintError):
        conn.execute(APPEND, args)
    assert _state(conn) == before, case


def test_the_trigger_appends_and_moves_the_head(conn: Any) -> None:
    conn.execute(APPEND, ("s", "s2", "s1", "i", "text", '{"content": "two"}', T))
    conn.execute(APPEND, ("s", "s3", None, "i", "text", '{"content": "root"}', T))
    conn.execute(APPEND, ("s", "s4", "s2", "i", "text", '{"content": "fork"}', T + 5))
    events, _, pending, activity = _state(conn)
    sid = conn.execute("SELECT sid FROM sessions WHERE id = 's'").get
    mine = [e for e in events if e[0] >> 32 == sid]
    assert [(e[0] & 0xFFFFFFFF, e[1], e[2], e[6]) for e in mine] == [
        (1, "s1", None, T), (2, "s2", "s1", T), (3, "s3", None, T), (4, "s4", "s2", T + 5),
    ]  # fmt: skip
    row = conn.execute(
        "SELECT head_id, event_count, updated_at FROM sessions WHERE id = 's'"
    ).fetchone()
    assert tuple(row) == ("s4", 4, T + 5)  # the new second moved updated_at
    assert (T + 5, sid) in activity and (T, sid) not in activity  # its index entry too
    assert (sid, 1) in pending  # the watermark trigger still fires: s1 was indexed
    other = conn.execute("SELECT head_id, event_count FROM sessions WHERE id = 't'").fetchone()
    assert tuple(other) == ("t1", 1)
    assert conn.execute("PRAGMA integrity_check").get == "ok"


def test_a_streamed_answer_in_one_second_leaves_updated_at(conn: Any) -> None:
    parent = "s1"
    for i in range(2, 50):
        conn.execute(APPEND, ("s", f"s{i}", parent, "i", "text", "{}", T))
        parent = f"s{i}"
    row = conn.execute("SELECT head_id, event_count, updated_at FROM sessions WHERE id = 's'")
    assert tuple(row.fetchone()) == ("s49", 49, T)


def _previous_file(path: Path) -> None:
    """Every shipped migration before 0013, populated through the previous trigger."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA foreign_keys=ON")
    before = tuple(m for m in known_migrations() if m.version < 13)
    migrate(conn, str(path), before)
    old = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'event_append_one'").get
    assert "INSERT INTO session_events" in old and "VALUES (" not in old
    with conn:
        for sid, name in enumerate(("a", "b", "c"), start=1):
            conn.execute(
                "INSERT INTO sessions (sid, id, directory, created_at, updated_at) "
                "VALUES (?, ?, '/d', ?, ?)",
                (sid, name, T, T),
            )
    for name in ("a", "b", "c"):
        parent = None
        for i in range(1, 40):
            eid = f"{name}-{i}"
            data = json.dumps({"content": f"word{i} {name} " + "x" * (i * 200)})
            conn.execute(APPEND, (name, eid, parent, "inv", "text", data, T + i // 10))
            parent = eid
    with conn:  # a fork, and session c indexed (the others still pending)
        conn.execute("UPDATE sessions SET head_id = 'a-20' WHERE id = 'a'")
        conn.execute(
            "INSERT INTO event_search (rowid, body) SELECT rid, body FROM event_search_source "
            "WHERE rid >= 3 * 4294967296"
        )
        conn.execute("DELETE FROM search_pending WHERE sid = 3")
    conn.close()


def test_a_populated_previous_file_upgrades_and_keeps_appending(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _previous_file(db)
    raw = apsw.Connection(str(db))
    before = _state(raw)
    raw.close()
    assert len(before[0]) == 3 * 39
    with SessionStore(db, clock=lambda: T + 100) as store:
        c = store.connection
        st = status(c, str(db))
        assert [m.version for m in st.applied] == [m.version for m in known_migrations()]
        assert 13 in {m.version for m in st.applied}
        new = c.execute("SELECT sql FROM sqlite_master WHERE name = 'event_append_one'").get
        assert "VALUES (" in new and "last_insert_rowid()" in new
        assert _state(c) == before  # rows, keys, heads, watermarks: nothing touched
        assert c.execute("PRAGMA integrity_check").get == "ok"
        assert [e.id for e in store.load_events("b")] == [f"b-{i}" for i in range(1, 40)]
        assert {h.event_id for h in store.search("word7")} == {"a-7", "b-7", "c-7"}
        # Appending keeps working, on the fork's head too, and keeps its errors.
        store.append_event("a", "a-new", "a-20", "i", "text", '{"content": "fresh"}')
        store.append_event_at_head("c", "c-new", "i", "text", '{"content": "fresher"}')
        with pytest.raises(InvalidEvent, match="parent"):
            store.append_event("a", "a-bad", "b-3", "i", "text", "{}")
        with pytest.raises(SessionNotFound):
            store.append_event("zz", "z-1", None, "i", "text", "{}")
        assert [h.event_id for h in store.search("fresh")] == ["a-new"]
        assert [h.event_id for h in store.search("fresher")] == ["c-new"]
        session = store.get_session("a")
        assert session is not None and session.head_id == "a-new"
        assert session.updated_at == T + 100
        assert [e.id for e in store.history("a")][-2:] == ["a-20", "a-new"]
        check_index(store)

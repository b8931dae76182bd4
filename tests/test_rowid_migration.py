"""Migration 0006 (events as a rowid table keyed by ``sid * 2**32 + seq``) on a populated file.

The old file is built by the shipped migrations *before* 0006 (the runner takes
any list of migrations) and filled with raw SQL in that schema, the way the
previous release wrote it: several sessions, a fork, metadata, search hits
(indexed and still pending), blobs, usage rows, compaction summaries, an
archived session. Opening it with today's code applies 0006; then nothing is
lost, the order is the same, the ids are the same and search is still right.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apsw
import pytest

from convstore import MigrationError, SessionStore
from convstore.lifecycle import session_usage, summary_event_data
from convstore.sqlite import blobs
from convstore.sqlite.migrations import known_migrations, migrate, status
from convstore.sqlite.search import check_index, search_fields

KEY = 4294967296
TODAY = {1, 2, 3, 4, 5, 7, 8}
EVENT_COLUMNS = "sid, seq, id, parent_id, invocation_id, event_type, event_data, created_at"


def _content(text: str) -> str:
    return json.dumps({"content": text})


def _old_file(path: Path, *, fields: list[str] | None = None, indexing: bool = True) -> None:
    """A database of the schema before 0006, populated as the previous release wrote it."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA foreign_keys=ON")
    # Today's schema: the release before 0006 shipped 0001-0005, 0007 and 0008.
    before = tuple(m for m in known_migrations() if m.version in TODAY)
    assert [m.version for m in before] == sorted(TODAY)
    migrate(conn, str(path), before)
    with conn:
        if fields is not None:  # what configure_search did in the old schema
            body = (
                "nullif(concat_ws(char(10), "
                + ", ".join(f"json_extract(event_data, '{p}')" for p in fields)
                + "), '')"
            )
            old_body = body.replace("event_data", "old.event_data")
            conn.execute("DROP VIEW event_search_source")
            conn.execute(
                "CREATE VIEW event_search_source AS SELECT sid * 4294967296 + seq AS rid, body "
                f"FROM (SELECT sid, seq, {body} AS body FROM session_events) "
                "WHERE body IS NOT NULL"
            )
            conn.execute("DROP TRIGGER event_search_delete")
            conn.execute(
                "CREATE TRIGGER event_search_delete AFTER DELETE ON session_events BEGIN "
                "INSERT INTO event_search (event_search, rowid, body) SELECT 'delete', "
                f"old.sid * 4294967296 + old.seq, body FROM (SELECT {old_body} AS body) "
                "WHERE body IS NOT NULL; END"
            )
            conn.execute(
                "UPDATE search_config SET value = ? WHERE key = 'fields'", (json.dumps(fields),)
            )
        if not indexing:  # what set_search_indexing(False) did in the old schema
            for trigger in ("event_search_delete", "event_search_update", "event_search_pending"):
                conn.execute(f"DROP TRIGGER {trigger}")
            conn.execute("INSERT INTO event_search (event_search) VALUES ('delete-all')")
            conn.execute("INSERT INTO search_config VALUES ('indexing', 'off')")
        t = 1_700_000_000
        sessions = [("main", "/p"), ("forked", "/p"), ("other", "/q"), ("old", "/q")]
        for sid, (name, directory) in enumerate(sessions, start=1):
            conn.execute(
                "INSERT INTO sessions (sid, id, directory, git_root, created_at, updated_at) "
                "VALUES (?, ?, ?, '/g', ?, ?)",
                (sid, name, directory, t, t),
            )
        rows: list[tuple[Any, ...]] = []

        def add(sid: int, eid: str, parent: str | None, etype: str, data: str) -> None:
            seq = 1 + sum(1 for r in rows if r[0] == sid)
            rows.append((sid, seq, eid, parent, "inv", etype, data, t + len(rows)))

        parent: str | None = None
        for i in range(1, 41):
            word = "alpha" if i % 2 else "beta"
            add(1, f"main-{i}", parent, "text", _content(f"{word} main {i}"))
            parent = f"main-{i}"
        # A compaction summary covering main-1..main-30, then more events.
        summary = summary_event_data({"content": "summary"}, "main-30")
        add(1, "main-sum", "main-40", "compaction", summary)
        add(1, "main-41", "main-sum", "text", _content("gamma after summary"))
        # A fork: two children of forked-3, the head on the first branch.
        parent = None
        for i in range(1, 6):
            add(2, f"forked-{i}", parent, "text", _content(f"delta fork {i}"))
            parent = f"forked-{i}"
        add(2, "forked-b1", "forked-3", "text", _content("epsilon branch"))
        add(2, "forked-b2", "forked-b1", "tool", json.dumps({"input": {"cmd": "ls -la"}}))
        for i in range(1, 301):  # several pages of 8 KB-ish payloads
            add(3, f"other-{i}", f"other-{i - 1}" if i > 1 else None, "text",
                _content(("zeta " if i == 150 else "") + "x" * (50 + 30 * (i % 300))))  # fmt: skip
        add(4, "old-1", None, "text", _content("eta archived"))
        conn.executemany(
            f"INSERT INTO session_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        heads = {1: "main-41", 2: "forked-b2", 3: "other-300", 4: "old-1"}
        for sid, head in heads.items():
            count = sum(1 for r in rows if r[0] == sid)
            conn.execute(
                "UPDATE sessions SET head_id = ?, event_count = ?, updated_at = ? WHERE sid = ?",
                (head, count, t + 1000 + sid, sid),
            )
        conn.execute("UPDATE sessions SET archived_at = ? WHERE sid = 4", (t + 2000,))
        conn.execute("UPDATE sessions SET head_id = 'forked-5' WHERE sid = 2")  # head elsewhere
        conn.execute("UPDATE sessions SET head_id = 'forked-b2' WHERE sid = 2")
        if indexing:
            # Sessions 1-3 indexed (the catch-up of the old code) ...
            conn.execute(
                "INSERT INTO event_search (rowid, body) SELECT rid, body FROM event_search_source "
                "WHERE rid < 4 * 4294967296"
            )
            conn.execute("DELETE FROM search_pending WHERE sid < 4")
            # ... session 4 still pending: the trigger recorded its watermark.
            assert conn.execute("SELECT * FROM search_pending").fetchall() == [(4, 0)]
        else:
            assert conn.execute("SELECT COUNT(*) FROM search_pending").get == 0
        for key, value in (("title", "Main"), ("model", "m-1")):
            conn.execute("INSERT INTO session_metadata VALUES (1, ?, ?, ?)", (key, value, t))
        conn.execute("INSERT INTO session_metadata VALUES (2, 'title', 'Forked', ?)", (t,))
        conn.execute(
            "INSERT INTO usage_ledger VALUES (1, 2, 'gpt', 10, 20, 3, 0.5, ?), "
            "(1, 41, 'gpt', 1, 2, 0, NULL, ?), (2, 7, 'claude', 5, 6, 1, 0.25, ?)",
            (t, t, t),
        )
        conn.execute(
            "INSERT INTO session_blobs VALUES (1, 'ns', 'k1', '{}', x'00ff', ?), "
            "(2, 'ns', 'k2', '{\"a\": 1}', x'0102', ?)",
            (t, t),
        )
    conn.close()


def _snapshot(conn: apsw.Connection) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in conn.execute(sql)]

    return {
        "events": rows(f"SELECT {EVENT_COLUMNS} FROM session_events ORDER BY sid, seq"),
        "sessions": rows("SELECT * FROM sessions ORDER BY sid"),
        "metadata": rows("SELECT * FROM session_metadata ORDER BY sid, key"),
        "usage": rows("SELECT * FROM usage_ledger ORDER BY sid, seq, model"),
        "blobs": rows("SELECT * FROM session_blobs ORDER BY sid, namespace, key"),
        "indexed": rows("SELECT rowid FROM event_search ORDER BY rowid"),
        "pending": rows("SELECT * FROM search_pending ORDER BY sid"),
    }


@pytest.mark.parametrize("setup", ["default", "fields", "indexing_off"])
def test_upgrade_keeps_everything(tmp_path: Path, setup: str) -> None:
    db = tmp_path / "old.db"
    fields = ["$.content", "$.input.cmd"] if setup == "fields" else None
    _old_file(db, fields=fields, indexing=setup != "indexing_off")
    conn = apsw.Connection(str(db))
    before = _snapshot(conn)
    assert conn.execute("SELECT COUNT(*) FROM session_events").get == 350
    conn.close()

    with SessionStore(db) as store:
        c = store.connection
        st = status(c, str(db))
        assert [m.version for m in st.applied] == [m.version for m in known_migrations()]
        assert st.pending == ()
        # The new layout: a rowid table, no expression index, no foreign key to scan.
        ddl = c.execute("SELECT sql FROM sqlite_master WHERE name = 'session_events'").get
        assert "rid" in ddl and "WITHOUT ROWID" not in ddl
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master")}
        assert "session_events_search_key" not in names
        assert {"session_events_id", "session_events_cascade", "event_search_source"} <= names
        assert c.execute("PRAGMA integrity_check").get == "ok"
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []

        after = _snapshot(c)
        assert after == before  # rows, order, ids, FTS rowids, watermarks: all as they were
        keys = [r[0] for r in c.execute("SELECT rid FROM session_events ORDER BY rid")]
        assert keys == [sid * KEY + seq for sid, seq, *_ in before["events"]]

        # The API reads the same history.
        main = store.load_events("main")
        assert [e.id for e in main] == [f"main-{i}" for i in range(1, 41)] + ["main-sum", "main-41"]
        assert [e.id for e in store.history("forked", full=True)] == [
            "forked-1", "forked-2", "forked-3", "forked-b1", "forked-b2",
        ]  # fmt: skip
        assert [e.id for e in store.history("main")][:2] == ["main-sum", "main-31"]
        assert store.get_event("other", "other-150") is not None
        assert store.get_all_metadata("main") == {"model": "m-1", "title": "Main"}
        assert [(u.event_id, u.model) for u in session_usage(store, "main")] == [
            ("main-2", "gpt"), ("main-sum", "gpt"),
        ]  # fmt: skip
        assert [(u.event_id, u.model) for u in session_usage(store, "forked")] == [
            ("forked-b2", "claude"),
        ]  # fmt: skip
        assert blobs.get_blob(store, "forked", "ns", "k2") is not None

        # (0010 then replaced 0006's per-event watermark trigger with per-write ones.)
        triggers = {"search_pending_count", "event_search_delete", "event_search_update"}
        if setup == "indexing_off":  # the setting survives: no trigger writes the index
            assert not store.indexes_search
            assert not (triggers | {"search_pending_session", "event_search_pending"}) & names
            store.set_search_indexing(True)
        else:
            assert triggers <= names
        assert search_fields(store) == tuple(fields or ["$.content"])
        hits = {h.event_id for h in store.search("alpha")}
        assert hits == {f"main-{i}" for i in range(1, 41, 2)}
        assert [h.event_id for h in store.search("zeta")] == ["other-150"]
        assert [h.event_id for h in store.search("eta")] == ["old-1"]  # was pending
        assert [h.event_id for h in store.search("zeta", order="recent")] == ["other-150"]
        assert {h.event_id for h in store.search("ls")} == (
            {"forked-b2"} if setup == "fields" else set()
        )
        check_index(store)

        # Appends, forks and deletes keep working on the new table.
        store.append_event("main", "main-42", "main-41", "i", "text", _content("theta new"))
        assert [h.event_id for h in store.search("theta")] == ["main-42"]
        store.set_head("forked", "forked-5")
        store.append_event("forked", "forked-6", "forked-5", "i", "text", _content("iota"))
        assert [e.id for e in store.history("forked")][-2:] == ["forked-5", "forked-6"]
        assert blobs.delete_session(store, "other")
        assert store.load_events("other") == []
        assert store.search("zeta") == []
        check_index(store)
        assert c.execute("PRAGMA integrity_check").get == "ok"


def test_upgrade_rolls_back_whole(tmp_path: Path) -> None:
    """A failure inside 0006 leaves the old file exactly as it was (one transaction)."""
    db = tmp_path / "old.db"
    _old_file(db)
    conn = apsw.Connection(str(db))
    # An event whose seq overflows the key's 32 bits collides with session 4's first key.
    with conn:
        conn.execute(
            f"INSERT INTO session_events ({EVENT_COLUMNS}) "
            "VALUES (3, 4294967297, 'huge', NULL, 'i', 't', '{}', 1)"
        )
    conn.execute("PRAGMA foreign_keys=ON")
    before = _snapshot(conn)
    mig6 = tuple(m for m in known_migrations() if m.version in TODAY | {6})
    with pytest.raises(MigrationError, match="0006"):
        migrate(conn, str(db), mig6)
    assert _snapshot(conn) == before
    assert 6 not in {m.version for m in status(conn, str(db)).applied}
    conn.close()

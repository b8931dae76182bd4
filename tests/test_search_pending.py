"""Search off the append path: appends leave the index alone, searches still see them.

An append records a watermark for its session (``search_pending``) instead of
writing the full-text index; the index catches up in bulk before every search,
inside ``append_events`` and imports, and in ``index_pending()``. What must
hold: a search returns every event whose append has returned -- appended by
this process or another one -- and a writer killed between its appends and any
catch-up loses nothing (the next catch-up indexes the rest).
"""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import threading
from pathlib import Path

from conftest import PYTHON, child_env

from convstore import SessionStore, _sql
from convstore.search import check_index


def _content(word: str) -> str:
    return json.dumps({"content": word})


def _pending(store: SessionStore) -> int:
    return int(store.connection.execute("SELECT count(*) FROM search_pending").get)


def test_append_leaves_the_index_alone_until_a_catch_up() -> None:
    with SessionStore(":memory:") as store:
        store.create_session("s1")
        store.create_session("s2")
        store.append_event("s1", "e1", None, "i", "t", _content("alpha"))
        store.append_event("s1", "e2", "e1", "i", "t", _content("alpha beta"))
        store.append_event_at_head("s2", "f1", "i", "t", _content("alpha"))
        indexed = store.connection.execute("SELECT count(*) FROM event_search('alpha')").get
        assert indexed == 0 and _pending(store) == 2  # one watermark per session
        assert store.index_pending() == 3
        assert _pending(store) == 0 and store.index_pending() == 0
        assert {h.event_id for h in store.search("alpha")} == {"e1", "e2", "f1"}
        check_index(store)


def test_search_catches_up_by_itself() -> None:
    with SessionStore(":memory:") as store:
        store.create_session("s1")
        for n in range(5):
            store.append_event("s1", f"e{n}", None, "i", "t", _content(f"word{n} common"))
            # every search sees every append that returned before it
            assert len(store.search("common", limit=100)) == n + 1
        assert [h.event_id for h in store.search("common", order="recent", limit=2)] == [
            "e4",
            "e3",
        ]


def test_batches_wait_imports_catch_up_everything_pending() -> None:
    with SessionStore(":memory:") as store:
        store.create_session("s1")
        store.create_session("s2")
        store.append_event("s1", "e1", None, "i", "t", _content("one"))
        store.append_events("s2", [("f1", None, "i", "t", _content("two"))])
        assert _pending(store) == 2  # a batch is a hot path: it leaves the index alone
        assert {h.event_id for h in store.search("one OR two")} == {"e1", "f1"}
        with SessionStore(":memory:") as other:
            other.import_jsonl(store.export_jsonl())
            assert _pending(other) == 0
            assert {h.event_id for h in other.search("one OR two")} == {"e1", "f1"}


def test_purge_of_unindexed_events_keeps_the_index_exact() -> None:
    clock = iter(range(1_000, 2_000))
    with SessionStore(":memory:", clock=lambda: next(clock)) as store:
        store.create_session("s1")
        store.create_session("s2")
        store.append_event("s1", "e1", None, "i", "t", _content("gone"))
        store.append_event("s2", "f1", None, "i", "t", _content("kept"))
        store.archive_session("s1")
        store.purge(archived_before=1_000_000)
        check_index(store)
        assert store.search("gone") == [] and len(store.search("kept")) == 1


def test_indexing_off_and_on_again_with_events_pending() -> None:
    with SessionStore(":memory:") as store:
        store.create_session("s1")
        store.append_event("s1", "e1", None, "i", "t", _content("before"))
        store.set_search_indexing(False)
        assert _pending(store) == 0
        store.append_event("s1", "e2", "e1", "i", "t", _content("during"))
        assert _pending(store) == 0  # off: appends record nothing
        store.set_search_indexing(True)
        assert {h.event_id for h in store.search("before OR during")} == {"e1", "e2"}
        store.append_event("s1", "e3", "e2", "i", "t", _content("after"))
        assert [h.event_id for h in store.search("after")] == ["e3"]
        check_index(store)


APPENDER = textwrap.dedent(
    """
    import json, sys
    from convstore import SessionStore
    path, session, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SessionStore(path, timeout=30)
    parent = None
    for i in range(count):
        eid = f"{session}-{i}"
        store.append_event(session, eid, parent, "i", "t", json.dumps({"content": "needle"}))
        parent = eid
        print(eid, flush=True)  # the append has returned
    store.close()
    """
)


def test_read_your_writes_across_processes(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("mine")
        store.create_session("theirs")
        store.append_event("mine", "m0", None, "i", "t", _content("needle"))
        # Another process appends; its appends returned before our search starts.
        done = subprocess.run(
            [PYTHON, "-c", APPENDER, str(db_path), "theirs", "7"],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        acknowledged = done.stdout.split()
        assert len(acknowledged) == 7
        found = {h.event_id for h in store.search("needle", limit=100)}
        assert found == {"m0", *acknowledged}
        # And the other way round: a process that only searches sees our append.
        store.append_event("mine", "m1", "m0", "i", "t", _content("needle"))
        searcher = (
            "import sys; from convstore import SessionStore\n"
            "with SessionStore(sys.argv[1]) as s:\n"
            "    print(' '.join(sorted(h.event_id for h in s.search('needle', limit=100))))\n"
        )
        out = subprocess.run(
            [PYTHON, "-c", searcher, str(db_path)],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.split()
        assert out == sorted({"m0", "m1", *acknowledged})


def test_sigkill_between_appends_and_catch_up_loses_nothing(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("victim")
    child = subprocess.Popen(
        [PYTHON, "-c", APPENDER, str(db_path), "victim", "100000"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acknowledged = []
    for line in child.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 150:
            break
    child.send_signal(signal.SIGKILL)
    rest, _err = child.communicate(timeout=60)
    acknowledged += rest.split()
    assert child.returncode == -signal.SIGKILL
    with SessionStore(db_path) as store:
        assert _pending(store) == 1  # nothing was indexed: appends never catch up
        found = {h.event_id for h in store.search("needle", limit=10_000)}
        stored = {e.id for e in store.load_events("victim")}
        assert set(acknowledged) <= found and found == stored
        check_index(store)


def test_checkpoints_run_off_the_appending_thread(db_path: Path) -> None:
    """Past the threshold the WAL hook wakes a checkpointer thread; close() stops it."""
    with SessionStore(db_path) as store:
        store.create_session("s1")
        for k in range(15):  # ~100 WAL pages per batch: past 1000 pages, below the inline cap
            batch = [(f"e{k}-{n}", None, "i", "t", _content("x" * 2000)) for n in range(200)]
            store.append_events("s1", batch)
        names = [t.name for t in threading.enumerate()]
        assert "convstore-checkpoint" in names
    assert "convstore-checkpoint" not in [t.name for t in threading.enumerate()]
    assert not Path(f"{db_path}-wal").exists()  # the last close still checkpoints it away
    with SessionStore(db_path) as store:
        assert len(store.load_events("s1")) == 3000


def test_catch_up_is_one_indexed_range_statement() -> None:
    with SessionStore(":memory:") as store:
        plan = " ".join(
            str(row[3])
            for row in store.connection.execute("EXPLAIN QUERY PLAN " + _sql.SEARCH_CATCH_UP)
        )
    assert "SEARCH session_events USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in plan, plan


def test_populated_version_4_database_upgrades_with_search_intact(tmp_path: Path) -> None:
    """A file of the schema before search left the append path (0001-0004), with events
    indexed the old way (in the appending transaction): 0005 adds the watermark table and
    trigger, nothing is lost, old and new events are all found, the index stays exact."""
    import shutil

    import apsw

    from convstore.migrations import known_migrations, load_migrations, migrate

    old_folder = tmp_path / "old-migrations"
    old_folder.mkdir()
    for mig in known_migrations()[:4]:
        shutil.copy(mig.path, old_folder / mig.name)
    db = tmp_path / "old.db"
    conn = apsw.Connection(str(db))
    migrate(conn, "old.db", load_migrations(old_folder))
    with conn:
        for s in range(1, 4):
            conn.execute(
                "INSERT INTO sessions (id, directory, created_at, updated_at) "
                "VALUES (?, '/p', 1, 1)",
                (f"s{s}",),
            )
            for seq in range(1, 51):
                word = "old" if seq % 2 else "older"
                conn.execute(
                    "INSERT INTO session_events (sid, seq, id, invocation_id, event_type, "
                    "event_data, created_at) VALUES (?, ?, ?, 'i', 't', ?, 1)",
                    (s, seq, f"s{s}-e{seq}", _content(f"{word} text {seq}")),
                )
            conn.execute(
                "UPDATE sessions SET head_id = ?, event_count = 50 WHERE sid = ?", (f"s{s}-e50", s)
            )
        # How 0004-era code kept the index: explicit statements in the same transaction.
        conn.execute(
            "INSERT INTO event_search (rowid, body) SELECT rid, body FROM event_search_source"
        )
    assert conn.execute("PRAGMA user_version").get == 4
    conn.close()

    with SessionStore(db) as store:
        assert store.connection.execute("PRAGMA user_version").get == known_migrations()[-1].version
        assert _pending(store) == 0
        assert sum(len(store.load_events(f"s{s}")) for s in range(1, 4)) == 150
        assert len(store.search("old", limit=1000)) == 75
        assert len(store.search("older", limit=1000)) == 75
        store.append_event("s1", "new", "s1-e50", "i", "t", _content("old news"))
        assert _pending(store) == 1
        assert len(store.search("old", limit=1000)) == 76
        check_index(store)

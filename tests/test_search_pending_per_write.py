"""Migration 0010: the search watermark recorded once per write, not once per event.

Every write that adds events raises its session's ``event_count`` in the same
transaction, so the triggers on ``sessions`` record the watermark there: one
trigger run per append, batch or imported session. What must hold, for every
path that writes events (single append, append at head, batches and their
careful fallback, JSONL import, ``import_session`` (sync pull), compaction,
blob-layer appends): a search returns every event whose write has returned, in
this process or another, a crash before the catch-up loses nothing, and a
populated file of the previous schema (0001-0009) upgrades with its pending
work and its index intact.
"""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
from pathlib import Path

import apsw
import pytest
from conftest import PYTHON, child_env

from convstore import SessionStore
from convstore.models import StoredEvent, StoredSession
from convstore.search import check_index
from convstore.sqlite import blobs
from convstore.sqlite.migrations import known_migrations, migrate, status


def _content(word: str) -> str:
    return json.dumps({"content": word})


def _pending(store: SessionStore) -> list[tuple[int, int]]:
    return [(r[0], r[1]) for r in store.connection.execute("SELECT * FROM search_pending")]


def _sid(store: SessionStore, session_id: str) -> int:
    return int(store.connection.execute("SELECT sid FROM sessions WHERE id = ?", (session_id,)).get)


def test_a_batch_records_one_watermark_the_count_before_it() -> None:
    with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
        store.create_session("s1")
        store.append_event("s1", "e0", None, "i", "t", _content("zero"))
        store.index_pending()
        batch = [(f"e{n}", f"e{n - 1}", "i", "t", _content(f"w{n} batch")) for n in range(1, 501)]
        store.append_events("s1", batch)
        assert _pending(store) == [(_sid(store, "s1"), 1)]  # one row: the count before the batch
        store.append_events("s1", [("more", "e500", "i", "t", _content("batch"))])
        assert _pending(store) == [(_sid(store, "s1"), 1)]  # the lowest watermark stays
        assert len(store.search("batch", limit=1000)) == 501
        assert store.search("zero")[0].event_id == "e0"  # indexed once, not twice
        check_index(store)


def test_every_write_path_is_found_by_search() -> None:
    now = [1_700_000_000]
    with SessionStore(":memory:", clock=lambda: now[0]) as store:
        store.create_session("s")
        store.append_event("s", "single", None, "i", "t", _content("needle single"))
        store.append_event_at_head("s", "at-head", "i", "t", _content("needle athead"))
        store.append_events(
            "s",
            [("b1", "at-head", "i", "t", _content("needle b1")),
             ("b2", "b1", "i", "t", _content("needle b2"))],
        )  # fmt: skip
        # The careful batch path: a replayed item, then new ones.
        store.append_events(
            "s",
            [("b2", "b1", "i", "t", _content("needle b2")),
             ("b3", "b2", "i", "t", _content("needle b3"))],
        )  # fmt: skip
        # The careful single path: the clock stepped back behind the session.
        now[0] -= 100
        store.append_event("s", "late", "b3", "i", "t", _content("needle late"))
        now[0] += 100
        blobs.append_events_at_head(store, "s", [("blob1", "i", "t", _content("needle blob"))])
        store.compact("s", {"content": "needle summary"}, through_event_id="b1", event_id="sum")
        # Sync pull (import_session): a new session and a merge into an existing one.
        session = StoredSession("pulled", None, None, "/p", None, 1, 2, None)
        events = [
            StoredEvent("p1", "pulled", None, "i", "t", _content("needle p1"), 1),
            StoredEvent("p2", "pulled", "p1", "i", "t", _content("needle p2"), 2),
        ]
        store.import_session(session, events)
        more = [*events, StoredEvent("p3", "pulled", "p2", "i", "t", _content("needle p3"), 3)]
        merged = session._replace(head_id="p3", updated_at=3)
        store.import_session(merged, more, merge=True)
        # JSONL import of a new session.
        with SessionStore(":memory:") as other:
            other.create_session("j")
            other.append_events(
                "j",
                [("j1", None, "i", "t", _content("needle j1")),
                 ("j2", "j1", "i", "t", _content("needle j2"))],
            )  # fmt: skip
            store.import_jsonl(other.export_jsonl(["j"]))
        expected = {
            "single", "at-head", "b1", "b2", "b3", "late", "blob1", "sum",
            "p1", "p2", "p3", "j1", "j2",
        }  # fmt: skip
        assert {h.event_id for h in store.search("needle", limit=100)} == expected
        check_index(store)


def test_indexing_off_records_nothing_and_on_again_finds_everything() -> None:
    with SessionStore(":memory:") as store:
        store.set_search_indexing(False)
        store.create_session("s")
        store.append_events("s", [("e1", None, "i", "t", _content("hay"))])
        store.append_event("s", "e2", "e1", "i", "t", _content("hay"))
        with SessionStore(":memory:") as other:
            other.import_jsonl(store.export_jsonl())
            assert {h.event_id for h in other.search("hay")} == {"e1", "e2"}  # it indexes
        assert _pending(store) == []
        store.set_search_indexing(True)
        assert {h.event_id for h in store.search("hay")} == {"e1", "e2"}
        store.append_events("s", [("e3", "e2", "i", "t", _content("hay"))])
        assert {h.event_id for h in store.search("hay")} == {"e1", "e2", "e3"}
        check_index(store)


WRITER = textwrap.dedent(
    """
    import json, sys
    from convstore import SessionStore
    store = SessionStore(sys.argv[1])
    n = 0
    while True:
        data = json.dumps({"content": "needle"})
        batch = [(f"b{n}-{k}", None, "i", "t", data) for k in range(50)]
        store.append_events(sys.argv[2], batch)
        print(" ".join(e[0] for e in batch), flush=True)  # the batch has returned
        n += 1
        if n == int(sys.argv[3]):
            break
    lines = list(store.export_jsonl([sys.argv[2]]))
    store.close()
    """
)


def test_batches_and_imports_of_another_process_are_found(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("theirs")
        subprocess.run(
            [PYTHON, "-c", WRITER, str(db_path), "theirs", "3"],
            env=child_env(), capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        importer = (
            "import json, sys\nfrom convstore import SessionStore\n"
            "src = SessionStore(':memory:'); src.create_session('imported')\n"
            "src.append_events('imported', [('i1', None, 'i', 't', "
            "json.dumps({'content': 'needle'}))])\n"
            "with SessionStore(sys.argv[1]) as s: s.import_jsonl(src.export_jsonl())\n"
        )
        subprocess.run(
            [PYTHON, "-c", importer, str(db_path)],
            env=child_env(), capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        found = {h.event_id for h in store.search("needle", limit=1000)}
        assert found == {f"b{n}-{k}" for n in range(3) for k in range(50)} | {"i1"}
        check_index(store)


def test_sigkill_between_batches_and_catch_up_loses_nothing(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("victim")
    child = subprocess.Popen(
        [PYTHON, "-c", WRITER, str(db_path), "victim", "100000"],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    acknowledged: list[str] = []
    for line in child.stdout:
        acknowledged += line.split()
        if len(acknowledged) >= 20 * 50:
            break
    child.send_signal(signal.SIGKILL)
    rest, _err = child.communicate(timeout=60)
    acknowledged += rest.split()
    assert child.returncode == -signal.SIGKILL
    with SessionStore(db_path) as store:
        found = {h.event_id for h in store.search("needle", limit=10_000)}
        stored = {e.id for e in store.load_events("victim")}
        assert set(acknowledged) <= found and found == stored
        check_index(store)


PREVIOUS = {1, 2, 3, 4, 5, 6, 7, 8, 9}


def _previous_file(path: Path, *, indexing: bool) -> None:
    """A populated file of the schema before 0010, written the way that release wrote it."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn, str(path), tuple(m for m in known_migrations() if m.version in PREVIOUS))
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert "event_search_pending" in names and "search_pending_count" not in names
    with conn:
        if not indexing:  # what set_search_indexing(False) did in that schema
            for trigger in ("event_search_delete", "event_search_update", "event_search_pending"):
                conn.execute(f"DROP TRIGGER {trigger}")
            conn.execute("INSERT INTO search_config VALUES ('indexing', 'off')")
        for sid, name in ((1, "a"), (2, "b"), (3, "c")):
            conn.execute(
                "INSERT INTO sessions (sid, id, directory, created_at, updated_at) "
                "VALUES (?, ?, '/p', 1, 1)",
                (sid, name),
            )
            for seq in range(1, 41):
                conn.execute(
                    "INSERT INTO session_events (rid, id, invocation_id, event_type, "
                    "event_data, created_at) VALUES (?, ?, 'i', 't', ?, 1)",
                    (sid * 2**32 + seq, f"{name}{seq}", _content(f"{name}word n{seq}")),
                )
            conn.execute(
                "UPDATE sessions SET head_id = ?, event_count = 40 WHERE sid = ?",
                (f"{name}40", sid),
            )
        if indexing:  # a and b caught up (and b appended to since); c still wholly pending
            conn.execute(
                "INSERT INTO event_search (rowid, body) SELECT rid, body FROM event_search_source "
                "WHERE rid < 2 * 4294967296 + 31"
            )
            conn.execute("DELETE FROM search_pending")
            conn.execute("INSERT INTO search_pending VALUES (2, 30), (3, 0)")
    conn.close()


@pytest.mark.parametrize("indexing", [True, False])
def test_previous_schema_upgrades_with_pending_work_and_index_intact(
    tmp_path: Path, indexing: bool
) -> None:
    db = tmp_path / "previous.db"
    _previous_file(db, indexing=indexing)
    conn = apsw.Connection(str(db))
    before = {
        "events": conn.execute("SELECT * FROM session_events ORDER BY rid").fetchall(),
        "sessions": conn.execute("SELECT * FROM sessions ORDER BY sid").fetchall(),
        "indexed": conn.execute("SELECT rowid FROM event_search ORDER BY rowid").fetchall(),
        "pending": conn.execute("SELECT * FROM search_pending ORDER BY sid").fetchall(),
    }
    conn.close()
    with SessionStore(db) as store:
        c = store.connection
        assert status(c, str(db)).pending == ()
        assert c.execute("PRAGMA integrity_check").get == "ok"
        for key, sql in (
            ("events", "SELECT * FROM session_events ORDER BY rid"),
            ("sessions", "SELECT * FROM sessions ORDER BY sid"),
            ("indexed", "SELECT rowid FROM event_search ORDER BY rowid"),
            ("pending", "SELECT * FROM search_pending ORDER BY sid"),
        ):
            assert c.execute(sql).fetchall() == before[key], key
        triggers = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
        assert "event_search_pending" not in triggers
        per_write = {"search_pending_count", "search_pending_session"}
        assert (per_write <= triggers) if indexing else not (per_write & triggers)
        if not indexing:
            store.set_search_indexing(True)
        for name in "abc":
            assert len(store.search(f"{name}word", limit=100)) == 40
        check_index(store)
        # Every write keeps recording after the upgrade.
        store.append_event("a", "a41", "a40", "i", "t", _content("fresh"))
        store.append_events("b", [("b41", "b40", "i", "t", _content("fresh"))])
        store.import_jsonl(
            [
                json.dumps({"kind": "session", "format": 2, "id": "d", "head_id": "d1",
                            "created_at": 1, "updated_at": 1, "event_count": 1}),
                json.dumps({"kind": "event", "session_id": "d", "id": "d1", "parent_id": None,
                            "invocation_id": "i", "event_type": "t",
                            "event_data": _content("fresh"), "created_at": 1}),
            ]
        )  # fmt: skip
        assert {h.event_id for h in store.search("fresh")} == {"a41", "b41", "d1"}
        check_index(store)


def _lines(events: list[tuple[str, str | None, str]], *, session: str = "n") -> list[str]:
    header = {"kind": "session", "format": 2, "id": session, "head_id": events[-1][0],
              "created_at": 1, "updated_at": 1, "event_count": len(events)}  # fmt: skip
    out = [json.dumps(header)]
    for eid, parent, data in events:
        out.append(json.dumps({"kind": "event", "session_id": session, "id": eid,
                               "parent_id": parent, "invocation_id": "i", "event_type": "t",
                               "event_data": data, "created_at": 1}))  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("events", "error", "message"),
    [
        # line numbers: the header is line 1, event k is line k + 1
        (
            [("a", None, "{}"), ("b", "a", "{}"), ("a", "b", "{}")],
            "DuplicateId",
            "line 4: event id 'a'",
        ),
        (
            [("a", None, "{}"), ("b", "a", "{"), ("c", "b", "{}")],
            "InvalidEvent",
            "line 3: event 'b'",
        ),
        ([("a", None, "{}"), ("stored", "a", "{}")], "DuplicateId", "line 3: event id 'stored'"),
        # an earlier duplicate is reported before a later bad parent
        ([("a", None, "{}"), ("stored", "a", "{}"), ("c", "zz", "{}")], "DuplicateId", "line 3"),
        ([("a", None, "{}"), ("b", "zz", "{}")], "InvalidEvent", "line 3: event 'b': parent 'zz'"),
        ([("a", None, "{}"), ("b", "a", '"\x00"')], "InvalidEvent", "line 3: event 'b'"),
    ],
)
def test_import_in_bulk_still_names_the_first_bad_line(
    events: list[tuple[str, str | None, str]], error: str, message: str
) -> None:
    with SessionStore(":memory:") as store:
        store.create_session("s")
        store.append_event("s", "stored", None, "i", "t", "{}")
        with pytest.raises(Exception) as info:
            store.import_jsonl(_lines(events))
        assert type(info.value).__name__ == error and message in str(info.value), info.value
        assert "nothing was imported" in str(info.value)
        assert store.get_session("n") is None and len(store.load_events("s")) == 1


def test_import_in_bulk_past_the_flush_size_and_the_id_set() -> None:
    import convstore.sqlite.exporting as exporting

    events: list[tuple[str, str | None, str]] = [("e0", None, _content("bulk"))]
    events += [(f"e{n}", f"e{n - 1}", _content("bulk")) for n in range(1, 2500)]
    events.append(("fork", "e3", _content("bulk")))  # a parent far back
    with SessionStore(":memory:") as store:
        old = exporting._KNOWN_IDS
        exporting._KNOWN_IDS = 1500  # parents past the id set are looked up
        try:
            report = store.import_jsonl(_lines(events))
        finally:
            exporting._KNOWN_IDS = old
        assert report.events == 2501
        assert [e.id for e in store.load_events("n")] == [e[0] for e in events]
        assert len(store.search("bulk", limit=10_000)) == 2501
        check_index(store)


@pytest.mark.parametrize(
    ("suffix", "ok"),
    [
        ("", True),
        ("\n", True),
        (" \r\n\t", True),
        ("\x0c", False),
        (" x", False),
        ("{}", False),
        ("\u2028", False),
    ],
)
def test_import_parses_each_line_as_json_loads_would(suffix: str, ok: bool) -> None:
    lines = [line + suffix for line in _lines([("a", None, "{}")])]
    with SessionStore(":memory:") as store:
        if ok:
            assert store.import_jsonl(lines).events == 1
            assert (
                store.import_jsonl(
                    ["  " + line for line in _lines([("b", None, "{}")], session="m")]
                ).events
                == 1
            )
        else:
            with pytest.raises(Exception, match="line 1: not JSON") as info:
                store.import_jsonl(lines)
            assert type(info.value).__name__ == "InvalidArgument"


class _Str(str):
    pass


@pytest.mark.parametrize(
    "bad",
    [
        ("x", None, "i", "t", "{}", "extra"),
        ("x", None, "i", "t"),
        (_Str("x"), None, "i", "t", "{}"),
        ("x", _Str("e0"), "i", "t", "{}"),
        ("x", None, "i", _Str("t"), "{}"),
        ("x", None, "i", "t", _Str("{}")),
        ("x\x00", None, "i", "t", "{}"),
        ("x", None, "i\x00", "t", "{}"),
        ("x", None, "i", "t", '{"a": "\x00"}'),
        ("x", None, "i", "t", '{"a": "\\ud800"}'),
        ("x", None, "i", "t", '{"a": "\ud800"}'),
        ("x", None, "i", "t", "[" * 600 + "]" * 600),
        ("x", None, "i", "t", 5),
        ("x", 5, "i", "t", "{}"),
        ("x", None, "i", "t", "{"),
        ["x", "missing", "i", "t", "{}"],
    ],
)
def test_batch_fast_checks_refuse_what_item_checks_refuse(bad: object) -> None:
    good = [(f"g{n}", None, "i", "t", _content("ok")) for n in range(3)]
    with SessionStore(":memory:") as store:
        store.create_session("s")
        with pytest.raises(Exception) as info:
            store.append_events("s", [*good, bad, *good[:0]])
        assert type(info.value).__name__ in {"InvalidEvent", "InvalidArgument"}, info.value
        assert store.load_events("s") == []  # all or nothing


def test_batch_fast_path_accepts_what_item_checks_accept() -> None:
    batch = [
        ("a", None, "i", "t", '{"content": "caf\\u00e9"}'),  # an escape: item checks
        ("b", "a", "i", "t", '{"content": "café"}'),  # non-ASCII data: item checks
        ("ü", "b", "i", "t", "{}"),  # non-ASCII id
        ("c", "ü", "i", "t", "[" * 400 + "]" * 400),  # deep but within the limit
    ]
    with SessionStore(":memory:") as store:
        store.create_session("s")
        assert [e.id for e in store.append_events("s", batch)] == ["a", "b", "ü", "c"]
        assert [e.id for e in store.append_events("s", [("d", "c", "i", "t", "{}")])] == ["d"]
        assert {h.event_id for h in store.search("cafe")} == {"a", "b"}

"""Several processes on one database file: nothing lost, nothing reordered, busy is typed.

1. Four writer processes append 500 events each -- four fifths to their own
   session with ``append_event``, one fifth to a session they all share with
   ``append_event_at_head`` -- while two reader processes loop over
   ``find_resumable_session``, ``load_events`` and ``get_session`` the whole
   time. Everything runs with the default ``timeout``. Every process must
   finish without a single error; readers check, on every snapshot, that the
   log is a prefix of what the writer appends and that ``head_id`` is the
   last event of that same snapshot; at the end every event is present, in
   order, and every ``head_id`` is right.
2. Another process holds a write transaction open (``BEGIN IMMEDIATE`` on a
   raw APSW connection) until the test tells it to let go. A store opened
   with ``timeout=0.3`` still opens and reads, but every write raises
   :class:`~convstore.StoreBusy` after about 0.3 s, and nothing is written.

Processes are synchronised through their pipes only (a ``ready`` line, a
``go`` line, closing stdin): no sleeps.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PYTHON, child_env

from convstore import SessionStore, StoreBusy

WRITERS = 4
APPENDS = 500
SHARED_EVERY = 5  # every 5th append of a writer goes to the shared session
READERS = 2

WRITER = r"""
import json, sys
from convstore import SessionStore

path, w, n, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
store = SessionStore(path)                     # default timeout
print("ready", flush=True)
sys.stdin.readline()                           # "go"
prev = None
for i in range(n):
    data = json.dumps({"writer": w, "i": i, "text": "x" * (i % 97)})
    if i % every == every - 1:
        store.append_event_at_head("shared", f"w{w}-s{i}", f"inv-{w}", "text", data)
    else:
        store.append_event(f"own-{w}", f"w{w}-{i}", prev, f"inv-{w}", "text", data)
        prev = f"w{w}-{i}"
store.close()
print("done", flush=True)
"""

READER = r"""
import json, random, sys, threading
from convstore import SessionStore

path, writers, n, every, seed = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
rng = random.Random(seed)
store = SessionStore(path)
conn = store.connection
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
own_ids = {w: [f"w{w}-{i}" for i in range(n) if i % every != every - 1] for w in range(writers)}
print("ready", flush=True)
loops = partial = 0
while not stop.is_set():
    loops += 1
    found = store.find_resumable_session(f"/work/w{rng.randrange(writers)}", "/work", 10**9)
    assert found is not None and found.archived_at is None, found
    # One read transaction: the log and the head must come from the same snapshot.
    w = rng.randrange(writers)
    conn.execute("BEGIN")
    own = store.load_events(f"own-{w}")
    own_session = store.get_session(f"own-{w}")
    shared = store.load_events("shared")
    shared_session = store.get_session("shared")
    conn.execute("COMMIT")
    ids = [e.id for e in own]
    assert ids == own_ids[w][: len(ids)], ids
    assert [e.parent_id for e in own] == [None, *ids][: len(ids)], own
    assert own_session.head_id == (ids[-1] if ids else None), own_session
    assert [e.parent_id for e in shared] == [None, *[e.id for e in shared]][: len(shared)], shared
    assert shared_session.head_id == (shared[-1].id if shared else None), shared_session
    partial += 0 < len(shared) < writers * (n // every)
store.close()
print(json.dumps({"loops": loops, "partial": partial}), flush=True)
"""

HOLDER = r"""
import sys, apsw
conn = apsw.Connection(sys.argv[1])
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE sessions SET head_id = 'holder-was-here'")   # never committed
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
print("released", flush=True)
"""


def _spawn(code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-c", code, *map(str, args)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _expect_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != expected:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"child said {line!r} instead of {expected!r}:\n{err}")


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{err}"
    assert err == "", err
    return out


def test_writers_and_readers_in_parallel_lose_nothing(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("shared", directory="/work/shared", git_root="/work")
        for w in range(WRITERS):
            store.create_session(f"own-{w}", directory=f"/work/w{w}", git_root="/work")

    readers = [_spawn(READER, db_path, WRITERS, APPENDS, SHARED_EVERY, r) for r in range(READERS)]
    writers = [_spawn(WRITER, db_path, w, APPENDS, SHARED_EVERY) for w in range(WRITERS)]
    procs = readers + writers
    try:
        for p in procs:
            _expect_line(p, "ready")
        for p in writers:  # all start appending at once
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in writers:
            assert _finish(p).split() == ["done"]
        reports = [json.loads(_finish(p)) for p in readers]  # communicate() closes stdin: stop
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    # The readers really read while the writers wrote: they saw logs half-written.
    assert sum(report["partial"] for report in reports) > 0, reports

    per_writer_shared = APPENDS // SHARED_EVERY
    with SessionStore(db_path) as store:
        assert store.connection.execute("PRAGMA integrity_check").get == "ok"
        for w in range(WRITERS):
            expected = [f"w{w}-{i}" for i in range(APPENDS) if i % SHARED_EVERY != SHARED_EVERY - 1]
            events = store.load_events(f"own-{w}")
            assert [e.id for e in events] == expected
            assert [e.parent_id for e in events] == [None, *expected[:-1]]
            assert [json.loads(e.event_data)["writer"] for e in events] == [w] * len(expected)
            session = store.get_session(f"own-{w}")
            assert session is not None and session.head_id == expected[-1]
        shared = store.load_events("shared")
        assert len(shared) == WRITERS * per_writer_shared
        # One linear chain: each event's parent is the one appended just before it...
        assert [e.parent_id for e in shared] == [None, *[e.id for e in shared[:-1]]]
        # ...and each writer's events appear in the order that writer appended them.
        for w in range(WRITERS):
            mine = [e.id for e in shared if e.id.startswith(f"w{w}-")]
            assert mine == [
                f"w{w}-s{i}" for i in range(APPENDS) if i % SHARED_EVERY == SHARED_EVERY - 1
            ]
        session = store.get_session("shared")
        assert session is not None and session.head_id == shared[-1].id
        total = store.connection.execute("SELECT count(*) FROM session_events").get
        assert total == WRITERS * APPENDS


TIMEOUT = 0.3
#: Generous for a noisy 2-core machine; the point is "about the timeout", not "forever".
UPPER_BOUND = TIMEOUT + 2.0


def _state(store: SessionStore) -> object:
    conn = store.connection
    return (
        conn.execute("SELECT * FROM sessions ORDER BY sid").fetchall(),
        conn.execute("SELECT * FROM session_events ORDER BY sid, seq").fetchall(),
        conn.execute("SELECT * FROM session_metadata").fetchall(),
    )


def test_a_held_write_lock_gives_store_busy_after_the_timeout(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("s1", directory="/p")
        store.append_event("s1", "e1", None, "inv", "text", "{}")

    holder = _spawn(HOLDER, db_path)
    try:
        _expect_line(holder, "locked")
        # An up-to-date database opens without the write lock, and reads work.
        store = SessionStore(db_path, timeout=TIMEOUT)
        before = _state(store)
        assert [e.id for e in store.load_events("s1")] == ["e1"]
        assert store.find_resumable_session("/p", None, 10**9) is not None

        writes = {
            "append_event": lambda: store.append_event("s1", "e2", "e1", "inv", "text", "{}"),
            "append_event_at_head": lambda: store.append_event_at_head(
                "s1", "e2", "inv", "text", "{}"
            ),
            "append_events": lambda: store.append_events("s1", [("e2", "e1", "i", "t", "{}")]),
            "create_session": lambda: store.create_session("s2"),
            "archive_session": lambda: store.archive_session("s1"),
            "update_server_session_id": lambda: store.update_server_session_id("s1", "srv"),
            "set_metadata": lambda: store.set_metadata("s1", "title", "x"),
        }
        for name, write in writes.items():
            started = time.monotonic()
            with pytest.raises(StoreBusy) as info:
                write()
            elapsed = time.monotonic() - started
            assert TIMEOUT * 0.8 <= elapsed < UPPER_BOUND, (name, elapsed)
            assert str(db_path) in str(info.value), name
            assert _state(store) == before, name

        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.flush()
        _expect_line(holder, "released")
        assert _finish(holder) == ""
        # Nothing any refused call tried is there; the holder's update was rolled back.
        assert _state(store) == before
        # And the same store writes normally once the lock is gone.
        store.append_event("s1", "e2", "e1", "inv", "text", "{}")
        assert store.get_session("s1").head_id == "e2"  # type: ignore[union-attr]
        store.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

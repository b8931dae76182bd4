"""Several writer processes on one file: nothing lost, order kept, one chain per shared session."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import PYTHON, child_env

from convstore import SessionStore, StoreBusy, StoredEvent

WRITERS = 4
EVENTS_EACH = 40

WRITER = textwrap.dedent(
    """
    import json, sys
    from convstore import SessionStore
    path, me, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SessionStore(path, timeout=60)
    own = "own-" + me
    store.create_session(own, directory="/work/" + me)
    print("ready", flush=True)
    sys.stdin.readline()  # barrier: all writers start appending together
    parent = None
    for i in range(n):
        eid = f"{me}-own-{i}"
        store.append_event(own, eid, parent, "inv-" + me, "text", json.dumps({"i": i}))
        parent = eid
        store.append_event_at_head(
            "shared", f"{me}-shared-{i}", "inv-" + me, "text", json.dumps({"w": me, "i": i})
        )
    store.close()
    print("done", flush=True)
    """
)


def run_writers(path: Path) -> None:
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", WRITER, str(path), f"w{k}", str(EVENTS_EACH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for k in range(WRITERS)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"


def assert_linear_chain(events: list[StoredEvent]) -> None:
    assert events[0].parent_id is None
    for prev, cur in pairwise(events):
        assert cur.parent_id == prev.id, (prev.id, cur.id)


def test_concurrent_writers_lose_nothing_and_keep_order(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("shared", directory="/work/shared")

    run_writers(db_path)

    with SessionStore(db_path) as store:
        for k in range(WRITERS):
            me = f"w{k}"
            events = store.load_events(f"own-{me}")
            assert [e.id for e in events] == [f"{me}-own-{i}" for i in range(EVENTS_EACH)]
            assert_linear_chain(events)
            assert all(e.session_id == f"own-{me}" for e in events)
            session = store.get_session(f"own-{me}")
            assert session is not None and session.head_id == events[-1].id

        shared = store.load_events("shared")
        assert len(shared) == WRITERS * EVENTS_EACH
        assert len({e.id for e in shared}) == len(shared)
        # One linear chain: every append saw the previous one as head, no silent fork.
        assert_linear_chain(shared)
        head = store.get_session("shared")
        assert head is not None and head.head_id == shared[-1].id
        # Each writer's own appends keep their order inside the interleaving.
        for k in range(WRITERS):
            mine = [e.id for e in shared if e.id.startswith(f"w{k}-")]
            assert mine == [f"w{k}-shared-{i}" for i in range(EVENTS_EACH)]
        # Append order and time agree: timestamps never go backwards along the log.
        stamps = [e.created_at for e in shared]
        assert stamps == sorted(stamps)
        assert head.updated_at == stamps[-1]

        total = store.connection.execute("SELECT COUNT(*) FROM session_events").get
        assert total == WRITERS * EVENTS_EACH * 2


APPENDS = {
    "append_event": lambda s, eid: s.append_event("s1", eid, "a0", "inv", "text", "{}"),
    "append_event_at_head": lambda s, eid: s.append_event_at_head("s1", eid, "inv", "text", "{}"),
    "append_events": lambda s, eid: s.append_events("s1", [(eid, "a0", "inv", "text", "{}")]),
}


@pytest.mark.parametrize("append", list(APPENDS.values()), ids=list(APPENDS))
def test_timestamps_never_go_backwards_when_another_writer_races_the_clock_read(
    db_path: Path, append: Callable[[SessionStore, str], object]
) -> None:
    """Two writers whose clock reads and commits cross: the log's time still only moves forward.

    Writer A reads the time (second 100), and before it takes the write lock,
    writer B reads a later second (101) and commits an append. If A wrote the
    time it read *before* taking the lock, its event would land after B's with
    an earlier ``created_at``, and the session's ``updated_at`` would move back
    from 101 to 100 (making the conversation look older than its last turn).
    Reading the clock under the write lock makes that interleaving impossible:
    B cannot commit in between.

    The race is driven deterministically: A's clock *is* the moment of the
    race, so it lets B try its append (without waiting) when A reads it.
    """
    base = 1_700_000_000
    b = SessionStore(db_path, timeout=0, clock=lambda: base + 1)
    raced: list[str] = []

    def clock_a() -> int:
        if armed and not raced:
            try:
                b.append_event_at_head("s1", "b1", "inv-b", "text", "{}")
                raced.append("B committed between A's clock read and A's write")
            except StoreBusy:
                raced.append("B had to wait: A read the clock holding the write lock")
        return base

    armed = False
    with SessionStore(db_path, clock=clock_a) as a:
        a.create_session("s1")
        a.append_event("s1", "a0", None, "inv", "text", "{}")
        armed = True
        append(a, "a1")
        assert raced, "the clock was read during the append"
        events = a.load_events("s1")
        session = a.get_session("s1")
    b.close()

    stamps = [e.created_at for e in events]
    assert stamps == sorted(stamps), (raced, [(e.id, e.created_at) for e in events])
    assert session is not None
    assert session.updated_at == max(stamps)
    assert session.head_id == events[-1].id == "a1"

"""Crash test: SIGKILL a writing process at random moments; nothing acknowledged is lost.

A child process opens the store (the first round creates and migrates the
file), creates a session, and then appends in a loop -- single events with
``append_event_at_head``, batches with ``append_events``, big and small
payloads so that the WAL grows past the checkpoint threshold and checkpoints
run -- printing ``try`` before and ``ack`` after every call (flushed). The
test reads a seeded-random number of lines and SIGKILLs the child wherever it
is: opening, migrating, inside a transaction, committing, checkpointing.

After each kill: the store opens, ``PRAGMA integrity_check`` is ``ok``, every
acknowledged event is present, the one call in flight is stored entirely or
not at all, each session's events form one chain in append order, and
``head_id`` names the session's last stored event. The next round continues
on the same file (old sessions keep growing, one gets archived now and then).
"""

from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

from conftest import PYTHON, child_env

from convstore import SessionStore

ROUNDS = 14
SEED = 20240611

CHILD = r"""
import json, random, sys
from convstore import SessionStore

path, round_no = sys.argv[1], int(sys.argv[2])
rng = random.Random(round_no)

def say(*words):
    sys.stdout.write(" ".join(words) + "\n")
    sys.stdout.flush()

say("opening")
store = SessionStore(path)
say("opened")
sid = f"r{round_no}"
say("try-session", sid)
store.create_session(sid, directory=f"/work/{sid}")
say("ack-session", sid)
live = [s.id for s in store.list_sessions(limit=1000) if s.archived_at is None]
n = 0
while True:
    target = sid if rng.random() < 0.6 else rng.choice(live)
    if rng.random() < 0.01 and target != sid:
        say("try-archive", target)
        store.archive_session(target)
        say("ack-archive", target)
        live.remove(target)
        continue
    size = rng.choice([10, 200, 3000, 20000])
    if rng.random() < 0.3:
        head = store.get_session(target).head_id
        ids = [f"{sid}-{n + k}" for k in range(rng.randint(2, 40))]
        batch = []
        for eid in ids:
            data = json.dumps({"pad": "x" * rng.randint(0, size)})
            batch.append((eid, head, "inv", "text", data))
            head = eid
        say("try", target, *ids)
        store.append_events(target, batch)
    else:
        ids = [f"{sid}-{n}"]
        say("try", target, *ids)
        store.append_event_at_head(target, ids[0], "inv", "text", json.dumps({"pad": "y" * size}))
    say("ack", target, *ids)
    n += len(ids)
"""


class Ledger:
    """What the children were told was stored, and what was in flight at the kill."""

    def __init__(self) -> None:
        self.sessions: set[str] = set()
        self.archived: set[str] = set()
        self.events: dict[str, list[str]] = {}  # acknowledged, per session, in order
        self.in_flight: tuple[str, ...] | None = None

    def read(self, line: str) -> None:
        kind, *rest = line.split()
        if kind == "ack-session":
            self.sessions.add(rest[0])
            self.events.setdefault(rest[0], [])
        elif kind == "ack-archive":
            self.archived.add(rest[0])
        elif kind == "ack":
            self.events[rest[0]].extend(rest[1:])
        if kind.startswith("try"):
            self.in_flight = (kind, *rest)
        elif kind.startswith("ack"):
            self.in_flight = None


def _run_round(path: Path, round_no: int, kill_after: int, ledger: Ledger) -> list[str]:
    child = subprocess.Popen(
        [PYTHON, "-c", CHILD, str(path), str(round_no)],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines: list[str] = []
    while len(lines) < kill_after:
        line = child.stdout.readline()
        if not line:
            break
        lines.append(line)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    # Read the rest through the same buffered file objects (communicate() would
    # bypass what readline() has already buffered): everything the child printed
    # before it died was acknowledged to it.
    assert child.stderr is not None
    out, err = child.stdout.read(), child.stderr.read()
    child.stdout.close()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL, f"child died by itself:\n{err}"
    assert err == "", err
    lines.extend(out.splitlines(keepends=True))  # printed (acknowledged) before the kill
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # cut short by the kill: the child never finished saying it
    for line in lines:
        ledger.read(line)
    return lines


def _check(path: Path, ledger: Ledger) -> None:
    with SessionStore(path) as store:
        assert store.connection.execute("PRAGMA integrity_check").get == "ok"
        stored = {s.id: s for s in store.list_sessions(include_archived=True, limit=10_000)}
        flight = ledger.in_flight
        if flight and flight[0] == "try-session" and flight[1] in stored:
            ledger.sessions.add(flight[1])  # created just before the kill: keep it
            ledger.events[flight[1]] = []
        assert set(stored) == ledger.sessions
        if flight and flight[0] == "try-archive" and stored[flight[1]].archived_at is not None:
            ledger.archived.add(flight[1])
        assert {sid for sid, s in stored.items() if s.archived_at is not None} == ledger.archived
        for sid in ledger.sessions:
            events = store.load_events(sid)
            ids = [e.id for e in events]
            acked = ledger.events[sid]
            if flight and flight[0] == "try" and flight[1] == sid and ids != acked:
                assert ids == [*acked, *flight[2:]], (sid, "in-flight call stored partly")
                acked.extend(flight[2:])  # committed just before the kill
            assert ids == acked, sid
            # One chain in append order, and the head is the last stored event.
            assert [e.parent_id for e in events] == [None, *ids][: len(ids)], sid
            assert stored[sid].head_id == (ids[-1] if ids else None), sid
    ledger.in_flight = None


def test_sigkill_at_random_moments_loses_no_acknowledged_event(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    path = tmp_path / "crash" / "sessions.db"
    ledger = Ledger()
    kinds: set[str] = set()
    for round_no in range(ROUNDS):
        # Early rounds die young (while opening/migrating); later ones deep in the loop.
        kill_after = rng.choice([1, 2, 3]) if round_no < 3 else rng.randint(4, 600)
        lines = _run_round(path, round_no, kill_after, ledger)
        if lines:
            kinds.add(lines[-1].split()[0])
        _check(path, ledger)
    total = sum(len(v) for v in ledger.events.values())
    assert total > 1000, total  # the rounds really wrote a lot (checkpoints ran)
    assert "try" in kinds  # and some kills landed with a call in flight

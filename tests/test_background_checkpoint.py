"""The background checkpointer really checkpoints, on its own connection, off the append.

Its connection is opened by the thread and had never read the file: SQLite
then treats every checkpoint on it as a no-op (it returns ``(-1, -1)``: the
connection does not yet know the file is in WAL mode), so the WAL only ever
emptied through the committing call's own inline checkpoint at
``CHECKPOINT_INLINE_PAGES`` -- the very thing the thread is there to avoid.
"""

from __future__ import annotations

import json
from pathlib import Path

import apsw
import pytest

from convstore import SessionStore
from convstore.sqlite import connection

DATA = json.dumps({"content": "x" * 6000})


def test_the_thread_copies_the_wal_back_and_the_call_never_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline: list[int] = []
    real = connection._checkpoint_quietly

    with SessionStore(tmp_path / "c.db") as store:
        ours = store.connection

        def spy(conn: apsw.Connection, dbname: str) -> tuple[int, int]:
            if conn is ours:
                inline.append(1)
            return real(conn, dbname)

        monkeypatch.setattr(connection, "_checkpoint_quietly", spy)
        checkpointer = store._checkpointer
        assert checkpointer is not None
        store.create_session("s")
        parent = None
        for round_ in range(3):  # three fillings of the WAL, each emptied by the thread
            for i in range(400):
                eid = f"e{round_}-{i}"
                store.append_event("s", eid, parent, "i", "text", DATA)
                parent = eid
                if not checkpointer._armed:  # the hook has woken the thread: stop here
                    break
            assert not checkpointer._armed, "the WAL never reached the threshold"
            assert checkpointer.wait_checkpoint(timeout=30)
            log, copied = checkpointer.last
            assert log >= connection.CHECKPOINT_PAGES and copied == log, checkpointer.last
            # The next commit restarts the log from the beginning.
            store.append_event("s", f"r{round_}", parent, "i", "text", "{}")
            parent = f"r{round_}"
            if connection._CHECKPOINT_NOOP is not None:
                assert ours.wal_checkpoint(mode=connection._CHECKPOINT_NOOP)[0] < 10
                checkpointer.tick(ours, connection.POLL_PAGES)  # looks: re-armed
            assert checkpointer._armed
        assert inline == []  # no append checkpointed inside its own call
        assert len(store.load_events("s")) == store.list_sessions()[0].event_count


def test_without_the_thread_the_wal_stays_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread never runs (or fell behind): SQLite's own checkpoint, inline, bounds the WAL."""
    monkeypatch.setattr(connection.BackgroundCheckpointer, "_request", lambda self: None)
    db = tmp_path / "b.db"
    wal = Path(f"{db}-wal")
    page = 4096
    with SessionStore(db) as store:
        store.create_session("s")
        parent = None
        largest = 0
        for i in range(1500):  # ~10,000 pages: five times the inline cap
            store.append_event("s", f"e{i}", parent, "i", "text", DATA)
            parent = f"e{i}"
            largest = max(largest, wal.stat().st_size)
        assert largest <= (connection.CHECKPOINT_INLINE_PAGES + 10) * (page + 24), largest
        assert store.connection.execute("SELECT count(*) FROM session_events").get == 1500

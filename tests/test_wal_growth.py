"""WAL growth: a long-lived reader lets the WAL grow; once it is gone, the WAL is bounded.

The checkpoint policy is explicit in :mod:`convstore.connection`: a PASSIVE
checkpoint after any commit that leaves the WAL above ``CHECKPOINT_PAGES``
(1000 pages), and ``journal_size_limit`` = 8 MiB, to which SQLite cuts the WAL
file whenever it restarts the log from the beginning.

1. A reader (another connection) holds a read transaction -- a snapshot --
   while 100k events are appended in ``append_events`` batches. No checkpoint
   can get past the reader's snapshot, so the WAL must grow well beyond the
   limit (this is the situation the policy has to recover from).
2. The reader ends. A couple more commits: the checkpoint completes, the log
   restarts, and the file is cut back to the limit.
3. Many more writes: the WAL never again exceeds the limit (plus one batch).
Every event is still there at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import apsw

from convstore import SessionStore, _sql

TOTAL = 100_000
BATCH = 1_000
SESSIONS = 10
LIMIT = 8 * 1024 * 1024
DATA = json.dumps({"type": "text", "content": "a short reply of a typical size, " * 2})


def test_wal_is_bounded_once_the_snapshot_reader_is_gone(db_path: Path) -> None:
    assert _sql.PRAGMA_JOURNAL_SIZE_LIMIT.endswith(f"={LIMIT}")
    wal = Path(f"{db_path}-wal")
    heads: dict[str, str | None] = {f"s{i}": None for i in range(SESSIONS)}
    counter = 0

    def append_batch(store: SessionStore, sid: str, size: int = BATCH) -> None:
        nonlocal counter
        prev, batch = heads[sid], []
        for _ in range(size):
            eid = f"e{counter}"
            counter += 1
            batch.append((eid, prev, "inv", "text", DATA))
            prev = eid
        store.append_events(sid, batch)
        heads[sid] = prev

    with SessionStore(db_path) as store:
        for sid in heads:
            store.create_session(sid)
        reader = apsw.Connection(str(db_path))
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM session_events").get == 0  # snapshot taken

        for n in range(TOTAL // BATCH):
            append_batch(store, f"s{n % SESSIONS}")
        pinned = wal.stat().st_size
        # The reader's snapshot kept every checkpoint from finishing: the WAL grew.
        assert pinned > 2 * LIMIT, pinned
        assert reader.execute("SELECT count(*) FROM session_events").get == 0  # still its snapshot

        reader.execute("COMMIT")
        reader.close()

        # Commit 1 checkpoints everything (nobody is reading old pages any more);
        # commit 2 restarts the log from the beginning and SQLite truncates the file.
        append_batch(store, "s0", 10)
        append_batch(store, "s1", 10)
        assert wal.stat().st_size <= LIMIT, wal.stat().st_size

        # From now on the WAL is recycled: it stays bounded however much is written.
        largest = 0
        for n in range(30):
            append_batch(store, f"s{n % SESSIONS}")
            largest = max(largest, wal.stat().st_size)
        assert largest <= LIMIT + BATCH * 512, largest  # the limit, plus at most one batch

        total = store.connection.execute("SELECT count(*) FROM session_events").get
        assert total == counter == TOTAL + 20 + 30 * BATCH
        for sid, head in heads.items():
            session = store.get_session(sid)
            assert session is not None and session.head_id == head
    # Closing the last connection checkpoints and removes the WAL altogether.
    assert not os.path.exists(wal)

"""The systems under test, each exposing the same benchmark operations.

* ``convstore`` — the library's public API (``SessionStore``).
* ``floor`` — the physical floor: the leanest hand-written raw-APSW code doing
  the same job on the leanest schema serving the same lookups
  (``dataset.FLOOR_SCHEMA``), same durability, no search index.
* ``reference`` — Atuin AI's original schema and SQL, raw on APSW, same pragmas.
* ``peer`` — OpenAI Agents SDK ``SQLiteSession`` (optional).

An operation is an :class:`Op`: ``prepare()`` (untimed: ids, arguments, a
fresh connection) then ``call(prepared)`` (timed) then ``finish(prepared)``
(untimed). Systems that cannot do an operation return ``None`` for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from convstore import SessionStore, _sql
from convstore.connection import STATEMENT_CACHE_SIZE

from .ids import IdClock

#: The resume window of the client (``session_continue_minutes`` = 60).
MAX_AGE_SECS = 3600
BATCH_SIZE = 100
APPEND_TYPE = "text"
#: A word of the generated conversations (dataset.py's templates) for search.
SEARCH_WORD = "workflow"


#: Payloads of the append operations: ~200 B (the default), 1 KB and 8 KB of JSON.
def payload(size: int) -> str:
    """A JSON event of ``size`` bytes: ``{"content": "...words..."}``."""
    words = "a streamed chunk of assistant text about the build and its workflow "
    body = (words * (size // len(words) + 1))[: size - len('{"content": ""}')]
    return '{"content": "' + body + '"}'


APPEND_DATA = payload(200)
PAYLOADS = {"append": APPEND_DATA, "append_1k": payload(1024), "append_8k": payload(8192)}
INGEST_SIZE = 1000
SCRATCH_DIR = "/bench/scratch"
SCRATCH_PREFIX = "bench-scratch-"
_SCRATCH_END = "bench-scratch."  # the first string after every "bench-scratch-..." id
_SCRATCH_RANGE = (SCRATCH_PREFIX, _SCRATCH_END)


def import_lines(
    session_id: str, rows: list[tuple[str, str | None, str, str, str]], now: int
) -> list[str]:
    """The JSONL of ``export_jsonl`` for one new session holding ``rows`` (format 2)."""
    import json

    header = {
        "kind": "session",
        "format": 2,
        "id": session_id,
        "head_id": rows[-1][0] if rows else None,
        "server_session_id": None,
        "directory": SCRATCH_DIR,
        "git_root": None,
        "created_at": now,
        "updated_at": now,
        "archived_at": None,
        "event_count": len(rows),
        "metadata": {},
    }
    out = [json.dumps(header)]
    first_parent = rows[0][1] if rows else None
    for eid, parent, invocation, etype, data in rows:
        event = {
            "kind": "event",
            "session_id": session_id,
            "id": eid,
            "parent_id": None if parent == first_parent else parent,
            "invocation_id": invocation,
            "event_type": etype,
            "event_data": data,
            "created_at": now,
        }
        out.append(json.dumps(event))
    return out


@dataclass
class Op:
    prepare: Callable[[], Any]
    call: Callable[[Any], Any]
    finish: Callable[[Any], None] | None = None


class Targets:
    """Round-robin over the dataset's 200-event sessions and over all session ids."""

    def __init__(self, manifest: dict[str, Any], all_ids: list[str]) -> None:
        self.manifest = manifest
        self.now: int = manifest["now"]
        self.loads = itertools.cycle(manifest["target_sessions"])
        # A fixed pseudo-random walk over all sessions for get_session.
        step = 7919 if len(all_ids) % 7919 else 7907
        self._ids = all_ids
        self._k = 0
        self._step = step

    def next_session(self) -> str:
        self._k = (self._k + self._step) % len(self._ids)
        return self._ids[self._k]


def _pragmas(conn: apsw.Connection, timeout_s: float = 5.0) -> None:
    """The library's connection settings, applied by hand (see convstore.connection)."""
    conn.set_busy_timeout(int(timeout_s * 1000))
    if str(conn.execute(_sql.PRAGMA_JOURNAL_MODE).get).lower() != "wal":
        conn.execute(_sql.PRAGMA_JOURNAL_MODE_WAL).fetchall()
    conn.execute(_sql.PRAGMA_SYNCHRONOUS_NORMAL)
    conn.execute(_sql.PRAGMA_FOREIGN_KEYS_ON)
    conn.execute(_sql.PRAGMA_WAL_AUTOCHECKPOINT)
    conn.execute(_sql.PRAGMA_JOURNAL_SIZE_LIMIT)


def raw_connection(path: Path) -> apsw.Connection:
    conn = apsw.Connection(
        str(path), flags=apsw.SQLITE_OPEN_READWRITE, statementcachesize=STATEMENT_CACHE_SIZE
    )
    _pragmas(conn)
    return conn


class System:
    """Base: append bookkeeping shared by every system."""

    name = "?"

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        self.path = path
        self.t = targets
        self.ids = ids
        self.scratch = f"{SCRATCH_PREFIX}{self.name}-{ids.next()}"
        self.head: str | None = None
        self.invocation = ids.next()

    # Each returns an Op, or None when the system has no such operation.
    def op_append(self, data: str = APPEND_DATA) -> Op | None:
        return None

    def op_append_batch(self, size: int = BATCH_SIZE) -> Op | None:
        return None

    def op_open(self) -> Op | None:
        return None

    def op_ingest(self) -> Op | None:
        """Bulk ingest: by default one batch of INGEST_SIZE events."""
        return self.op_append_batch(INGEST_SIZE)

    def op_import(self) -> Op | None:
        """JSONL import of one new session of INGEST_SIZE events (the floor: the same rows raw)."""
        return None

    def op_search_recent(self) -> Op | None:
        return None

    def op_get_session(self) -> Op | None:
        return None

    def op_resume(self, crowded: bool) -> Op | None:
        return None

    def op_load_warm(self) -> Op | None:
        return None

    def op_load_cold(self) -> Op | None:
        return None

    def batch_rows(self, size: int = BATCH_SIZE) -> list[tuple[str, str | None, str, str, str]]:
        rows = []
        parent = self.head
        for _ in range(size):
            eid = self.ids.next()
            rows.append((eid, parent, self.invocation, APPEND_TYPE, APPEND_DATA))
            parent = eid
        return rows

    def settle(self) -> None:
        """Untimed, before each operation: checkpoint the WAL, so no operation pays for
        the checkpoints the previous one left behind (a background checkpointer's
        work would otherwise land in the next operation's samples)."""

    #: The tables whose B-trees (and their indexes') :meth:`warm` reads: the
    #: session lookups' (get_session, resume), small next to the events.
    WARM_TABLES: tuple[str, ...] = ("sessions",)

    def warm(self) -> None:
        """Untimed, at the start of every round: bring the session tables into the OS cache.

        ``get_session`` picks a pseudo-random session of all of them: on a cold
        10M file (200,000 sessions, a 5 GB file whose pages the dataset build
        or another system's run evicted) its first round read the disk (p50
        201 µs against 21 µs in the next rounds) and set every size's p99. Every
        system gets the same pass over its own session tables and their indexes
        (``dbstat`` reads each of their pages once, on a read-only connection of
        its own); the events a load reads are warmed by each operation's warm-up
        calls, as before.
        """
        warm_btrees(self.path, self.WARM_TABLES)

    def warm_loads(self) -> int:
        """Untimed, at the start of every round: one ``load_warm`` of each target session.

        ``load_warm`` is the warm path: a 200-event session read on a warm
        connection. But every round's ``load_uncached`` drops each file from
        the OS page cache, so the next round's first lap over the targets (50
        sessions at 1M and 10M, 5 at 10k) read the disk: 5 % of that round's
        samples at 2-5 ms against a p50 of 0.3 ms, and they alone set the 1M
        and 10M p99 (5,304 µs at 1M against 480 at 10k; the floor's the same).
        One untimed lap per round, each system on its own file, as
        :meth:`warm` does for the session tables; the lap leaves the targets'
        cycle where it was. Returns the loads made (0 without the operation).
        """
        op = self.op_load_warm()
        if op is None:
            return 0
        laps = len(self.t.manifest["target_sessions"])
        for _ in range(laps):
            arg = op.prepare()
            op.call(arg)
            if op.finish is not None:
                op.finish(arg)
        return laps

    def close(self) -> None:
        pass


def warm_btrees(path: Path, tables: tuple[str, ...], *, stdlib: bool = False) -> int:
    """Read every page of ``tables`` and their indexes once (OS cache); the number of pages.

    ``stdlib``: read through Python's ``sqlite3`` instead of APSW, for a file a
    system holds open with ``sqlite3``. APSW links its own copy of SQLite, and
    two copies in one process must never open the same file: closing one
    copy's descriptor drops the POSIX locks the other copy holds on it (SQLite's
    "multiple copies of SQLite in the same application" hazard) -- the peer's
    next ``PRAGMA journal_mode=WAL`` then failed with "disk I/O error".
    """
    conn: Any = (
        sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        if stdlib
        else apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    )
    try:
        marks = ",".join("?" * len(tables))
        names = [
            name
            for (name,) in conn.execute(
                f"SELECT name FROM sqlite_schema WHERE tbl_name IN ({marks}) "
                "AND type IN ('table', 'index')",
                tables,
            )
        ]
        return sum(
            conn.execute("SELECT count(*) FROM dbstat WHERE name = ?", (name,)).fetchone()[0]
            for name in names
        )
    finally:
        conn.close()


def fixed_clock(now: int) -> Callable[[], int]:
    """The dataset's "now" as a clock implemented in C, as cheap to call as ``time.time``.

    The library's default clock is ``time.time``, a C function. A Python
    ``lambda: now`` would add an interpreter frame to every timed call that
    reads the clock (resume lookups, appends) -- one a client never pays, and
    one that costs several microseconds right after another system's call has
    left the CPU caches cold (the floor reads ``self.t.now``, an attribute).
    """
    return itertools.repeat(now).__next__


def _checkpoint(conn: apsw.Connection) -> None:
    with contextlib.suppress(apsw.Error):
        conn.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_TRUNCATE)


def _resume_args(t: Targets, crowded: bool) -> tuple[str, str]:
    d = t.manifest["crowded_dir" if crowded else "solo_dir"]
    return d, d


class Convstore(System):
    name = "convstore"

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        super().__init__(path, targets, ids)
        now = targets.now
        self.store = SessionStore(path, clock=fixed_clock(now))
        self.store.create_session(self.scratch, directory=SCRATCH_DIR)

    def op_append(self, data: str = APPEND_DATA) -> Op:
        store, sid = self.store, self.scratch

        def call(eid: str) -> None:
            store.append_event(sid, eid, self.head, self.invocation, APPEND_TYPE, data)
            self.head = eid

        return Op(self.ids.next, call)

    def op_append_batch(self, size: int = BATCH_SIZE) -> Op:
        store, sid = self.store, self.scratch

        def call(rows: list[tuple[str, str | None, str, str, str]]) -> None:
            store.append_events(sid, rows)
            self.head = rows[-1][0]

        return Op(lambda: self.batch_rows(size), call)

    def op_ingest(self) -> Op:
        """Bulk ingest, search index included: a batch of 1000, then the index catch-up."""
        store, sid = self.store, self.scratch

        def call(rows: list[tuple[str, str | None, str, str, str]]) -> None:
            store.append_events(sid, rows)
            store.index_pending()
            self.head = rows[-1][0]

        return Op(lambda: self.batch_rows(INGEST_SIZE), call)

    def settle(self) -> None:
        _checkpoint(self.store.connection)

    def op_import(self) -> Op:
        """``import_jsonl`` of a new session of 1000 events, search index included."""
        store, now = self.store, self.t.now

        def prepare() -> list[str]:
            sid = f"{SCRATCH_PREFIX}import-{self.ids.next()}"
            rows = self.batch_rows(INGEST_SIZE)
            return import_lines(sid, rows, now)

        return Op(prepare, store.import_jsonl)

    def op_open(self) -> Op:
        path, now = self.path, self.t.now

        def call(box: list[SessionStore]) -> None:
            box.append(SessionStore(path, clock=fixed_clock(now)))

        return Op(list, call, lambda box: box[0].close())

    def op_get_session(self) -> Op:
        return Op(self.t.next_session, self.store.get_session)

    def op_search_recent(self) -> Op:
        store = self.store
        return Op(lambda: None, lambda _: store.search(SEARCH_WORD, order="recent"))

    def op_resume(self, crowded: bool) -> Op:
        store, (d, g) = self.store, _resume_args(self.t, crowded)
        return Op(lambda: None, lambda _: store.find_resumable_session(d, g, MAX_AGE_SECS))

    def op_load_warm(self) -> Op:
        return Op(lambda: next(self.t.loads), self.store.load_events)

    def op_load_cold(self) -> Op:
        now = self.t.now

        def prepare() -> tuple[SessionStore, str]:
            return SessionStore(self.path, clock=fixed_clock(now)), next(self.t.loads)

        return Op(prepare, lambda a: a[0].load_events(a[1]), lambda a: a[0].close())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            # Index what is pending first: the delete trigger removes index rows.
            self.store.index_pending()
            conn = self.store.connection
            # The scratch session and the sessions op_import made.
            conn.execute("DELETE FROM sessions WHERE id >= ? AND id < ?", _SCRATCH_RANGE)
            # Merge the index: the deletions leave tombstones that slow every later
            # search until merged (0.3 -> 34 ms at 10k after a run), and the cached
            # dataset must stay as built.
            conn.execute(_sql.SEARCH_OPTIMIZE)
        self.store.close()


# The floor's statements: the leanest hand-written SQL for the same job, on
# dataset.FLOOR_SCHEMA (events keyed by sid * 2**32 + seq, no search index).
FLOOR_APPEND = (
    "INSERT INTO events (key, id, parent_id, invocation_id, event_type, event_data, created_at) "
    "SELECT sid * 4294967296 + event_count + 1, ?1, ?2, ?3, ?4, ?5, ?6 FROM sessions WHERE id = ?7"
)
FLOOR_HEAD_SAME_SECOND = (
    "UPDATE sessions SET head_id = ?1, event_count = event_count + ?3 "
    "WHERE id = ?4 AND updated_at = ?2"
)
FLOOR_HEAD = (
    "UPDATE sessions SET head_id = ?1, updated_at = ?2, event_count = event_count + ?3 "
    "WHERE id = ?4"
)
FLOOR_STATE = "SELECT sid, event_count FROM sessions WHERE id = ?1"
FLOOR_BATCH_ROW = (
    "INSERT INTO events (key, id, parent_id, invocation_id, event_type, event_data, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
)
#: Rows per statement of the floor's bulk inserts: the leanest measured. One
#: ``INSERT … VALUES`` of many rows steps the statement once for all of them and
#: binds the key base and the time once, where ``executemany`` of the one-row
#: form pays a statement reset, a cache lookup and seven bindings per row
#: (callgrind, 100 rows of ~200 B: 2.21 M instructions one row a statement;
#: 1.71 M at 10, 1.68 M at 25, 1.73 M at 50; 1000 rows: 21.8 M, then 16.7 M at 10,
#: 16.4 M at 25, 18.4 M at 100).
FLOOR_ROWS_PER_STATEMENT = 25


def _floor_rows_sql(n: int) -> str:
    """``INSERT`` of ``n`` events: ``?1`` the key before the first, ``?2`` the time."""
    def row(k: int) -> str:
        fields = ", ".join(f"?{3 + 5 * k + f}" for f in range(5))
        return f"(?1 + {k + 1}, {fields}, ?2)"

    values = ", ".join(row(k) for k in range(n))
    return (
        "INSERT INTO events (key, id, parent_id, invocation_id, event_type, event_data, "
        f"created_at) VALUES {values}"
    )


FLOOR_BATCH_ROWS = _floor_rows_sql(FLOOR_ROWS_PER_STATEMENT)


def floor_insert(
    conn: apsw.Connection, base: int, rows: list[tuple[str, str | None, str, str, str]], now: int
) -> None:
    """The floor's bulk insert: ``rows`` keyed ``base + 1, base + 2, …``, all at ``now``.

    :data:`FLOOR_ROWS_PER_STATEMENT` rows a statement, the last ``len % 25``
    one by one: the leanest way found to put many rows in (the library's
    ``append_events`` had found multi-row statements first; the floor must not
    be beaten by a technique it could use too).
    """
    n = FLOOR_ROWS_PER_STATEMENT
    full = len(rows) // n
    chain = itertools.chain.from_iterable
    if full:
        conn.executemany(
            FLOOR_BATCH_ROWS,
            [(base + j * n, now, *chain(rows[j * n : (j + 1) * n])) for j in range(full)],
        )
    if full * n < len(rows):
        conn.executemany(
            FLOOR_BATCH_ROW,
            [(base + i, *r, now) for i, r in enumerate(rows[full * n :], full * n + 1)],
        )


FLOOR_IMPORT_SESSION = (
    "INSERT INTO sessions (id, directory, created_at, updated_at, head_id, event_count) "
    "VALUES (?1, ?2, ?3, ?3, ?4, ?5)"
)
FLOOR_LOAD = (
    "SELECT id, ?1, parent_id, invocation_id, event_type, event_data, created_at FROM events "
    "WHERE key > (SELECT sid FROM sessions WHERE id = ?1) * 4294967296 "
    "AND key < (SELECT sid + 1 FROM sessions WHERE id = ?1) * 4294967296 ORDER BY key"
)
FLOOR_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_size_limit=8388608",
)


def floor_connection(path: Path) -> apsw.Connection:
    """A raw connection with the same durability as the library (WAL, NORMAL), nothing else."""
    conn = apsw.Connection(
        str(path), flags=apsw.SQLITE_OPEN_READWRITE, statementcachesize=STATEMENT_CACHE_SIZE
    )
    conn.set_busy_timeout(5000)
    if str(conn.execute("PRAGMA journal_mode").get).lower() != "wal":
        conn.execute("PRAGMA journal_mode=WAL").fetchall()
    for pragma in FLOOR_PRAGMAS:
        conn.execute(pragma)
    return conn


def _floor_head(conn: apsw.Connection, params: tuple[object, ...]) -> None:
    """Move the head; ``updated_at`` (and its indexes) only when the second changed."""
    conn.execute(FLOOR_HEAD_SAME_SECOND, params)
    if conn.changes() == 0:
        conn.execute(FLOOR_HEAD, params)


class Floor(System):
    """The physical floor: the leanest raw-APSW code doing the same job, no search index.

    Insert the event and move the session's head in one transaction, WAL with
    ``synchronous=NORMAL`` (SQLite's own automatic checkpoint), on the leanest
    schema serving the same lookups (``dataset.FLOOR_SCHEMA``). No parent
    check, no JSON check, no search index: everything the library does on top
    is overhead measured against this.
    """

    name = "floor"

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        super().__init__(path, targets, ids)
        self.conn = floor_connection(path)
        self.conn.execute(
            "INSERT INTO sessions (id, directory, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            (self.scratch, SCRATCH_DIR, targets.now),
        )

    def settle(self) -> None:
        _checkpoint(self.conn)

    def op_append(self, data: str = APPEND_DATA) -> Op:
        conn, sid, now = self.conn, self.scratch, self.t.now

        def call(eid: str) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                FLOOR_APPEND, (eid, self.head, self.invocation, APPEND_TYPE, data, now, sid)
            )
            _floor_head(conn, (eid, now, 1, sid))
            conn.execute("COMMIT")
            self.head = eid

        return Op(self.ids.next, call)

    def op_append_batch(self, size: int = BATCH_SIZE) -> Op:
        conn, sid, now = self.conn, self.scratch, self.t.now

        def call(rows: list[tuple[str, str | None, str, str, str]]) -> None:
            conn.execute("BEGIN IMMEDIATE")
            key, count = conn.execute(FLOOR_STATE, (sid,)).fetchone()
            base = key * 4294967296 + count
            floor_insert(conn, base, rows, now)
            _floor_head(conn, (rows[-1][0], now, len(rows), sid))
            conn.execute("COMMIT")
            self.head = rows[-1][0]

        return Op(lambda: self.batch_rows(size), call)

    def op_import(self) -> Op:
        """The floor of an import: a new session and its INGEST_SIZE events, one transaction.

        The same job as ``import_jsonl`` of one session (the session row written
        with its head and count, as the export header gives them, then its
        events), without parsing, checks or search index. A new session, not
        more events in the scratch one: an import adds sessions, which puts the
        scratch session's later appends in the middle of the key order rather
        than at its right edge, and the floor must pay that as convstore does
        (until round 2 the floor's scratch session alone stayed at the edge).
        """
        conn, now = self.conn, self.t.now

        def prepare() -> tuple[str, list[tuple[str, str | None, str, str, str]]]:
            rows = self.batch_rows(INGEST_SIZE)
            rows[0] = (rows[0][0], None, *rows[0][2:])  # an imported session starts anew
            return f"{SCRATCH_PREFIX}import-{self.ids.next()}", rows

        def call(arg: tuple[str, list[tuple[str, str | None, str, str, str]]]) -> None:
            session_id, rows = arg
            conn.execute("BEGIN IMMEDIATE")
            head, count = rows[-1][0], len(rows)
            conn.execute(FLOOR_IMPORT_SESSION, (session_id, SCRATCH_DIR, now, head, count))
            base = conn.last_insert_rowid() * 4294967296
            floor_insert(conn, base, rows, now)
            conn.execute("COMMIT")

        return Op(prepare, call)

    def op_open(self) -> Op:
        def call(_: None) -> apsw.Connection:
            conn = floor_connection(self.path)
            conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()  # the schema is read
            return conn

        return Op(list, lambda box: box.append(call(None)), lambda box: box[0].close())

    def op_get_session(self) -> Op:
        conn, sql = self.conn, _sql.SESSION_GET
        return Op(self.t.next_session, lambda sid: conn.execute(sql, (sid,)).fetchone())

    def op_resume(self, crowded: bool) -> Op:
        conn, (d, g) = self.conn, _resume_args(self.t, crowded)
        by_dir, by_root = _sql.SESSION_RESUMABLE_BY_DIRECTORY, _sql.SESSION_RESUMABLE_BY_GIT_ROOT

        def call(_: None) -> Any:
            cutoff = self.t.now - MAX_AGE_SECS
            best = conn.execute(by_dir, (d, cutoff)).fetchone()
            other = conn.execute(by_root, (g, cutoff)).fetchone()
            if other is not None and (best is None or other[6] > best[6]):
                best = other
            return best

        return Op(lambda: None, call)

    def op_load_warm(self) -> Op:
        conn = self.conn
        return Op(
            lambda: next(self.t.loads), lambda sid: conn.execute(FLOOR_LOAD, (sid,)).fetchall()
        )

    def op_load_cold(self) -> Op:
        def prepare() -> tuple[apsw.Connection, str]:
            return floor_connection(self.path), next(self.t.loads)

        return Op(
            prepare, lambda a: a[0].execute(FLOOR_LOAD, (a[1],)).fetchall(), lambda a: a[0].close()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception), self.conn:
            # The scratch session and the sessions op_import made (all newer than the data).
            self.conn.execute(
                "DELETE FROM events WHERE key >= (SELECT min(sid) FROM sessions "
                "WHERE id >= ?1 AND id < ?2) * 4294967296",
                _SCRATCH_RANGE,
            )
            self.conn.execute("DELETE FROM sessions WHERE id >= ? AND id < ?", _SCRATCH_RANGE)
        self.conn.close()


# Atuin AI's statements (store.rs), verbatim up to whitespace.
REF_INSERT_SESSION = (
    "INSERT INTO sessions (id, directory, git_root, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?4)"
)
REF_GET_SESSION = (
    "SELECT id, head_id, server_session_id, directory, git_root, created_at, updated_at, "
    "archived_at FROM sessions WHERE id = ?1"
)
REF_RESUMABLE = (
    "SELECT id, head_id, server_session_id, directory, git_root, created_at, updated_at, "
    "archived_at FROM sessions WHERE archived_at IS NULL AND updated_at > ?1 "
    "AND (directory = ?2 OR (git_root IS NOT NULL AND git_root = ?3)) "
    "ORDER BY updated_at DESC LIMIT 1"
)
REF_INSERT_EVENT = (
    "INSERT INTO session_events (id, session_id, parent_id, invocation_id, event_type, "
    "event_data, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
)
REF_MOVE_HEAD = "UPDATE sessions SET head_id = ?1, updated_at = ?2 WHERE id = ?3"
REF_LOAD = (
    "SELECT id, session_id, parent_id, invocation_id, event_type, event_data, created_at "
    "FROM session_events WHERE session_id = ?1 ORDER BY created_at ASC, rowid ASC"
)


class Reference(System):
    """Atuin AI's schema and SQL, raw on APSW (sqlx's ``begin()`` is a plain BEGIN)."""

    name = "reference"

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        super().__init__(path, targets, ids)
        self.conn = raw_connection(path)
        self.conn.execute(REF_INSERT_SESSION, (self.scratch, SCRATCH_DIR, None, targets.now))

    def settle(self) -> None:
        _checkpoint(self.conn)

    def op_append(self, data: str = APPEND_DATA) -> Op:
        conn, sid, now = self.conn, self.scratch, self.t.now

        def call(eid: str) -> None:
            conn.execute("BEGIN")
            conn.execute(
                REF_INSERT_EVENT,
                (eid, sid, self.head, self.invocation, APPEND_TYPE, data, now),
            )
            conn.execute(REF_MOVE_HEAD, (eid, now, sid))
            conn.execute("COMMIT")
            self.head = eid

        return Op(self.ids.next, call)

    def op_append_batch(self, size: int = BATCH_SIZE) -> Op:
        """The reference has no batch API; this is the best its schema allows (one transaction)."""
        conn, sid, now = self.conn, self.scratch, self.t.now

        def call(rows: list[tuple[str, str | None, str, str, str]]) -> None:
            conn.execute("BEGIN")
            conn.executemany(REF_INSERT_EVENT, [(r[0], sid, *r[1:], now) for r in rows])
            conn.execute(REF_MOVE_HEAD, (rows[-1][0], now, sid))
            conn.execute("COMMIT")
            self.head = rows[-1][0]

        return Op(lambda: self.batch_rows(size), call)

    def op_get_session(self) -> Op:
        conn = self.conn
        return Op(self.t.next_session, lambda sid: conn.execute(REF_GET_SESSION, (sid,)).fetchone())

    def op_resume(self, crowded: bool) -> Op:
        conn, (d, g) = self.conn, _resume_args(self.t, crowded)

        def call(_: None) -> Any:
            return conn.execute(REF_RESUMABLE, (self.t.now - MAX_AGE_SECS, d, g)).fetchone()

        return Op(lambda: None, call)

    def op_load_warm(self) -> Op:
        conn = self.conn
        return Op(lambda: next(self.t.loads), lambda sid: conn.execute(REF_LOAD, (sid,)).fetchall())

    def op_load_cold(self) -> Op:
        def prepare() -> tuple[apsw.Connection, str]:
            return raw_connection(self.path), next(self.t.loads)

        return Op(
            prepare, lambda a: a[0].execute(REF_LOAD, (a[1],)).fetchall(), lambda a: a[0].close()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception), self.conn:
            self.conn.execute("DELETE FROM session_events WHERE session_id = ?", (self.scratch,))
            self.conn.execute("DELETE FROM sessions WHERE id = ?", (self.scratch,))
        self.conn.close()


class Peer(System):
    """OpenAI Agents SDK ``SQLiteSession``: ``add_items([item])`` and ``get_items()``."""

    name = "peer"
    WARM_TABLES = ("agent_sessions",)

    def warm(self) -> None:
        """The base class's pass, read with the peer's own SQLite (``sqlite3``), not APSW's."""
        warm_btrees(self.path, self.WARM_TABLES, stdlib=True)

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        from agents import SQLiteSession

        super().__init__(path, targets, ids)
        self._cls = SQLiteSession
        self.loop = asyncio.new_event_loop()
        self.session = SQLiteSession(self.scratch, str(path))
        self._sessions: dict[str, Any] = {}

    def op_append(self, data: str = APPEND_DATA) -> Op:
        run, session = self.loop.run_until_complete, self.session
        text = data[len('{"content": "') : -2]

        def prepare() -> list[dict[str, str]]:
            return [{"role": "assistant", "content": f"{self.ids.next()} {text}"}]

        return Op(prepare, lambda items: run(session.add_items(items)))

    def op_load_warm(self) -> Op:
        run = self.loop.run_until_complete

        def prepare() -> Any:
            sid = next(self.t.loads)
            if sid not in self._sessions:
                self._sessions[sid] = self._cls(sid, str(self.path))
            return self._sessions[sid]

        return Op(prepare, lambda s: run(s.get_items()))

    def op_load_cold(self) -> Op:
        run = self.loop.run_until_complete

        def prepare() -> Any:
            return self._cls(next(self.t.loads), str(self.path))

        return Op(prepare, lambda s: run(s.get_items()), lambda s: s.close())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.session.clear_session())
        self.session.close()
        for s in self._sessions.values():
            s.close()
        self.loop.close()


SYSTEMS: dict[str, type[System]] = {
    "convstore": Convstore,
    "floor": Floor,
    "reference": Reference,
    "peer": Peer,
}
#: Which database file each system runs on.
FILE_OF = {"convstore": "convstore", "floor": "floor", "reference": "reference", "peer": "peer"}


def register(name: str, cls: type[System], file: str = "convstore") -> None:
    """Add a system to ``python -m benchmarks`` (e.g. the async API): one more row per table.

    ``cls`` implements the operations it can (the others return ``None``) and
    runs on the dataset file ``file`` (``"convstore"``, ``"floor"``, ...),
    interleaved call by call with the others. Call it before the run, e.g.
    from a module that ``benchmarks/__main__.py`` imports; ``--systems`` then
    accepts ``name``, and the report shows its rows and ratios to the floor.
    """
    SYSTEMS[name] = cls
    FILE_OF[name] = file


def remove_leftover_scratch(paths: dict[str, Path]) -> None:
    """Delete scratch sessions an interrupted run left behind (the cache stays clean)."""
    rng = (SCRATCH_PREFIX, _SCRATCH_END)
    if "convstore" in paths:
        with SessionStore(paths["convstore"]) as store:
            store.index_pending()  # before deleting: the delete trigger removes index rows
        conn = raw_connection(paths["convstore"])
        with conn:
            conn.execute("DELETE FROM sessions WHERE id >= ? AND id < ?", rng)
            if conn.changes():
                conn.execute(_sql.SEARCH_OPTIMIZE)  # merge away the deletions' tombstones
        conn.close()
    if "floor" in paths:
        conn = floor_connection(paths["floor"])
        with conn:
            conn.execute(
                "DELETE FROM events WHERE key >= (SELECT min(sid) FROM sessions "
                "WHERE id >= ?1 AND id < ?2) * 4294967296",
                rng,
            )
            conn.execute("DELETE FROM sessions WHERE id >= ? AND id < ?", rng)
        conn.close()
    if "reference" in paths:
        conn = raw_connection(paths["reference"])
        with conn:
            conn.execute("DELETE FROM session_events WHERE session_id >= ? AND session_id < ?", rng)
            conn.execute("DELETE FROM sessions WHERE id >= ? AND id < ?", rng)
        conn.close()
    if "peer" in paths:
        conn = raw_connection(paths["peer"])
        with conn:
            conn.execute("DELETE FROM agent_messages WHERE session_id >= ? AND session_id < ?", rng)
            conn.execute("DELETE FROM agent_sessions WHERE session_id >= ? AND session_id < ?", rng)
        conn.close()


def all_session_ids(path: Path, kind: str) -> list[str]:
    """Every session id of a dataset file, in key order."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    table, col = ("agent_sessions", "session_id") if kind == "peer" else ("sessions", "id")
    ids = [r[0] for r in conn.execute(f"SELECT {col} FROM {table} ORDER BY {col}")]
    conn.close()
    return ids

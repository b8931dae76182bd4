"""The systems under test, each exposing the same benchmark operations.

* ``convstore`` — the library's public API (``SessionStore``).
* ``floor`` — the same file, the same statements from :mod:`convstore._sql`,
  executed by hand on a raw ``apsw.Connection`` with the same pragmas: what the
  library would cost if it were free.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from convstore import SessionStore, _sql
from convstore.connection import STATEMENT_CACHE_SIZE
from convstore.search import SNIPPET_TOKENS

from .ids import IdClock

#: The resume window of the client (``session_continue_minutes`` = 60).
MAX_AGE_SECS = 3600
BATCH_SIZE = 100
APPEND_TYPE = "text"
#: A word of the generated conversations (dataset.py's templates) for search.
SEARCH_WORD = "workflow"
APPEND_DATA = '{"content": "a streamed chunk of assistant text, about this long"}'
SCRATCH_DIR = "/bench/scratch"
SCRATCH_PREFIX = "bench-scratch-"
_SCRATCH_END = "bench-scratch."  # the first string after every "bench-scratch-..." id


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
    def op_append(self) -> Op | None:
        return None

    def op_append_batch(self) -> Op | None:
        return None

    def op_append_no_fts(self) -> Op | None:
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

    def batch_rows(self) -> list[tuple[str, str | None, str, str, str]]:
        rows = []
        parent = self.head
        for _ in range(BATCH_SIZE):
            eid = self.ids.next()
            rows.append((eid, parent, self.invocation, APPEND_TYPE, APPEND_DATA))
            parent = eid
        return rows

    def close(self) -> None:
        pass


def _resume_args(t: Targets, crowded: bool) -> tuple[str, str]:
    d = t.manifest["crowded_dir" if crowded else "solo_dir"]
    return d, d


class Convstore(System):
    name = "convstore"

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        super().__init__(path, targets, ids)
        now = targets.now
        self.store = SessionStore(path, clock=lambda: now)
        self.store.create_session(self.scratch, directory=SCRATCH_DIR)

    def op_append(self) -> Op:
        store, sid = self.store, self.scratch

        def call(eid: str) -> None:
            store.append_event(sid, eid, self.head, self.invocation, APPEND_TYPE, APPEND_DATA)
            self.head = eid

        return Op(self.ids.next, call)

    def op_append_batch(self) -> Op:
        store, sid = self.store, self.scratch

        def call(rows: list[tuple[str, str | None, str, str, str]]) -> None:
            store.append_events(sid, rows)
            self.head = rows[-1][0]

        return Op(self.batch_rows, call)

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
            return SessionStore(self.path, clock=lambda: now), next(self.t.loads)

        return Op(prepare, lambda a: a[0].load_events(a[1]), lambda a: a[0].close())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            conn = self.store.connection
            conn.execute("DELETE FROM sessions WHERE id = ?", (self.scratch,))
        self.store.close()


#: The named parameters of ``EVENT_APPEND_BATCH_ROW``, in the order of a batch row.
BATCH_ROW_KEYS = (
    "sid",
    "seq",
    "event_id",
    "parent_id",
    "invocation_id",
    "event_type",
    "event_data",
    "created_at",
)


def move_head(conn: apsw.Connection, params: dict[str, object]) -> None:
    """The store's head move: skip ``updated_at`` (and its indexes) within the same second."""
    conn.execute(_sql.SESSION_MOVE_HEAD_SAME_SECOND, params)
    if conn.changes() == 0:
        conn.execute(_sql.SESSION_MOVE_HEAD, params)


class Floor(System):
    """convstore's own statements, by hand, on a raw connection."""

    name = "floor"

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        super().__init__(path, targets, ids)
        self.conn = raw_connection(path)
        self.conn.execute(
            _sql.SESSION_INSERT,
            {
                "session_id": self.scratch,
                "directory": SCRATCH_DIR,
                "git_root": None,
                "now": targets.now,
            },
        )

    def op_append(self, *, search_index: bool = True) -> Op:
        conn, sid, now = self.conn, self.scratch, self.t.now
        begin, commit, rollback = _sql.BEGIN_IMMEDIATE, _sql.COMMIT, _sql.ROLLBACK
        append, index = _sql.EVENT_APPEND, _sql.SEARCH_INDEX_EVENT

        def call(eid: str) -> None:
            conn.execute(begin)
            conn.execute(
                append,
                {
                    "session_id": sid,
                    "event_id": eid,
                    "parent_id": self.head,
                    "invocation_id": self.invocation,
                    "event_type": APPEND_TYPE,
                    "event_data": APPEND_DATA,
                    "now": now,
                },
            )
            if conn.changes() == 0:
                conn.execute(rollback)
                raise RuntimeError("append refused")
            if search_index:
                conn.execute(index, {"event_id": eid})
            move_head(conn, {"head_id": eid, "now": now, "added": 1, "session_id": sid})
            conn.execute(commit)
            self.head = eid

        return Op(self.ids.next, call)

    def op_append_batch(self) -> Op:
        conn, sid, now = self.conn, self.scratch, self.t.now

        def call(rows: list[tuple[str, str | None, str, str, str]]) -> None:
            conn.execute(_sql.BEGIN_IMMEDIATE)
            key, _archived, count = conn.execute(_sql.SESSION_STATE, {"session_id": sid}).fetchone()
            conn.executemany(
                _sql.EVENT_APPEND_BATCH_ROW,
                [
                    dict(zip(BATCH_ROW_KEYS, (key, count + i, *r, now), strict=True))
                    for i, r in enumerate(rows, 1)
                ],
            )
            after = {"sid": key, "after_seq": count}
            if conn.execute(_sql.EVENTS_COUNT_AFTER, after).get != len(rows):
                conn.execute(_sql.ROLLBACK)
                raise RuntimeError("batch refused")
            conn.execute(_sql.SEARCH_INDEX_RANGE, {**after, "last_seq": count + len(rows)})
            move_head(
                conn, {"head_id": rows[-1][0], "now": now, "added": len(rows), "session_id": sid}
            )
            conn.execute(_sql.COMMIT)
            self.head = rows[-1][0]

        return Op(self.batch_rows, call)

    def op_append_no_fts(self) -> Op:
        return self.op_append(search_index=False)

    def op_search_recent(self) -> Op:
        conn, sql = self.conn, _sql.SEARCH_EVENTS_RECENT
        params = {
            "query": SEARCH_WORD,
            "open": "[",
            "close": "]",
            "ellipsis": "…",
            "tokens": SNIPPET_TOKENS,
            "limit": 20,
            "directory": None,
            "git_root": None,
            "event_types": None,
        }
        return Op(lambda: None, lambda _: conn.execute(sql, params).fetchall())

    def op_get_session(self) -> Op:
        conn, sql = self.conn, _sql.SESSION_GET
        return Op(
            self.t.next_session, lambda sid: conn.execute(sql, {"session_id": sid}).fetchone()
        )

    def op_resume(self, crowded: bool) -> Op:
        conn, (d, g) = self.conn, _resume_args(self.t, crowded)
        by_dir, by_root = _sql.SESSION_RESUMABLE_BY_DIRECTORY, _sql.SESSION_RESUMABLE_BY_GIT_ROOT

        def call(_: None) -> Any:
            cutoff = self.t.now - MAX_AGE_SECS
            best = conn.execute(by_dir, {"directory": d, "cutoff": cutoff}).fetchone()
            other = conn.execute(by_root, {"git_root": g, "cutoff": cutoff}).fetchone()
            if other is not None and (best is None or other[6] > best[6]):
                best = other
            return best

        return Op(lambda: None, call)

    def op_load_warm(self) -> Op:
        conn, sql = self.conn, _sql.EVENTS_LOAD
        return Op(
            lambda: next(self.t.loads),
            lambda sid: conn.execute(sql, {"session_id": sid}).fetchall(),
        )

    def op_load_cold(self) -> Op:
        sql = _sql.EVENTS_LOAD

        def prepare() -> tuple[apsw.Connection, str]:
            return raw_connection(self.path), next(self.t.loads)

        return Op(
            prepare,
            lambda a: a[0].execute(sql, {"session_id": a[1]}).fetchall(),
            lambda a: a[0].close(),
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.execute("DELETE FROM sessions WHERE id = ?", (self.scratch,))
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

    def op_append(self) -> Op:
        conn, sid, now = self.conn, self.scratch, self.t.now

        def call(eid: str) -> None:
            conn.execute("BEGIN")
            conn.execute(
                REF_INSERT_EVENT,
                (eid, sid, self.head, self.invocation, APPEND_TYPE, APPEND_DATA, now),
            )
            conn.execute(REF_MOVE_HEAD, (eid, now, sid))
            conn.execute("COMMIT")
            self.head = eid

        return Op(self.ids.next, call)

    def op_append_batch(self) -> Op:
        """The reference has no batch API; this is the best its schema allows (one transaction)."""
        conn, sid, now = self.conn, self.scratch, self.t.now

        def call(rows: list[tuple[str, str | None, str, str, str]]) -> None:
            conn.execute("BEGIN")
            conn.executemany(REF_INSERT_EVENT, [(r[0], sid, *r[1:], now) for r in rows])
            conn.execute(REF_MOVE_HEAD, (rows[-1][0], now, sid))
            conn.execute("COMMIT")
            self.head = rows[-1][0]

        return Op(self.batch_rows, call)

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

    def __init__(self, path: Path, targets: Targets, ids: IdClock) -> None:
        from agents import SQLiteSession

        super().__init__(path, targets, ids)
        self._cls = SQLiteSession
        self.loop = asyncio.new_event_loop()
        self.session = SQLiteSession(self.scratch, str(path))
        self._sessions: dict[str, Any] = {}

    def op_append(self) -> Op:
        run, session = self.loop.run_until_complete, self.session

        def prepare() -> list[dict[str, str]]:
            return [{"role": "assistant", "content": f"chunk {self.ids.next()}"}]

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
FILE_OF = {"convstore": "convstore", "floor": "convstore", "reference": "reference", "peer": "peer"}


def remove_leftover_scratch(paths: dict[str, Path]) -> None:
    """Delete scratch sessions an interrupted run left behind (the cache stays clean)."""
    rng = (SCRATCH_PREFIX, _SCRATCH_END)
    if "convstore" in paths:
        conn = raw_connection(paths["convstore"])
        with conn:
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

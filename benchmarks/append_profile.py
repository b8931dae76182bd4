"""Where one ``append_event`` spends its time, statement by statement.

``python -m benchmarks.append_profile [--rows N] [--appends N] [--rounds N]``

Variants, each on its own file pre-filled with the same ``--rows`` events,
appended to alternately call by call (one ~200 B event + the head move per
transaction, WAL, ``synchronous=NORMAL``):

* ``api`` — ``SessionStore.append_event`` (the library, default configuration);
* ``replay`` — the library's own statements on raw APSW, each timed
  separately (BEGIN, event insert, head move, COMMIT);
* ``no_trigger`` — ``replay`` without the search watermark trigger;
* ``no_exprindex`` — ``replay`` without the expression index
  ``session_events_search_key``;
* ``no_parent`` — ``replay`` with the parent-existence check removed from the
  insert;
* ``rowid_checked`` — the proposed layout (:data:`ROWID_SCHEMA`: a rowid
  table keyed by ``sid * 2**32 + seq``, no expression index) with every check
  the library keeps (STRICT, JSON, parent in the same session, the watermark
  trigger), the library's head move, raw APSW;
* ``floor`` — the benchmark's physical floor (``dataset.FLOOR_SCHEMA``).

Prints the p50 of the whole call and of each statement, and each variant's
p50 over the floor's per round as median [min-max].
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import apsw

from convstore import SessionStore, _sql

from .dataset import FLOOR_SCHEMA
from .report import spread
from .runner import percentile
from .systems import APPEND_DATA, FLOOR_APPEND, floor_connection


def _p50(values: list[float]) -> float:
    return percentile(sorted(values), 0.5)


Step = Callable[[str, str | None], dict[str, float]]

NO_PARENT_APPEND = _sql.EVENT_APPEND.split(" AND (:parent_id IS NULL")[0]

#: The proposed layout with every check the library keeps: a rowid table keyed by
#: ``sid * 2**32 + seq`` (STRICT, JSON check), the search watermark trigger, the
#: parent checked in the same session by the id index and the key's high bits.
ROWID_SCHEMA = """
CREATE TABLE sessions (
    sid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, head_id TEXT, server_session_id TEXT,
    directory TEXT, git_root TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    archived_at INTEGER, event_count INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_live_directory ON sessions (directory, updated_at)
    WHERE archived_at IS NULL;
CREATE INDEX sessions_activity ON sessions (updated_at);
CREATE TABLE session_events (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL, parent_id TEXT, invocation_id TEXT NOT NULL,
    event_type TEXT NOT NULL, event_data TEXT NOT NULL CHECK (json_valid(event_data)),
    created_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX session_events_id ON session_events (id);
CREATE TABLE search_pending (sid INTEGER PRIMARY KEY, after_seq INTEGER NOT NULL) STRICT;
CREATE TRIGGER event_search_pending AFTER INSERT ON session_events BEGIN
    INSERT INTO search_pending (sid, after_seq)
    VALUES (new.rid >> 32, (new.rid & 4294967295) - 1) ON CONFLICT (sid) DO NOTHING;
END;
"""
ROWID_APPEND = (
    "INSERT INTO session_events (rid, id, parent_id, invocation_id, event_type, event_data, "
    "created_at) SELECT sid * 4294967296 + event_count + 1, :event_id, :parent_id, "
    ":invocation_id, :event_type, :event_data, :now FROM sessions WHERE id = :session_id "
    "AND archived_at IS NULL AND (:parent_id IS NULL OR EXISTS (SELECT 1 FROM session_events "
    "WHERE session_events.id = :parent_id AND session_events.rid >> 32 = sessions.sid))"
)


def _fill_store(path: Path, rows: int) -> SessionStore:
    store = SessionStore(str(path))
    store.create_session("s", directory="/d")
    parent = None
    for i in range(0, rows, 500):
        batch = [
            (f"pre-{j}", parent if j == i else f"pre-{j - 1}", "i", "text", APPEND_DATA)
            for j in range(i, min(i + 500, rows))
        ]
        store.append_events("s", batch)
        parent = batch[-1][0]
    store.index_pending()
    return store


def _replay(conn: apsw.Connection, insert_sql: str) -> Step:
    def step(eid: str, parent: str | None) -> dict[str, float]:
        out: dict[str, float] = {}
        t0 = time.perf_counter_ns()
        conn.execute(_sql.BEGIN_IMMEDIATE)
        t1 = time.perf_counter_ns()
        conn.execute(insert_sql, {
            "session_id": "s", "event_id": eid, "parent_id": parent, "invocation_id": "i",
            "event_type": "text", "event_data": APPEND_DATA, "now": 1000,
        })  # fmt: skip
        t2 = time.perf_counter_ns()
        params = {"head_id": eid, "now": 1000, "added": 1, "session_id": "s"}
        conn.execute(_sql.SESSION_MOVE_HEAD_SAME_SECOND, params)
        if conn.changes() == 0:
            conn.execute(_sql.SESSION_MOVE_HEAD, params)
        t3 = time.perf_counter_ns()
        conn.execute(_sql.COMMIT)
        t4 = time.perf_counter_ns()
        out["begin"] = (t1 - t0) / 1e3
        out["insert"] = (t2 - t1) / 1e3
        out["head"] = (t3 - t2) / 1e3
        out["commit"] = (t4 - t3) / 1e3
        return out

    return step


def run(rows: int, appends: int, rounds: int) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="append-profile-"))
    steps: dict[str, Step] = {}
    heads: dict[str, str | None] = {}

    api = _fill_store(tmp / "api.db", rows)

    def api_step(eid: str, parent: str | None) -> dict[str, float]:
        api.append_event("s", eid, parent, "i", "text", APPEND_DATA)
        return {}

    steps["api"] = api_step
    for name in ("replay", "no_trigger", "no_exprindex", "no_parent"):
        store = _fill_store(tmp / f"{name}.db", rows)
        conn = store.connection
        if name == "no_trigger":
            conn.execute("DROP TRIGGER event_search_pending")
        if name == "no_exprindex":
            conn.execute("DROP INDEX session_events_search_key")
        steps[name] = _replay(conn, NO_PARENT_APPEND if name == "no_parent" else _sql.EVENT_APPEND)
        steps[name].__dict__["store"] = store  # keep it open
    rconn = apsw.Connection(str(tmp / "rowid.db"))
    rconn.execute("PRAGMA journal_mode=WAL")
    rconn.execute(ROWID_SCHEMA)
    rconn.execute(
        "INSERT INTO sessions (id, directory, created_at, updated_at) "
        "VALUES ('s', '/d', 1000, 1000)"
    )
    with rconn:
        for j in range(rows):
            rconn.execute(ROWID_APPEND, {
                "event_id": f"pre-{j}", "parent_id": None, "invocation_id": "i",
                "event_type": "text", "event_data": APPEND_DATA, "now": 1000, "session_id": "s",
            })  # fmt: skip
            rconn.execute("UPDATE sessions SET event_count = event_count + 1")
        rconn.execute("DELETE FROM search_pending")
    rconn.close()
    steps["rowid_checked"] = _replay(floor_connection(tmp / "rowid.db"), ROWID_APPEND)
    fconn = apsw.Connection(str(tmp / "floor.db"))
    fconn.execute("PRAGMA journal_mode=WAL")
    fconn.execute(FLOOR_SCHEMA)
    fconn.execute(
        "INSERT INTO sessions (id, directory, created_at, updated_at) "
        "VALUES ('s', '/d', 1000, 1000)"
    )
    with fconn:
        for j in range(rows):
            fconn.execute(FLOOR_APPEND, (f"pre-{j}", None, "i", "text", APPEND_DATA, 1000, "s"))
            fconn.execute("UPDATE sessions SET event_count = event_count + 1")
    fconn.close()
    floor = floor_connection(tmp / "floor.db")

    def floor_step(eid: str, parent: str | None) -> dict[str, float]:
        t0 = time.perf_counter_ns()
        floor.execute("BEGIN IMMEDIATE")
        t1 = time.perf_counter_ns()
        floor.execute(FLOOR_APPEND, (eid, parent, "i", "text", APPEND_DATA, 1000, "s"))
        t2 = time.perf_counter_ns()
        floor.execute(
            "UPDATE sessions SET head_id = ?1, event_count = event_count + 1 "
            "WHERE id = ?2 AND updated_at = 1000",
            (eid, "s"),
        )
        t3 = time.perf_counter_ns()
        floor.execute("COMMIT")
        t4 = time.perf_counter_ns()
        return {
            "begin": (t1 - t0) / 1e3,
            "insert": (t2 - t1) / 1e3,
            "head": (t3 - t2) / 1e3,
            "commit": (t4 - t3) / 1e3,
        }

    steps["floor"] = floor_step
    names = list(steps)
    heads = {n: f"pre-{rows - 1}" for n in names}
    per_round: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    totals: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    k = 0
    for r in range(rounds):
        samples: dict[str, list[float]] = {n: [] for n in names}
        parts: dict[str, dict[str, list[float]]] = {n: {} for n in names}
        for i in range(appends):
            order = names[i % len(names) :] + names[: i % len(names)]
            for n in order:
                k += 1
                eid = f"{n}-{r}-{i}"
                t0 = time.perf_counter_ns()
                part = steps[n](eid, heads[n])
                samples[n].append((time.perf_counter_ns() - t0) / 1e3)
                heads[n] = eid
                for key, v in part.items():
                    parts[n].setdefault(key, []).append(v)
        for n in names:
            row = {"total": _p50(samples[n])}
            row.update({key: _p50(v) for key, v in parts[n].items()})
            per_round[n].append(row)
            totals[n].setdefault("total", []).extend(samples[n])
            for key, v in parts[n].items():
                totals[n].setdefault(key, []).extend(v)
    lines = [
        f"One append, {rows:,} rows stored, {appends:,} appends per variant per round, "
        f"{rounds} rounds, interleaved call by call",
        "",
        "| variant | p50 µs | begin | insert | head move | commit | p50 / floor |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for n in names:
        cells = [f"{_p50(totals[n]['total']):.1f}"]
        for key in ("begin", "insert", "head", "commit"):
            v = totals[n].get(key)
            cells.append(f"{_p50(v):.1f}" if v else "-")
        ratios = [per_round[n][i]["total"] / per_round["floor"][i]["total"] for i in range(rounds)]
        cells.append(spread(ratios) if n != "floor" else "-")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the profile and print its table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.append_profile")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--appends", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(run(args.rows, args.appends, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

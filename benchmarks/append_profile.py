"""Where one ``append_event`` spends its time, statement by statement.

``python -m benchmarks.append_profile [--rows N] [--appends N] [--rounds N]``

Variants, each on its own file pre-filled with the same ``--rows`` events,
appended to alternately call by call (one ~200 B event + the head move per
transaction, WAL, ``synchronous=NORMAL``):

* ``api`` — ``SessionStore.append_event`` (the library, default configuration);
* ``one_statement`` — the library's one-statement append on raw APSW: the
  insert into the view ``event_append`` whose trigger inserts the event and
  moves the head, in autocommit (migration 0006; 0013 made its insert a
  VALUES, no temporary table; what ``append_event`` runs);
* ``one_no_json_check`` — ``one_statement`` with SQLite's CHECK constraints
  off (``PRAGMA ignore_check_constraints``): what the ``json_valid`` check costs;
* ``replay`` — the library's careful path on raw APSW, each statement timed
  separately (BEGIN, event insert, head move, COMMIT);
* ``no_trigger`` — ``replay`` without the search watermark trigger;
* ``no_parent`` — ``replay`` with the parent-existence check removed from the
  insert;
* ``floor`` — the benchmark's physical floor (``dataset.FLOOR_SCHEMA``).

``--variants`` picks a subset (the floor always runs).

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

from . import systems
from .dataset import FLOOR_SCHEMA
from .report import spread
from .runner import percentile
from .systems import FLOOR_APPEND, floor_connection


def _p50(values: list[float]) -> float:
    return percentile(sorted(values), 0.5)


Step = Callable[[str, str | None], dict[str, float]]

NO_PARENT_APPEND = _sql.EVENT_APPEND.split(" AND (:parent_id IS NULL")[0]


def _fill_store(path: Path, rows: int) -> SessionStore:
    store = SessionStore(str(path))
    store.create_session("s", directory="/d")
    parent = None
    for i in range(0, rows, 500):
        batch = [
            (f"pre-{j}", parent if j == i else f"pre-{j - 1}", "i", "text", DATA[0])
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
            "event_type": "text", "event_data": DATA[0], "now": 1000,
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


def _one_statement(conn: apsw.Connection) -> Step:
    def step(eid: str, parent: str | None) -> dict[str, float]:
        t0 = time.perf_counter_ns()
        conn.execute(
            _sql.EVENT_APPEND_ONE, ("s", eid, parent, "i", "text", DATA[0], int(time.time()))
        )
        return {"insert": (time.perf_counter_ns() - t0) / 1e3}

    return step


#: The payload every variant appends (``--size``; default the benchmarks' ~200 B event).
DATA = [systems.APPEND_DATA]

VARIANTS = ("api", "one_statement", "one_no_json_check", "replay", "no_trigger", "no_parent")


def run(rows: int, appends: int, rounds: int, variants: tuple[str, ...] = VARIANTS) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="append-profile-"))
    steps: dict[str, Step] = {}
    heads: dict[str, str | None] = {}

    api = _fill_store(tmp / "api.db", rows)

    def api_step(eid: str, parent: str | None) -> dict[str, float]:
        api.append_event("s", eid, parent, "i", "text", DATA[0])
        return {}

    if "api" in variants:
        steps["api"] = api_step
    else:
        api.close()
    for name in ("one_statement", "one_no_json_check"):
        if name not in variants:
            continue
        one = _fill_store(tmp / f"{name}.db", rows)
        if name == "one_no_json_check":
            one.connection.execute("PRAGMA ignore_check_constraints=ON")
        steps[name] = _one_statement(one.connection)
        steps[name].__dict__["store"] = one  # keep it open
    for name in ("replay", "no_trigger", "no_parent"):
        if name not in variants:
            continue
        store = _fill_store(tmp / f"{name}.db", rows)
        conn = store.connection
        if name == "no_trigger":
            conn.execute("DROP TRIGGER IF EXISTS event_search_pending")  # before 0010
            conn.execute("DROP TRIGGER IF EXISTS search_pending_count")
        steps[name] = _replay(conn, NO_PARENT_APPEND if name == "no_parent" else _sql.EVENT_APPEND)
        steps[name].__dict__["store"] = store  # keep it open
    fconn = apsw.Connection(str(tmp / "floor.db"))
    fconn.execute("PRAGMA journal_mode=WAL")
    fconn.execute(FLOOR_SCHEMA)
    fconn.execute(
        "INSERT INTO sessions (id, directory, created_at, updated_at) "
        "VALUES ('s', '/d', 1000, 1000)"
    )
    with fconn:
        for j in range(rows):
            fconn.execute(FLOOR_APPEND, (f"pre-{j}", None, "i", "text", DATA[0], 1000, "s"))
            fconn.execute("UPDATE sessions SET event_count = event_count + 1")
    fconn.close()
    floor = floor_connection(tmp / "floor.db")

    def floor_step(eid: str, parent: str | None) -> dict[str, float]:
        t0 = time.perf_counter_ns()
        floor.execute("BEGIN IMMEDIATE")
        t1 = time.perf_counter_ns()
        floor.execute(FLOOR_APPEND, (eid, parent, "i", "text", DATA[0], 1000, "s"))
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
    parser.add_argument("--size", type=int, default=0, help="payload bytes (default ~200 B)")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}"
    )
    args = parser.parse_args(argv)
    if args.size:
        DATA[0] = systems.payload(args.size)
    print(run(args.rows, args.appends, args.rounds, tuple(args.variants.split(","))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

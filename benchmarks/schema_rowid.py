"""The events table for multi-KB rows: ``WITHOUT ROWID`` (before 0006) against a rowid table.

``python -m benchmarks.schema_rowid [--rows N] [--appends N]``

Two layouts of the same log, each on its own file with the library's pragmas
(WAL, ``synchronous=NORMAL``), pre-filled with the same ``--rows`` events,
then appended to alternately, call by call (one event and the head move per
transaction), with ``event_data`` of 200 B, 1 KB and 8 KB:

* ``without_rowid`` — convstore's table (migration 0002): clustered by
  ``(sid, seq)`` in an index B-tree, rows stored inline, plus the expression
  index on ``sid * 2**32 + seq`` that the search index needs to find a row
  by its key;
* ``rowid`` — a rowid table whose ``INTEGER PRIMARY KEY`` is
  ``sid * 2**32 + seq``: the same clustering, large rows spill to overflow
  pages as SQLite expects of a table B-tree, and the key is the row's own
  rowid (no expression index).

Both keep the unique event-id index and the JSON check. Prints p50/p99 per
layout and size and the ratio per round (median [min-max]).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import apsw

from .report import spread
from .runner import percentile
from .systems import payload

SESSIONS = """
CREATE TABLE sessions (
    sid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, head_id TEXT,
    updated_at INTEGER NOT NULL, event_count INTEGER NOT NULL DEFAULT 0
);
"""
LAYOUTS = {
    "without_rowid": """
CREATE TABLE events (
    sid INTEGER NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, parent_id TEXT,
    invocation_id TEXT NOT NULL, event_type TEXT NOT NULL,
    event_data TEXT NOT NULL CHECK (json_valid(event_data)), created_at INTEGER NOT NULL,
    PRIMARY KEY (sid, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_key ON events (sid * 4294967296 + seq);
""",
    "rowid": """
CREATE TABLE events (
    key INTEGER PRIMARY KEY, id TEXT NOT NULL, parent_id TEXT,
    invocation_id TEXT NOT NULL, event_type TEXT NOT NULL,
    event_data TEXT NOT NULL CHECK (json_valid(event_data)), created_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_id ON events (id);
""",
}
INSERT = {
    "without_rowid": "INSERT INTO events SELECT sid, event_count + 1, ?1, ?2, 'i', 't', ?3, 1 "
    "FROM sessions WHERE id = ?4",
    "rowid": "INSERT INTO events SELECT sid * 4294967296 + event_count + 1, ?1, ?2, 'i', 't', "
    "?3, 1 FROM sessions WHERE id = ?4",
}
HEAD = "UPDATE sessions SET head_id = ?1, event_count = event_count + 1 WHERE id = ?2"
SIZES = (200, 1024, 8192)


def _open(path: Path, layout: str, rows: int) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.execute("PRAGMA synchronous=NORMAL")
    with conn:
        conn.execute(SESSIONS + LAYOUTS[layout])
        conn.executemany(
            "INSERT INTO sessions (id, updated_at) VALUES (?, 1)",
            [(f"s{k}",) for k in range(rows // 100 + 1)],
        )
    data = payload(1024)
    with conn:
        for n in range(rows):
            conn.execute(INSERT[layout], (f"pre{n}", None, data, f"s{n // 100}"))
            conn.execute(HEAD, (f"pre{n}", f"s{n // 100}"))
    return conn


def run(rows: int, appends: int, rounds: int) -> str:
    """Measure both layouts; return the markdown table."""
    out = [
        f"Events table layouts: {rows:,} rows stored, {appends:,} appends per size,",
        f"{rounds} rounds, interleaved call by call; ratios per round as median [min-max]",
        "",
        "| event_data | layout | p50 µs | p99 µs | p50 / without_rowid | p99 / without_rowid |",
        "|---|---|--:|--:|--:|--:|",
    ]
    with tempfile.TemporaryDirectory(prefix="convstore-schema-") as tmp:
        conns = {name: _open(Path(tmp) / f"{name}.db", name, rows) for name in LAYOUTS}
        for size in SIZES:
            data = payload(size)
            per_round: dict[str, list[list[float]]] = {name: [] for name in LAYOUTS}
            for r in range(rounds):
                samples: dict[str, list[float]] = {name: [] for name in LAYOUTS}
                names = list(LAYOUTS)
                for i in range(appends // rounds):
                    for name in names[i % 2 :] + names[: i % 2]:
                        conn, eid = conns[name], f"a{size}-{r}-{i}"
                        t0 = time.perf_counter_ns()
                        conn.execute("BEGIN IMMEDIATE")
                        conn.execute(INSERT[name], (eid, None, data, "s0"))
                        conn.execute(HEAD, (eid, "s0"))
                        conn.execute("COMMIT")
                        samples[name].append((time.perf_counter_ns() - t0) / 1000)
                for name in LAYOUTS:
                    per_round[name].append(sorted(samples[name]))
            base = per_round["without_rowid"]
            for name in LAYOUTS:
                every = sorted(x for rnd in per_round[name] for x in rnd)
                r50 = [
                    percentile(a, 0.5) / percentile(b, 0.5)
                    for a, b in zip(per_round[name], base, strict=True)
                ]
                r99 = [
                    percentile(a, 0.99) / percentile(b, 0.99)
                    for a, b in zip(per_round[name], base, strict=True)
                ]
                ratio50 = "-" if name == "without_rowid" else spread(r50)
                ratio99 = "-" if name == "without_rowid" else spread(r99)
                out.append(
                    f"| {size:,} B | {name} | {percentile(every, 0.5):,.1f} | "
                    f"{percentile(every, 0.99):,.1f} | {ratio50} | {ratio99} |"
                )
        for conn in conns.values():
            conn.close()
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the comparison of the two layouts."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.schema_rowid", description=__doc__)
    ap.add_argument("--rows", type=int, default=20_000, help="events stored before timing")
    ap.add_argument("--appends", type=int, default=3_000, help="timed appends per size")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print(run(args.rows, args.appends, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

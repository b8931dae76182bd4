"""Full-text search benchmark: search latency, and what the FTS index adds to an append.

    python -m benchmarks.search_bench                 # 1,000,000 events, ~2 minutes
    python -m benchmarks.search_bench --events 100000 --sessions 2000

Builds one database of ``--events`` events (``--sessions`` sessions, ~20-word
English-like messages drawn from a Zipf-distributed vocabulary, so some words
are in a third of all events and most are rare), in this order:

1. bulk-load the events with the search triggers *removed* and time single
   ``append_event`` calls: the append cost **without** the FTS index;
2. put the index back (``configure_search``: view, triggers, key index, full
   rebuild — the cost of migration 0004 on an existing database of this size);
3. time the same single appends **with** the index, at the same table size;
4. time ``SessionStore.search`` for rare, mid-frequency and very common words,
   a two-word query, a phrase, a prefix, and a directory-filtered search.

Prints a Markdown table of p50/p95/p99 in microseconds. Raw SQL is used only
to remove the triggers in step 1 (a benchmark setting, not library behaviour).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from convstore import SessionStore
from convstore.search import DEFAULT_FIELDS

_DROP_FTS = """
DROP TRIGGER IF EXISTS event_search_insert;
DROP TRIGGER IF EXISTS event_search_pending;
DROP TRIGGER IF EXISTS search_pending_count;
DROP TRIGGER IF EXISTS search_pending_session;
DROP TRIGGER IF EXISTS event_search_delete;
DROP TRIGGER IF EXISTS event_search_update;
"""


_COUNT = "SELECT count(*) FROM event_search WHERE event_search MATCH ?"


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(name: str, samples: list[float]) -> str:
    return (
        f"| {name} | {len(samples)} | {_pct(samples, 0.5) * 1e6:,.0f} | "
        f"{_pct(samples, 0.95) * 1e6:,.0f} | {_pct(samples, 0.99) * 1e6:,.0f} |"
    )


def _vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def _timed(n: int, op: Callable[[int], object], budget_s: float = float("inf")) -> list[float]:
    """``n`` timed calls, or fewer (at least 10) once ``budget_s`` seconds are spent."""
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        op(i)
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 10 and t0 - started > budget_s:
            break
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.search_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the table")
    parser.add_argument("--sessions", type=int, default=20_000, help="sessions they belong to")
    parser.add_argument("--appends", type=int, default=2000, help="timed appends per variant")
    parser.add_argument("--queries", type=int, default=200, help="timed searches per query kind")
    parser.add_argument("--db", help="keep the database here (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    vocab = _vocabulary(5000, rng)
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(vocab))))

    def text() -> str:  # Zipf-distributed words
        return " ".join(rng.choices(vocab, cum_weights=cumulative, k=20))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "search.db"
        store = SessionStore(path)
        conn = store.connection
        conn.execute(_DROP_FTS)

        t0 = time.perf_counter()
        per_session = max(1, args.events // args.sessions)
        made = 0
        for s in range(args.sessions):
            sid = f"s{s:07d}"
            store.create_session(sid, directory=f"/home/u/p{s % 50}")
            batch = []
            parent = None
            for k in range(per_session):
                eid = f"{sid}-e{k:06d}"
                batch.append((eid, parent, "inv", "text", json.dumps({"content": text()})))
                parent = eid
            store.append_events(sid, batch)
            made += len(batch)
        load_s = time.perf_counter() - t0

        sessions = [f"s{s:07d}" for s in range(args.sessions)]

        def appender(tag: str) -> Callable[[int], object]:
            def op(i: int) -> object:
                sid = sessions[rng.randrange(len(sessions))]
                data = json.dumps({"content": text()})
                return store.append_event(sid, f"{tag}{i}", None, "inv", "text", data)

            return op

        without = _timed(args.appends, appender("plain-"))

        t0 = time.perf_counter()
        store.configure_search(DEFAULT_FIELDS)  # triggers + full rebuild
        index_s = time.perf_counter() - t0

        with_fts = _timed(args.appends, appender("fts-"))

        rare, mid, common = vocab[3000], vocab[100], vocab[2]
        queries: list[tuple[str, dict[str, object], str]] = [
            ("rare word", {}, rare),
            ("mid-frequency word", {}, mid),
            ("very common word", {}, common),
            ("two words (AND)", {}, f"{mid} {vocab[101]}"),
            ("phrase", {}, f'"{vocab[0]} {vocab[1]}"'),
            ("prefix", {}, vocab[200][:3] + "*"),
            ("mid word, one directory", {"directory": "/home/u/p7"}, mid),
            ("very common word, order=recent", {"order": "recent"}, common),
            ("mid word, order=recent", {"order": "recent"}, mid),
        ]
        rows = []
        for name, kwargs, query in queries:
            matches = conn.execute(_COUNT, (query,)).fetchall()[0][0]

            def op(_i: int, query: str = query, kwargs: dict[str, object] = kwargs) -> object:
                return store.search(query, **kwargs)  # type: ignore[arg-type]

            samples = _timed(args.queries, op, budget_s=15.0)
            share = 100.0 * matches / max(1, made)
            rows.append(_row(f"search top 20: {name} ({matches:,} matches, {share:.2g}%)", samples))
        size = path.stat().st_size
        store.close()

    print(
        f"{made:,} events in {args.sessions:,} sessions; bulk load {load_s:.1f}s; "
        f"building the FTS index over them {index_s:.1f}s; file {size / 1e6:,.0f} MB"
    )
    print()
    print("| op | n | p50 µs | p95 µs | p99 µs |")
    print("|---|---|---|---|---|")
    print(_row("append_event, no FTS index", without))
    print(_row("append_event, with FTS index", with_fts))
    for row in rows:
        print(row)
    extra = _pct(with_fts, 0.5) - _pct(without, 0.5)
    print()
    print(f"FTS append overhead at p50: {extra * 1e6:+,.0f} µs per single-event append")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

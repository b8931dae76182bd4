"""The conversation lifecycle's costs (SPEC §9), each beside its floor, in one run.

* **compact** a session of ``--session-events`` events (default 10,000): one
  summary appended after reading the branch;
* **history()** of that compacted session, beside ``history(full=True)`` and
  the same session uncompacted;
* **usage totals** over ``--ledger`` ledger rows (default 100,000; the issue's
  1,000,000 with ``--large``) per model, day and session, beside a plain
  indexed ``COUNT(*)`` of the same rows (the bar: at most 2x);
* a **retention dry run** over ``--retention-events`` events (default
  100,000; 1,000,000 with ``--large``) in sessions of 100 events, a tenth of
  them archived long ago, a tenth idle.

Bulk data is written with plain SQL (the point is what the reads cost, not
how long setting up takes). Timings are medians of ``--repeat`` runs::

    python -m benchmarks.lifecycle_bench            # small, about a minute
    python -m benchmarks.lifecycle_bench --large    # the issue's sizes
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from convstore import SessionStore
from convstore import _lifecycle_sql as L
from convstore.retention import RetentionPolicy

DAY = 86_400
NOW = 1_750_000_000
MODELS = ("gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4", "claude-haiku", "o3", "gemini-2.5")


def _median_ms(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def _chain_session(store: SessionStore, sid: str, n: int) -> list[str]:
    store.create_session(sid, directory="/bench")
    ids = [f"{sid}-{i}" for i in range(n)]
    for k in range(0, n, 1000):
        store.append_events(
            sid,
            [
                (
                    ids[i],
                    ids[i - 1] if i else None,
                    "inv",
                    "user" if i % 2 else "assistant",
                    f'{{"content": "message {i} with some ordinary words in it"}}',
                )
                for i in range(k, min(n, k + 1000))
            ],
        )
    return ids


def bench_compaction(folder: Path, events: int, repeat: int) -> dict[str, float]:
    """Compact a long session; then history() compacted vs full vs never compacted."""
    out: dict[str, float] = {}
    with SessionStore(folder / "compact.db", clock=lambda: NOW) as store:
        plain = _chain_session(store, "plain", events)
        ids = _chain_session(store, "long", events)
        runs = []
        for r in range(repeat):
            through = ids[events // 2 + r]
            t = time.perf_counter()
            store.compact("long", {"content": f"summary {r}"}, through_event_id=through)
            runs.append(time.perf_counter() - t)
        out["compact_ms"] = statistics.median(runs) * 1000
        out["history_compacted_ms"] = _median_ms(lambda: store.history("long"), repeat)
        out["history_full_ms"] = _median_ms(lambda: store.history("long", full=True), repeat)
        out["history_uncompacted_ms"] = _median_ms(lambda: store.history("plain"), repeat)
        out["load_events_ms"] = _median_ms(lambda: store.load_events("long"), repeat)
        assert len(store.history("long")) < events and len(plain) == events
    return out


def bench_usage(folder: Path, rows: int, repeat: int) -> dict[str, float]:
    """Usage totals over ``rows`` ledger rows beside a plain indexed count."""
    rng = random.Random(18)
    with SessionStore(folder / "usage.db", clock=lambda: NOW) as store:
        conn = store.connection
        sessions = max(1, rows // 200)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO sessions (id, created_at, updated_at, event_count) VALUES (?, ?, ?, 200)",
            ((f"s{i}", NOW, NOW) for i in range(sessions)),
        )
        conn.executemany(
            "INSERT INTO usage_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    1 + i // 200,
                    i % 200 + 1,
                    MODELS[rng.randrange(len(MODELS))],
                    rng.randrange(50_000),
                    rng.randrange(4_000),
                    rng.randrange(20_000),
                    None if i % 3 == 0 else rng.random() / 10,
                    NOW - rng.randrange(365) * DAY,
                )
                for i in range(rows)
            ),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        out: dict[str, float] = {}
        # The floor: the same grouped scan of the same index, counting only. (A bare
        # COUNT(*) without grouping is answered from b-tree page headers and reads
        # no rows, so it is printed for reference only.)
        since = (-(1 << 63),)
        out["count_by_model_ms"] = _median_ms(
            lambda: conn.execute(L.USAGE_COUNT_BY_MODEL, since).fetchall(), repeat
        )
        out["count_by_day_ms"] = _median_ms(
            lambda: conn.execute(L.USAGE_COUNT_BY_DAY, since).fetchall(), repeat
        )
        out["count_bare_ms"] = _median_ms(
            lambda: conn.execute("SELECT COUNT(*) FROM usage_ledger").fetchall(), repeat
        )
        for group in ("model", "day", "session"):
            out[f"usage_{group}_ms"] = _median_ms(lambda g=group: store.usage(group_by=g), repeat)
        out["usage_one_session_ms"] = _median_ms(lambda: store.usage(session_id="s7"), repeat)
        out["usage_model_vs_count"] = out["usage_model_ms"] / out["count_by_model_ms"]
        out["usage_day_vs_count"] = out["usage_day_ms"] / out["count_by_day_ms"]
        assert sum(t.events for t in store.usage()) == rows
    return out


def bench_retention(folder: Path, events: int, repeat: int) -> dict[str, float]:
    """A retention dry run over ``events`` events in sessions of 100."""
    per = 100
    sessions = max(1, events // per)
    with SessionStore(folder / "retention.db", clock=lambda: NOW) as store:
        store.set_search_indexing(False)
        conn = store.connection
        conn.execute("BEGIN")
        rows = []
        for i in range(sessions):
            archived = NOW - 400 * DAY if i % 10 == 0 else None
            updated = NOW - (100 * DAY if i % 10 in (0, 1) else 3600)
            rows.append((f"r{i}", f"/p/{i % 50}", updated - DAY, updated, archived, per))
        conn.executemany(
            "INSERT INTO sessions (id, directory, created_at, updated_at, archived_at, "
            "event_count) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO session_events VALUES (?, ?, ?, NULL, 'inv', 'user', ?, ?)",
            (
                (
                    1 + i // per,
                    i % per + 1,
                    f"ev{i}",
                    f'{{"content": "event {i} of a long retention benchmark"}}',
                    NOW - 100 * DAY,
                )
                for i in range(sessions * per)
            ),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        policy = RetentionPolicy(
            archive_idle_days=30, delete_archived_after_days=180, max_bytes=1 << 40
        )
        report = store.apply_retention(policy)
        out = {
            "dry_run_ms": _median_ms(lambda: store.apply_retention(policy), repeat),
            "dry_run_max_bytes_ms": _median_ms(
                lambda: store.apply_retention(RetentionPolicy(max_bytes=0)), repeat
            ),
            "count_events_ms": _median_ms(
                lambda: conn.execute("SELECT COUNT(*) FROM session_events").fetchall(), repeat
            ),
            "would_archive": float(len(report.archived)),
            "would_delete": float(len(report.deleted)),
            "bytes_freed": float(report.bytes_freed),
        }
        assert report.deleted and report.archived
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the lifecycle benchmarks and print (or ``--json``) the results."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.lifecycle_bench", description=__doc__)
    ap.add_argument("--session-events", type=int, default=10_000)
    ap.add_argument("--ledger", type=int, default=100_000)
    ap.add_argument("--retention-events", type=int, default=100_000)
    ap.add_argument("--large", action="store_true", help="1,000,000 ledger rows and events")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.large:
        args.ledger = max(args.ledger, 1_000_000)
        args.retention_events = max(args.retention_events, 1_000_000)
    results: dict[str, Any] = {
        "sizes": {
            "session_events": args.session_events,
            "ledger": args.ledger,
            "retention_events": args.retention_events,
        }
    }
    with tempfile.TemporaryDirectory(prefix="convstore-lifecycle-") as tmp:
        folder = Path(tmp)
        results["compaction"] = bench_compaction(folder, args.session_events, args.repeat)
        results["usage"] = bench_usage(folder, args.ledger, args.repeat)
        results["retention"] = bench_retention(folder, args.retention_events, args.repeat)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"sizes: {results['sizes']}")
    for section in ("compaction", "usage", "retention"):
        print(f"\n{section}:")
        for key, value in results[section].items():
            print(f"  {key:28} {value:12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

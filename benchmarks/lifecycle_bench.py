"""The conversation lifecycle's costs (SPEC §9), each beside its floor, in one run.

* **compact** a session of ``--session-events`` events (default 10,000): one
  summary appended after reading the branch;
* **history()** of that compacted session, beside ``history(full=True)`` and
  the same session uncompacted;
* **usage totals** over ``--ledger`` ledger rows (default 100,000; the issue's
  1,000,000 with ``--large``) per model, day and session, beside the same
  grouping counted over the ledger's index (the bar: at most 2x), on a
  realistic ledger and on the rollup's worst case;
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


_SINCE_ALL = {"since": -(1 << 63)}


def _spread(samples: list[float]) -> str:
    """``median [min-max]`` of a list of samples."""
    return f"{statistics.median(samples):.3f} [{min(samples):.3f}-{max(samples):.3f}]"


def _ledger_rows(rows: int, shape: str, rng: random.Random) -> Any:
    """Ledger rows of 200 per session. ``sessions``: as assistants write them -- a
    session's calls fall on its own day (a tenth run past midnight) and use one or
    two models. ``scattered``: every row on a random day and model (the rollup's
    worst case: almost every row its own group)."""
    for i in range(rows):
        sid, seq = 1 + i // 200, i % 200 + 1
        if shape == "sessions":
            local = random.Random(sid)
            day = local.randrange(365) + (1 if local.random() < 0.1 and seq > 150 else 0)
            first = local.randrange(len(MODELS))
            model = MODELS[first if seq % 4 else (first + 1) % len(MODELS)]
        else:
            day, model = rng.randrange(365), MODELS[rng.randrange(len(MODELS))]
        yield (
            sid,
            seq,
            model,
            rng.randrange(50_000),
            rng.randrange(4_000),
            rng.randrange(20_000),
            None if i % 3 == 0 else rng.random() / 10,
            NOW - day * DAY - rng.randrange(3_600),
        )


def bench_usage(folder: Path, rows: int, repeat: int) -> dict[str, Any]:
    """Usage totals over ``rows`` ledger rows beside a grouped indexed count, interleaved.

    Two ledgers of the same size: ``sessions`` (realistic) and ``scattered``
    (the worst case for the rollup). Each round times the floor and the
    totals back to back; the report gives ``median [min-max]`` over the
    rounds of each time (ms) and of each round's ratio to its floor.
    """
    out: dict[str, Any] = {}
    for shape in ("sessions", "scattered"):
        rng = random.Random(18)
        with SessionStore(folder / f"usage-{shape}.db", clock=lambda: NOW) as store:
            conn = store.connection
            sessions = max(1, -(-rows // 200))
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO sessions (id, created_at, updated_at, event_count) "
                "VALUES (?, ?, ?, 200)",
                ((f"s{i}", NOW, NOW) for i in range(sessions)),
            )
            start = time.perf_counter()
            conn.executemany(
                "INSERT INTO usage_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _ledger_rows(rows, shape, rng),
            )
            insert_s = time.perf_counter() - start
            conn.execute("COMMIT")
            conn.execute("ANALYZE")
            groups = conn.execute("SELECT COUNT(*) FROM usage_rollup").fetchone()[0]
            # The floor: the same grouped scan of the ledger's index, counting only.
            # (A bare COUNT(*) is answered from b-tree page headers, reads no rows.)
            floors = {
                "model": lambda c=conn: c.execute(L.USAGE_COUNT_BY_MODEL, _SINCE_ALL).fetchall(),
                "day": lambda c=conn: c.execute(L.USAGE_COUNT_BY_DAY, _SINCE_ALL).fetchall(),
            }
            times: dict[str, list[float]] = {}
            for _ in range(repeat):
                for group in ("model", "day", "session"):
                    floor = floors["day" if group == "day" else "model"]
                    for name, fn in (
                        (f"count_by_{group}", floor),
                        (f"usage_{group}", lambda g=group: store.usage(group_by=g)),
                    ):
                        t = time.perf_counter()
                        fn()
                        times.setdefault(name, []).append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                store.usage(session_id="s7")
                times.setdefault("usage_one_session", []).append((time.perf_counter() - t) * 1000)
            section: dict[str, Any] = {
                "ledger_rows": rows,
                "rollup_groups": groups,
                "insert_with_rollup_s": round(insert_s, 2),
            }
            for name, samples in times.items():
                section[f"{name}_ms"] = _spread(samples)
            for group in ("model", "day", "session"):
                pairs = zip(times[f"usage_{group}"], times[f"count_by_{group}"], strict=True)
                ratios = [u / c for u, c in pairs]
                section[f"usage_{group}_vs_count"] = _spread(ratios)
            assert sum(t.events for t in store.usage()) == rows
            out[shape] = section
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
            "INSERT INTO session_events (rid, id, parent_id, invocation_id, event_type, "
            "event_data, created_at) VALUES (?, ?, NULL, 'inv', 'user', ?, ?)",
            (
                (
                    ((1 + i // per) << 32) | (i % per + 1),  # the rowid key: sid * 2^32 + seq
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
    ap.add_argument(
        "--only", choices=("compaction", "usage", "retention"), help="run one section"
    )
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
        if args.only in (None, "compaction"):
            results["compaction"] = bench_compaction(folder, args.session_events, args.repeat)
        if args.only in (None, "usage"):
            results["usage"] = bench_usage(folder, args.ledger, args.repeat)
        if args.only in (None, "retention"):
            results["retention"] = bench_retention(folder, args.retention_events, args.repeat)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"sizes: {results['sizes']}")
    for section in ("compaction", "usage", "retention"):
        if section not in results:
            continue
        print(f"\n{section}:")
        for key, value in results[section].items():
            if isinstance(value, dict):
                print(f"  {key}:")
                for k, v in value.items():
                    print(f"    {k:28} {v}")
            else:
                print(f"  {key:28} {value:12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

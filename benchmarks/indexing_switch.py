"""What full-text indexing costs a single append: the same appends with it on and off.

Two stores on two files with the same events; one has
``set_search_indexing(False)``. Appends alternate between them (so machine
noise hits both alike); p50/p95/p99 per side, repeated, median of the runs.

    python -m benchmarks.indexing_switch --events 50000 --appends 3000 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from convstore import SessionStore

DATA = '{"content": "a streamed chunk of assistant text, about this long"}'


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


def one_run(folder: Path, events: int, appends: int) -> dict[str, dict[str, float]]:
    on = SessionStore(folder / "on.db")
    off = SessionStore(folder / "off.db")
    off.set_search_indexing(False)
    for store in (on, off):
        store.create_session("s")
        for k in range(0, events, 500):
            store.append_events(
                "s",
                [
                    (f"w{k + i}", None, "i", "t", f'{{"content": "warm up text {i}"}}')
                    for i in range(min(500, events - k))
                ],
            )
    samples: dict[str, list[float]] = {"on": [], "off": []}
    parents: dict[str, str | None] = {"on": None, "off": None}
    for i in range(appends):
        for name, store in (("on", on), ("off", off)):
            eid = f"{name}{i}"
            t = time.perf_counter()
            store.append_event("s", eid, parents[name], "inv", "text", DATA)
            samples[name].append(time.perf_counter() - t)
            parents[name] = eid
    on.close()
    off.close()
    return {
        name: {"p50": _pct(s, 0.5), "p95": _pct(s, 0.95), "p99": _pct(s, 0.99)}
        for name, s in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.indexing_switch", description=__doc__)
    ap.add_argument("--events", type=int, default=50_000, help="events stored before timing")
    ap.add_argument("--appends", type=int, default=3000, help="timed appends per side per run")
    ap.add_argument("--runs", type=int, default=3, help="repeats; the median is reported")
    args = ap.parse_args(argv)
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(Path(tmp), args.events, args.appends))
    print(
        f"append_event, {args.events:,} events stored, {args.appends} appends per side, "
        f"median of {args.runs} runs (µs)"
    )
    print("| search indexing | p50 | p95 | p99 |")
    print("|---|--:|--:|--:|")
    for name in ("on", "off"):
        row = [statistics.median(r[name][p] for r in runs) for p in ("p50", "p95", "p99")]
        print(f"| {name} | {row[0]:,.0f} | {row[1]:,.0f} | {row[2]:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

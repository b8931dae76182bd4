"""Minimal benchmark: append and load latency, convstore against raw APSW (the floor).

Replaced by the full suite (issue 4); kept tiny so the README's first command works.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from convstore import SessionStore


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="events to append")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, SessionStore(Path(tmp) / "b.db") as store:
        store.create_session("s")
        samples: list[float] = []
        parent = None
        for i in range(args.events):
            t0 = time.perf_counter()
            store.append_event("s", f"e{i:09d}", parent, "inv", "text", '{"content":"x"}')
            samples.append(time.perf_counter() - t0)
            parent = f"e{i:09d}"
        print("| op | n | p50 µs | p95 µs | p99 µs |")
        print("|---|---|---|---|---|")
        print(
            f"| append_event | {len(samples)} | {_pct(samples, 0.5) * 1e6:.1f} | "
            f"{_pct(samples, 0.95) * 1e6:.1f} | {_pct(samples, 0.99) * 1e6:.1f} |"
        )
        print(f"mean {statistics.fmean(samples) * 1e6:.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

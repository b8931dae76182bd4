"""convstore benchmarks: append, resume lookup, get_session and load_events latency on
large event tables, against the floor (the leanest raw-APSW code, no search index), the reference
schema (Atuin AI's, raw on APSW) and the OpenAI Agents SDK ``SQLiteSession``.

Prints one markdown table per table size and the performance targets; optionally writes
JSON (``--json``) and a PNG plot (``--plot``, needs matplotlib).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

from . import dataset, report, runner, systems


def _sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        mult = 1
        if part.endswith("k"):
            part, mult = part[:-1], 1_000
        elif part.endswith("m"):
            part, mult = part[:-1], 1_000_000
        out.append(int(float(part) * mult))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--events",
        type=int,
        default=100_000,
        help="events in the table (default 100000; ignored with --sizes)",
    )
    ap.add_argument(
        "--sessions",
        type=int,
        default=None,
        help="sessions (default: events/50, at least ~1100 so the crowded directory can hold 1000)",
    )
    ap.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="several table sizes, e.g. 10k,100k,1m,10m (each gets default sessions)",
    )
    ap.add_argument(
        "--db",
        type=Path,
        default=None,
        help="convstore database to build or reuse (baselines go next to it); "
        "default: a temporary directory, deleted afterwards",
    )
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="keep datasets here, one folder per size, reused by later runs "
        "(e.g. benchmarks/.cache)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="interleaved rounds; every system runs each operation once per round",
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the number of calls per operation (0.05 for a smoke run)",
    )
    ap.add_argument(
        "--systems",
        default=",".join(runner.SYSTEM_NAMES),
        help="comma-separated subset of " + ",".join(runner.SYSTEM_NAMES),
    )
    ap.add_argument(
        "--ops",
        default=None,
        help="comma-separated subset of the operations (default: all), e.g. append,open",
    )
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    ap.add_argument("--plot", type=Path, default=None, help="write a PNG of p50/p99 vs size")
    ap.add_argument(
        "--index-before",
        action="store_true",
        help="build with secondary indexes in place (default: create them after the load)",
    )
    ap.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    ap.add_argument(
        "--no-async", action="store_true", help="leave out the async API rows (async_bench)"
    )
    return ap.parse_args(argv)


def meta(
    args: argparse.Namespace, argv: list[str] | None, started: float, notes: list[str]
) -> dict[str, object]:
    return {
        "command": "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv),
        "repeat": args.repeat,
        "scale": args.scale,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        "environment": report.environment(),
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if "--integrations" in given:  # the framework adapters: benchmarks/integrations_bench.py
        from . import integrations_bench

        return integrations_bench.main([a for a in given if a != "--integrations"])
    args = parse_args(argv)
    sizes = args.sizes or [args.events]
    if args.db is not None and len(sizes) > 1:
        print("--db names one database: use --cache-dir with --sizes", file=sys.stderr)
        return 2
    wanted = [s for s in args.systems.split(",") if s]
    unknown = set(wanted) - set(runner.SYSTEM_NAMES)
    if unknown:
        print(f"unknown systems: {sorted(unknown)}", file=sys.stderr)
        return 2
    ops = None if args.ops is None else [o for o in args.ops.split(",") if o]
    unknown = set(ops or ()) - set(runner.OP_NAMES)
    if unknown:
        print(f"unknown operations: {sorted(unknown)}", file=sys.stderr)
        return 2
    notes: list[str] = []
    # The dataset files the systems run on; the sanity check reads the convstore file.
    kinds = sorted({*(systems.FILE_OF[w] for w in wanted), "convstore"})
    if "peer" in kinds and not dataset.peer_available():
        kinds.remove("peer")
        wanted.remove("peer")
        notes.append(
            "peer skipped: the OpenAI Agents SDK is not installed "
            "(pip install '.[bench-peers]' to compare with agents.SQLiteSession)"
        )
    for n in notes:
        print(n, file=sys.stderr)

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    tmp = None
    if args.db is None and args.cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="convstore-bench-")
        cache = Path(tmp.name)
    else:
        cache = args.cache_dir or Path(tempfile.gettempdir())
    results: list[runner.SizeResult] = []
    started = time.time()
    try:
        for events in sizes:
            log(f"== {events:,} events")
            t = time.perf_counter()
            ds = dataset.ensure_dataset(
                events,
                args.sessions,
                cache,
                kinds=kinds,
                index_after=not args.index_before,
                progress=not args.quiet,
                db=args.db,
            )
            log(f"  dataset ready in {time.perf_counter() - t:.1f}s ({ds.directory})")
            check = runner.sanity_check(ds)
            for problem in check["problems"]:
                notes.append(f"{events:,} events: {problem}")
                log(f"  WARNING: {problem}")
            res = runner.run_size(
                ds,
                repeat=args.repeat,
                scale=args.scale,
                systems_wanted=wanted,
                log=log,
                ops=ops,
            )
            results.append(res)
            print(report.table(res), flush=True)
            print(flush=True)
            if args.json is not None:  # after every size: a long run that dies keeps the rest
                report.write_json(args.json, results, meta(args, argv, started, notes))
    finally:
        if tmp is not None:
            tmp.cleanup()
    targets = report.check_targets(results)
    print("### Targets (reported, never asserted; met only if met in every round)\n")
    print(report.targets_markdown(targets))
    for n in notes:
        print(f"\nNote: {n}")
    extra: dict[str, object] = {}
    if not args.no_async:  # the async API's rows: benchmarks/async_bench.py
        from . import async_bench

        log("== async API")
        text, extra["async"] = async_bench.section(args.scale, peer="peer" in wanted)
        print(f"\n{text}", flush=True)
    if args.json is not None:
        report.write_json(args.json, results, {**meta(args, argv, started, notes), **extra})
        log(f"wrote {args.json}")
    if args.plot is not None:
        note = report.write_plot(args.plot, results)
        if note:
            print(f"\nNote: {note}")
        else:
            log(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

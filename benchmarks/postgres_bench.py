"""PostgreSQL backend benchmark: latency at 1M events, append throughput under concurrency.

Starts its own throwaway cluster (``tests/pgcluster.py``) with the settings
printed in the report, bulk-loads ``--events`` events over ``--sessions``
sessions with COPY, then measures through ``PostgresSessionService`` (the
public API, pool and all):

* p50/p95/p99 latency of ``append_event_at_head``, ``find_resumable_session``,
  ``get_session`` and ``load_events`` (a session of events/sessions events),
  one client, loopback TCP;
* append throughput with 1, 4 and 16 concurrent client *processes*, each
  appending at the head of its own session, and all of them on one shared
  session (the row-lock worst case);
* sync cost (``convstore.sync``): a ``--sync-events``-event session pushed and
  pulled whole, then one new event pushed and pulled incrementally, with the
  events that travelled and the service calls made.

Run from the repository root::

    python -m benchmarks.postgres_bench --events 1000000 --out /tmp/postgres-results.md

(the report is the PostgreSQL section of ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from pgcluster import PgCluster  # noqa: E402

from convstore import SessionStore, new_id  # noqa: E402
from convstore.postgres import PostgresSessionService  # noqa: E402
from convstore.postgres_migrations import migrate_server  # noqa: E402

#: Durable, production-like settings (commits wait for fsync of the WAL).
SETTINGS = {
    "shared_buffers": "512MB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "max_connections": "100",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
}
OWNER = "bench"
EVENT_DATA = '{"content": "a typical assistant message of modest length, about eighty bytes"}'
NOW = 1_700_000_000


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def row(name: str, samples: list[float]) -> str:
    return (
        f"| {name} | {len(samples)} | {pct(samples, 0.5) * 1e6:.0f} | "
        f"{pct(samples, 0.95) * 1e6:.0f} | {pct(samples, 0.99) * 1e6:.0f} |"
    )


def load(dsn: str, n_sessions: int, n_events: int) -> float:
    """Bulk-load sessions and events with COPY; return seconds taken."""
    import psycopg

    per = n_events // n_sessions
    t0 = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy(
                "COPY sessions (owner, id, head_id, directory, git_root, created_at, "
                "updated_at, event_count) FROM STDIN"
            ) as copy:
                buf = io.StringIO()
                for s in range(n_sessions):
                    updated = NOW - (n_sessions - s) * 10
                    buf.write(
                        f"{OWNER}\ts{s:07d}\ts{s:07d}-e{per - 1:05d}\t/home/u/p{s % 2000}\t"
                        f"/home/u/r{s % 500}\t{updated - 3600}\t{updated}\t{per}\n"
                    )
                copy.write(buf.getvalue())
            sids = dict(cur.execute("SELECT id, sid FROM sessions").fetchall())
            with cur.copy(
                "COPY session_events (sid, seq, owner, id, parent_id, invocation_id, "
                "event_type, event_data, created_at) FROM STDIN"
            ) as copy:
                for s in range(n_sessions):
                    sid, name = sids[f"s{s:07d}"], f"s{s:07d}"
                    buf = io.StringIO()
                    parent = "\\N"
                    for i in range(per):
                        eid = f"{name}-e{i:05d}"
                        buf.write(
                            f"{sid}\t{i + 1}\t{OWNER}\t{eid}\t{parent}\tinv\ttext\t"
                            f"{EVENT_DATA}\t{NOW - 3600 + i}\n"
                        )
                        parent = eid
                    copy.write(buf.getvalue())
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")  # measure the service, not the load's write-back
    return time.perf_counter() - t0


def _writer(dsn: str, session_id: str, seconds: float, ready: Any, go: Any, q: Any) -> None:
    svc = PostgresSessionService(dsn, owner=OWNER, max_size=1)
    svc.get_session(session_id)  # connected and warm before the clock starts
    ready.put(1)
    go.wait()
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        svc.append_event_at_head(session_id, new_id(), "inv", "text", EVENT_DATA)
        n += 1
    svc.close()
    q.put(n)


def throughput(dsn: str, clients: int, shared: bool, seconds: float) -> float:
    """Appends/s of ``clients`` processes released together once all are connected."""
    ctx = mp.get_context("spawn")
    ready, done, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    with PostgresSessionService(dsn, owner=OWNER) as svc:
        names = [f"tp-{clients}-{shared}-{i}-{new_id()}" for i in range(clients)]
        for name in set(names[:1] if shared else names):
            svc.create_session(name, "/tp")
    procs = [
        ctx.Process(
            target=_writer,
            args=(dsn, names[0] if shared else names[i], seconds, ready, go, done),
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    go.set()
    total = sum(done.get(timeout=seconds + 300) for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def sync_cost(dsn: str, n_events: int) -> list[tuple[str, float, int, int]]:
    """(step, ms, events moved, service calls) for full and incremental push/pull."""
    from convstore.sync import pull, push

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner, self.calls = inner, 0

        def __getattr__(self, name: str) -> Any:
            target = getattr(self.inner, name)

            def call(*args: Any, **kwargs: Any) -> Any:
                self.calls += 1
                return target(*args, **kwargs)

            return call

    out: list[tuple[str, float, int, int]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        PostgresSessionService(dsn, owner=f"sync-{new_id()}", max_size=2) as svc,
        SessionStore(Path(tmp) / "laptop.db") as laptop,
        SessionStore(Path(tmp) / "desktop.db") as desktop,
    ):
        laptop.create_session("long", "/p")
        batch, parent = [], None
        for i in range(n_events):
            eid = f"e{i:07d}"
            batch.append((eid, parent, "inv", "text", EVENT_DATA))
            parent = eid
        laptop.append_events("long", batch)

        def step(name: str, run: Callable[[Any], Any]) -> None:
            counting = Counting(svc)
            t0 = time.perf_counter()
            report = run(counting)
            ms = (time.perf_counter() - t0) * 1000
            out.append((name, ms, report.events, counting.calls))

        step(f"push, full ({n_events:,} events)", lambda s: push(laptop, s))
        step(f"pull, full ({n_events:,} events)", lambda s: pull(desktop, s))
        laptop.append_event_at_head("long", new_id(), "inv", "text", EVENT_DATA)
        step("push, one new event (incremental)", lambda s: push(laptop, s))
        step("pull, one new event (incremental)", lambda s: pull(desktop, s))
        step("push, nothing new", lambda s: push(laptop, s))
    return out


def sqlite_reference(samples: int) -> list[float]:
    """The same append on the local SQLite store (WAL, synchronous=NORMAL), same machine."""
    with tempfile.TemporaryDirectory() as tmp, SessionStore(Path(tmp) / "ref.db") as store:
        store.create_session("s")
        return timed(
            lambda i: store.append_event_at_head("s", new_id(), "inv", "text", EVENT_DATA), samples
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.postgres_bench", description=__doc__
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--sync-events", type=int, default=10_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]
    base = Path(tempfile.mkdtemp(prefix="convstore-bench-pg-"))
    cluster = PgCluster(base / "data", settings=dict(SETTINGS))
    lines: list[str] = []
    try:
        cluster.start()
        dsn = cluster.create_database("bench")
        migrate_server(dsn)  # the deploy step
        load_secs = load(dsn, args.sessions, args.events)
        per = args.events // args.sessions
        rng = random.Random(7)
        with PostgresSessionService(dsn, owner=OWNER, max_size=2) as svc:
            import psycopg

            with psycopg.connect(dsn) as c:
                version = c.execute("SHOW server_version").fetchone()
                size = c.execute("SELECT pg_size_pretty(pg_database_size('bench'))").fetchone()
            ids = [f"s{rng.randrange(args.sessions):07d}" for _ in range(args.samples)]
            for _ in range(200):  # warm up: pool, prepared statements, cache
                svc.get_session(ids[0])
                svc.find_resumable_session("/home/u/p1", "/home/u/r1", 10**9)
            n = args.samples
            results = {
                "get_session": timed(lambda i: svc.get_session(ids[i]), n),
                "find_resumable_session": timed(
                    lambda i: svc.find_resumable_session(
                        f"/home/u/p{rng.randrange(2000)}", f"/home/u/r{rng.randrange(500)}", 10**9
                    ),
                    n,
                ),
                f"load_events ({per} events)": timed(
                    lambda i: svc.load_events(ids[i]), min(n, 1000)
                ),
                "history (recursive CTE)": timed(lambda i: svc.history(ids[i]), min(n, 1000)),
                "append_event_at_head": timed(
                    lambda i: svc.append_event_at_head(ids[i], new_id(), "inv", "text", EVENT_DATA),
                    n,
                ),
                "append_event (explicit parent)": timed(
                    lambda i: svc.append_event(
                        f"s{i % args.sessions:07d}",
                        new_id(),
                        None,
                        "inv",
                        "text",
                        EVENT_DATA,
                    ),
                    n,
                ),
            }
        sqlite = sqlite_reference(n)
        sync = sync_cost(dsn, args.sync_events)
        tput = {
            (c, shared): throughput(dsn, c, shared, args.seconds)
            for shared in (False, True)
            for c in clients
        }
        lines += [
            "# PostgreSQL backend benchmark",
            "",
            f"Generated by `python -m benchmarks.postgres_bench --events {args.events} "
            f"--sessions {args.sessions}` on {time.strftime('%Y-%m-%d')}.",
            "",
            f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, psycopg {psycopg.__version__}; "
            f"PostgreSQL {version[0] if version else '?'} on the same machine, "
            "client over loopback TCP (127.0.0.1).",
            f"- Data: {args.events:,} events in {args.sessions:,} sessions ({per} per session), "
            f"one owner; bulk-loaded with COPY in {load_secs:.1f} s; database size "
            f"{size[0] if size else '?'}.",
            "- Server settings (everything else default): "
            + ", ".join(f"`{k}={v}`" for k, v in SETTINGS.items())
            + ". Commits are durable (`fsync=on`, `synchronous_commit=on`).",
            "",
            "## Latency, one client (µs)",
            "",
            "| operation | n | p50 µs | p95 µs | p99 µs |",
            "|---|---|---|---|---|",
            *(row(k, v) for k, v in results.items()),
            row("SQLite reference: append_event_at_head (local file, WAL)", sqlite),
            "",
            "## Append throughput (appends/s, all clients together)",
            "",
            f"Each client is a separate process with its own connection, appending "
            f"`append_event_at_head` for {args.seconds:g} s.",
            "",
            "| clients | own session each | one shared session |",
            "|---|---|---|",
            *(f"| {c} | {tput[c, False]:,.0f} | {tput[c, True]:,.0f} |" for c in clients),
            "",
            "## Sync cost: full vs incremental",
            "",
            "One session between two local SQLite stores and the server "
            "(`convstore.sync.push`/`pull`, one owner).",
            "",
            "| step | ms | events moved | service calls |",
            "|---|---|---|---|",
            *(f"| {name} | {ms:,.1f} | {moved:,} | {calls} |" for name, ms, moved, calls in sync),
            "",
        ]
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(base, ignore_errors=True)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``AsyncPostgresSessionService`` against the sync service and a thread hop, same run.

``python -m benchmarks.postgres_async_bench [--n 1000] [--rounds 3] [--tasks 16]``

Starts a throwaway cluster (``tests/pgcluster.py``, its test settings:
``synchronous_commit=off``, so the client's own cost is not hidden behind a
WAL flush) and measures, interleaved call by call so machine noise hits every
column alike, the median over rounds of p50/p99:

* ``sync`` — ``PostgresSessionService`` called directly (no event loop);
* ``async (greenlet, async pool)`` — ``await AsyncPostgresSessionService``:
  the sync service's code in a greenlet on psycopg's ``AsyncConnectionPool``
  (this library's design);
* ``thread hop`` — ``await asyncio.to_thread(sync_call)``: the previous design
  (the sync service on a thread pool);
* ``hand-written coroutine`` (``get_session`` only) — the same statement on
  the same async pool, written as a coroutine (pool get, idle check, execute,
  fetch, put back): what the greenlet bridge costs on top of psycopg's async
  I/O is the difference to the greenlet column;

for ``append_event_at_head``, ``get_session`` and ``load_events`` (20 events);
then throughput with ``--tasks`` concurrent tasks appending to their own
sessions for ``--seconds``: the async service vs the sync service behind
``to_thread`` (same pool size).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from pgcluster import temporary_cluster  # noqa: E402

from convstore import new_id  # noqa: E402
from convstore.postgres import AsyncPostgresSessionService, PostgresSessionService  # noqa: E402
from convstore.postgres.migrations import migrate_server  # noqa: E402

DATA = '{"content": "a typical assistant message of modest length, about eighty bytes"}'
COLUMNS = ("sync", "async (greenlet, async pool)", "thread hop")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def _interleaved(
    n: int, columns: dict[str, Callable[[int], Awaitable[Any] | None]]
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in columns}
    perf = time.perf_counter
    for i in range(n):
        for name, call in columns.items():
            t = perf()
            maybe = call(i)
            if maybe is not None:
                await maybe
            out[name].append(perf() - t)
    return out


async def bench(dsn: str, n: int, rounds: int, tasks: int, seconds: float) -> dict[str, Any]:
    # Full pools from the start: a pool growing under load is not what is measured.
    sync = PostgresSessionService(dsn, owner="bench-sync", min_size=8, max_size=8)
    hop = PostgresSessionService(dsn, owner="bench-hop", min_size=8, max_size=8)
    asvc = await AsyncPostgresSessionService.open(
        dsn, owner="bench-async", min_size=8, max_size=8
    )
    sync.pool.wait()
    hop.pool.wait()
    await asvc.pool.wait()
    for svc in (sync, hop):
        svc.create_session("s")
        svc.create_session("l")
    await asvc.create_session("s")
    await asvc.create_session("l")
    for k in range(20):
        sync.append_event_at_head("l", f"l{k}", "inv", "text", DATA)
        hop.append_event_at_head("l", f"l{k}", "inv", "text", DATA)
        await asvc.append_event_at_head("l", f"l{k}", "inv", "text", DATA)
    from convstore.models import StoredSession
    from convstore.postgres import _pgsql
    from convstore.postgres._pgdeadline import idle_connection_is_dead

    apool = asvc.pool

    async def native_get_session(sid: str) -> StoredSession | None:
        conn = await apool.getconn(timeout=5.0)
        try:
            if idle_connection_is_dead(conn):
                raise RuntimeError("dead connection")
            cur = await conn.execute(_pgsql.SESSION_GET, {"owner": asvc.owner, "session_id": sid})
            row = await cur.fetchone()
        finally:
            await apool.putconn(conn)
        return None if row is None else StoredSession._make(row)

    rows: dict[str, dict[str, list[list[float]]]] = {}
    ops: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
        "append_event_at_head": (lambda s: s.append_event_at_head, ()),
        "get_session": (lambda s: s.get_session, ("s",)),
        "load_events (20)": (lambda s: s.load_events, ("l",)),
    }
    for _ in range(rounds):
        for op, (method, args) in ops.items():

            def call_args(i: int, op: str = op, args: tuple[Any, ...] = args) -> tuple[Any, ...]:
                if op == "append_event_at_head":
                    return ("s", new_id(), "inv", "text", DATA)
                return args

            columns: dict[str, Callable[[int], Awaitable[Any] | None]] = {
                COLUMNS[0]: lambda i, m=method, a=call_args: (m(sync)(*a(i)), None)[1],
                COLUMNS[1]: lambda i, m=method, a=call_args: m(asvc)(*a(i)),
                COLUMNS[2]: lambda i, m=method, a=call_args: asyncio.to_thread(m(hop), *a(i)),
            }
            if op == "get_session":
                columns["hand-written coroutine"] = lambda i: native_get_session("s")
            for col, values in (await _interleaved(n, columns)).items():
                rows.setdefault(op, {}).setdefault(col, []).append(values)

    async def throughput(append: Callable[[str], Awaitable[Any]]) -> float:
        done = 0
        stop = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal done
            while time.perf_counter() < stop:
                await append(f"t{k}")
                done += 1

        await asyncio.gather(*(worker(k) for k in range(tasks)))
        return done / seconds

    for k in range(tasks):
        await asvc.create_session(f"t{k}")
        hop.create_session(f"t{k}")
    appends: dict[str, Callable[[str], Awaitable[Any]]] = {
        COLUMNS[1]: lambda sid: asvc.append_event_at_head(sid, new_id(), "inv", "text", DATA),
        COLUMNS[2]: lambda sid: asyncio.to_thread(
            hop.append_event_at_head, sid, new_id(), "inv", "text", DATA
        ),
    }
    runs: dict[str, list[float]] = {col: [] for col in appends}
    for _ in range(rounds):  # alternated, so neither column always runs on a warmer machine
        for col, append in appends.items():
            runs[col].append(await throughput(append))
    tput = {col: statistics.median(v) for col, v in runs.items()}
    await asvc.aclose()
    sync.close()
    hop.close()
    summary = {
        op: {
            col: {
                "p50": statistics.median(_pct(r, 0.5) for r in rs) * 1e6,
                "p99": statistics.median(_pct(r, 0.99) for r in rs) * 1e6,
                "p50_min": min(_pct(r, 0.5) for r in rs) * 1e6,
                "p50_max": max(_pct(r, 0.5) for r in rs) * 1e6,
            }
            for col, rs in cols.items()
        }
        for op, cols in rows.items()
    }
    return {"latency": summary, "throughput": tput, "tasks": tasks, "n": n, "rounds": rounds}


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"{res['n']} calls per column per round, {res['rounds']} rounds, interleaved; "
        "median of the round p50s [min-max].",
        "",
        "| call | column | p50 µs | p99 µs | p50 spread | vs sync |",
        "| --- | --- | ---: | ---: | --- | ---: |",
    ]
    for op, cols in res["latency"].items():
        base = cols["sync"]["p50"]
        for col, s in cols.items():
            lines.append(
                f"| {op} | {col} | {s['p50']:.0f} | {s['p99']:.0f} | "
                f"{s['p50_min']:.0f}-{s['p50_max']:.0f} | {s['p50'] / base:.2f}x |"
            )
    lines += [
        "",
        f"| {res['tasks']} tasks appending to their own sessions (median of "
        f"{res['rounds']} alternated runs) | appends/s |",
        "| --- | ---: |",
        *(f"| {col} | {v:.0f} |" for col, v in res["throughput"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.postgres_async_bench")
    ap.add_argument("--n", type=int, default=1000, help="calls per column per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=3.0, help="per throughput run")
    args = ap.parse_args(argv)
    cluster = temporary_cluster()
    cluster.start()
    try:
        dsn = cluster.create_database("bench")
        migrate_server(dsn)
        res = asyncio.run(bench(dsn, args.n, args.rounds, args.tasks, args.seconds))
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(cluster.datadir.parent, ignore_errors=True)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

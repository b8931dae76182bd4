"""The async API's cost (issue 15, SPEC §7): awaited calls against the same sync calls.

``python -m benchmarks.async_bench [--n 2000] [--rounds 5] [--json FILE]``

Rows, all measured in one process, interleaved call by call (sync, async,
peer, sync, async, peer, ...) so machine noise hits every column alike; each
round gives p50/p95/p99 per column, and the table shows the median over the
rounds with the spread (min-max) of the round p50s:

* ``append`` — ``SessionStore.append_event`` vs ``await AsyncSessionStore.append_event``
  (one event, full-text indexing on, the default) and the OpenAI Agents SDK's
  ``await SQLiteSession.add_items([item])`` (one item) when ``openai-agents``
  is installed;
* ``load_events`` — a 100-event session;
* ``resume`` — ``SessionManager.start()`` that resumes (find, get_event, one
  boundary append) vs ``await AsyncSessionManager.start()``;
* ``hop`` — what a naive design pays per call: ``await store.run_sync(noop)``
  (APSW's ``apsw.aio`` worker) and :func:`asyncio.to_thread`, for scale;
* ``append via worker`` — the append forced through the worker every time;
* loop lag — 100 tasks append while another *process* holds the write lock for
  a second, then release it: the p99 of a 1 ms timer's lateness (wall clock,
  and CPU time the loop thread spent — the part the library causes), against
  the same timer on an idle loop.

Targets (issue 15): awaited append, load_events and resume p50 ≤ 1.5x sync;
append ≥ 3x faster than ``SQLiteSession.add_items``; loop lag p99 ≤ 2 ms.
They are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from convstore import LocalSessionService, SessionManager, SessionStore
from convstore.aio import (
    WORKER,
    AsyncLocalSessionService,
    AsyncSessionManager,
    AsyncSessionStore,
)

DATA = '{"role": "user", "content": "list the files in this directory, newest first"}'


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _summary(rounds: list[list[float]]) -> dict[str, float]:
    """Median over rounds of each percentile (µs), and the spread of the round p50s."""
    p50s = [_pct(r, 0.50) * 1e6 for r in rounds]
    return {
        "p50": statistics.median(p50s),
        "p95": statistics.median(_pct(r, 0.95) * 1e6 for r in rounds),
        "p99": statistics.median(_pct(r, 0.99) * 1e6 for r in rounds),
        "p50_min": min(p50s),
        "p50_max": max(p50s),
    }


def _peer() -> Any:
    try:
        from agents import SQLiteSession  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return SQLiteSession


async def _interleaved(
    n: int, columns: dict[str, Callable[[int], Awaitable[None] | None]]
) -> dict[str, list[float]]:
    """Time each column's call ``n`` times, columns interleaved call by call."""
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


async def _round(d: Path, r: int, n: int, peer_cls: Any, keep: Callable[..., None]) -> None:
    """One round of every row, on fresh databases in ``d``."""
    sync = SessionStore(d / "sync.db")
    astore = await AsyncSessionStore.open(d / "async.db")
    sync.create_session("s")
    await astore.create_session("s")
    peer = peer_cls(f"s{r}", str(d / "peer.db")) if peer_cls else None

    def sync_append(i: int) -> None:
        sync.append_event("s", f"e{i}", None, "inv", "user", DATA)

    def async_append(i: int) -> Awaitable[Any]:
        return astore.append_event("s", f"e{i}", None, "inv", "user", DATA)

    columns: dict[str, Callable[[int], Awaitable[Any] | None]] = {
        "sync": sync_append,
        "async": async_append,
    }
    if peer is not None:
        item = {"role": "user", "content": "list the files in this directory, newest first"}
        columns["peer add_items"] = lambda i: peer.add_items([item])
    keep("append", await _interleaved(n, columns))

    # the same append forced through the worker thread every time (the naive design)
    runner = astore._runner

    def via_worker(i: int) -> Awaitable[Any]:
        call = astore.sync.append_event
        return runner.run(lambda: call("s", f"w{i}", None, "inv", "user", DATA), WORKER)

    keep(
        "append via worker",
        await _interleaved(n // 2, {"sync": lambda i: sync_append(n + i), "async": via_worker}),
    )

    # hops alone
    def noop(_: SessionStore) -> None:
        return None

    keep(
        "hop",
        await _interleaved(
            n // 2,
            {
                "apsw.aio worker": lambda i: astore.run_sync(noop),
                "asyncio.to_thread": lambda i: asyncio.to_thread(int),
            },
        ),
    )

    # load_events on a 100-event session
    sync.create_session("l")
    await astore.create_session("l")
    for k in range(100):
        sync.append_event("l", f"l{k}", None, "inv", "user", DATA)
        await astore.append_event("l", f"l{k}", None, "inv", "user", DATA)
    keep(
        "load_events (100)",
        await _interleaved(
            n,
            {
                "sync": lambda i: (sync.load_events("l"), None)[1],
                "async": lambda i: astore.load_events("l"),
            },
        ),
    )

    # resume: a manager that finds the session and appends one boundary event
    service = LocalSessionService(sync)
    aservice = AsyncLocalSessionService(astore)
    cwd = str(d)
    SessionManager(service, cwd=cwd).start()
    await AsyncSessionManager(aservice, cwd=cwd).start()
    keep(
        "resume",
        await _interleaved(
            n // 2,
            {
                "sync": lambda i: (SessionManager(service, cwd=cwd).start(), None)[1],
                "async": lambda i: AsyncSessionManager(aservice, cwd=cwd).start(),
            },
        ),
    )
    sync.close()
    await astore.aclose()
    if peer is not None:
        peer.close()


async def bench_calls(
    tmp: Path, n: int, rounds: int, peer: bool = True
) -> dict[str, dict[str, dict[str, float]]]:
    peer_cls = _peer() if peer else None
    results: dict[str, dict[str, list[list[float]]]] = {}

    def keep(row: str, timings: dict[str, list[float]]) -> None:
        for col, values in timings.items():
            results.setdefault(row, {}).setdefault(col, []).append(values)

    for r in range(rounds):
        d = tmp / f"round{r}"
        d.mkdir()
        await _round(d, r, n, peer_cls, keep)
    return {row: {col: _summary(rs) for col, rs in cols.items()} for row, cols in results.items()}


HOLDER = """
import sys, apsw
conn = apsw.Connection(sys.argv[1])
conn.execute("BEGIN IMMEDIATE")
sys.stdout.write("locked\\n"); sys.stdout.flush()
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


async def bench_lag(tmp: Path) -> dict[str, float]:
    """Loop lag while 100 tasks append and another process holds the write lock for 1 s."""
    path = tmp / "lag.db"
    with SessionStore(path) as s:
        s.create_session("s1")
    loop = asyncio.get_running_loop()
    lags: dict[str, tuple[list[float], list[float]]] = {"idle": ([], []), "busy": ([], [])}
    phase = ["idle"]
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            t, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(0.001)
            wall, busy = lags[phase[0]]
            wall.append(loop.time() - t - 0.001)
            busy.append(time.thread_time() - cpu)

    iterations: list[float] = []
    last = [time.thread_time()]

    def tick() -> None:  # once per loop iteration: that iteration's loop-thread CPU time
        now = time.thread_time()
        if phase[0] == "busy":
            iterations.append(now - last[0])
        last[0] = now
        if not done.is_set():
            loop.call_soon(tick)

    loop.call_soon(tick)
    probing = asyncio.create_task(probe())
    await asyncio.sleep(1.0)  # the idle baseline: a second of the timer alone
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert await asyncio.to_thread(holder.stdout.readline) == "locked\n"
    phase[0] = "busy"
    async with await AsyncSessionStore.open(path, timeout=10) as store:

        async def appender(n: int) -> None:
            for k in range(5):
                await store.append_event_at_head("s1", f"e{n}-{k}", "inv", "user", DATA)

        tasks = [asyncio.create_task(appender(n)) for n in range(100)]
        await asyncio.sleep(1.0)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        await asyncio.gather(*tasks)
        done.set()
        await probing
    holder.wait()
    working = [c for c in iterations if c > 0.00005] or [0.0]
    return {
        "idle_wall_p99_ms": _pct(lags["idle"][0], 0.99) * 1e3,
        "busy_wall_p99_ms": _pct(lags["busy"][0], 0.99) * 1e3,
        "busy_wall_max_ms": max(lags["busy"][0]) * 1e3,
        "busy_cpu_p99_ms": _pct(lags["busy"][1], 0.99) * 1e3,
        "iteration_cpu_p99_ms": _pct(working, 0.99) * 1e3,
        "iteration_cpu_max_ms": max(working) * 1e3,
        "samples": float(len(lags["busy"][0])),
    }


def markdown(calls: dict[str, dict[str, dict[str, float]]], lag: dict[str, float]) -> str:
    lines = [
        "| call | column | p50 µs | p95 µs | p99 µs | p50 spread | vs sync p50 |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for row, cols in calls.items():
        base = cols.get("sync", {}).get("p50")
        for col, s in cols.items():
            ratio = f"{s['p50'] / base:.2f}x" if base else ""
            lines.append(
                f"| {row} | {col} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | "
                f"{s['p50_min']:.1f}-{s['p50_max']:.1f} | {ratio} |"
            )
    lines += [
        "",
        "| loop lag (100 tasks appending, write lock held 1 s by another process) | ms |",
        "| --- | ---: |",
        f"| 1 ms timer lateness p99, idle loop (machine floor) | {lag['idle_wall_p99_ms']:.2f} |",
        f"| 1 ms timer lateness p99 | {lag['busy_wall_p99_ms']:.2f} |",
        f"| 1 ms timer lateness max | {lag['busy_wall_max_ms']:.2f} |",
        f"| loop iteration CPU p99 (working iterations) | {lag['iteration_cpu_p99_ms']:.2f} |",
        f"| loop iteration CPU max | {lag['iteration_cpu_max_ms']:.2f} |",
    ]
    return "\n".join(lines)


def targets(calls: dict[str, dict[str, dict[str, float]]], lag: dict[str, float]) -> str:
    out = ["### Targets (reported, never asserted)", ""]
    for row in ("append", "load_events (100)", "resume"):
        ratio = calls[row]["async"]["p50"] / calls[row]["sync"]["p50"]
        verdict = "met" if ratio <= 1.5 else "MISSED"
        out.append(f"- {row}: async/sync p50 {ratio:.2f}x (target <= 1.5x): {verdict}")
    peer = calls["append"].get("peer add_items")
    if peer is None:
        out.append("- vs SQLiteSession.add_items: not measured (pip install '.[bench-peers]')")
    else:
        speedup = peer["p50"] / calls["append"]["async"]["p50"]
        out.append(
            f"- awaited append vs SQLiteSession.add_items: {speedup:.1f}x faster (target ≥ 3x): "
            f"{'met' if speedup >= 3 else 'MISSED'}"
        )
    cpu = lag["iteration_cpu_p99_ms"]
    wall = lag["busy_wall_p99_ms"]
    out.append(
        f"- loop lag p99: {wall:.2f} ms wall (idle floor {lag['idle_wall_p99_ms']:.2f} ms); "
        f"loop iteration CPU p99 {cpu:.2f} ms (target <= 2 ms): "
        f"wall {'met' if wall <= 2 else 'MISSED'}, CPU {'met' if cpu <= 2 else 'MISSED'}"
    )
    return "\n".join(out)


async def main_async(n: int, rounds: int, peer: bool = True) -> tuple[Any, Any]:
    with tempfile.TemporaryDirectory(prefix="convstore-async-bench-") as tmp:
        calls = await bench_calls(Path(tmp), n, rounds, peer)
        lag = await bench_lag(Path(tmp))
    return calls, lag


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.async_bench", description=__doc__)
    ap.add_argument("--n", type=int, default=2000, help="calls per column per round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (>= 3)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--no-peer", action="store_true", help="leave out SQLiteSession")
    args = ap.parse_args(argv)
    calls, lag = asyncio.run(main_async(args.n, max(3, args.rounds), not args.no_peer))
    print(markdown(calls, lag))
    print()
    print(targets(calls, lag))
    if args.json is not None:
        args.json.write_text(json.dumps({"calls": calls, "lag": lag}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

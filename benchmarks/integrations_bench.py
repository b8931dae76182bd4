"""Framework integrations against each framework's own default persistent store, same run.

- OpenAI Agents: ``ConvstoreSession`` vs the SDK's ``SQLiteSession`` — add one
  item, get the latest 200 (of 1000);
- LangGraph: ``ConvstoreSaver`` vs ``SqliteSaver`` (sync) and
  ``AsyncSqliteSaver`` (async) — put, get_tuple (latest), list (10 newest);
- Google ADK: ``ConvstoreSessionService`` vs ADK's ``SqliteSessionService``
  and ``DatabaseSessionService`` on SQLite — append_event (with a state
  delta), get_session (100 events).

Every store is file-backed in one temporary directory; each operation is
timed call by call (``perf_counter_ns``) after a warm-up; the table shows
p50 and p95 in microseconds and convstore's speed-up on p50. Run::

    python -m benchmarks.integrations_bench [--n 300] [--json out.json]

Needs the extras: ``pip install -e '.[integrations-test]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Sync = Callable[[], Any]
Async = Callable[[], Awaitable[Any]]

TARGETS = [
    ("openai-agents", "add_items(1)", "SQLiteSession", 3.0),
    ("openai-agents", "get_items(200)", "SQLiteSession", 2.0),
    ("langgraph", "put", "SqliteSaver", 1.0),
    ("langgraph", "get_tuple", "SqliteSaver", 1.0),
    ("adk", "append_event", "DatabaseSessionService", 5.0),
    ("adk", "append_event", "SqliteSessionService", 1.0),
]


def _stats(samples: list[int]) -> dict[str, float]:
    samples = sorted(samples)
    n = len(samples)
    return {
        "n": n,
        "p50_us": statistics.median(samples) / 1000,
        "p95_us": samples[min(n - 1, int(n * 0.95))] / 1000,
    }


def _time_sync(fn: Sync, n: int, warm: int) -> dict[str, float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t)
    return _stats(out)


async def _time_async(fn: Async, n: int, warm: int) -> dict[str, float]:
    for _ in range(warm):
        await fn()
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        await fn()
        out.append(time.perf_counter_ns() - t)
    return _stats(out)


def _item(i: int) -> dict[str, Any]:
    return {"role": "user", "content": f"message {i}: what is the weather in Paris today?"}


async def bench_openai_agents(root: Path, n: int) -> dict[str, dict[str, Any]]:
    """``add_items([one])`` and ``get_items(200)`` on a 1000-item session."""
    from agents import SQLiteSession

    from convstore.integrations.openai_agents import ConvstoreSession

    results: dict[str, dict[str, Any]] = {}
    for name, make in (
        ("SQLiteSession", lambda: SQLiteSession("bench", root / "agents-sdk.db")),
        ("convstore", lambda: ConvstoreSession("bench", root / "agents-convstore.db")),
    ):
        session = make()
        counter = iter(range(10**9))
        add = await _time_async(lambda s=session, c=counter: s.add_items([_item(next(c))]), n, 20)
        while len(await session.get_items()) < 1000:
            await session.add_items([_item(next(counter)) for _ in range(100)])
        get = await _time_async(lambda s=session: s.get_items(limit=200), n, 10)
        assert len(await session.get_items(limit=200)) == 200
        results[name] = {"add_items(1)": add, "get_items(200)": get}
        session.close()
    return results


def _checkpoint(step: int) -> Any:
    from langgraph.checkpoint.base import empty_checkpoint

    cp = empty_checkpoint()
    cp["id"] = str(uuid.uuid1())  # time-ordered, like LangGraph's uuid6
    cp["channel_values"] = {
        "messages": [{"role": "user", "content": f"turn {i} " * 8} for i in range(step % 20)],
        "step": step,
    }
    cp["channel_versions"] = {"messages": f"{step:032}.0", "step": f"{step:032}.0"}
    return cp


def _lg_ops(saver: Any, n: int) -> dict[str, Any]:
    config = {"configurable": {"thread_id": "bench", "checkpoint_ns": ""}}
    steps = iter(range(10**9))

    def put() -> None:
        step = next(steps)
        saver.put(config, _checkpoint(step), {"source": "loop", "step": step}, {})

    out = {"put": _time_sync(put, n, 20)}
    out["get_tuple"] = _time_sync(lambda: saver.get_tuple(config), n, 10)
    out["list(10)"] = _time_sync(lambda: list(saver.list(config, limit=10)), max(n // 3, 10), 3)
    return out


async def _lg_aops(saver: Any, n: int) -> dict[str, Any]:
    config = {"configurable": {"thread_id": "abench", "checkpoint_ns": ""}}
    steps = iter(range(10**9))

    async def put() -> None:
        step = next(steps)
        await saver.aput(config, _checkpoint(step), {"source": "loop", "step": step}, {})

    async def lst() -> None:
        [x async for x in saver.alist(config, limit=10)]

    out = {"aput": await _time_async(put, n, 20)}
    out["aget_tuple"] = await _time_async(lambda: saver.aget_tuple(config), n, 10)
    out["alist(10)"] = await _time_async(lst, max(n // 3, 10), 3)
    return out


async def bench_langgraph(root: Path, n: int) -> dict[str, dict[str, Any]]:
    """put, get_tuple and list; sync against SqliteSaver, async against AsyncSqliteSaver."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    from convstore.integrations.langgraph import ConvstoreSaver

    results: dict[str, dict[str, Any]] = {}
    with SqliteSaver.from_conn_string(str(root / "lg-sqlite.db")) as saver:
        results["SqliteSaver"] = _lg_ops(saver, n)
    async with AsyncSqliteSaver.from_conn_string(str(root / "lg-asqlite.db")) as asaver:
        results["AsyncSqliteSaver"] = await _lg_aops(asaver, n)
    with ConvstoreSaver.from_path(root / "lg-convstore.db") as ours:
        results["convstore"] = _lg_ops(ours, n)
        results["convstore"].update(await _lg_aops(ours, n))
    return results


async def bench_adk(root: Path, n: int) -> dict[str, dict[str, Any]]:
    """append_event (with a state delta) and get_session (100 events)."""
    from google.adk.events import Event, EventActions
    from google.adk.sessions import DatabaseSessionService
    from google.adk.sessions.sqlite_session_service import SqliteSessionService
    from google.genai import types

    from convstore.integrations.adk import ConvstoreSessionService

    def event(i: int) -> Event:
        return Event(
            invocation_id="inv",
            author="user",
            content=types.Content(role="user", parts=[types.Part(text=f"message {i}")]),
            actions=EventActions(state_delta={"turn": i, "user:last": i}),
        )

    results: dict[str, dict[str, Any]] = {}
    services = [
        ("DatabaseSessionService", DatabaseSessionService(f"sqlite+aiosqlite:///{root}/adk-db.db")),
        ("SqliteSessionService", SqliteSessionService(str(root / "adk-sqlite.db"))),
        ("convstore", ConvstoreSessionService(root / "adk-convstore.db")),
    ]
    for name, service in services:
        session = await service.create_session(app_name="bench", user_id="u")
        counter = iter(range(10**9))
        holder = [session]

        async def append(
            service: Any = service, holder: list[Any] = holder, c: Any = counter
        ) -> None:
            await service.append_event(holder[0], event(next(c)))

        m = max(n // 3, 30) if name == "DatabaseSessionService" else n
        app = await _time_async(append, m, 10)
        reader = await service.create_session(app_name="bench", user_id="u")
        for i in range(100):
            await service.append_event(reader, event(i))

        async def get(service: Any = service, sid: str = reader.id) -> None:
            await service.get_session(app_name="bench", user_id="u", session_id=sid)

        got = await _time_async(get, max(n // 3, 30), 5)
        results[name] = {"append_event": app, "get_session(100)": got}
        close = getattr(service, "close", None)
        if close is not None:
            await close()
    return results


def render(all_results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Markdown: one table per framework, then the targets."""
    lines: list[str] = []
    for framework, systems in all_results.items():
        ops: list[str] = []
        for per in systems.values():
            ops += [op for op in per if op not in ops]
        lines += [f"### {framework}", "", "| operation | store | p50 µs | p95 µs | speed-up |"]
        lines.append("|---|---|---:|---:|---:|")
        for op in ops:
            ours = systems.get("convstore", {}).get(op)
            for system, per in systems.items():
                if op not in per:
                    continue
                s = per[op]
                ratio = (
                    f"{s['p50_us'] / ours['p50_us']:.1f}x" if ours and system != "convstore" else ""
                )
                lines.append(
                    f"| `{op}` | {system} | {s['p50_us']:.1f} | {s['p95_us']:.1f} | {ratio} |"
                )
        lines.append("")
    lines += ["### Targets (convstore p50 speed-up)", ""]
    for framework, op, peer, want in TARGETS:
        systems = all_results.get(framework, {})
        if peer in systems and "convstore" in systems:
            got = systems[peer][op]["p50_us"] / systems["convstore"][op]["p50_us"]
            mark = "met" if got >= want else "MISSED"
            lines.append(f"- {framework} `{op}` vs {peer}: {got:.1f}x (target >= {want:g}x) {mark}")
    return "\n".join(lines) + "\n"


async def run(n: int, only: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Run the chosen frameworks' benchmarks in one temporary directory."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="convstore-integrations-") as tmp:
        root = Path(tmp)
        if "openai-agents" in only:
            out["openai-agents"] = await bench_openai_agents(root, n)
        if "langgraph" in only:
            out["langgraph"] = await bench_langgraph(root, n)
        if "adk" in only:
            out["adk"] = await bench_adk(root, n)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: print the tables; ``--json`` also writes the raw numbers."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.integrations_bench", description=__doc__
    )
    ap.add_argument("--n", type=int, default=300, help="timed calls per operation (default 300)")
    ap.add_argument(
        "--only",
        default="openai-agents,langgraph,adk",
        help="comma-separated frameworks (default: all three)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)  # ADK's DatabaseSessionService warns on every event
    results = asyncio.run(run(args.n, args.only.split(",")))
    sys.stdout.write(render(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

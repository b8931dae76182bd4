"""convstore's ``ConvstoreSaver`` held to LangGraph's own checkpointer contract.

- ``langgraph-checkpoint-conformance`` (the PyPI package, run as installed,
  nothing vendored) drives the async methods: once on the saver itself and
  once on a view whose async methods call the sync ones, so both halves pass.
- A real ``StateGraph`` with ``interrupt()`` and time travel gives the same
  states and history as ``SqliteSaver`` (the scenario of LangGraph's
  human-in-the-loop and time-travel how-tos).
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import pytest

pytest.importorskip("langgraph.checkpoint.conformance", reason="the langgraph extra is missing")

from integration_backends import backend_service, run_with_service
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from convstore import SessionStore
from convstore.integrations.langgraph import ConvstoreSaver


class SyncBackedSaver(ConvstoreSaver):
    """The view for the second conformance run: every async method calls the sync one."""

    async def aget_tuple(self, config: Any) -> Any:
        return self.get_tuple(config)

    async def alist(  # type: ignore[override]
        self,
        config: Any,
        *,
        filter: dict[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> AsyncIterator[Any]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)


def _conformance(
    saver_type: type[ConvstoreSaver], name: str, backend: str, request: pytest.FixtureRequest
) -> None:
    @checkpointer_test(name=name)
    async def factory() -> AsyncGenerator[ConvstoreSaver, None]:
        with backend_service(backend, request) as service:
            yield saver_type(service)

    report = asyncio.run(validate(factory))
    failures = {cap: r.failures for cap, r in report.results.items() if r.failures}
    assert report.passed_all_base(), failures
    assert report.passed_all(), failures


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_conformance_suite_async_methods(backend: str, request: pytest.FixtureRequest) -> None:
    _conformance(ConvstoreSaver, "ConvstoreSaver", backend, request)


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_conformance_suite_sync_methods_through_a_view(
    backend: str, request: pytest.FixtureRequest
) -> None:
    _conformance(SyncBackedSaver, "ConvstoreSaver (sync methods)", backend, request)


# -- storage -------------------------------------------------------------------------------------


def test_checkpoints_and_writes_are_bytes_and_the_file_keeps_its_sessions(tmp_path: Path) -> None:
    db = tmp_path / "graph.db"
    with SessionStore(db) as store:
        store.create_session("chat", directory="/p")
        store.append_event_at_head("chat", "e1", "i", "msg", '{"text": "hi"}')
    with ConvstoreSaver.from_path(db) as saver:
        config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        saved = saver.put(config, empty_checkpoint(), {"step": -1}, {})
        saver.put_writes(saved, [("ch", {"v": 1})], "task-1")
        tup = saver.get_tuple(saved)
        assert tup is not None and tup.pending_writes == [("task-1", "ch", {"v": 1})]
    with SessionStore(db) as store:
        kinds = store.connection.execute(
            "SELECT DISTINCT typeof(data) FROM session_blobs"
        ).fetchall()
        assert kinds == [("blob",)]
        assert [e.id for e in store.load_events("chat")] == ["e1"]  # untouched
        assert store.get_session("langgraph:t") is not None
        saver = ConvstoreSaver(store)
        saver.delete_thread("t")
        assert store.get_session("langgraph:t") is None
        assert store.get_session("chat") is not None


# -- a real graph: interrupt + time travel, against SqliteSaver ------------------------------------


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def _graph(checkpointer: Any) -> Any:
    def plan(state: State) -> dict[str, list[str]]:
        return {"log": ["plan"]}

    def ask(state: State) -> dict[str, list[str]]:
        answer = interrupt({"question": "go?"})
        return {"log": [f"human:{answer}"]}

    def act(state: State) -> dict[str, list[str]]:
        return {"log": ["act"]}

    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("ask", ask)
    builder.add_node("act", act)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "ask")
    builder.add_edge("ask", "act")
    builder.add_edge("act", END)
    return builder.compile(checkpointer=checkpointer)


def _scenario(checkpointer: Any) -> list[Any]:
    graph = _graph(checkpointer)
    config: Any = {"configurable": {"thread_id": "hitl"}}
    seen: list[Any] = []
    first = graph.invoke({"log": ["start"]}, config)
    seen.append(sorted(k for k in first if k != "__interrupt__"))
    state = graph.get_state(config)
    seen.append((state.values, state.next, [t.interrupts[0].value for t in state.tasks]))
    final = graph.invoke(Command(resume="yes"), config)
    seen.append(final)
    history = list(graph.get_state_history(config))
    seen.append(
        [(h.values, h.next, h.metadata.get("step") if h.metadata else None) for h in history]
    )
    # Time travel: resume from the checkpoint before "ask", answer differently.
    before_ask = next(h for h in history if h.next == ("ask",))
    replay = graph.invoke(Command(resume="no"), before_ask.config)
    seen.append(replay)
    forked = graph.update_state(before_ask.config, {"log": ["edited"]})
    seen.append(graph.get_state(forked).values)
    seen.append(len(list(graph.get_state_history(config))))
    return seen


_AWKWARD_METADATA: list[dict[str, Any]] = [
    {"step": 2**64, "neg": -(2**63) - 1, "big": 10**30},  # exact ints past 64 bits
    {"float": 0.1 + 0.2, "tiny": 5e-324, "neg0": -0.0, "text": "naïve \u2028 \U0001f600"},
    {"nested": {"a": [1, None, True, {"b": "1234567890123456789"}]}, "": ""},
]


@pytest.mark.parametrize("extra", _AWKWARD_METADATA)
def test_get_tuple_metadata_is_what_json_reads(tmp_path: Path, extra: dict[str, Any]) -> None:
    """get_tuple's metadata equals json.loads of what was stored (the fast parser never drifts)."""
    import json
    import math

    from convstore.integrations.langgraph import _loads

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return (math.isnan(a) and math.isnan(b)) or (a == b and repr(a) == repr(b))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return type(a) is type(b) and a == b

    for text in (
        json.dumps({"metadata": extra}, ensure_ascii=False),
        json.dumps({"nan": float("nan"), "inf": float("inf"), "ninf": -float("inf")}),
        '{"lone": "\\ud800", "dup": 1, "dup": 2, "e": 1e400}',
    ):
        assert same(_loads(text), json.loads(text)), text
    with ConvstoreSaver.from_path(tmp_path / "m.db") as saver:
        config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        saved = saver.put(config, empty_checkpoint(), {"source": "input", **extra}, {})
        for read in (config, saved):
            tup = saver.get_tuple(read)
            assert tup is not None
            assert same(tup.metadata, {"source": "input", **extra})
            listed = next(iter(saver.list(read)))
            assert same(listed.metadata, tup.metadata)


def test_state_graph_with_interrupt_and_time_travel_matches_sqlite_saver(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "lg.sqlite")) as reference:
        expected = _scenario(reference)
    with ConvstoreSaver.from_path(tmp_path / "convstore.db") as saver:
        assert _scenario(saver) == expected


def test_the_same_graph_on_the_team_server(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The PostgreSQL service: sync methods, and async ones through its async twin."""
    with SqliteSaver.from_conn_string(str(tmp_path / "lg.sqlite")) as reference:
        expected = _scenario(reference)
    with backend_service("postgres", request) as service:
        assert _scenario(ConvstoreSaver(service)) == expected

    async def main(saver: ConvstoreSaver) -> Any:
        graph = _graph(saver)
        config: Any = {"configurable": {"thread_id": "a"}}
        await graph.ainvoke({"log": ["start"]}, config)
        return await graph.ainvoke(Command(resume="ok"), config)

    async def on_async_service(service: Any) -> Any:
        return await main(ConvstoreSaver(service))

    assert run_with_service("postgres-async", request, on_async_service) == {
        "log": ["start", "plan", "human:ok", "act"]
    }


def test_async_graph_run(tmp_path: Path) -> None:
    async def main() -> Any:
        with ConvstoreSaver.from_path(tmp_path / "a.db") as saver:
            graph = _graph(saver)
            config: Any = {"configurable": {"thread_id": "a"}}
            await graph.ainvoke({"log": ["start"]}, config)
            return await graph.ainvoke(Command(resume="ok"), config)

    assert asyncio.run(main()) == {"log": ["start", "plan", "human:ok", "act"]}

"""convstore's ``ConvstoreSession`` against the OpenAI Agents SDK's own ``SQLiteSession``.

The contract tests are ported from the SDK's ``tests/memory/test_session.py``
and ``tests/memory/test_session_limit.py`` (openai/openai-agents-python);
the differential test drives both sessions with the same random call
sequences and requires identical results.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

agents = pytest.importorskip("agents", reason="the openai-agents extra is not installed")

from agents import Agent, RunConfig, Runner, SessionSettings, SQLiteSession  # noqa: E402
from agents.memory import Session  # noqa: E402
from agents.testing import ScriptedModel  # noqa: E402
from agents.tracing import set_tracing_disabled  # noqa: E402
from conftest import unique_owner  # noqa: E402
from integration_backends import BACKENDS, backend_service, run_with_service  # noqa: E402
from openai.types.responses import ResponseOutputMessage, ResponseOutputText  # noqa: E402

from convstore import LocalSessionService, SessionStore  # noqa: E402
from convstore.integrations._common import acall  # noqa: E402
from convstore.integrations.openai_agents import ITEM_EVENT_TYPE, ConvstoreSession  # noqa: E402

set_tracing_disabled(True)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def text_message(content: str) -> ResponseOutputMessage:
    """The SDK tests' ``get_text_message`` (tests/test_responses.py)."""
    return ResponseOutputMessage(
        id="1",
        type="message",
        role="assistant",
        content=[ResponseOutputText(text=content, type="output_text", annotations=[], logprobs=[])],
        status="completed",
    )


# -- realistic items -------------------------------------------------------------------------


WORDS = ["weather", "Paris", "naïve", "日本語", "emoji 🎉", 'quote "x"', "new\nline", "'; DROP"]


def random_item(rng: random.Random, n: int) -> dict[str, Any]:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
    kind = rng.randrange(6)
    if kind == 0:
        return {"role": "user", "content": text}
    if kind == 1:
        return {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
    if kind == 2:
        return {
            "type": "function_call",
            "id": f"fc_{n}",
            "call_id": f"call_{n}",
            "name": "get_weather",
            "arguments": json.dumps({"city": text, "days": rng.randint(1, 7)}),
            "status": "completed",
        }
    if kind == 3:
        return {"type": "function_call_output", "call_id": f"call_{n}", "output": text}
    if kind == 4:
        return {
            "type": "reasoning",
            "id": f"rs_{n}",
            "summary": [{"type": "summary_text", "text": text}],
        }
    return {"role": "system", "content": text, "extra": {"n": n, "f": 1.5, "none": None}}


async def _differential(service: Any, seed: int, ops: int = 25) -> None:
    rng = random.Random(seed)
    ours = ConvstoreSession(f"s{seed}", service=service)
    theirs = SQLiteSession(f"s{seed}")
    n = 0
    try:
        for _ in range(ops):
            op = rng.choices(["add", "get", "pop", "clear"], weights=[5, 4, 2, 1])[0]
            if op == "add":
                items = [random_item(rng, n + i) for i in range(rng.randint(0, 4))]
                n += len(items)
                await ours.add_items(items)
                await theirs.add_items(items)
            elif op == "get":
                limit = rng.choice([None, None, 0, 1, 2, 3, 5, 50, -1])
                assert await ours.get_items(limit) == await theirs.get_items(limit), (seed, limit)
            elif op == "pop":
                assert await ours.pop_item() == await theirs.pop_item(), seed
            else:
                await ours.clear_session()
                await theirs.clear_session()
        assert await ours.get_items() == await theirs.get_items()
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_results_as_sqlite_session_on_200_random_sequences(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """On a local file, on the PostgreSQL team server, and through its async service."""
    seeds = {"local": 200, "postgres": 100}.get(backend, 50)

    async def main(service: Any) -> None:
        for seed in range(seeds):
            await _differential(service, seed)

    run_with_service(backend, request, main)


def test_session_settings_limit_is_the_default_like_the_sdk() -> None:
    """Ported from test_session.py::test_get_items_uses_session_settings_limit."""

    async def main() -> None:
        for settings in (SessionSettings(limit=3), {"limit": 3}):
            ours = ConvstoreSession("s", session_settings=settings)
            theirs = SQLiteSession("s", session_settings=settings)
            items = [{"role": "user", "content": f"m{i}"} for i in range(5)]
            for s in (ours, theirs):
                await s.add_items(items)  # type: ignore[arg-type]
            assert await ours.get_items() == await theirs.get_items() == items[-3:]
            assert await ours.get_items(limit=5) == items  # explicit limit wins
            ours.close()
            theirs.close()

    run(main())


# -- the protocol --------------------------------------------------------------------------------


def test_is_a_runtime_checkable_session_with_its_attributes() -> None:
    session = ConvstoreSession("abc")
    assert isinstance(session, Session)
    assert session.session_id == "abc"
    assert session.session_settings == SessionSettings()
    session.close()


def test_pop_and_clear_hide_rows_and_keep_them(tmp_path: Path) -> None:
    db = tmp_path / "agents.db"

    async def main() -> None:
        session = ConvstoreSession("chat", db)
        await session.add_items([{"role": "user", "content": c} for c in "ab"])
        assert await session.pop_item() == {"role": "user", "content": "b"}
        await session.add_items([{"role": "user", "content": "c"}])
        assert [i["content"] for i in await session.get_items()] == ["a", "c"]
        await session.clear_session()
        assert await session.get_items() == []
        await session.add_items([{"role": "user", "content": "d"}])
        assert await session.get_items() == [{"role": "user", "content": "d"}]
        session.close()

    run(main())
    with SessionStore(db) as store:
        first = store.get_session("chat")
        assert first is not None and first.archived_at is not None  # cleared: archived, kept
        events = store.load_events("chat")
        assert [json.loads(e.event_data)["content"] for e in events] == ["a", "b", "c"]
        assert {e.event_type for e in events} == {ITEM_EVENT_TYPE}
        second = store.get_session("chat~2")
        assert second is not None and second.archived_at is None
        assert [json.loads(e.event_data)["content"] for e in store.history("chat~2")] == ["d"]


def test_two_sessions_one_file_stay_apart(tmp_path: Path) -> None:
    """Ported from test_session.py::test_session_memory_pop_different_sessions."""

    async def main() -> None:
        one = ConvstoreSession("one", tmp_path / "x.db")
        two = ConvstoreSession("two", tmp_path / "x.db")
        await one.add_items([{"role": "user", "content": "1"}])
        await two.add_items([{"role": "user", "content": "2"}])
        assert await one.pop_item() == {"role": "user", "content": "1"}
        assert await two.get_items() == [{"role": "user", "content": "2"}]
        assert await one.pop_item() is None
        one.close()
        two.close()

    run(main())


class AsyncService:
    """An async facade over the local service: every method a coroutine (like the team server's)."""

    def __init__(self, inner: LocalSessionService) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def test_an_async_service_is_awaited() -> None:
    async def main() -> None:
        with LocalSessionService(":memory:") as inner:
            session = ConvstoreSession("a", service=AsyncService(inner))
            await session.add_items([{"role": "user", "content": "x"}])
            assert await session.get_items() == [{"role": "user", "content": "x"}]
            assert await session.pop_item() == {"role": "user", "content": "x"}
            await session.clear_session()
            assert inner.get_session("a") is not None

    run(main())


# -- a real Runner over two turns ----------------------------------------------------------------


def test_runner_second_turn_sees_the_first(tmp_path: Path) -> None:
    """Ported from test_session.py::test_session_memory_basic_functionality_parametrized."""

    async def main() -> None:
        session = ConvstoreSession("runner", tmp_path / "runner.db")
        model = ScriptedModel()
        agent = Agent(name="test", model=model)
        model.enqueue([text_message("San Francisco")])
        first = await Runner.run(agent, "What city is the Golden Gate Bridge in?", session=session)
        assert first.final_output == "San Francisco"
        model.enqueue([text_message("California")])
        second = await Runner.run(agent, "What state is it in?", session=session)
        assert second.final_output == "California"
        seen = model.calls[-1].input
        assert isinstance(seen, list)
        assert seen[0].get("content") == "What city is the Golden Gate Bridge in?"
        assert seen[1]["content"][0]["text"] == "San Francisco"  # type: ignore[index]
        assert seen[-1].get("content") == "What state is it in?"
        assert len(await session.get_items()) == 4
        # session_settings through RunConfig (test_session_limit.py::test_session_limit_parameter)
        model.enqueue([text_message("Reply 3")])
        await Runner.run(
            agent,
            "Message 3",
            session=session,
            run_config=RunConfig(session_settings=SessionSettings(limit=2)),
        )
        assert len(model.calls[-1].input) == 3
        session.close()

    run(main())


def test_runs_on_convstores_own_async_service(tmp_path: Path) -> None:
    from convstore.aio import AsyncLocalSessionService

    async def main() -> None:
        async with await AsyncLocalSessionService.open(tmp_path / "a.db") as backend:
            session = ConvstoreSession("a", service=backend)
            await session.add_items([{"role": "user", "content": c} for c in "xyz"])
            assert await session.pop_item() == {"role": "user", "content": "z"}
            assert [i["content"] for i in await session.get_items(limit=1)] == ["y"]
            await session.clear_session()
            assert await session.get_items() == []

    run(main())


# -- races: clear_session and add_items from real threads, each with its own connection ----------


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_concurrent_clears_and_adds_never_orphan_a_generation(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Archive + pointer move is one transaction: no live generation nobody points at.

    Each round, threads (each with its own backend connection, as separate
    processes would have) clear and add at once. Afterwards exactly one
    generation may be live and it is the current one; the items are either
    visible (added after the clear) or in an archived generation (before it).
    """
    import threading

    from convstore.integrations.openai_agents import _CURRENT

    def open_service() -> Any:
        if backend == "local":
            return LocalSessionService(tmp_path / "race.db")
        from convstore.postgres import PostgresSessionService

        return PostgresSessionService(request.getfixturevalue("pg_dsn"), owner=owner, max_size=2)

    owner = unique_owner("race")
    services = [open_service() for _ in range(4)]
    try:
        for round_ in range(15):
            sid = f"chat{round_}"
            run(
                ConvstoreSession(sid, service=services[0]).add_items(
                    [{"role": "user", "content": "0"}]
                )
            )
            barrier = threading.Barrier(4)
            errors: list[BaseException] = []

            def work(
                i: int,
                sid: str = sid,
                barrier: threading.Barrier = barrier,
                errors: list[BaseException] = errors,
            ) -> None:
                session = ConvstoreSession(sid, service=services[i])

                async def go() -> None:
                    barrier.wait()
                    if i % 2:
                        await session.clear_session()
                    else:
                        await session.add_items([{"role": "user", "content": f"t{i}"}])

                try:
                    run(go())
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            check = services[0]
            current = check.get_metadata(sid, _CURRENT) or sid
            generations = [sid] + [f"{sid}~{n}" for n in range(2, 8)]
            live = [
                g
                for g in generations
                if (s := check.get_session(g)) is not None and s.archived_at is None
            ]
            assert live in ([], [current]), (round_, live, current)
            assert check.get_session(sid).archived_at is not None  # two clears: one archived it
            seen = run(ConvstoreSession(sid, service=check).get_items())
            assert all(item["content"] in ("t0", "t2") for item in seen), seen
    finally:
        for service in services:
            service.close()


class _ClearsBefore:
    """A service that runs ``clear_session`` for ``sid`` just before calls to ``method``.

    The calls to ``method`` after the first ``skip`` each get a clear, until
    ``clears`` have run: a concurrent clear landing exactly in one of the
    adapter's read-then-write windows, placed by a hook instead of timing.
    Every method passes through as a coroutine (so the adapter awaits it
    whichever backend, sync or async, sits underneath); ``calls`` lists them.
    """

    def __init__(self, inner: Any, sid: str, method: str, clears: int, skip: int = 0) -> None:
        self._inner = inner
        self._sid = sid
        self._method = method
        self._skip = skip
        self.clears = clears
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        async def passthrough(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if name == self._method:
                if self._skip:
                    self._skip -= 1
                elif self.clears:
                    self.clears -= 1
                    await ConvstoreSession(self._sid, service=self._inner).clear_session()
            return await acall(self._inner, name, *args, **kwargs)

        return passthrough


@pytest.mark.parametrize("clears", [1, 2, 5])
@pytest.mark.parametrize("backend", BACKENDS)
def test_add_items_survives_clears_between_pointer_read_and_append(
    backend: str, clears: int, request: pytest.FixtureRequest
) -> None:
    """A clear between reading the pointer and appending: the items land in the new generation.

    The deterministic form of the race the threaded test above hits by
    chance: each clear archives the very generation the adder just read (the
    second one archives the generation the adder's retry has just created), so
    every append attempt but the last meets ``SessionArchived``. ``add_items``
    must never pass that on: it re-reads the pointer and appends there.
    """

    async def main(service: Any) -> None:
        from convstore.integrations.openai_agents import _CURRENT

        await ConvstoreSession("c", service=service).add_items([{"role": "user", "content": "0"}])
        racing = _ClearsBefore(service, "c", "append_events_at_head", clears)
        await ConvstoreSession("c", service=racing).add_items([{"role": "user", "content": "1"}])
        assert racing.clears == 0
        latest = f"c~{clears + 1}"
        assert await acall(service, "get_metadata", "c", _CURRENT) == latest
        assert await ConvstoreSession("c", service=service).get_items() == [
            {"role": "user", "content": "1"}
        ]
        for generation in ["c"] + [f"c~{n}" for n in range(2, clears + 1)]:
            stored = await acall(service, "get_session", generation)
            assert stored is not None and stored.archived_at is not None, generation
        assert (await acall(service, "get_session", latest)).archived_at is None

    run_with_service(backend, request, main)


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_items_follows_a_clear_between_pointer_read_and_lookup(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """A generation archived by a concurrent clear is followed, not "repaired".

    The clear lands after ``add_items`` read the pointer and before it looks
    the generation up: the adapter finds it archived, sees that the pointer
    has moved on (the clear moved it in the same transaction) and follows it,
    without writing the pointer itself — a stale write there could move it
    back past a later clear.
    """

    async def main(service: Any) -> None:
        from convstore.integrations.openai_agents import _CURRENT

        await ConvstoreSession("c", service=service).add_items([{"role": "user", "content": "0"}])
        # get_session #1 is the pointer read ("c" is live: it is current), #2 the lookup.
        racing = _ClearsBefore(service, "c", "get_session", clears=1, skip=1)
        await ConvstoreSession("c", service=racing).add_items([{"role": "user", "content": "1"}])
        assert racing.clears == 0
        assert "set_metadata" not in racing.calls
        assert await acall(service, "get_metadata", "c", _CURRENT) == "c~2"
        assert await ConvstoreSession("c", service=service).get_items() == [
            {"role": "user", "content": "1"}
        ]

    run_with_service(backend, request, main)


# -- compaction: the summary stands for the items it covers ----------------------------------------


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_after_compact_get_items_starts_at_the_summary(
    backend: str, request: pytest.FixtureRequest
) -> None:
    items = [{"role": "user", "content": f"m{i}"} for i in range(5)]

    async def main(service: Any) -> None:
        session = ConvstoreSession("c", service=service)
        await session.add_items(items)  # type: ignore[arg-type]
        events = service.history("c")
        summary = {"role": "system", "content": "m0..m2 in short"}
        service.compact("c", summary, through_event_id=events[2].id)
        assert await session.get_items() == [summary, items[3], items[4]]
        assert await session.get_items(limit=2) == items[3:]
        assert await session.get_items(limit=3) == [summary, *items[3:]]
        # A summary that is not an item becomes a system message with its content.
        service.compact("c", {"content": "all in short"}, through_event_id=events[4].id)
        assert await session.get_items() == [{"role": "system", "content": "all in short"}]
        await session.add_items([{"role": "user", "content": "after"}])
        assert [i["content"] for i in await session.get_items()] == ["all in short", "after"]
        # The originals stay in the log; popping the summary undoes the compaction.
        assert len(service.load_events("c")) == 8
        assert await session.pop_item() == {"role": "user", "content": "after"}
        assert await session.pop_item() == {"role": "system", "content": "all in short"}
        assert await session.get_items() == [summary, items[3], items[4]]

    with backend_service(backend, request) as service:
        run(main(service))


def test_careless_inputs_get_answers_not_tracebacks() -> None:
    """A huge limit, an id with '~', a pointer edited by hand: answers, never a raw error."""

    async def main() -> None:
        with LocalSessionService(":memory:") as service:
            session = ConvstoreSession("a~2", service=service)
            await session.add_items([{"role": "user", "content": "x"}])
            assert await session.get_items(limit=10**30) == [{"role": "user", "content": "x"}]
            await session.clear_session()
            assert service.get_session("a~2~2") is None  # created by the next add_items
            await session.add_items([{"role": "user", "content": "y"}])
            assert service.get_session("a~2~2") is not None
            service.set_metadata("a~2", "openai_agents.current", "a~2~oops")  # edited by hand
            assert await session.get_items() == []
            await session.add_items([{"role": "user", "content": "z"}])
            await session.clear_session()
            assert await session.get_items() == []
            assert service.history_tail("a~2~2", 10**30)[0].event_type == ITEM_EVENT_TYPE

    run(main())

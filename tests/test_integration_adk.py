"""convstore's ``ConvstoreSessionService`` held to Google ADK's session-service contract.

The contract tests are ported from ADK's
``tests/unittests/sessions/test_session_service.py`` (google/adk-python) and
run against both ADK's ``InMemorySessionService`` (so the ported expectations
are ADK's own) and convstore's service; a seeded differential test then
compares the two on random call sequences.
"""

from __future__ import annotations

import asyncio
import copy
import random
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.adk", reason="the adk extra is not installed")

from conftest import unique_owner
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events import Event, EventActions
from google.adk.sessions import InMemorySessionService, Session
from google.adk.sessions.base_session_service import GetSessionConfig
from google.genai import types
from integration_backends import BACKENDS, backend_service, run_with_service

from convstore import LocalSessionService, SessionStore
from convstore.integrations.adk import (
    EVENT_TYPE,
    ConvstoreSessionService,
    StaleSessionError,
    session_key,
)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def services() -> list[Any]:
    return [InMemorySessionService(), ConvstoreSessionService(":memory:")]


KINDS = ["in-memory", "convstore"]


def each_service(test: Any) -> None:
    for service in services():
        run(test(service))


def user_event(text: str, delta: dict[str, Any] | None = None, **kw: Any) -> Event:
    return Event(
        invocation_id="invocation",
        author="user",
        content=types.Content(role="user", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=delta or {}),
        **kw,
    )


# -- ported from test_session_service.py ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_get_empty_session(kind: str) -> None:
    async def t(service: Any) -> None:
        assert not await service.get_session(app_name="my_app", user_id="u", session_id="123")

    run(t(services()[KINDS.index(kind)]))


@pytest.mark.parametrize("kind", KINDS)
def test_create_get_session(kind: str) -> None:
    async def t(service: Any) -> None:
        state = {"key": "value"}
        session = await service.create_session(app_name="my_app", user_id="user", state=state)
        assert session.app_name == "my_app" and session.user_id == "user" and session.id
        assert session.state == state
        got = await service.get_session(app_name="my_app", user_id="user", session_id=session.id)
        assert got == session
        assert isinstance(got.last_update_time, float)
        await service.delete_session(app_name="my_app", user_id="user", session_id=session.id)
        assert not await service.get_session(
            app_name="my_app", user_id="user", session_id=session.id
        )

    run(t(services()[KINDS.index(kind)]))


@pytest.mark.parametrize("kind", KINDS)
def test_create_and_list_sessions(kind: str) -> None:
    async def t(service: Any) -> None:
        ids = ["session" + str(i) for i in range(5)]
        for sid in ids:
            await service.create_session(app_name="my_app", user_id="test_user", session_id=sid)
        listed = await service.list_sessions(app_name="my_app", user_id="test_user")
        assert [s.id for s in listed.sessions] == ids
        assert all(not s.events for s in listed.sessions)

    run(t(services()[KINDS.index(kind)]))


@pytest.mark.parametrize("kind", KINDS)
def test_session_state(kind: str) -> None:
    async def t(service: Any) -> None:
        s11 = await service.create_session(
            app_name="my_app", user_id="user1", state={"key11": "value11"}, session_id="session11"
        )
        await service.create_session(
            app_name="my_app", user_id="user1", state={"key12": "value12"}, session_id="session12"
        )
        await service.create_session(app_name="my_app", user_id="user2", session_id="session2")
        delta = {"app:key": "value", "user:key1": "value1", "temp:key": "temp", "key11": "new"}
        await service.append_event(session=s11, event=user_event("text", delta))
        assert s11.state.get("app:key") == "value"
        assert s11.state.get("key11") == "new"
        assert s11.state.get("user:key1") == "value1"
        assert s11.state.get("temp:key") == "temp"  # applied in memory, never stored
        s12 = await service.get_session(app_name="my_app", user_id="user1", session_id="session12")
        assert s12.state.get("key12") == "value12"
        assert s12.state.get("user:key1") == "value1"
        assert not s12.state.get("temp:key")
        s2 = await service.get_session(app_name="my_app", user_id="user2", session_id="session2")
        assert s2.state.get("app:key") == "value"
        assert not s2.state.get("user:key1")
        s11 = await service.get_session(app_name="my_app", user_id="user1", session_id="session11")
        assert s11.state.get("key11") == "new"
        assert not s11.state.get("temp:key")
        assert await service.get_user_state(app_name="my_app", user_id="user1") == {
            "key1": "value1"
        }

    run(t(services()[KINDS.index(kind)]))


@pytest.mark.parametrize("kind", KINDS)
def test_create_new_session_will_merge_states(kind: str) -> None:
    async def t(service: Any) -> None:
        s1 = await service.create_session(
            app_name="my_app", user_id="user", state={"key1": "value1"}, session_id="session1"
        )
        delta = {"app:key": "value", "user:key1": "value1", "temp:key": "temp"}
        await service.append_event(session=s1, event=user_event("text", delta))
        s2 = await service.create_session(
            app_name="my_app", user_id="user", state={}, session_id="session2"
        )
        assert s2.state.get("app:key") == "value"
        assert s2.state.get("user:key1") == "value1"
        assert not s2.state.get("key1")
        assert not s2.state.get("temp:key")

    run(t(services()[KINDS.index(kind)]))


@pytest.mark.parametrize("kind", KINDS)
def test_append_event_bytes(kind: str) -> None:
    async def t(service: Any) -> None:
        session = await service.create_session(app_name="my_app", user_id="user")
        content = types.Content(
            role="user",
            parts=[types.Part.from_bytes(data=b"test_image_data", mime_type="image/png")],
        )
        grounding = types.GroundingMetadata(
            search_entry_point=types.SearchEntryPoint(sdk_blob=b"test_sdk_blob")
        )
        event = Event(
            invocation_id="invocation",
            author="user",
            content=content,
            grounding_metadata=grounding,
        )
        await service.append_event(session=session, event=event)
        session = await service.get_session(
            app_name="my_app", user_id="user", session_id=session.id
        )
        assert len(session.events) == 1
        assert session.events[0].content == content
        assert session.events[0].grounding_metadata == grounding

    run(t(services()[KINDS.index(kind)]))


@pytest.mark.parametrize("kind", KINDS)
def test_append_event_complete(kind: str) -> None:
    async def t(service: Any) -> None:
        session = await service.create_session(app_name="my_app", user_id="user")
        event = Event(
            invocation_id="invocation",
            author="user",
            content=types.Content(role="user", parts=[types.Part(text="test_text")]),
            turn_complete=True,
            partial=False,
            actions=EventActions(
                artifact_delta={"file": 0}, transfer_to_agent="agent", escalate=True
            ),
            long_running_tool_ids={"tool1"},
            error_code="error_code",
            error_message="error_message",
            interrupted=True,
        )
        await service.append_event(session=session, event=event)
        got = await service.get_session(app_name="my_app", user_id="user", session_id=session.id)
        assert got == session

    run(t(services()[KINDS.index(kind)]))


@pytest.mark.parametrize("kind", KINDS)
def test_get_session_with_config(kind: str) -> None:
    async def t(service: Any) -> None:
        session = await service.create_session(app_name="my_app", user_id="user")
        for i in range(1, 6):
            await service.append_event(session, Event(author="user", timestamp=i))

        async def get(**config: Any) -> list[float]:
            got = await service.get_session(
                app_name="my_app",
                user_id="user",
                session_id=session.id,
                config=GetSessionConfig(**config) if config else None,
            )
            return [e.timestamp for e in got.events]

        assert await get() == [1, 2, 3, 4, 5]
        assert await get(num_recent_events=3) == [3, 4, 5]
        assert await get(num_recent_events=0) == []
        assert await get(after_timestamp=4.0) == [4, 5]
        assert await get(after_timestamp=50) == []
        assert await get(after_timestamp=4.0, num_recent_events=3) == [4, 5]

    run(t(services()[KINDS.index(kind)]))


# -- ADK's errors, and what convstore adds --------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_errors_are_adks(kind: str) -> None:
    async def t(service: Any) -> None:
        await service.create_session(app_name="a", user_id="u", session_id="s")
        with pytest.raises(AlreadyExistsError):
            await service.create_session(app_name="a", user_id="u", session_id="s")
        ghost = Session(app_name="a", user_id="u", id="nope")
        with pytest.raises(SessionNotFoundError):
            await service.append_event(ghost, user_event("x"))
        # a deleted id can be created again, empty
        s = await service.get_session(app_name="a", user_id="u", session_id="s")
        await service.append_event(s, user_event("x", {"k": 1}))
        await service.delete_session(app_name="a", user_id="u", session_id="s")
        again = await service.create_session(app_name="a", user_id="u", session_id="s")
        assert again.state == {} and again.events == []
        await service.delete_session(app_name="a", user_id="u", session_id="missing")

    run(t(services()[KINDS.index(kind)]))


def test_stale_session_is_refused_by_the_head() -> None:
    async def t() -> None:
        service = ConvstoreSessionService(":memory:")
        created = await service.create_session(app_name="a", user_id="u", session_id="s")
        one = await service.get_session(app_name="a", user_id="u", session_id="s")
        two = await service.get_session(app_name="a", user_id="u", session_id="s")
        # Same timestamps everywhere: only the head can tell the copies apart.
        ts = created.last_update_time
        await service.append_event(one, user_event("first", timestamp=ts))
        with pytest.raises(StaleSessionError):
            await service.append_event(two, user_event("second", timestamp=ts))
        assert two.events == []  # nothing applied to the stale copy
        fresh = await service.get_session(app_name="a", user_id="u", session_id="s")
        await service.append_event(fresh, user_event("second", timestamp=ts))
        assert len(fresh.events) == 2

    run(t())


def test_sub_second_timestamps_survive(tmp_path: Path) -> None:
    async def t() -> None:
        service = ConvstoreSessionService(tmp_path / "adk.db")
        s = await service.create_session(app_name="a", user_id="u", session_id="s")
        await service.append_event(s, user_event("x", timestamp=1_700_000_000.123456))
        await service.close()
        reopened = ConvstoreSessionService(tmp_path / "adk.db")
        got = await reopened.get_session(app_name="a", user_id="u", session_id="s")
        assert got.events[0].timestamp == 1_700_000_000.123456
        assert got.last_update_time == 1_700_000_000.123456
        await reopened.close()

    run(t())
    with SessionStore(tmp_path / "adk.db") as store:
        events = store.load_events(session_key("a", "u", "s"))
        assert [e.event_type for e in events] == [EVENT_TYPE]


class AsyncService:
    """An async facade over the local service: every method a coroutine."""

    def __init__(self, inner: LocalSessionService) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def test_an_async_service_is_awaited() -> None:
    async def t() -> None:
        with LocalSessionService(":memory:") as inner:
            service = ConvstoreSessionService(service=AsyncService(inner))
            s = await service.create_session(app_name="a", user_id="u", state={"user:x": 1})
            await service.append_event(s, user_event("hi", {"k": "v"}))
            got = await service.get_session(app_name="a", user_id="u", session_id=s.id)
            assert got == s
            assert len((await service.list_sessions(app_name="a")).sessions) == 1

    run(t())


# -- differential: the same random call sequences as InMemorySessionService ----------------------


def _normal(session: Session | None) -> Any:
    """A session without the creation clock (each service reads its own)."""
    if session is None:
        return None
    data = session.model_dump()
    data.pop("last_update_time")
    return data


async def _differential(seed: int, backend: Any = None) -> None:
    rng = random.Random(seed)
    if backend is None:
        ours = ConvstoreSessionService(":memory:")
    else:  # a shared backend: each seed its own app, so an empty world
        ours = ConvstoreSessionService(service=backend)
    app = f"app{seed}"
    theirs = InMemorySessionService()
    handles: dict[tuple[str, str], tuple[Session, Session]] = {}
    ts = 1_700_000_000.0
    for _ in range(30):
        op = rng.choice(["create", "create", "append", "append", "append", "get", "list", "del"])
        user = rng.choice(["u1", "u2"])
        sid = rng.choice(["s1", "s2", "s3"])
        if op == "create":
            state = {rng.choice(["k", "app:k", "user:k", "temp:k"]): rng.randint(0, 9)}
            results = []
            for service in (ours, theirs):
                try:
                    results.append(
                        await service.create_session(
                            app_name=app, user_id=user, state=dict(state), session_id=sid
                        )
                    )
                except AlreadyExistsError:
                    results.append("exists")
            shown = [r if r == "exists" else _normal(r) for r in results]
            assert shown[0] == shown[1], seed
            if results[0] != "exists":
                handles[user, sid] = (results[0], results[1])
        elif op == "append" and (user, sid) in handles:
            ts += rng.choice([0.001, 0.25, 1.0])
            delta = {
                rng.choice(["k", "j", "app:k", "user:k", "temp:t"]): rng.choice([1, "x", [1, 2]])
            }
            event = user_event(f"m{ts}", delta, timestamp=ts)
            a, b = handles[user, sid]
            await ours.append_event(a, copy.deepcopy(event))
            await theirs.append_event(b, copy.deepcopy(event))
            assert a.model_dump() == b.model_dump() or _normal(a) == _normal(b), seed
        elif op == "get":
            config = rng.choice(
                [None, GetSessionConfig(num_recent_events=2), GetSessionConfig(after_timestamp=ts)]
            )
            got = [
                await s.get_session(app_name=app, user_id=user, session_id=sid, config=config)
                for s in (ours, theirs)
            ]
            assert _normal(got[0]) == _normal(got[1]), seed
            if got[0] is not None:
                handles[user, sid] = (got[0], got[1])
        elif op == "list":
            uid = rng.choice([user, None])
            listed = [
                [_normal(x) for x in (await s.list_sessions(app_name=app, user_id=uid)).sessions]
                for s in (ours, theirs)
            ]
            key = lambda d: (d["user_id"], d["id"])  # noqa: E731 - creation times differ
            assert sorted(listed[0], key=key) == sorted(listed[1], key=key), seed
        elif op == "del":
            for s in (ours, theirs):
                await s.delete_session(app_name=app, user_id=user, session_id=sid)
            handles.pop((user, sid), None)
        for u in ("u1", "u2"):
            assert await ours.get_user_state(app_name=app, user_id=u) == (
                await theirs.get_user_state(app_name=app, user_id=u)
            ), seed
    await ours.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_results_as_in_memory_service_on_200_random_sequences(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """On a local file, on the PostgreSQL team server, and through its async service."""
    seeds = {"local": 200, "postgres": 100}.get(backend, 50)

    async def main(service: Any) -> None:
        for seed in range(seeds):
            await _differential(seed, None if backend == "local" else service)

    run_with_service(backend, request, main)


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_racing_create_session_has_exactly_one_winner(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The existence check and the insert are one transaction: no two creators both win.

    Threads, each with its own backend connection (as separate processes
    would have), create the same id at once: one gets the session, every
    other one ADK's ``AlreadyExistsError``, and the initial state is the winner's.
    """
    import threading

    owner = unique_owner("adk-race")

    def open_service() -> Any:
        if backend == "local":
            return LocalSessionService(tmp_path / "race.db")
        from convstore.postgres import PostgresSessionService

        return PostgresSessionService(request.getfixturevalue("pg_dsn"), owner=owner, max_size=2)

    backends = [open_service() for _ in range(6)]
    try:
        for round_ in range(10):
            barrier = threading.Barrier(len(backends))
            results: list[Any] = [None] * len(backends)

            def create(
                i: int, round_: int = round_, barrier: Any = barrier, results: Any = results
            ) -> None:
                service = ConvstoreSessionService(service=backends[i])

                async def go() -> Any:
                    barrier.wait()
                    return await service.create_session(
                        app_name="a", user_id="u", session_id=f"s{round_}", state={"by": i}
                    )

                try:
                    results[i] = run(go())
                except Exception as exc:
                    results[i] = exc

            threads = [threading.Thread(target=create, args=(i,)) for i in range(len(backends))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            winners = [r for r in results if isinstance(r, Session)]
            assert len(winners) == 1, results
            assert all(isinstance(r, AlreadyExistsError) for r in results if r is not winners[0])
            stored = run(
                ConvstoreSessionService(service=backends[0]).get_session(
                    app_name="a", user_id="u", session_id=f"s{round_}"
                )
            )
            assert stored.state == winners[0].state
    finally:
        for service in backends:
            service.close()


def test_runs_on_convstores_own_async_service(tmp_path: Path) -> None:
    from convstore.aio import AsyncLocalSessionService

    async def t() -> None:
        async with await AsyncLocalSessionService.open(tmp_path / "a.db") as backend:
            service = ConvstoreSessionService(service=backend)
            s = await service.create_session(app_name="a", user_id="u", state={"app:x": 1})
            await service.append_event(s, user_event("hi", {"k": "v"}))
            assert await service.get_session(app_name="a", user_id="u", session_id=s.id) == s
            await service.delete_session(app_name="a", user_id="u", session_id=s.id)
            assert (await service.list_sessions(app_name="a")).sessions == []

    run(t())


# -- compaction: ADK sees its own compaction event where the summary stands ----------------------


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_after_compact_adk_sees_a_compaction_event(
    backend: str, request: pytest.FixtureRequest
) -> None:
    from google.adk.events.event_actions import EventCompaction

    async def t(backend_service_: Any) -> None:
        service = ConvstoreSessionService(service=backend_service_)
        s = await service.create_session(app_name="a", user_id="u", session_id="s")
        for i, ts in enumerate([10.5, 11.25, 12.0]):
            await service.append_event(s, user_event(f"m{i}", timestamp=ts))
        key = session_key("a", "u", "s")
        originals = backend_service_.history(key)
        backend_service_.compact(key, {"content": "m0 and m1"}, through_event_id=originals[1].id)
        got = await service.get_session(app_name="a", user_id="u", session_id="s")
        assert len(got.events) == 2
        summary, last = got.events
        assert summary.author == "user" and summary.timestamp == 11.25
        assert summary.actions.compaction == EventCompaction(
            start_timestamp=10.5,
            end_timestamp=11.25,
            compacted_content=types.Content(role="model", parts=[types.Part(text="m0 and m1")]),
        )
        assert last.content.parts[0].text == "m2"
        recent = await service.get_session(
            app_name="a", user_id="u", session_id="s", config=GetSessionConfig(num_recent_events=1)
        )
        assert [e.content.parts[0].text for e in recent.events] == ["m2"]
        with pytest.raises(StaleSessionError):  # the compaction moved the head: s is stale
            await service.append_event(s, user_event("late", timestamp=13.0))
        await service.append_event(got, user_event("m3", timestamp=13.0))
        again = await service.get_session(app_name="a", user_id="u", session_id="s")
        assert len(again.events) == 3 and again.events[0] == summary
        assert len(backend_service_.load_events(key)) == 5  # the originals stay

    with backend_service(backend, request) as svc:
        run(t(svc))

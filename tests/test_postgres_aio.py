"""``AsyncPostgresSessionService``: the sync PostgreSQL service's contract, awaitable.

Runs on the throwaway cluster of ``tests/conftest.py`` (``pg_dsn``).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from typing import Any

import pytest
from conftest import FakeClock, unique_owner

from convstore import SessionService, StoreError

pytestmark = pytest.mark.usefixtures("pg_dsn")

PROTOCOL = [
    name
    for name, value in vars(SessionService).items()
    if not name.startswith("_") and callable(value) and name != "close"
]

OPS: list[tuple[str, tuple[Any, ...]]] = [
    ("create_session", ("s1", "/p", "/p")),
    ("create_session", ("s1", "/other", None)),  # DuplicateId
    ("create_session", ("s2", "/q", None)),
    ("append_event", ("s1", "e1", None, "inv", "user", '{"content": "hello"}')),
    ("append_event", ("s1", "e1", None, "inv", "user", '{"content": "other"}')),  # DuplicateId
    ("append_event", ("nope", "e2", None, "inv", "user", "{}")),  # SessionNotFound
    ("append_event", ("s1", "e3", None, "inv", "user", "not json")),  # InvalidEvent
    ("append_event", ("s1", "e4", "e-missing", "inv", "user", "{}")),  # bad parent
    ("append_event", ("s1", "e5", None, "inv", "user", 5)),  # not text
    ("append_event_at_head", ("s1", "e6", "inv", "assistant", '{"content": "hi"}')),
    ("append_event_at_head", ("s2", "e7", "inv", "user", '{"content": "q"}')),
    ("append_event", ("s2", "e8", "e1", "inv", "user", "{}")),  # parent in another session
    ("get_event", ("s1", "e1")),
    ("get_event", ("s2", "e1")),
    ("load_events", ("s1",)),
    ("load_events", ("nope",)),
    ("history", ("s1",)),
    ("set_head", ("s1", "e1")),
    ("set_head", ("s1", "e7")),
    ("set_head", ("nope", "e1")),
    ("append_event_at_head", ("s1", "e12", "inv", "user", '{"content": "branch"}')),
    ("history", ("s1",)),
    ("set_metadata", ("s1", "title", "Hello")),
    ("set_metadata", ("nope", "title", "x")),
    ("get_metadata", ("s1", "title")),
    ("get_metadata", ("s1", "missing")),
    ("get_metadata", ("nope", "title")),
    ("update_server_session_id", ("s1", "srv-1")),
    ("update_server_session_id", ("nope", "srv-2")),
    ("get_session", ("s1",)),
    ("get_session", ("nope",)),
    ("find_resumable_session", ("/p", None, 3600)),
    ("find_resumable_session", ("/zzz", "/p", 3600)),
    ("list_sessions", ()),
    ("list_sessions", ("/p", None, False, 1, None)),
    ("list_sessions", (None, None, False, 20, "nope")),
    ("list_sessions", (None, None, False, -1)),
    ("archive_session", ("s2",)),
    ("append_event", ("s2", "e13", None, "inv", "user", "{}")),  # SessionArchived
    ("archive_session", ("nope",)),
    ("list_sessions", (None, None, True)),
    ("get_session", ("s2",)),
]


def _outcome(result: Any) -> Any:
    if isinstance(result, BaseException):
        return (type(result).__name__, str(result))
    return result


def test_every_public_method_has_a_coroutine_twin_with_the_same_signature() -> None:
    from convstore.postgres import AsyncPostgresSessionService, PostgresSessionService

    missing = []
    for name in dir(PostgresSessionService):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(PostgresSessionService, name)
        twin_name = "aclose" if name == "close" else name
        twin = inspect.getattr_static(AsyncPostgresSessionService, twin_name, None)
        if twin is None:
            missing.append(name)
        elif isinstance(attr, property):
            assert isinstance(twin, property), name
        else:
            fn = getattr(AsyncPostgresSessionService, twin_name)
            assert inspect.iscoroutinefunction(fn), name
            sync_sig = inspect.signature(getattr(PostgresSessionService, name))
            assert [
                (p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()
            ] == [(p.name, p.kind, p.default) for p in sync_sig.parameters.values()], name
    assert not missing, f"AsyncPostgresSessionService lacks twins for {missing}"
    assert set(PROTOCOL) <= set(dir(AsyncPostgresSessionService))
    opener = inspect.signature(AsyncPostgresSessionService.open).parameters
    init = list(inspect.signature(PostgresSessionService.__init__).parameters)[1:]
    assert list(opener) == init


def test_sync_and_async_services_give_the_same_results_and_errors(pg_dsn: str) -> None:
    from convstore.postgres import AsyncPostgresSessionService, PostgresSessionService

    sync_out = []
    with PostgresSessionService(pg_dsn, owner=unique_owner(), clock=FakeClock()) as service:
        for name, args in OPS:
            try:
                result: Any = getattr(service, name)(*args)
            except Exception as exc:
                result = exc
            sync_out.append(_outcome(result))

    async def main() -> list[Any]:
        out = []
        async with await AsyncPostgresSessionService.open(
            pg_dsn, owner=unique_owner(), clock=FakeClock()
        ) as service:
            for name, args in OPS:
                try:
                    result: Any = await getattr(service, name)(*args)
                except Exception as exc:
                    result = exc
                out.append(_outcome(result))
        return out

    assert asyncio.run(main()) == sync_out
    kinds = {o[0] for o in sync_out if isinstance(o, tuple) and isinstance(o[0], str)}
    assert {"SessionNotFound", "SessionArchived", "DuplicateId", "InvalidEvent"} <= kinds


def test_managers_on_the_async_service_form_one_chain(pg_dsn: str, tmp_path: Any) -> None:
    from convstore.aio import AsyncSessionManager
    from convstore.postgres import AsyncPostgresSessionService

    async def main() -> None:
        async with await AsyncPostgresSessionService.open(
            pg_dsn, owner=unique_owner(), max_size=4
        ) as service:
            first = AsyncSessionManager(service, cwd=str(tmp_path))
            assert not await first.start()

            async def one(n: int) -> None:
                manager = AsyncSessionManager(service, cwd=str(tmp_path))
                assert await manager.start()
                for k in range(3):
                    await manager.append("user", {"n": n, "k": k})

            await asyncio.gather(*(one(n) for n in range(30)))
            events = await service.load_events(first.session_id)
            assert len(events) == 30 * 4
            assert all(b.parent_id == a.id for a, b in itertools.pairwise(events))
            await first.new_session()
            assert await first.history() == []

    asyncio.run(main())


def test_opening_an_unreachable_server_is_a_store_error() -> None:
    from convstore.postgres import AsyncPostgresSessionService

    async def main() -> None:
        with pytest.raises(StoreError):
            await AsyncPostgresSessionService.open(
                "host=127.0.0.1 port=1 dbname=x user=x password=secret connect_timeout=1",
                owner="x",
                timeout=2,
            )

    asyncio.run(main())

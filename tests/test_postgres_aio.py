"""``AsyncPostgresSessionService``: the sync PostgreSQL service's contract, awaitable.

Runs on the throwaway cluster of ``tests/conftest.py`` (``pg_dsn``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
from typing import Any

import pytest
from conftest import FakeClock, unique_owner

from convstore import SessionService, StoredEvent, StoredSession, StoreError
from convstore.lifecycle import UsageRecord
from convstore.sqlite.retention import RetentionPolicy

pytestmark = pytest.mark.usefixtures("pg_dsn")

PROTOCOL = [
    name
    for name, value in vars(SessionService).items()
    if not name.startswith("_") and callable(value) and name != "close"
]

T0 = 1_700_000_000
IMPORTED = StoredSession("imp", None, None, "/i", None, T0 - 50, T0 - 40, None)
IMPORTED_EVENTS = [
    StoredEvent("ie1", "imp", None, "inv0", "user", '{"content": "old words"}', T0 - 50),
    StoredEvent("ie2", "imp", "ie1", "inv0", "assistant", '{"content": "older"}', T0 - 40),
]
DEEP = "[" * 100_000 + "]" * 100_000

#: (method, positional args, keyword args): every SPEC §2 error row, the §2.1 replays,
#: hostile input and every public method of the service, lifecycle included.
OPS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("create_session", ("s1", "/p", "/p"), {}),
    ("create_session", ("s1", "/p", "/p"), {}),  # §2.1 replay: the stored session
    ("create_session", ("s1", "/other", None), {}),  # DuplicateId
    ("create_session", ("s2", "/q", None), {}),
    ("create_session", (7,), {}),  # InvalidArgument
    ("create_session", ("\ud800",), {}),  # a lone surrogate
    ("append_event", ("s1", "e1", None, "inv", "user", '{"content": "hello world"}'), {}),
    ("append_event", ("s1", "e1", None, "inv", "user", '{"content": "hello world"}'), {}),
    ("append_event", ("s1", "e1", None, "inv", "user", '{"content": "other"}'), {}),  # Dup
    ("append_event", ("nope", "e2", None, "inv", "user", "{}"), {}),  # SessionNotFound
    ("append_event", ("s1", "e3", None, "inv", "user", "not json"), {}),  # InvalidEvent
    ("append_event", ("s1", "e3b", None, "inv", "user", DEEP), {}),  # too deep: InvalidEvent
    ("append_event", ("s1", "e4", "e-missing", "inv", "user", "{}"), {}),  # bad parent
    ("append_event", ("s1", "e5", None, "inv", "user", 5), {}),  # not text
    ("append_event", ("s1", 5, None, "inv", "user", "{}"), {}),  # int id
    ("append_event_at_head", ("s1", "e6", "inv", "assistant", '{"content": "hi there"}'), {}),
    ("append_event_at_head", ("s1", "e6", "inv", "assistant", '{"content": "hi there"}'), {}),
    ("append_event_at_head", ("s2", "e7", "inv", "user", '{"content": "q"}'), {}),
    ("append_event", ("s2", "e8", "e1", "inv", "user", "{}"), {}),  # parent in another session
    ("get_event", ("s1", "e1"), {}),
    ("get_event", ("s2", "e1"), {}),
    ("get_event", ("s1", 3), {}),
    ("load_events", ("s1",), {}),
    ("load_events", ("nope",), {}),
    ("history", ("s1",), {}),
    ("set_head", ("s1", "e1"), {}),
    ("set_head", ("s1", "e7"), {}),
    ("set_head", ("nope", "e1"), {}),
    ("append_event_at_head", ("s1", "e12", "inv", "user", '{"content": "branch"}'), {}),
    ("history", ("s1",), {}),
    ("set_metadata", ("s1", "title", "Hello"), {}),
    ("set_metadata", ("nope", "title", "x"), {}),
    ("set_metadata", ("s1", 1, "v"), {}),
    ("get_metadata", ("s1", "title"), {}),
    ("get_metadata", ("s1", "missing"), {}),
    ("get_metadata", ("nope", "title"), {}),
    ("update_server_session_id", ("s1", "srv-1"), {}),
    ("update_server_session_id", ("nope", "srv-2"), {}),
    ("get_session", ("s1",), {}),
    ("get_session", ("nope",), {}),
    ("get_session", (5,), {}),
    ("find_resumable_session", ("/p", None, 3600), {}),
    ("find_resumable_session", ("/zzz", "/p", 3600), {}),
    ("find_resumable_session", ("/p", None, float("nan")), {}),
    ("list_sessions", (), {}),
    ("list_sessions", ("/p", None, False, 1, None), {}),
    ("list_sessions", (None, None, False, 20, "nope"), {}),
    ("list_sessions", (None, None, False, -1), {}),
    ("list_sessions", (), {"before": "s1"}),
    ("session_summaries", (["s1", "s2", "nope"],), {}),
    ("session_metadata", (["s1", "nope"],), {}),
    ("metadata_times", (["s1"],), {}),
    ("merge_metadata", ("s1", {"title": ("Newer", T0 + 100), "k": ("v", T0)}), {}),
    ("merge_metadata", ("s1", {"title": ("Older", T0 - 100)}), {}),
    ("merge_metadata", ("s1", {"k": "not a pair"}), {}),
    ("events_at", ({"s1": 1, "s2": 1, "nope": 1},), {}),
    ("events_at", ({"s1": "x"},), {}),
    ("export_session", ("s1",), {}),
    ("export_session", ("nope",), {}),
    ("export_session_after", ("s1", 1), {}),
    ("import_session", (IMPORTED, IMPORTED_EVENTS), {"metadata": {"m": "1"}}),
    ("import_session", (IMPORTED, IMPORTED_EVENTS), {"merge": True}),  # nothing new
    ("import_session", (IMPORTED, IMPORTED_EVENTS), {}),  # exists, merge=False: refused
    ("search", ("hello",), {}),
    ("search", ("hello",), {"limit": -1}),
    ("search", ("older words",), {"directory": "/i"}),
    # the conversation lifecycle (SPEC §9)
    ("compact", ("s1", {"summary": "greetings"}), {"through_event_id": "e1", "event_id": "c1"}),
    ("compact", ("s1", {"summary": "greetings"}), {"through_event_id": "e1", "event_id": "c1"}),
    ("compact", ("s1", {"summary": "x"}), {"through_event_id": "e7"}),  # not in the chain
    ("compact", ("nope", {"summary": "x"}), {"through_event_id": "e1"}),
    ("history", ("s1",), {}),
    ("history", ("s1",), {"full": True}),
    ("history", ("s1",), {"full": "yes"}),
    ("record_usage", ("s1", "e1"), {"model": "m1", "input_tokens": 10, "output_tokens": 2}),
    ("record_usage", ("s1", "e1"), {"model": "m1", "input_tokens": 10, "output_tokens": 2}),
    ("record_usage", ("s1", "e1"), {"model": "m1", "input_tokens": 11, "output_tokens": 2}),
    ("record_usage", ("s1", "e6"), {"model": "m2", "input_tokens": 1, "output_tokens": 1,
                                     "cached_tokens": 1, "cost": 0.5}),
    ("record_usage", ("nope", "e1"), {"model": "m1", "input_tokens": 1, "output_tokens": 1}),
    ("record_usage", ("s1", "e7"), {"model": "m1", "input_tokens": 1, "output_tokens": 1}),
    ("record_usage", ("s1", "e1"), {"model": "m1", "input_tokens": -1, "output_tokens": 1}),
    ("usage", (), {}),
    ("usage", (), {"group_by": "day"}),
    ("usage", (), {"group_by": "session", "session_id": "s1"}),
    ("usage", (), {"group_by": "week"}),
    ("usage_counts", (["s1", "s2"],), {}),
    ("export_usage", ("s1",), {}),
    ("import_usage", ("imp", [UsageRecord("ie1", "m3", 5, 6, 0, None)]), {}),
    ("import_usage", ("imp", [UsageRecord("ie1", "m3", 5, 6, 0, None)]), {}),
    ("archive_session", ("s2",), {}),
    ("append_event", ("s2", "e13", None, "inv", "user", "{}"), {}),  # SessionArchived
    ("archive_session", ("nope",), {}),
    ("list_sessions", (None, None, True), {}),
    ("get_session", ("s2",), {}),
    ("apply_retention", (RetentionPolicy(archive_idle_days=1, max_bytes=1),), {}),
    ("apply_retention", ("not a policy",), {}),
    ("purge", (), {"archived_before": T0 + 10, "dry_run": True}),
    ("purge", (), {"archived_before": "x"}),
    ("purge", (), {"archived_before": T0 + 10}),
    ("get_session", ("s2",), {}),
]


@dataclasses.dataclass(frozen=True)
class Raised:
    """An exception as compared between the two runs: its class and message."""

    kind: str
    message: str
    typed: bool


def _outcome(result: Any) -> Any:
    if isinstance(result, BaseException):
        return Raised(type(result).__name__, str(result), isinstance(result, StoreError))
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
        for name, args, kwargs in OPS:
            try:
                result: Any = getattr(service, name)(*args, **kwargs)
            except Exception as exc:
                result = exc
            sync_out.append(_outcome(result))

    async def main() -> list[Any]:
        out = []
        async with await AsyncPostgresSessionService.open(
            pg_dsn, owner=unique_owner(), clock=FakeClock()
        ) as service:
            for name, args, kwargs in OPS:
                try:
                    result: Any = await getattr(service, name)(*args, **kwargs)
                except Exception as exc:
                    result = exc
                out.append(_outcome(result))
        return out

    async_out = asyncio.run(main())
    for (name, args, _), want, got in zip(OPS, sync_out, async_out, strict=True):
        assert got == want, (name, args)
    raised = [o for o in sync_out if isinstance(o, Raised)]
    kinds = {o.kind for o in raised}
    assert {
        "SessionNotFound",
        "SessionArchived",
        "DuplicateId",
        "InvalidEvent",
        "InvalidArgument",
    } <= kinds, kinds
    # No raw exception on either side, and every public method was exercised.
    assert all(o.typed for o in raised), [o for o in raised if not o.typed]
    from convstore.postgres import PostgresSessionService as Sync

    public = {n for n in dir(Sync) if not n.startswith("_") and callable(getattr(Sync, n))}
    assert public - {"close"} <= {name for name, _, _ in OPS}, public - {n for n, _, _ in OPS}


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

"""``AsyncPostgresSessionService``: the sync PostgreSQL service's contract, awaitable.

Runs on the throwaway cluster of ``tests/conftest.py`` (``pg_dsn``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
import os
import signal
import time
from typing import Any

import pytest
from conftest import FakeClock, age_owner, unique_owner
from test_postgres_server import _server_pids, _wait_until_up, own_cluster

from convstore import SessionService, SessionSummary, StoredEvent, StoredSession, StoreError
from convstore.lifecycle import UsageRecord
from convstore.sqlite.retention import RetentionPolicy

__all__ = ["own_cluster"]  # the fault tests' own cluster (stopped and frozen here)

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
LATER = int(time.time()) + 3600  # after every server timestamp of the run
DEEP = "[" * 100_000 + "]" * 100_000

#: (method, positional args, keyword args): every SPEC §2 error row, the §2.1 replays,
#: hostile input and every public method of the service, lifecycle included.
AGE = "_age_owner"  # not a method: the test lets server time pass (see age_owner)
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
    # A minute passes (s2's writes are done): s1's later writes make it strictly the
    # newest session, so the listings and their ``before`` cursor do not depend on
    # whether the two runs happen to cross a second boundary between s2's and s1's writes.
    (AGE, (60,), {}),
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
    (
        "record_usage",
        ("s1", "e6"),
        {"model": "m2", "input_tokens": 1, "output_tokens": 1, "cached_tokens": 1, "cost": 0.5},
    ),
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
    # the framework integrations' extended service: blobs, deletion, head moves
    ("create_session_with_metadata", ("b1", "/b", None, [("b1", "k", "1"), ("b2", "s", "2")]), {}),
    ("create_session_with_metadata", ("b1", "/b", None, []), {}),  # DuplicateId
    ("put_blobs", ("b1", "ns", [("k1", '{"n": 1}', b"\x00\xff"), ("k2", "{}", b"two")]), {}),
    ("put_blobs", ("b1", "ns", [("k1", "{}", b"kept?")]), {"replace": False}),
    ("put_blobs", ("nope", "ns", [("k", "{}", b"")]), {}),
    ("put_blobs", ("b1", "ns", [("k", "{}", "not bytes")]), {}),
    ("get_blob", ("b1", "ns", "k1"), {}),
    ("latest_blob", ("b1", "ns"), {}),
    ("list_blobs", ("b1", "n"), {}),
    ("list_blobs", (None, "ns"), {"exact": True, "newest_first": True, "limit": 1}),
    ("get_blob_with_children", ("b1", "ns", None, "w"), {}),
    ("append_events_at_head", ("b1", [("b-e1", "i", "t", "{}"), ("b-e2", "i", "t", "{}")]), {}),
    ("append_events_at_head", ("nope", [("x1", "i", "t", "{}")]), {}),
    (
        "append_event_with_metadata",
        ("b1", "b-e2", ("b-e3", "i", "t", "{}"), [("b1", "k", "3")]),
        {},
    ),
    ("append_event_with_metadata", ("b1", None, ("b-e4", "i", "t", "{}")), {}),  # HeadMoved
    ("history_tail", ("b1", 2), {}),
    ("history_tail", ("b1", None), {"full": True}),
    ("pop_head", ("b1",), {}),
    ("get_all_metadata", ("b1",), {}),
    ("clear_head", ("b1",), {}),
    ("clear_head", ("nope",), {}),
    ("delete_blobs", ("b1", "ns"), {}),
    ("archive_session_with_metadata", ("b1", [("b2", "s", "3")]), {}),
    ("archive_session_with_metadata", ("b1", []), {}),  # SessionArchived
    ("delete_session", ("b1",), {}),
    ("delete_session", ("b1",), {}),
    # the framework integrations' extensions (convstore.postgres.blobs)
    ("create_session_with_metadata", ("x1", None, None, [("x1", "k", "v"), ("xs", "k", "s")]), {}),
    ("create_session_with_metadata", ("x1", None, None, []), {}),  # DuplicateId, no replay
    ("put_blobs", ("x1", "ns", [("b", "{}", b"\x00two"), ("a", '{"n": 1}', b"one")]), {}),
    ("put_blobs", ("x1", "ns", [("a", "not json", b"")]), {}),  # InvalidArgument
    ("put_blobs", ("nope", "ns", [("a", "{}", b"")]), {}),  # SessionNotFound
    ("get_blob", ("x1", "ns", "a"), {}),
    ("latest_blob", ("x1", "ns"), {}),
    ("put_blobs", ("x1", "w", [("b\tt\t0", "{}", b"w")]), {}),
    ("get_blob_with_children", ("x1", "ns", None, "w"), {}),
    ("list_blobs", ("x1", "n"), {}),
    ("list_blobs", ("x1", "ns"), {"exact": True, "newest_first": True, "limit": 1}),
    ("delete_blobs", ("x1", "w"), {}),
    ("append_events_at_head", ("x1", [("x1e1", "i", "t", "1"), ("x1e2", "i", "t", "2")]), {}),
    ("append_events_at_head", ("x1", [("x1e1", "i", "t", "1")]), {}),  # DuplicateId
    ("history_tail", ("x1", 1), {}),
    ("history_tail_values", ("x1", None), {}),
    ("pop_head", ("x1",), {}),
    ("clear_head", ("x1",), {}),
    ("append_event_with_metadata", ("x1", None, ("x1e3", "i", "t", "{}"), [("xs", "k", "t")]), {}),
    ("append_event_with_metadata", ("x1", None, None, []), {}),  # HeadMoved
    ("get_all_metadata", ("xs",), {}),
    ("get_session_with_tail", ("x1", 1), {}),
    ("get_session_with_tail", ("x1", 0), {"full": True}),
    ("get_session_with_tail", ("nope", None), {}),
    ("get_session_with_tail", ("x1", "1"), {}),  # InvalidArgument
    ("set_metadata_if", ("x1", "ptr", None, [("x1", "ptr", "g2"), ("xs", "g", "2")]), {}),
    ("set_metadata_if", ("x1", "ptr", None, [("x1", "ptr", "g3")]), {}),  # False: moved
    ("set_metadata_if", ("x1", "ptr", "g2", [("x1", "ptr", "g3")]), {}),
    ("set_metadata_if", ("nope", "ptr", None, []), {}),  # SessionNotFound
    ("set_metadata_if", ("x1", "ptr", 3, []), {}),  # InvalidArgument
    ("archive_session_with_metadata", ("x1", [("xs", "gone", "x1")]), {}),
    ("archive_session_with_metadata", ("x1", []), {}),  # SessionArchived
    ("delete_session", ("x1",), {}),
    ("delete_session", ("x1",), {}),
    ("archive_session", ("s2",), {}),
    ("append_event", ("s2", "e13", None, "inv", "user", "{}"), {}),  # SessionArchived
    ("archive_session", ("nope",), {}),
    ("list_sessions", (None, None, True), {}),
    ("get_session", ("s2",), {}),
    ("apply_retention", (RetentionPolicy(archive_idle_days=1, max_bytes=1),), {}),
    ("apply_retention", ("not a policy",), {}),
    ("database_stats", (), {"top": 2, "days": 3}),
    ("database_stats", (), {"top": -1}),
    ("purge", (), {"archived_before": LATER, "dry_run": True}),
    ("purge", (), {"archived_before": "x"}),
    ("purge", (), {"archived_before": LATER}),
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
    return _server_times(result)


def _server_times(value: Any) -> Any:
    """``value`` with every timestamp of the server's clock (the last two days) as "now".

    Each run stores the server's time (SPEC 6.1), a second apart at most; times
    given by the caller (``T0``) are compared as they are.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return "now" if abs(value - time.time()) < 2 * 86400 else value
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, *map(_server_times, value))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, StoredSession | SessionSummary) for v in value)
    ):
        # Listings order by server time: sessions touched within one second tie in
        # one run and not in the other. Same statement on both sides: compare as sets.
        return sorted(map(_server_times, value))
    if isinstance(value, list | tuple):
        return type(value)(map(_server_times, value))
    if isinstance(value, dict):
        return {k: _server_times(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _server_times(dataclasses.astuple(value))
    return value


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
            if name != "close":  # help() names this class's method (see convstore.aio._Twins)
                sync_name = getattr(PostgresSessionService, name).__qualname__
                assert sync_name in (fn.__doc__ or ""), name
    assert not missing, f"AsyncPostgresSessionService lacks twins for {missing}"
    assert set(PROTOCOL) <= set(dir(AsyncPostgresSessionService))
    opener = inspect.signature(AsyncPostgresSessionService.open).parameters
    init = list(inspect.signature(PostgresSessionService.__init__).parameters)[1:]
    assert list(opener) == init


def test_sync_and_async_services_give_the_same_results_and_errors(pg_dsn: str) -> None:
    from convstore.postgres import AsyncPostgresSessionService, PostgresSessionService

    sync_out = []
    owner = unique_owner()
    with PostgresSessionService(pg_dsn, owner=owner, clock=FakeClock()) as service:
        for name, args, kwargs in OPS:
            if name == AGE:
                age_owner(pg_dsn, owner, *args)
                continue
            try:
                result: Any = getattr(service, name)(*args, **kwargs)
            except Exception as exc:
                result = exc
            sync_out.append(_outcome(result))

    async def main() -> list[Any]:
        out = []
        owner = unique_owner()
        async with await AsyncPostgresSessionService.open(
            pg_dsn, owner=owner, clock=FakeClock()
        ) as service:
            for name, args, kwargs in OPS:
                if name == AGE:
                    age_owner(pg_dsn, owner, *args)
                    continue
                try:
                    result: Any = await getattr(service, name)(*args, **kwargs)
                except Exception as exc:
                    result = exc
                out.append(_outcome(result))
        return out

    async_out = asyncio.run(main())
    calls = [op for op in OPS if op[0] != AGE]
    for (name, args, _), want, got in zip(calls, sync_out, async_out, strict=True):
        if name == "list_sessions" and isinstance(want, list) and isinstance(got, list):
            # Newest activity first by the server's clock (whole seconds): the two
            # runs may tie differently, so the listing is compared as a set.
            got, want = sorted(got, key=repr), sorted(want, key=repr)
        if name == "database_stats" and isinstance(want, tuple) and isinstance(got, tuple):
            # file_bytes is pg_database_size: the shared cluster grows between the runs.
            got, want = got[:1] + got[2:], want[:1] + want[2:]
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


# -- the contract beyond the results: owner, deadlines, lock waits, cancellation ------------


class Ticker:
    """Measures the event loop's responsiveness: the longest gap between 5 ms ticks."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.005)
            now = loop.time()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()


def test_the_server_enforces_the_owner_for_the_async_service(pg_cluster: Any) -> None:
    import uuid

    from convstore import SessionNotFound
    from convstore.postgres import AsyncPostgresSessionService
    from convstore.postgres.migrations import migrate_server

    tag = uuid.uuid4().hex[:8]
    db = f"arls_{tag}"
    pg_cluster.create_database(db)
    migrate_server(pg_cluster.conninfo(db))
    names = {k: f"{k}_{tag}" for k in ("alice", "bob", "backend")}
    conns = {k: pg_cluster.create_role(n, f"pw-{k}-{tag}", dbname=db) for k, n in names.items()}
    pg_cluster.sql(f"GRANT convstore_service TO {names['backend']}")
    open_ = AsyncPostgresSessionService.open

    async def main() -> None:
        async with await open_(conns["alice"]) as alice, await open_(conns["bob"]) as bob:
            assert alice.owner == names["alice"] and bob.owner == names["bob"]
            await alice.create_session("s1", "/w")
            await alice.append_event_at_head("s1", "e1", "i", "user", '{"text": "secret"}')
            assert await bob.get_session("s1") is None
            assert await bob.load_events("s1") == []
            with pytest.raises(SessionNotFound):
                await bob.append_event_at_head("s1", "e2", "i", "user", "{}")
            with pytest.raises(SessionNotFound):
                await bob.get_metadata("s1", "title")
            await bob.create_session("s1")  # the same id is free for bob
            async with await open_(conns["backend"], owner=names["alice"]) as backend:
                assert [e.id for e in await backend.load_events("s1")] == ["e1"]
            with pytest.raises(StoreError, match="convstore_service"):
                await open_(conns["bob"], owner=names["alice"])

    asyncio.run(main())


def test_lock_and_pool_waits_are_typed_and_never_block_the_loop(pg_dsn: str) -> None:
    import psycopg

    from convstore import StoreBusy
    from convstore.postgres import AsyncPostgresSessionService

    owner = unique_owner()

    async def main() -> None:
        async with await AsyncPostgresSessionService.open(
            pg_dsn, owner=owner, timeout=1, max_size=2
        ) as service:
            await service.create_session("locked")
            loop = asyncio.get_running_loop()
            with psycopg.connect(pg_dsn) as locker:  # holds the session row: appends wait
                locker.execute(
                    "SELECT 1 FROM sessions WHERE owner = %s FOR UPDATE", (owner,)
                ).fetchall()
                with Ticker() as ticker:
                    t0 = loop.time()
                    append = loop.create_task(
                        service.append_event_at_head("locked", "w1", "i", "user", "{}")
                    )
                    # Meanwhile other calls are served on the pool's other connection.
                    assert (await service.get_session("locked")) is not None
                    assert loop.time() - t0 < 0.5
                    with pytest.raises(StoreBusy, match="stayed locked"):
                        await append
                    assert loop.time() - t0 < 2.0
                # The loop ran its 5 ms ticks all along (a blocked loop: one ~1 s gap).
                assert ticker.longest < 0.25, ticker.longest
            assert await service.load_events("locked") == []  # nothing written
            # Every pooled connection taken: a typed error within the deadline.
            async with service.pool.connection(), service.pool.connection():
                t0 = loop.time()
                with pytest.raises(StoreError, match="within 1s"):
                    await service.get_session("locked")
                assert loop.time() - t0 < 2.0
            await service.append_event_at_head("locked", "w1", "i", "user", "{}")

    asyncio.run(main())


def test_cancelling_a_waiting_call_leaves_nothing_and_the_service_usable(pg_dsn: str) -> None:
    import psycopg

    from convstore.postgres import AsyncPostgresSessionService

    owner = unique_owner()

    async def main() -> None:
        async with await AsyncPostgresSessionService.open(
            pg_dsn, owner=owner, timeout=10, max_size=1
        ) as service:
            await service.create_session("c")
            with psycopg.connect(pg_dsn, autocommit=False) as locker:
                locker.execute("SELECT 1 FROM sessions WHERE owner = %s FOR UPDATE", (owner,))
                task = asyncio.get_running_loop().create_task(
                    service.append_event_at_head("c", "x1", "i", "user", "{}")
                )
                with psycopg.connect(pg_dsn, autocommit=True) as watcher:
                    for _ in range(1000):  # until the append waits on the row lock
                        await asyncio.sleep(0.005)
                        row = watcher.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND query LIKE '%%events%%'"
                        ).fetchone()
                        if row is not None and row[0] > 0:
                            break
                    else:
                        pytest.fail("the append never waited on the lock")
                t0 = time.monotonic()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert time.monotonic() - t0 < 2  # not the 10 s timeout
                locker.rollback()
            # The statement was cancelled on the server: nothing stored, and the one
            # pooled connection came back usable.
            assert await service.load_events("c") == []
            ev = await service.append_event_at_head("c", "x1", "i", "user", "{}")
            assert [e.id for e in await service.load_events("c")] == [ev.id]

    asyncio.run(main())


def test_a_hung_server_answers_within_the_deadline_on_the_async_pool(own_cluster: Any) -> None:
    from convstore import CommitUncertain, StoreBusy
    from convstore.postgres import AsyncPostgresSessionService

    async def main() -> None:
        service = await AsyncPostgresSessionService.open(
            own_cluster.dsn, owner="ah", timeout=2, min_size=3, max_size=4
        )
        await service.pool.wait(timeout=10)
        await service.create_session("h")
        pids = _server_pids(own_cluster)
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            with Ticker() as ticker:
                t0 = time.monotonic()
                with pytest.raises(StoreError, match="did not answer within 2s") as info:
                    await service.get_session("h")
                assert time.monotonic() - t0 < 3.0 and not isinstance(info.value, StoreBusy)
                t0 = time.monotonic()
                with pytest.raises(CommitUncertain):
                    await service.append_event_at_head("h", "frozen", "i", "user", "{}")
                assert time.monotonic() - t0 < 3.0
            assert ticker.longest < 0.25, ticker.longest
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        _wait_until_up(own_cluster.dsn)
        ev = await service.append_event_at_head("h", "frozen", "i", "user", "{}")  # safe retry
        assert [e.id for e in await service.load_events("h")] == ["frozen"] == [ev.id]
        await service.aclose()

    asyncio.run(main())


def test_a_down_server_is_a_store_error_within_the_deadline(own_cluster: Any) -> None:
    from convstore import StoreBusy
    from convstore.postgres import AsyncPostgresSessionService

    async def main() -> None:
        service = await AsyncPostgresSessionService.open(own_cluster.dsn, owner="ad", timeout=2)
        own_cluster.stop(mode="fast")
        try:
            for call in (service.get_session("x"), service.create_session("y")):
                t0 = time.monotonic()
                with pytest.raises(StoreError) as info:
                    await call
                assert time.monotonic() - t0 < 3.0
                assert not isinstance(info.value, StoreBusy), info.value
        finally:
            own_cluster.start()
            await service.aclose()
        _wait_until_up(own_cluster.dsn)
        async with await AsyncPostgresSessionService.open(own_cluster.dsn, owner="ad") as again:
            await again.create_session("after-restart")

    asyncio.run(main())


def test_calls_run_on_the_loop_thread_without_worker_threads(pg_dsn: str) -> None:
    import threading

    from convstore.postgres import AsyncPostgresSessionService

    async def main() -> None:
        async with await AsyncPostgresSessionService.open(pg_dsn, owner=unique_owner()) as s:
            from psycopg_pool import AsyncConnectionPool

            assert isinstance(s.pool, AsyncConnectionPool)
            before = {t.name for t in threading.enumerate()}
            await asyncio.gather(*(s.create_session(f"t{n}") for n in range(20)))
            after = {t.name for t in threading.enumerate()}
            # Only the deadline watchdog (one sleeping thread) may appear; no executor.
            assert {n for n in after - before if not n.startswith("convstore-watchdog")} == set()

    asyncio.run(main())

"""``convstore.aio`` under trio (and anyio on trio): APSW's ``apsw.aio.Trio`` controller.

APSW's async support names three frameworks (``apsw.aio.AsyncIO``,
``apsw.aio.Trio``, ``apsw.aio.AnyIO``); the store picks the one that runs it.
The same guarantees as under asyncio: inline calls when the lock is free, lock
waits on the worker while the loop keeps running, cancellation that leaves the
database consistent and the store usable. trio is in the ``dev`` extra.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import apsw
import pytest

from convstore import StoreBusy, StoreError
from convstore.aio import AsyncLocalSessionService, AsyncSessionManager, AsyncSessionStore

trio = pytest.importorskip("trio")


def test_trio_smoke_manager_tasks_export(tmp_path: Path) -> None:
    async def main() -> tuple[list[str], list[str]]:
        async with await AsyncLocalSessionService.open(str(tmp_path / "s.db")) as service:
            manager = AsyncSessionManager(service, cwd=str(tmp_path))
            assert not await manager.start()
            async with trio.open_nursery() as nursery:
                for n in range(50):
                    nursery.start_soon(manager.append, "user", {"n": n})
            history = [e.event_type for e in await manager.history()]
            lines = [json.loads(line) async for line in service.store.export_jsonl()]
            return history, [d["id"] for d in lines]

    history, exported = trio.run(main)
    assert history == ["user"] * 50
    assert len(exported) == 51  # the session's line, then its events' lines


def test_trio_lock_wait_runs_on_the_worker_and_the_loop_keeps_running(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    other = apsw.Connection(path)

    async def main() -> int:
        ticks = 0
        async with await AsyncSessionStore.open(path, timeout=0.3) as store:
            await store.create_session("s1")
            other.execute("BEGIN IMMEDIATE")
            async with trio.open_nursery() as nursery:

                async def ticker() -> None:
                    nonlocal ticks
                    while True:
                        ticks += 1
                        await trio.sleep(0)

                nursery.start_soon(ticker)
                t0 = time.monotonic()
                with pytest.raises(StoreBusy):
                    await store.append_event("s1", "e1", None, "i", "t", "{}")
                assert 0.25 < time.monotonic() - t0 < 2
                nursery.cancel_scope.cancel()
            other.execute("ROLLBACK")
            assert await store.load_events("s1") == []
            await store.append_event("s1", "e1", None, "i", "t", "{}")  # usable afterwards
            assert [e.id for e in await store.load_events("s1")] == ["e1"]
        return ticks

    assert trio.run(main) > 10  # the loop ran while the call waited on the worker
    other.close()


def test_trio_cancellation_leaves_the_database_consistent_and_the_store_usable(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "s.db")
    other = apsw.Connection(path)

    async def main() -> None:
        async with await AsyncSessionStore.open(path, timeout=30) as store:
            await store.create_session("s1")
            other.execute("BEGIN IMMEDIATE")  # the appends must wait on the worker
            started = 0.0
            async with trio.open_nursery() as nursery:
                nursery.start_soon(store.append_event, "s1", "e1", None, "i", "t", "{}")
                nursery.start_soon(store.append_event, "s1", "e2", None, "i", "t", "{}")
                while store._runner._job is None:  # until the first waits on the worker
                    await trio.sleep(0.001)
                started = time.monotonic()
                nursery.cancel_scope.cancel()
            assert time.monotonic() - started < 1  # not the 30 s lock wait
            other.execute("ROLLBACK")
            assert await store.load_events("s1") == []  # neither was written
            assert not store.connection.in_transaction
            event = await store.append_event("s1", "e3", None, "i", "t", "{}")
            assert [e.id for e in await store.load_events("s1")] == [event.id]

    trio.run(main)
    other.close()


def test_trio_errors_are_the_typed_errors(tmp_path: Path) -> None:
    async def main() -> None:
        async with await AsyncSessionStore.open(str(tmp_path / "s.db")) as store:
            with pytest.raises(StoreError, match="does not exist"):
                await store.append_event("nope", "e1", None, "i", "t", "{}")
        with pytest.raises(StoreError):
            await store.get_session("s1")  # closed

    trio.run(main)


def test_anyio_on_trio_smoke(tmp_path: Path) -> None:
    anyio = pytest.importorskip("anyio")

    async def main() -> list[str]:
        async with await AsyncLocalSessionService.open(str(tmp_path / "s.db")) as service:
            manager = AsyncSessionManager(service, cwd=str(tmp_path))
            await manager.start()
            async with anyio.create_task_group() as tg:
                for n in range(10):
                    tg.start_soon(manager.append, "user", {"n": n})
            return [e.event_type for e in await manager.history()]

    assert anyio.run(main, backend="trio") == ["user"] * 10


def test_outside_any_event_loop_is_a_store_error(tmp_path: Path) -> None:
    from convstore import SessionStore

    store = AsyncSessionStore(SessionStore(str(tmp_path / "s.db")))
    coro = store.get_session("s1")
    with pytest.raises(StoreError, match="running asyncio or trio"):
        coro.send(None)
    store.sync.close()


def test_the_async_postgres_service_under_trio_is_a_store_error() -> None:
    pytest.importorskip("psycopg_pool")
    from convstore.postgres import AsyncPostgresSessionService

    async def main() -> None:
        with pytest.raises(StoreError, match="runs on asyncio"):
            await AsyncPostgresSessionService.open("host=127.0.0.1 port=1 dbname=x user=x")

    trio.run(main)

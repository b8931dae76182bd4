"""``AsyncPostgresSessionService``: the PostgreSQL service for an event loop (SPEC §7).

Every public method of :class:`~convstore.postgres.PostgresSessionService` as a
coroutine with the same parameters, results and typed errors (generated from
the sync methods, like the twins in :mod:`convstore.aio`). Import it from
:mod:`convstore.postgres`::

    from convstore.aio import AsyncSessionManager
    from convstore.postgres import AsyncPostgresSessionService

    async with await AsyncPostgresSessionService.open(conninfo) as service:
        manager = AsyncSessionManager(service, cwd=".")
        await manager.start()

How it runs: each call is the sync service's call, on a thread pool as large
as the connection pool (``max_size``), so the loop never waits on the network,
a row lock or a pool slot, and the contract — the owner's row-level security,
the per-call ``timeout`` budget with its client-side deadline, idempotent
replays and :class:`~convstore.CommitUncertain` resolution (SPEC 2.1, 6.1) — is
exactly the sync service's, with one implementation of it. A thread hop costs
~0.1 ms against a server round trip of several. Cancelling an awaiting task
returns at once; the call finishes on its thread within its own deadline and
its transaction either commits or not, as for a sync caller that gave up.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from .._common import AsyncClosing
from ..aio import WORKER, Mode, _open_twin, _twin
from . import PostgresSessionService

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg_pool import ConnectionPool

    from .._common import Clock

__all__ = ["AsyncPostgresSessionService"]

R = TypeVar("R")


class _ThreadRunner:
    """Runs sync service calls on a bounded thread pool (the service is thread-safe)."""

    __slots__ = ("_executor",)

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="convstore-pg")

    async def run(self, call: Callable[[], R], mode: Mode) -> R:
        """Await ``call()`` run on a worker thread (with the caller's context variables)."""
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(ctx.run, call))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)


class AsyncPostgresSessionService(AsyncClosing):
    """:class:`~convstore.postgres.PostgresSessionService` for an event loop.

    Open with ``await AsyncPostgresSessionService.open(conninfo, ...)`` (the
    sync constructor's arguments); ``async with`` or ``await aclose()``
    closes it. ``AsyncPostgresSessionService(service)`` wraps an open sync
    service (and takes it over: ``aclose()`` closes it).
    """

    __slots__ = ("_runner", "_sync")

    def __init__(self, service: PostgresSessionService, *, max_workers: int = 8) -> None:
        self._sync = service
        self._runner = _ThreadRunner(max_workers)

    @classmethod
    async def _open(cls, *args: Any, **kwargs: Any) -> AsyncPostgresSessionService:
        service = await asyncio.to_thread(PostgresSessionService, *args, **kwargs)
        return cls(service, max_workers=int(kwargs.get("max_size", 8)))

    if TYPE_CHECKING:

        @classmethod
        async def open(
            cls,
            conninfo: str,
            *,
            owner: str | None = None,
            clock: Clock | None = None,
            min_size: int = 1,
            max_size: int = 8,
            timeout: float = 5.0,
        ) -> AsyncPostgresSessionService:
            """Connect (on a worker thread) with the sync constructor's arguments."""
    else:
        open = _open_twin(PostgresSessionService.__init__, "AsyncPostgresSessionService")

    @property
    def owner(self) -> str:
        """The owner every statement of this service is scoped to."""
        return self._sync.owner

    @property
    def clock(self) -> Clock | None:
        """The client clock, for a resumed session's boundary gap only (server time is stored)."""
        return self._sync.clock

    @property
    def pool(self) -> ConnectionPool[Any]:
        """The sync service's connection pool, for advanced use."""
        return self._sync.pool

    @property
    def sync(self) -> PostgresSessionService:
        """The wrapped sync service."""
        return self._sync

    async def aclose(self) -> None:
        """Close the pool (waits for calls in flight). Idempotent."""
        await self._runner.run(self._sync.close, WORKER)
        self._runner.shutdown()

    def __repr__(self) -> str:
        return f"Async{self._sync!r}"

    # One line per sync method (tests/test_postgres_aio.py checks none is missing).
    create_session = _twin(PostgresSessionService.create_session)
    get_session = _twin(PostgresSessionService.get_session)
    find_resumable_session = _twin(PostgresSessionService.find_resumable_session)
    update_server_session_id = _twin(PostgresSessionService.update_server_session_id)
    archive_session = _twin(PostgresSessionService.archive_session)
    append_event = _twin(PostgresSessionService.append_event)
    append_event_at_head = _twin(PostgresSessionService.append_event_at_head)
    get_event = _twin(PostgresSessionService.get_event)
    load_events = _twin(PostgresSessionService.load_events)
    history = _twin(PostgresSessionService.history)
    set_head = _twin(PostgresSessionService.set_head)
    set_metadata = _twin(PostgresSessionService.set_metadata)
    get_metadata = _twin(PostgresSessionService.get_metadata)
    list_sessions = _twin(PostgresSessionService.list_sessions)
    session_summaries = _twin(PostgresSessionService.session_summaries)
    session_metadata = _twin(PostgresSessionService.session_metadata)
    export_session = _twin(PostgresSessionService.export_session)
    import_session = _twin(PostgresSessionService.import_session)
    events_at = _twin(PostgresSessionService.events_at)
    export_session_after = _twin(PostgresSessionService.export_session_after)
    merge_metadata = _twin(PostgresSessionService.merge_metadata)
    metadata_times = _twin(PostgresSessionService.metadata_times)
    purge = _twin(PostgresSessionService.purge)
    # the conversation lifecycle (SPEC §9)
    compact = _twin(PostgresSessionService.compact)
    record_usage = _twin(PostgresSessionService.record_usage)
    usage = _twin(PostgresSessionService.usage)
    usage_counts = _twin(PostgresSessionService.usage_counts)
    export_usage = _twin(PostgresSessionService.export_usage)
    import_usage = _twin(PostgresSessionService.import_usage)
    apply_retention = _twin(PostgresSessionService.apply_retention)
    search = _twin(PostgresSessionService.search)  # type: ignore[arg-type]  # its **_
    # the framework integrations' extensions (convstore.postgres.blobs)
    put_blobs = _twin(PostgresSessionService.put_blobs)
    get_blob = _twin(PostgresSessionService.get_blob)
    latest_blob = _twin(PostgresSessionService.latest_blob)
    get_blob_with_children = _twin(PostgresSessionService.get_blob_with_children)
    list_blobs = _twin(PostgresSessionService.list_blobs)
    delete_blobs = _twin(PostgresSessionService.delete_blobs)
    delete_session = _twin(PostgresSessionService.delete_session)
    clear_head = _twin(PostgresSessionService.clear_head)
    create_session_with_metadata = _twin(PostgresSessionService.create_session_with_metadata)
    archive_session_with_metadata = _twin(PostgresSessionService.archive_session_with_metadata)
    append_events_at_head = _twin(PostgresSessionService.append_events_at_head)
    history_tail = _twin(PostgresSessionService.history_tail)
    history_tail_values = _twin(PostgresSessionService.history_tail_values)
    pop_head = _twin(PostgresSessionService.pop_head)
    append_event_with_metadata = _twin(PostgresSessionService.append_event_with_metadata)
    get_all_metadata = _twin(PostgresSessionService.get_all_metadata)

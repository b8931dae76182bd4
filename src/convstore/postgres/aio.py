"""``AsyncPostgresSessionService``: the PostgreSQL service for an event loop (SPEC §7).

Every public method of :class:`~convstore.postgres.PostgresSessionService` as a
coroutine with the same parameters, results and typed errors (generated from
the sync methods, like the twins in :mod:`convstore.aio`), on psycopg's
``AsyncConnectionPool``. Import it from :mod:`convstore.postgres`::

    from convstore.aio import AsyncSessionManager
    from convstore.postgres import AsyncPostgresSessionService

    async with await AsyncPostgresSessionService.open(conninfo) as service:
        manager = AsyncSessionManager(service, cwd=".")
        await manager.start()

How it runs: each call is the sync service's own method, run in a greenlet
whose pool is psycopg's ``AsyncConnectionPool`` (:mod:`convstore.postgres._green`):
every pool wait and round trip is awaited on the event loop, no thread
involved, and the contract is the sync service's by construction — the same
code checks the arguments, picks the statements, scopes them by the owner
(row-level security enforces it on the server), enforces the per-call
``timeout`` (pool wait, ``statement_timeout``/``lock_timeout``, TCP keepalives
and the client-side deadline, which shuts a hung call's socket down), resolves
idempotent replays and :class:`~convstore.CommitUncertain` (SPEC 2.1, 6.1) and
names the typed errors. Cancelling an awaiting task cancels the statement in
flight (psycopg sends the server a cancel request), rolls an open transaction
back, and returns the connection to the pool: a write either committed or
left nothing. asyncio only (psycopg's async connections need it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

try:
    from ._green import GreenPool, spawn
except ModuleNotFoundError as _missing:  # greenlet ships with the postgres extra
    from .._extras import missing_extra

    raise missing_extra(__name__, "postgres", _missing) from None

from ..aio import Mode, _ExtendedTwins, _open_twin, _Same, _twin
from ..errors import StoreError
from . import PostgresSessionService

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg_pool import AsyncConnectionPool, ConnectionPool


__all__ = ["AsyncPostgresSessionService"]

R = TypeVar("R")


class _AsyncPoolService(PostgresSessionService):
    """The sync service's code on psycopg's async pool: call it only through :func:`spawn`."""

    __slots__ = ()
    _pool_class: ClassVar[Callable[..., ConnectionPool[Any]]] = GreenPool  # type: ignore[assignment]


class _GreenRunner:
    """Runs a sync service call in a greenlet; its I/O is awaited by the calling task."""

    __slots__ = ()

    async def run(self, call: Callable[[], R], mode: Mode) -> R:
        return await spawn(call)


_RUNNER = _GreenRunner()


class AsyncPostgresSessionService(_ExtendedTwins):
    """:class:`~convstore.postgres.PostgresSessionService` for an event loop.

    Open with ``await AsyncPostgresSessionService.open(conninfo, ...)`` (the
    sync constructor's arguments, inside the loop that will use it);
    ``async with`` or ``await aclose()`` closes it.
    """

    __slots__ = ("_runner", "_sync")
    _twin_of = PostgresSessionService

    def __init__(self, service: _AsyncPoolService) -> None:
        if not isinstance(service, _AsyncPoolService):
            raise StoreError(
                "AsyncPostgresSessionService is opened with "
                "`await AsyncPostgresSessionService.open(conninfo, ...)`, got "
                f"{type(service).__name__}"
            )
        self._sync = service
        self._runner = _RUNNER

    @classmethod
    async def _open(cls, *args: Any, **kwargs: Any) -> AsyncPostgresSessionService:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise StoreError(
                "AsyncPostgresSessionService runs on asyncio (psycopg's async connections "
                "need it): open it inside asyncio.run(...), or use PostgresSessionService"
            ) from None
        return cls(await spawn(_AsyncPoolService, *args, **kwargs))

    open = _open_twin(PostgresSessionService.__init__, "AsyncPostgresSessionService")

    owner = _Same(PostgresSessionService.owner)
    where = _Same(PostgresSessionService.where)
    clock = _Same(PostgresSessionService.clock)

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        """The ``psycopg_pool.AsyncConnectionPool``, for advanced use."""
        pool: AsyncConnectionPool[Any] = self._sync.pool.apool  # type: ignore[attr-defined]
        return pool

    async def aclose(self) -> None:
        """Close the pool. Idempotent."""
        await spawn(self._sync.close)

    def __repr__(self) -> str:
        return f"Async{self._sync!r}"

    # _ExtendedTwins has the methods the SQLite classes have too; these are the server's own
    # (tests/test_postgres_aio.py checks none is missing).
    session_summaries = _twin(PostgresSessionService.session_summaries)
    session_metadata = _twin(PostgresSessionService.session_metadata)
    export_session = _twin(PostgresSessionService.export_session)
    import_session = _twin(PostgresSessionService.import_session)
    events_at = _twin(PostgresSessionService.events_at)
    export_session_after = _twin(PostgresSessionService.export_session_after)
    merge_metadata = _twin(PostgresSessionService.merge_metadata)
    metadata_times = _twin(PostgresSessionService.metadata_times)
    purge = _twin(PostgresSessionService.purge)
    search = _twin(PostgresSessionService.search)
    # the conversation lifecycle (SPEC §9)
    usage_counts = _twin(PostgresSessionService.usage_counts)
    export_usage = _twin(PostgresSessionService.export_usage)
    import_usage = _twin(PostgresSessionService.import_usage)
    database_stats = _twin(PostgresSessionService.database_stats)

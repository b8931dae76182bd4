"""Run the sync PostgreSQL service's code on psycopg's *async* pool, unchanged.

:class:`~convstore.postgres.PostgresSessionService` holds every rule of the
team server once: validation (:mod:`convstore._validate`), statements
(:mod:`convstore.postgres._pgsql`), import plans (:mod:`convstore._importplan`),
the owner scoping, the per-call deadline, idempotent replays and
:class:`~convstore.CommitUncertain` resolution, the typed errors. Its methods
talk to the database only through ``self._pool`` (``getconn``/``putconn``)
and the connection that returns (``execute`` → ``fetchone``/``fetchall``/
``rowcount``, ``transaction()``, ``cursor()``).

This module gives that code an async pool without a second copy of it, the way
SQLAlchemy's asyncio extension runs its sync ORM on async drivers: a call of
the async service runs the sync method in a **greenlet** (:func:`spawn`); each
pool or connection call inside it hands the corresponding psycopg *coroutine*
(``AsyncConnectionPool.getconn``, ``AsyncConnection.execute``, ...) to the
awaiting task (:func:`await_`), which awaits it on the event loop and switches
back with the result. So every network wait is an ``await`` on the loop, no
thread is involved, and one implementation serves both APIs: a rule changed in
the sync service changes the async one (``tests/test_postgres_aio.py`` runs
the same operation sequences through both and compares).

A greenlet switch costs about a microsecond; a server round trip costs
hundreds. Cancellation travels the other way: the awaiting task's
``CancelledError`` is thrown into the greenlet at the ``await_`` it was
suspended in, so the sync code's ``finally`` blocks (return the connection,
disarm the deadline) and transaction exits (``ROLLBACK``) run, awaiting as
usual; psycopg itself cancels a statement the server is still running.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import greenlet

from ..errors import StoreError

__all__ = ["GreenPool", "await_", "spawn"]

R = TypeVar("R")


_AWAIT, _DONE, _FAILED = 0, 1, 2
#: Idle bridges kept per thread: creating a greenlet costs ~30 µs here, a switch ~2 µs.
_KEEP = 64
_idle = threading.local()


class _Bridge(greenlet.greenlet):  # type: ignore[misc]  # greenlet ships no stubs
    """A reusable greenlet that runs sync calls for the task greenlet ``driver``.

    It reports to ``driver`` with tagged messages: ``(_AWAIT, awaitable)`` from
    :func:`await_`, then ``(_DONE, result)`` or ``(_FAILED, exception)``, and
    waits for its next call.
    """

    def __init__(self, driver: greenlet.greenlet) -> None:
        super().__init__(self._serve, driver)
        self.driver = driver

    def _serve(self, job: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]) -> None:
        while True:
            fn, args, kwargs = job
            try:
                message: tuple[int, Any] = (_DONE, fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting task as is
                message = (_FAILED, exc)
            del fn, args, kwargs
            job = self.driver.switch(message)


def await_(awaitable: Awaitable[R]) -> R:
    """Inside :func:`spawn`: have the awaiting task await ``awaitable``; return its result.

    Outside a spawned call this is a programming error (a coroutine would be
    dropped unawaited): :class:`StoreError`.
    """
    current = greenlet.getcurrent()
    if not isinstance(current, _Bridge):
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()
        raise StoreError(
            "an async PostgreSQL connection was used outside the async service's call "
            "(use the service's coroutines)"
        )
    result: R = current.driver.switch((_AWAIT, awaitable))
    return result


async def spawn(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """Await ``fn(*args, **kwargs)``, a sync function whose I/O goes through :func:`await_`."""
    driver = greenlet.getcurrent()
    idle: list[_Bridge] = _idle.__dict__.setdefault("bridges", [])
    bridge = idle.pop() if idle and idle[-1].driver is driver else _Bridge(driver)
    # Context variables of the awaiting task are visible to the sync code.
    bridge.gr_context = driver.gr_context
    message = bridge.switch((fn, args, kwargs))
    while message[0] == _AWAIT:
        try:
            value = await message[1]
        except BaseException:  # CancelledError too: delivered where the call waits
            message = bridge.throw(*sys.exc_info())
        else:
            message = bridge.switch(value)
    if len(idle) < _KEEP:
        idle.append(bridge)
    if message[0] == _FAILED:
        raise message[1]
    result: R = message[1]
    return result


# -- the pool and connection the sync service sees --------------------------------------


class _Over:
    """A sync view of one async psycopg object, ``_of``: each method awaits its twin."""

    __slots__ = ("_of",)

    def __init__(self, of: Any) -> None:
        self._of = of


class GreenCursor(_Over):
    """A psycopg ``AsyncCursor`` seen through the sync cursor's methods."""

    __slots__ = ()

    def fetchone(self) -> Any:
        return await_(self._of.fetchone())

    def fetchall(self) -> list[Any]:
        rows: list[Any] = await_(self._of.fetchall())
        return rows

    def fetchmany(self, size: int = 0) -> list[Any]:
        rows: list[Any] = await_(self._of.fetchmany(size))
        return rows

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> GreenCursor:
        await_(self._of.execute(query, params, **kwargs))
        return self

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        await_(self._of.executemany(query, params_seq, **kwargs))

    def close(self) -> None:
        await_(self._of.close())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def __enter__(self) -> GreenCursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:  # rowcount, description, statusmessage, ...
        return getattr(self._of, name)


class _GreenTransaction(_Over):
    """``conn.transaction()``: psycopg's ``AsyncTransaction`` entered and left by await."""

    __slots__ = ()

    def __enter__(self) -> Any:
        return await_(self._of.__aenter__())

    def __exit__(self, *exc_info: Any) -> bool:
        return bool(await_(self._of.__aexit__(*exc_info)))


class GreenConnection:
    """A psycopg ``AsyncConnection`` seen through the sync connection's methods."""

    __slots__ = ("aconn",)

    def __init__(self, aconn: Any) -> None:
        self.aconn = aconn

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> GreenCursor:
        return GreenCursor(await_(self.aconn.execute(query, params, **kwargs)))

    def cursor(self, *args: Any, **kwargs: Any) -> GreenCursor:
        return GreenCursor(self.aconn.cursor(*args, **kwargs))

    def transaction(self, *args: Any, **kwargs: Any) -> _GreenTransaction:
        return _GreenTransaction(self.aconn.transaction(*args, **kwargs))

    def commit(self) -> None:
        await_(self.aconn.commit())

    def rollback(self) -> None:
        await_(self.aconn.rollback())

    def close(self) -> None:
        await_(self.aconn.close())

    def __getattr__(self, name: str) -> Any:  # closed, pgconn, info, ...
        return getattr(self.aconn, name)


class GreenPool:
    """``psycopg_pool.AsyncConnectionPool`` behind the sync ``ConnectionPool`` calls it serves.

    Takes the sync pool's constructor arguments; its connections are
    :class:`GreenConnection` wrappers. ``apool`` is the async pool itself.
    """

    __slots__ = ("apool",)

    def __init__(self, conninfo: str, **kwargs: Any) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.apool: Any = AsyncConnectionPool(conninfo, **kwargs)

    def open(self, wait: bool = False, timeout: float = 30.0) -> None:
        await_(self.apool.open(wait=wait, timeout=timeout))

    def getconn(self, timeout: float | None = None) -> GreenConnection:
        return GreenConnection(await_(self.apool.getconn(timeout=timeout)))

    def putconn(self, conn: GreenConnection) -> None:
        await_(self.apool.putconn(conn.aconn))

    def close(self, timeout: float = 5.0) -> None:
        await_(self.apool.close(timeout=timeout))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.apool, name)

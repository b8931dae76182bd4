"""The backends the framework adapters' tests run on: a local file and the team server.

``run_with_service(name, request, main)`` runs ``main(service)`` in one event
loop; ``backend_service("local" | "postgres", request)`` yields an
:class:`~convstore.service.ExtendedSessionService`: an in-memory local store,
the PostgreSQL service on the throwaway cluster of ``tests/conftest.py`` (a
fresh owner, so an empty world), or its async twin (every method a
coroutine, awaited by the adapters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from conftest import unique_owner

from convstore import LocalSessionService

BACKENDS = ["local", "postgres", "postgres-async"]
T = TypeVar("T")


@contextmanager
def backend_service(name: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    if name == "local":
        with LocalSessionService(":memory:") as service:
            yield service
        return
    if name != "postgres":
        raise ValueError(f"{name}: the async service is opened inside its loop (run_with_service)")
    dsn: str = request.getfixturevalue("pg_dsn")
    from convstore.postgres import PostgresSessionService

    with PostgresSessionService(dsn, owner=unique_owner("adapter"), max_size=8) as sync:
        yield sync


def run_with_service(
    name: str, request: pytest.FixtureRequest, main: Callable[[Any], Awaitable[T]]
) -> T:
    """``asyncio.run(main(service))`` with the backend ``name``.

    The async PostgreSQL service sits on psycopg's async pool, which belongs to
    the event loop it was opened in, so it is opened (and closed) inside the
    same ``asyncio.run`` as ``main``.
    """
    if name != "postgres-async":
        with backend_service(name, request) as service:
            return asyncio.run(main(service))
    dsn: str = request.getfixturevalue("pg_dsn")
    from convstore.postgres import AsyncPostgresSessionService

    async def go() -> T:
        service = await AsyncPostgresSessionService.open(
            dsn, owner=unique_owner("adapter"), max_size=8
        )
        try:
            return await main(service)
        finally:
            await service.aclose()

    return asyncio.run(go())

"""The backends the framework adapters' tests run on: a local file and the team server.

``backend_service("local" | "postgres" | "postgres-async", request)`` yields an
:class:`~convstore.service.ExtendedSessionService`: an in-memory local store,
the PostgreSQL service on the throwaway cluster of ``tests/conftest.py`` (a
fresh owner, so an empty world), or its async twin (every method a
coroutine, awaited by the adapters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import unique_owner

from convstore import LocalSessionService

BACKENDS = ["local", "postgres", "postgres-async"]


@contextmanager
def backend_service(name: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    if name == "local":
        with LocalSessionService(":memory:") as service:
            yield service
        return
    dsn: str = request.getfixturevalue("pg_dsn")
    from convstore.postgres import AsyncPostgresSessionService, PostgresSessionService

    sync = PostgresSessionService(dsn, owner=unique_owner("adapter"), max_size=8)
    if name == "postgres":
        try:
            yield sync
        finally:
            sync.close()
        return
    service = AsyncPostgresSessionService(sync)
    try:
        yield service
    finally:
        asyncio.run(service.aclose())

"""Shared fixtures: a fake clock, a fresh store, and an environment for child processes."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convstore import LocalSessionService, SessionService, SessionStore

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"


class FakeClock:
    """A clock tests move by hand instead of sleeping.

    Against the team server, whose timestamps are the server's own (SPEC 6.1),
    :meth:`follow_server` turns it into the client's real clock, and
    :meth:`advance` then makes time pass *on the server*: the schema owner
    moves every stored timestamp of the test's owner back by that much
    (``age_owner``), which is what the server would see had the time passed.
    ``slack`` is how far a timestamp may then be from an exact expectation
    (real seconds that elapse during the test): 0 for a pure fake clock.
    """

    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now
        self.slack = 0
        self._server: tuple[str, str] | None = None

    def __call__(self) -> float:
        if self._server is not None:
            import time

            return time.time()
        return self.now

    def follow_server(self, dsn: str, owner: str) -> None:
        """Read real time; :meth:`advance` ages ``owner``'s rows on the server at ``dsn``."""
        self._server = (dsn, owner)
        self.slack = 2

    def advance(self, seconds: float) -> None:
        self.now += seconds
        if self._server is not None:
            age_owner(*self._server, int(seconds))


def age_owner(dsn: str, owner: str, seconds: int) -> None:
    """Move every stored timestamp of ``owner`` back by ``seconds`` (as the schema owner).

    The legitimate way for a test to let time pass on a server that takes
    every timestamp from its own clock: raw SQL by the test cluster's
    superuser (row-level security does not apply to it), never a client hook.
    """
    import psycopg

    statements = (
        "UPDATE sessions SET created_at = created_at - %(n)s, updated_at = updated_at - %(n)s,"
        " archived_at = archived_at - %(n)s WHERE owner = %(owner)s",
        "UPDATE session_events SET created_at = created_at - %(n)s WHERE owner = %(owner)s",
        "UPDATE session_metadata SET updated_at = updated_at - %(n)s WHERE owner = %(owner)s",
        "UPDATE usage_ledger SET created_at = created_at - %(n)s WHERE owner = %(owner)s",
    )
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        for sql in statements:
            conn.execute(sql, {"n": seconds, "owner": owner})


def child_env() -> dict[str, str]:
    """Environment for a child Python process that must import this checkout's convstore."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(REPO), env.get("PYTHONPATH", "")])
    return env


PYTHON = sys.executable


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Iterator[SessionStore]:
    with SessionStore(":memory:", clock=clock) as s:
        yield s


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sessions.db"


#: Backends every SessionService contract test runs against. A backend that
#: needs a server adds its name here and a branch in ``_make_service``.
SERVICE_BACKENDS = ["local", "fake", "postgres"]


def _make_service(
    name: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> SessionService:
    if name == "local":
        return LocalSessionService(tmp_path / "service.db", clock=clock)
    if name == "fake":
        from fakes import FakeSessionService

        return FakeSessionService(clock)
    if name == "postgres":
        # The cluster starts on first use only; each test is its own owner, so
        # tests share one database and still never see each other's rows.
        # Asked for first: without psycopg or the server binaries it skips.
        dsn: str = request.getfixturevalue("pg_dsn")
        from convstore.postgres import PostgresSessionService

        owner = unique_owner()
        clock.follow_server(dsn, owner)  # server time: advancing ages the owner's rows
        return PostgresSessionService(dsn, owner=owner, max_size=4)
    raise AssertionError(f"unknown backend {name}")


@pytest.fixture(params=SERVICE_BACKENDS)
def service(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> Iterator[SessionService]:
    svc = _make_service(request.param, clock, tmp_path, request)
    yield svc
    svc.close()


# -- PostgreSQL -------------------------------------------------------------


def unique_owner(prefix: str = "test") -> str:
    """A fresh owner: an empty world on the shared test database."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def require_postgres() -> None:
    """Skip (fail under ``CI=true``) unless the server binaries and psycopg are installed."""
    from pgcluster import INSTALL_HINT, find_bindir

    if find_bindir() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        reason = "psycopg is not installed: pip install -e '.[postgres]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster for the whole test run (see ``tests/pgcluster.py``).

    Missing server binaries or psycopg skip the PostgreSQL tests with the
    install command, except under ``CI=true``, where they fail: CI installs both.
    """
    from pgcluster import temporary_cluster

    require_postgres()
    cluster = temporary_cluster()
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(cluster.datadir.parent, ignore_errors=True)
        raise
    try:
        yield cluster
    finally:
        try:
            cluster.stop(mode="immediate")
        finally:
            shutil.rmtree(cluster.datadir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn(pg_cluster: Any) -> str:
    """conninfo of a database on the test cluster with convstore's schema applied."""
    from convstore.postgres_migrations import migrate_server

    dsn: str = pg_cluster.create_database("convstore_test")
    migrate_server(dsn)  # the deploy step, once: opening never migrates
    return dsn


@pytest.fixture
def pg_service(pg_dsn: str, clock: FakeClock) -> Iterator[Any]:
    """A PostgresSessionService for a fresh owner on the shared test database."""
    from convstore.postgres import PostgresSessionService

    svc = PostgresSessionService(pg_dsn, owner=unique_owner(), max_size=4)
    yield svc
    svc.close()

"""Shared fixtures: a fake clock, a fresh store, and an environment for child processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from convstore import LocalSessionService, SessionService, SessionStore

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"


class FakeClock:
    """A clock tests move by hand instead of sleeping."""

    def __init__(self, now: float = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
SERVICE_BACKENDS = ["local", "fake"]


def _make_service(name: str, clock: FakeClock, tmp_path: Path) -> SessionService:
    if name == "local":
        return LocalSessionService(tmp_path / "service.db", clock=clock)
    if name == "fake":
        from fakes import FakeSessionService

        return FakeSessionService(clock)
    raise AssertionError(f"unknown backend {name}")


@pytest.fixture(params=SERVICE_BACKENDS)
def service(
    request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path
) -> Iterator[SessionService]:
    svc = _make_service(request.param, clock, tmp_path)
    yield svc
    svc.close()

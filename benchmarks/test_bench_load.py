"""Loading a 200-event session: warm connection, fresh connection, file not in the OS cache."""

from __future__ import annotations

from typing import Any

import pytest

SYSTEMS = ["convstore", "floor", "reference", "peer"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_load_warm(run_op: Any, system: str) -> None:
    run_op(system, "load_warm")


@pytest.mark.parametrize("system", SYSTEMS)
def test_load_cold(run_op: Any, system: str) -> None:
    run_op(system, "load_cold")


@pytest.mark.parametrize("system", SYSTEMS)
def test_load_uncached(run_op: Any, system: str) -> None:
    run_op(system, "load_uncached")

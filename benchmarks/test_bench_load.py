"""Loading a 200-event session, on a warm connection and on a freshly opened one."""

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

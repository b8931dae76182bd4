"""Appends: one event per transaction, and 100 events in one transaction."""

from __future__ import annotations

from typing import Any

import pytest

SYSTEMS = ["convstore", "floor", "reference", "peer"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_append(run_op: Any, system: str) -> None:
    run_op(system, "append")


@pytest.mark.parametrize("system", SYSTEMS)
def test_append_batch100(run_op: Any, system: str) -> None:
    run_op(system, "append_batch100")

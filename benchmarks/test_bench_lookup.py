"""Session lookups: by id, and the resume lookup with 1 and with 1000 sessions in a directory."""

from __future__ import annotations

from typing import Any

import pytest

SYSTEMS = ["convstore", "floor", "reference"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_get_session(run_op: Any, system: str) -> None:
    run_op(system, "get_session")


@pytest.mark.parametrize("system", SYSTEMS)
def test_resume_1(run_op: Any, system: str) -> None:
    run_op(system, "resume_1")


@pytest.mark.parametrize("system", SYSTEMS)
def test_resume_1000(run_op: Any, system: str) -> None:
    run_op(system, "resume_1000")

"""``python -m benchmarks.async_bench`` runs end to end in a tiny mode (nothing is timed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.async_bench import main


def test_async_bench_prints_every_row_and_the_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "async.json"
    assert main(["--n", "20", "--rounds", "3", "--no-peer", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for row in ("append", "append via worker", "hop", "load_events (100)", "resume"):
        assert f"| {row} |" in printed, row
    assert "### Targets" in printed and "loop iteration CPU" in printed
    assert "machine floor" in printed and "longest stall" in printed
    data = json.loads(out.read_text())
    assert data["calls"]["append"]["async"]["p50"] > 0
    assert data["lag"]["samples"] > 0

"""benchmarks/integrations_bench.py runs end to end in a tiny mode (nothing is timed here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("agents", reason="the openai-agents extra is not installed")
pytest.importorskip("langgraph.checkpoint.sqlite", reason="the integrations-test extra is missing")
pytest.importorskip("google.adk", reason="the adk extra is not installed")

from benchmarks.__main__ import main


def test_integrations_benchmark_tiny_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "integrations.json"
    assert main(["--integrations", "--n", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for heading in ("### openai-agents", "### langgraph", "### adk", "### Targets"):
        assert heading in printed
    data = json.loads(out.read_text())
    assert set(data["adk"]) == {"DatabaseSessionService", "SqliteSessionService", "convstore"}
    assert data["langgraph"]["convstore"]["get_tuple"]["p50_us"] > 0

"""benchmarks/lifecycle_bench.py runs end to end at toy sizes (the numbers come from real runs)."""

from __future__ import annotations

import json

import pytest

from benchmarks import lifecycle_bench


def test_lifecycle_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--session-events", "300", "--ledger", "2000", "--retention-events", "2000"]
    assert lifecycle_bench.main([*args, "--repeat", "1", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["retention"]["would_delete"] > 0
    assert results["usage"]["sessions"]["rollup_groups"] > 0
    assert results["usage"]["scattered"]["usage_model_vs_count"]
    assert results["compaction"]["history_compacted_ms"] > 0

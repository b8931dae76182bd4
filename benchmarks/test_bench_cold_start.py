"""Cold start: a new Python process imports, opens, resumes and loads 200 events."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import coldstart, dataset

from .conftest import add_percentiles, record

SYSTEMS = ["convstore", "floor", "reference", "peer"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_cold_start(
    request: pytest.FixtureRequest, benchmark: Any, bench_dataset: dataset.Dataset, system: str
) -> None:
    scripts = coldstart.scripts(bench_dataset.paths, bench_dataset.manifest)
    if system not in scripts:
        pytest.skip(f"{system}: not available (peer needs: pip install '.[bench-peers]')")
    env = coldstart.child_env()
    record(benchmark, bench_dataset, system, "cold_start")
    rounds = (
        3 if system == "peer" else max(3, round(20 * request.config.getoption("--bench-scale")))
    )
    benchmark.pedantic(
        coldstart.run_once,
        args=(scripts[system], env),
        rounds=rounds,
        iterations=1,
        warmup_rounds=1,
    )
    add_percentiles(benchmark)

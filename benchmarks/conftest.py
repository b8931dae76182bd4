"""pytest-benchmark fixtures: one cached dataset per session, every system opened once.

    pytest benchmarks/ --bench-events 100000 --benchmark-json=out.json
    pytest benchmarks/ --benchmark-disable --bench-events 2000     # smoke: each op runs once

Each test is one operation on one system, grouped by operation, with the table
size and p50/p95/p99 (computed from per-call timings) in ``extra_info``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import dataset, runner, systems
from benchmarks.ids import IdClock

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convstore benchmarks")
    group.addoption("--bench-events", type=int, default=10_000, help="events in the table")
    group.addoption("--bench-sessions", type=int, default=None, help="sessions (default: auto)")
    group.addoption(
        "--bench-cache", type=Path, default=HERE / ".cache", help="dataset cache directory"
    )
    group.addoption(
        "--bench-scale", type=float, default=0.5, help="calls per operation, relative to the CLI"
    )


@pytest.fixture(scope="session")
def bench_dataset(request: pytest.FixtureRequest) -> dataset.Dataset:
    cfg = request.config
    return dataset.ensure_dataset(
        cfg.getoption("--bench-events"),
        cfg.getoption("--bench-sessions"),
        cfg.getoption("--bench-cache"),
        progress=False,
    )


@pytest.fixture(scope="session")
def bench_systems(bench_dataset: dataset.Dataset) -> Iterator[dict[str, systems.System]]:
    ds = bench_dataset
    systems.remove_leftover_scratch(ds.paths)
    ids = IdClock(ds.manifest["now"] * 1000 + 10_000, seed=11)
    opened: dict[str, systems.System] = {}
    for name, cls in systems.SYSTEMS.items():
        kind = systems.FILE_OF[name]
        if kind in ds.paths:
            targets = systems.Targets(ds.manifest, systems.all_session_ids(ds.paths[kind], kind))
            opened[name] = cls(ds.paths[kind], targets, ids)
    yield opened
    for s in opened.values():
        s.close()


def _rounds(request: pytest.FixtureRequest, op: str) -> int:
    count = dict((o[0], o[2]) for o in runner.OPERATIONS)[op]
    return max(5, round(count * request.config.getoption("--bench-scale")))


def record(benchmark: Any, ds: dataset.Dataset, system: str, op: str) -> None:
    benchmark.group = op
    benchmark.extra_info.update(
        events=ds.manifest["events"],
        sessions=ds.manifest["sessions"],
        system=system,
        operation=op,
    )


def add_percentiles(benchmark: Any) -> None:
    """p50/p95/p99 of the per-call timings (pytest-benchmark reports min/median/mean only)."""
    stats = getattr(benchmark, "stats", None)
    data = getattr(getattr(stats, "stats", None), "data", None)
    if data:
        s = sorted(x * 1e9 for x in data)
        summary = runner.summarize(s)
        benchmark.extra_info.update(
            {
                k: round(v, 2)
                for k, v in summary.items()
                if isinstance(v, float | int) and not math.isnan(v)
            }
        )


@pytest.fixture
def run_op(
    request: pytest.FixtureRequest,
    benchmark: Any,
    bench_dataset: dataset.Dataset,
    bench_systems: dict[str, systems.System],
) -> Any:
    """``run_op(system_name, op_name)``: time one operation per call via ``benchmark.pedantic``."""

    def run(system: str, op_name: str) -> None:
        if system not in bench_systems:
            pytest.skip(f"{system}: not available (peer needs: pip install '.[bench-peers]')")
        op = runner.op_of(bench_systems[system], op_name)
        if op is None:
            pytest.skip(f"{system} has no {op_name} operation")
        record(benchmark, bench_dataset, system, op_name)
        pending: list[Any] = []

        def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
            if op.finish is not None:
                while pending:
                    op.finish(pending.pop())
            prepared = op.prepare()
            pending.append(prepared)
            return (prepared,), {}

        try:
            benchmark.pedantic(
                op.call,
                setup=setup,
                rounds=_rounds(request, op_name),
                iterations=1,
                warmup_rounds=3,
            )
        finally:
            if op.finish is not None:
                while pending:
                    op.finish(pending.pop())
        add_percentiles(benchmark)

    return run

"""The benchmark suite runs end to end in a tiny mode, so it cannot rot (nothing is timed here).

Both entry points: ``python -m benchmarks`` (table + JSON) and the pytest-benchmark
tests under ``benchmarks/`` with ``--benchmark-disable`` (each operation once).
The optional peer (OpenAI Agents SDK) is left out: its import alone takes seconds.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, REPO, child_env

from benchmarks.__main__ import main
from benchmarks.runner import OP_NAMES

TINY = ["--events", "2000", "--repeat", "1", "--scale", "0.02", "--quiet"]
SYSTEMS = ["convstore", "floor", "reference"]


#: Operations that only some systems have (the reference has no search).
RUNS_ON = {
    "search_recent": ["convstore"],
    "open": ["convstore", "floor"],
    "import1000": ["convstore", "floor"],
}


def test_cli_prints_every_operation_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    rc = main([*TINY, "--systems", ",".join(SYSTEMS), "--json", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    for op in OP_NAMES:
        assert f"**`{op}`**" in printed, op
    assert "| p50 / floor | p99 / floor |" in printed and "### Targets" in printed
    # Readable in a 100-column terminal, one unit per column; no work-item numbers.
    assert max(len(line) for line in printed.splitlines()) <= 100
    assert "issue" not in printed.lower()

    data = json.loads(out.read_text())
    (size,) = data["sizes"]
    assert size["events"] == 2000
    for op in OP_NAMES:
        for system in RUNS_ON.get(op, SYSTEMS):
            stats = size["stats"][op][system]
            assert stats["n"] >= 1 and stats["p50_us"] > 0, (op, system)
            assert stats["p50_us"] <= stats["p95_us"] <= stats["p99_us"], (op, system)
    assert data["targets"] and data["meta"]["command"].startswith("python -m benchmarks")
    # The async API's rows (benchmarks/async_bench.py), in the same report.
    assert "## Async API" in printed and "### Async targets" in printed
    assert "| append | async |" in printed and "loop lag p99" in printed
    assert data["meta"]["async"]["calls"]["append"]["async"]["p50"] > 0


def test_pytest_benchmark_entry_point_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            PYTHON,
            "-m",
            "pytest",
            "benchmarks/",
            "--benchmark-disable",
            "-q",
            "-p",
            "no:cacheprovider",
            "--bench-events",
            "2000",
            "--bench-cache",
            str(tmp_path),
            "-k",
            "not peer",
        ],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


def test_indexing_switch_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import indexing_switch

    assert indexing_switch.main(["--events", "600", "--appends", "20", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "| on |" in out and "| off |" in out


def test_schema_layout_benchmark_runs() -> None:
    from benchmarks import schema_rowid

    table = schema_rowid.run(rows=200, appends=6, rounds=2)
    for size in ("200 B", "1,024 B", "8,192 B"):
        assert f"| {size} | rowid |" in table and f"| {size} | without_rowid |" in table
    assert max(len(line) for line in table.splitlines()) <= 100


def test_dataset_progress_bar_only_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from benchmarks.dataset import Progress

    bar = Progress(10, "building")  # stderr is captured: not a terminal
    bar.update(10)
    bar.finish()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = Progress(10, "building")
    bar.update(10)
    bar.finish()
    assert "building [" in capsys.readouterr().err


@pytest.mark.parametrize("count", [0, 1, 24, 25, 26, 49, 50, 51, 100, 1000])
def test_the_floors_bulk_insert_writes_each_row_once_with_its_key(count: int) -> None:
    """``floor_insert`` (many rows a statement, the rest one by one) = one row a statement."""
    import apsw

    from benchmarks.dataset import FLOOR_SCHEMA
    from benchmarks.systems import FLOOR_BATCH_ROW, floor_insert

    rows = [
        (f"e{i}", f"e{i - 1}" if i else None, "inv", "text", f'{{"n": {i}}}') for i in range(count)
    ]
    got, want = apsw.Connection(":memory:"), apsw.Connection(":memory:")
    for conn in (got, want):
        conn.execute(FLOOR_SCHEMA)
    base = 7 * 4294967296 + 3
    floor_insert(got, base, rows, 1_700_000_000)
    want.executemany(
        FLOOR_BATCH_ROW, [(base + i, *r, 1_700_000_000) for i, r in enumerate(rows, 1)]
    )
    query = "SELECT * FROM events ORDER BY key"
    assert got.execute(query).fetchall() == want.execute(query).fetchall()
    assert len(got.execute(query).fetchall()) == count

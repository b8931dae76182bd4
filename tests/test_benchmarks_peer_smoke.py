"""The benchmark runner with the OpenAI Agents peer, over several rounds (nothing is timed).

Every round starts with an untimed warm pass over each system's session
tables. The peer's file is held open by Python's ``sqlite3``, which links a
different copy of SQLite than APSW: a pass through APSW dropped the peer's
POSIX locks when it closed, and the README's ``python -m benchmarks`` died in
round 3 with ``sqlite3.OperationalError: disk I/O error``. The peer's pass now
reads through ``sqlite3`` itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("agents", reason="the openai-agents extra is not installed")

from benchmarks.__main__ import main
from benchmarks.systems import SYSTEMS, System


def test_peer_warms_with_its_own_sqlite() -> None:
    assert SYSTEMS["peer"].warm is not System.warm


def test_peer_survives_every_rounds_warm_pass(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    rc = main(
        [
            "--events", "2000", "--repeat", "4", "--scale", "0.02", "--quiet",
            "--systems", "convstore,floor,peer", "--ops", "append,load_warm,load_cold",
            "--no-async", "--json", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    stats = json.loads(out.read_text())["sizes"][0]["stats"]
    for op in ("append", "load_warm", "load_cold"):
        assert stats[op]["peer"]["n"] >= 4 and stats[op]["peer"]["p50_us"] > 0, op

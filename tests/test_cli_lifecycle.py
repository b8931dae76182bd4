"""``convstore stats``, ``usage`` and ``retention`` (SPEC §9), run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FakeClock

from convstore import SessionStore, cli
from convstore.cli_lifecycle import parse_size

DAY = 86_400


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    clock = FakeClock()
    with SessionStore(path, clock=clock) as store:
        store.create_session("live", directory="/p")
        store.append_event("live", "e1", None, "i", "assistant", '{"content": "hello"}')
        store.record_usage("live", "e1", model="m1", input_tokens=10, output_tokens=2, cost=0.5)
        store.create_session("old", directory="/p")
        store.append_event("old", "o1", None, "i", "assistant", '{"content": "bye"}')
        store.record_usage("old", "o1", model="m2", input_tokens=4, output_tokens=1)
        store.archive_session("old")
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_stats(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--db", str(db), "stats")
    assert code == 0 and "2 sessions (1 archived), 2 events" in out and "largest sessions" in out
    code, out, _ = _run(capsys, "--db", str(db), "stats", "--json", "--top", "1")
    data = json.loads(out)
    assert data["sessions"] == 2 and len(data["largest"]) == 1 and data["file_bytes"] > 0


def test_usage(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--db", str(db), "usage")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["MODEL", "INPUT", "OUTPUT", "CACHED", "COST", "RECORDS"]
    assert lines[1].split() == ["m1", "10", "2", "0", "0.5000", "1"]
    assert lines[-1].split() == ["TOTAL", "14", "3", "0", "0.5000", "2"]
    code, out, _ = _run(capsys, "--db", str(db), "usage", "--by", "session", "--json")
    assert [t["key"] for t in json.loads(out)] == ["live", "old"]
    code, out, _ = _run(capsys, "--db", str(db), "usage", "--session", "old", "--json")
    assert json.loads(out)[0]["key"] == "m2"
    code, out, _ = _run(capsys, "--db", str(db), "usage", "--since", "1d")
    assert code == 0 and "no usage recorded" in out  # the fixture's clock is in 2023
    code, _, err = _run(capsys, "--db", str(db), "usage", "--by", "week")
    assert code == 2 and "invalid choice" in err


def test_retention_is_a_dry_run_unless_applied(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = db.read_bytes()
    code, out, _ = _run(capsys, "--db", str(db), "retention", "--delete-archived-after-days", "0")
    assert code == 0 and "dry run" in out and "would delete 1 archived sessions" in out
    assert ": old" in out
    with SessionStore(db) as store:
        assert store.get_session("old") is not None
    code, out, _ = _run(
        capsys, "--db", str(db), "retention", "--delete-archived-after-days", "0",
        "--archive-idle-days", "1", "--apply", "--json",
    )
    report = json.loads(out)
    assert report["dry_run"] is False and report["deleted"] == ["old"]
    assert report["archived"] == ["live"]  # idle since 2023
    with SessionStore(db) as store:
        assert store.get_session("old") is None and store.get_session("live") is not None
    assert before  # the file existed


@pytest.mark.parametrize(
    "args",
    [
        ["retention", "--max-bytes", "lots"],
        ["retention", "--archive-idle-days", "-3"],
        ["retention", "--archive-idle-days", "nan"],
        ["stats", "--top", "x"],
    ],
)
def test_bad_arguments_are_usage_errors(
    db: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, _, err = _run(capsys, "--db", str(db), *args)
    assert code == 2 and "Traceback" not in err


def test_stats_top_out_of_range_is_a_clear_error(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "--db", str(db), "stats", "--top", "-1")
    # An argument out of range is a usage error (exit 2), like every CLI argument.
    assert code == 2 and "--top" in err and "from 0 to 10000" in err and "Traceback" not in err


def test_parse_size() -> None:
    assert parse_size("1K") == 1024 and parse_size("3gb") == 3 << 30 and parse_size("0") == 0

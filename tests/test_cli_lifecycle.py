"""``convstore stats``, ``usage`` and ``retention`` (SPEC §9), run in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def test_stats_usage_and_retention_against_the_team_server(
    pg_cluster: Any, pg_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """``--conninfo``: the same commands on a real server, as SCRAM roles over TCP,
    each seeing only its own sessions (row-level security, not a client filter)."""
    import uuid

    from convstore.postgres import PostgresSessionService

    dbname = pg_dsn.split("dbname=")[1].split()[0]
    alice_name, bob_name = (f"cli_{who}_{uuid.uuid4().hex[:6]}" for who in ("alice", "bob"))
    alice = pg_cluster.create_role(alice_name, "pw-alice", dbname=dbname)
    bob = pg_cluster.create_role(bob_name, "pw-bob", dbname=dbname)
    with PostgresSessionService(alice) as svc:
        for sid, n in (("big", 30), ("small", 2)):
            svc.create_session(sid, directory="/p")
            for i in range(n):
                svc.append_event_at_head(sid, f"{sid}-{i}", "i", "text", '{"content": "x"}')
        svc.record_usage("big", "big-3", model="m1", input_tokens=7, output_tokens=1, cost=0.5)
        svc.archive_session("small")
    with PostgresSessionService(bob) as svc:
        svc.create_session("bobs", directory="/p")

    code, out, _ = _run(capsys, "stats", "--conninfo", alice, "--json", "--top", "1")
    data = json.loads(out)
    assert code == 0 and data["server"].endswith(f"(owner {alice_name})")
    assert (data["sessions"], data["archived_sessions"], data["events"]) == (2, 1, 32)
    assert [s["id"] for s in data["largest"]] == ["big"] and data["largest"][0]["events"] == 30
    assert data["data_bytes"] > 0 and data["file_bytes"] >= data["data_bytes"]
    assert sum(g["events"] for g in data["growth"]) == 32  # all written today, server time
    assert sum(g["sessions"] for g in data["growth"]) == 2
    assert "pw-alice" not in out

    code, out, _ = _run(capsys, "stats", "--conninfo", alice)
    assert code == 0 and "2 sessions (1 archived), 32 events" in out and "big" in out
    assert "pw-alice" not in out

    monkeypatch.setenv("CONVSTORE_PG_CONNINFO", bob)  # --conninfo alone: from the environment
    code, out, _ = _run(capsys, "stats", "--conninfo", "--json")
    data = json.loads(out)
    assert (data["sessions"], data["events"], [s["id"] for s in data["largest"]]) == (1, 0, [])

    code, out, _ = _run(capsys, "usage", "--conninfo", alice, "--json")
    assert [(t["key"], t["input_tokens"], t["cost"]) for t in json.loads(out)] == [("m1", 7, 0.5)]
    code, out, _ = _run(capsys, "usage", "--conninfo", "--json")  # bob's: none
    assert json.loads(out) == []

    for days, deleted in (("1", []), ("0", ["small"])):  # "small" was archived just now
        code, out, _ = _run(
            capsys, "retention", "--conninfo", alice, "--delete-archived-after-days", days,
            "--json",
        )
        report = json.loads(out)
        assert code == 0 and report["dry_run"] and report["deleted"] == deleted
    code, out, _ = _run(capsys, "stats", "--conninfo", alice, "--json")
    assert json.loads(out)["sessions"] == 2  # a dry run changed nothing

    # Acting for another owner needs convstore_service: refused, named, no traceback.
    code, out, err = _run(capsys, "stats", "--conninfo", bob, "--owner", alice_name)
    assert code != 0 and "convstore_service" in err and "Traceback" not in err
    # A server that is not there: a clear error, no traceback.
    code, out, err = _run(
        capsys, "stats", "--conninfo", "host=127.0.0.1 port=1 dbname=x connect_timeout=2"
    )
    assert code != 0 and "Traceback" not in err and err.strip()

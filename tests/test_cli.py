"""The ``convstore`` command as a user runs it: a child process (plus a few in-process checks)."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, FakeClock, child_env

from convstore import SessionStore, cli

#: The console script pip installed next to this interpreter: the command a user types.
SCRIPT = Path(PYTHON).parent / "convstore"
COMMAND = [str(SCRIPT)] if SCRIPT.is_file() else [PYTHON, "-m", "convstore"]


def run(
    *args: str, db: Path | None = None, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = [*COMMAND, *(["--db", str(db)] if db else []), *args]
    environment = {**child_env(), "TZ": "UTC", **(env or {})}
    return subprocess.run(
        full, input=stdin, env=environment, capture_output=True, text=True, timeout=60
    )


def test_tests_drive_the_installed_console_script() -> None:
    # An editable install (`pip install -e .`) puts `convstore` next to python.
    assert SCRIPT.is_file(), "install the package: pip install -e '.[dev]'"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    clock = FakeClock()
    with SessionStore(path, clock=clock) as store:
        store.create_session("s1", directory="/work/app", git_root="/work")
        store.append_event("s1", "e1", None, "i", "user", '{"content": "How do I enable WAL?"}')
        clock.advance(60)
        store.append_event("s1", "e2", "e1", "i", "text", '{"content": "Set journal_mode=WAL."}')
        store.set_metadata("s1", "title", "WAL question")
        clock.advance(60)
        store.create_session("s2", directory="/tmp/x")
        store.append_event("s2", "f1", None, "i", "user", '{"content": "old journal chatter"}')
        store.archive_session("s2")
    return path


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


@pytest.mark.parametrize(
    "command",
    [[], ["migrate"], ["migrate", "status"], ["migrate", "apply"], ["sessions"],
     ["sessions", "list"], ["sessions", "show"], ["search"], ["export"], ["import"], ["purge"],
     ["index"], ["index", "status"], ["index", "rebuild"], ["index", "off"], ["bench"],
     ["server"], ["server", "migrate"]],
)  # fmt: skip
def test_help_everywhere(command: list[str]) -> None:
    proc = run(*command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: convstore")


def test_sessions_list_table_newest_first_and_filters(db: Path) -> None:
    proc = run("sessions", "list", db=db)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["ID", "UPDATED", "EVENTS", "STATE", "DIRECTORY"]
    assert lines[1].split() == ["s1", "2023-11-14", "22:14:20", "2", "live", "/work/app"]
    assert len(lines) == 2  # archived s2 hidden by default
    proc = run("sessions", "list", "--archived", "--json", db=db)
    rows = json.loads(proc.stdout)
    assert [r["id"] for r in rows] == ["s2", "s1"]  # newest activity first
    assert rows[0]["archived_at"] == 1_700_000_120 and rows[1]["event_count"] == 2
    proc = run("sessions", "list", "--archived", "--directory", "/tmp/x", "--json", db=db)
    assert [r["id"] for r in json.loads(proc.stdout)] == ["s2"]
    proc = run("sessions", "list", "--git-root", "/work", "--limit", "1", "--json", db=db)
    assert [r["id"] for r in json.loads(proc.stdout)] == ["s1"]


def test_sessions_show_prints_the_chain_readably(db: Path) -> None:
    proc = run("sessions", "show", "s1", db=db)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "session    s1" in out and "title      WAL question" in out
    assert out.index("How do I enable WAL?") < out.index("Set journal_mode=WAL.")
    assert "2023-11-14 22:14:20  text  e2" in out
    data = json.loads(run("sessions", "show", "s1", "--json", db=db).stdout)
    assert [e["id"] for e in data["events"]] == ["e1", "e2"]
    assert data["session"]["head_id"] == "e2" and data["metadata"] == {"title": "WAL question"}


def test_sessions_show_unknown_is_one_line_exit_1(db: Path) -> None:
    proc = run("sessions", "show", "nope", db=db)
    assert proc.returncode == 1
    assert _one_line_error(proc) == "convstore: error: session 'nope' does not exist\n"


def test_search_prints_marked_hits_and_json(db: Path) -> None:
    proc = run("search", "wal", db=db)
    assert proc.returncode == 0, proc.stderr
    assert "s1  e1  user" in proc.stdout and "How do I enable [WAL]?" in proc.stdout
    hits = json.loads(run("search", "journal", "--json", db=db).stdout)
    assert {h["event_id"] for h in hits} == {"e2", "f1"}  # archived sessions are searched
    assert set(hits[0]) == {"session_id", "event_id", "event_type", "snippet", "rank",
                            "created_at"}  # fmt: skip
    hits = json.loads(run("search", "journal", "--type", "user", "--json", db=db).stdout)
    assert [h["event_id"] for h in hits] == ["f1"]
    hits = json.loads(run("search", "journal", "--directory", "/work/app", "--json", db=db).stdout)
    assert [h["event_id"] for h in hits] == ["e2"]
    hits = json.loads(run("search", "--literal", "journal_mode=WAL.", "--json", db=db).stdout)
    assert [h["event_id"] for h in hits] == ["e2"]
    hits = json.loads(run("search", "journal", "--recent", "--json", db=db).stdout)
    assert [h["event_id"] for h in hits] == ["f1", "e2"]
    assert run("search", "nothing-like-this", "--literal", db=db).stdout == "no matches\n"


def test_search_bad_syntax_is_one_line_exit_1(db: Path) -> None:
    proc = run("search", '"unterminated', db=db)
    assert proc.returncode == 1
    assert _one_line_error(proc).startswith("convstore: error: invalid search query")


def test_export_stdout_and_file_then_import_round_trip(db: Path, tmp_path: Path) -> None:
    to_stdout = run("export", db=db)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stderr == ""  # no progress when stderr is not a terminal
    out = tmp_path / "all.jsonl"
    to_file = run("export", "--output", str(out), db=db)
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == f"exported 2 sessions, 3 events to {out}\n"
    assert out.read_text() == to_stdout.stdout
    assert out.stat().st_mode & 0o777 == 0o600  # private, like the database
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    copy = tmp_path / "copy.db"
    proc = run("import", str(out), db=copy)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "imported 2 sessions, 3 events\n"
    assert run("export", db=copy).stdout == to_stdout.stdout
    one = run("export", "--session", "s2", db=db).stdout
    assert [json.loads(line)["kind"] for line in one.splitlines()] == ["session", "event"]
    live = run("export", "--live-only", db=db).stdout
    assert '"id":"s2"' not in live and '"id":"s1"' in live


def test_import_from_stdin_and_conflicts_write_nothing(db: Path, tmp_path: Path) -> None:
    text = run("export", db=db).stdout
    copy = tmp_path / "copy.db"
    proc = run("import", "-", "--json", db=copy, stdin=text)
    assert json.loads(proc.stdout) == {"sessions": 2, "events": 3}
    again = run("import", "-", db=copy, stdin=text)
    assert again.returncode == 1
    assert "already used; nothing was imported" in _one_line_error(again)
    missing = run("import", str(tmp_path / "missing.jsonl"), db=copy)
    assert missing.returncode == 1
    assert "missing.jsonl: No such file or directory" in _one_line_error(missing)


def test_export_unknown_session_is_an_error_and_no_file(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    proc = run("export", "--session", "nope", "-o", str(out), db=db)
    assert proc.returncode == 1 and "session 'nope' does not exist" in _one_line_error(proc)
    assert not out.exists()


def test_purge_dry_run_then_for_real(db: Path) -> None:
    proc = run("purge", "--archived-before", "2030-01-01", "--dry-run", "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["sessions"], report["events"], report["dry_run"]) == (1, 1, True)
    proc = run("purge", "--archived-before", "1700000000", db=db)
    assert proc.stdout.startswith("deleted 0 sessions")  # s2 was archived later than that
    proc = run("purge", "--archived-before", "2030-01-01T00:00Z", "--vacuum", db=db)
    assert proc.stdout.startswith(
        "deleted 1 session archived before 2030-01-01 00:00:00: 1 event, 0 metadata entries "
        "in 1 batch; vacuum freed "
    )
    assert "vacuum freed" in proc.stdout
    rows = json.loads(run("sessions", "list", "--archived", "--json", db=db).stdout)
    assert [r["id"] for r in rows] == ["s1"]


@pytest.mark.parametrize(
    "args",
    [["purge"], ["purge", "--archived-before", "someday"], ["sessions", "list", "--limit", "0"],
     ["frobnicate"], ["sessions"], []],
)  # fmt: skip
def test_usage_errors_exit_2_with_one_line(args: list[str], db: Path) -> None:
    proc = run(*args, db=db)
    assert proc.returncode == 2
    assert "see" in _one_line_error(proc)


def test_migrate_status_changes_nothing_and_apply_creates(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "new.db"
    proc = run("migrate", "status", "--json", db=path)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["version"] == 0 and {m["state"] for m in status["migrations"]} == {"pending"}
    assert not path.exists() and not path.parent.exists()
    proc = run("migrate", "apply", db=path)
    assert proc.returncode == 0, proc.stderr
    assert "applied 0004_create_event_search.sql" in proc.stdout
    proc = run("migrate", "status", db=path)
    assert ", 0 pending" in proc.stdout
    assert re.search(r"^4 +0004_create_event_search\.sql +applied ", proc.stdout, re.M)
    assert "up to date" in run("migrate", "apply", db=path).stdout


def _bytes_and_modes(path: Path) -> dict[str, tuple[bytes, int]]:
    """Every byte and the mode of the database, its -wal and -shm (those that exist)."""
    out = {}
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            out[name.name] = (name.read_bytes(), name.stat().st_mode)
    return out


@pytest.mark.parametrize("live", [False, True], ids=["wal", "wal-with-live-wal-file"])
def test_migrate_status_leaves_another_applications_wal_database_untouched(
    tmp_path: Path, live: bool
) -> None:
    import apsw

    path = tmp_path / "app.db"
    app = apsw.Connection(str(path))
    app.execute("PRAGMA journal_mode=WAL")
    app.execute("PRAGMA wal_autocheckpoint=0")  # the rows stay in the -wal while it runs
    app.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
    app.execute("INSERT INTO notes(body) VALUES ('mine')")
    if not live:
        app.close()
    path.chmod(0o644)
    before = _bytes_and_modes(path)
    assert (f"{path.name}-wal" in before) == live
    try:
        for args in (["migrate", "status"], ["migrate", "status", "--json"]):
            proc = run(*args, db=path)
            assert proc.returncode == 1
            assert "another application" in _one_line_error(proc)
            assert _bytes_and_modes(path) == before  # database and -wal, byte for byte
    finally:
        if live:
            app.close()
    check = apsw.Connection(str(path))
    assert {r[0] for r in check.execute("SELECT name FROM sqlite_master")} == {"notes"}
    check.close()


def test_db_defaults_to_xdg_data_home(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    assert run("migrate", "apply", env=env).returncode == 0
    assert (tmp_path / "xdg" / "convstore" / "sessions.db").is_file()
    assert run("sessions", "list", env=env).stdout == "no sessions\n"
    env = {"XDG_DATA_HOME": "", "HOME": str(tmp_path / "home")}
    missing = run("sessions", "list", env=env)  # the default path is not created either
    assert missing.returncode == 1
    expected = tmp_path / "home" / ".local" / "share" / "convstore" / "sessions.db"
    assert f"database '{expected}' does not exist" in _one_line_error(missing)
    assert not (tmp_path / "home").exists()
    assert run("migrate", "apply", env=env).returncode == 0
    assert expected.is_file()


def test_not_a_database_is_one_line_exit_1(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("hello, not sqlite")
    proc = run("sessions", "list", db=bogus)
    assert proc.returncode == 1 and "not an SQLite database" in _one_line_error(proc)
    assert bogus.read_text() == "hello, not sqlite"


def test_bench_delegates_to_the_benchmark_suite() -> None:
    # The suite's own --help: proves the hand-off without running a benchmark
    # (tests/test_benchmarks_smoke.py runs the suite itself at a tiny size).
    proc = run("bench", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: convstore bench")
    assert "--events" in proc.stdout and "--sessions" in proc.stdout
    assert "python -m benchmarks [" not in proc.stdout  # usage lines name this command


def test_bench_without_the_suite_explains(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_find_benchmarks", lambda: None)
    assert cli.main(["bench", "--help"]) == 0  # help explains where the suite lives
    out = capsys.readouterr().out
    assert out.startswith("usage: convstore bench") and "not in the installed package" in out
    assert cli.main(["bench"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("convstore: error: the benchmark suite is not available")
    assert "convstore bench --help" in err and err.count("\n") == 1


def test_console_script_entry_point_is_main() -> None:
    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert 'convstore = "convstore.cli:main"' in text
    assert callable(cli.main)


def test_import_convstore_does_not_load_the_cli() -> None:
    code = (
        "import sys, convstore; print(sorted(m for m in sys.modules if m in "
        "{'argparse', 'convstore.cli', 'convstore.search', 'convstore.exporting'}))"
    )
    out = subprocess.run([PYTHON, "-c", code], env=child_env(), capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only() -> None:
    tty = _Tty()
    progress = cli.Progress("exporting", "events", tty)
    progress.update(1000)
    progress.update(500, 1000, force=True)
    progress.finish()
    shown = tty.getvalue().split("\r\x1b[K")
    assert shown[1] == "exporting: 1000 events"
    assert shown[2].startswith("exporting [") and shown[2].endswith("]  50%  500/1000 events")
    assert shown[3] == ""  # cleared at the end
    pipe = io.StringIO()
    quiet = cli.Progress("exporting", "events", pipe)
    quiet.update(1, 2, force=True)
    quiet.finish()
    assert pipe.getvalue() == ""


def test_broken_pipe_is_quiet(db: Path) -> None:
    code = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'convstore', '--db', {str(db)!r}, 'export'],"
        " stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "p.stdout.close(); err = p.stderr.read(); p.wait()\n"
        "print(repr(err.decode()))\n"
    )
    out = subprocess.run([PYTHON, "-c", code], env=child_env(), capture_output=True, text=True)
    assert out.stdout.strip() == "''"  # nothing on stderr: no traceback, no message


def test_main_runs_in_process(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--db", str(db), "sessions", "list", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["s1"]
    assert cli.main(["--db", str(db), "search", "AND"]) == 1
    assert capsys.readouterr().err.startswith("convstore: error: invalid search query 'AND'")


def test_bench_help_usage_is_aligned_under_this_command() -> None:
    usage = run("bench", "--help").stdout.split("The suite's options:\n\n")[1].split("\n\n")[0]
    first, *rest = usage.splitlines()
    assert first.startswith("usage: convstore bench [")
    assert rest and all(line.startswith(" " * 23 + "[") for line in rest)

"""The ``convstore`` command under careless and hostile input: one clear line, never a traceback.

Every case drives the installed console script in a child process and checks
the exit status (1 an error, 2 a bad command line), that stderr is one line
with no traceback, and that no file appeared. Plus: what a new user meets
first (a mistyped ``--db``, a failed import, cutoffs, search syntax), stored
control characters shown escaped, and the progress bar on a terminal.
"""

from __future__ import annotations

import ast
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, FakeClock, child_env
from test_cli import COMMAND, run

from convstore import SessionStore, cli
from convstore._cliutil import parse_when

NOW = 1_700_000_000


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    clock = FakeClock(NOW)
    with SessionStore(path, clock=clock) as store:
        store.create_session("s1", directory="/work/app")
        store.append_event("s1", "e1", None, "i", "user", '{"content": "turn on WAL mode"}')
        store.append_event("s1", "e2", "e1", "i", "text", '{"content": "PRAGMA journal_mode=WAL"}')
        store.create_session("old", directory="/tmp/x")
        store.append_event("old", "o1", None, "i", "user", '{"content": "old chatter"}')
        store.archive_session("old")
    return path


# -- a mistyped --db and a failed import create nothing -------------------------

READ_ONLY = [
    ["sessions", "list"],
    ["sessions", "show", "s1"],
    ["search", "wal"],
    ["export"],
    ["export", "--output", "out.jsonl"],
    ["purge", "--archived-before", "30d"],
    ["purge", "--archived-before", "30d", "--dry-run"],
    ["index", "status"],
    ["index", "rebuild"],
    ["index", "off"],
    ["stats"],
    ["usage"],
    ["retention"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_missing_database_is_an_error_and_nothing_is_created(
    command: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "nope" / "none.db"
    proc = subprocess.run(
        [*COMMAND, "--db", str(path), *command],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"database '{path}' does not exist" in _one_line(proc)
    assert proc.stdout == ""
    assert _files(tmp_path) == set()  # no database, no folder, no export file


def test_failed_import_leaves_no_database_behind(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "copy.db"
    missing = run("import", str(tmp_path / "nosuch.jsonl"), db=target)
    assert missing.returncode == 1 and "nosuch.jsonl: No such file" in _one_line(missing)
    bad = tmp_path / "bad.jsonl"
    header = {"kind": "session", "id": "s", "created_at": 1, "updated_at": 1, "event_count": 2}
    bad.write_text(json.dumps(header) + "\n")  # declares 2 events, has none
    proc = run("import", str(bad), db=target)
    assert proc.returncode == 1 and "declares 2 events" in _one_line(proc)
    assert _files(tmp_path) == {"bad.jsonl"}


def test_failed_import_into_an_existing_database_keeps_it(db: Path, tmp_path: Path) -> None:
    before = run("export", db=db).stdout
    proc = run("import", "-", db=db, stdin=before)  # every id already used
    assert proc.returncode == 1 and "already used" in _one_line(proc)
    assert db.exists() and run("export", db=db).stdout == before


# -- every subcommand with hostile arguments -------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def _hostile_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "deep.jsonl": DEEP + "\n",
        "huge.jsonl": json.dumps(
            {"kind": "session", "id": "h", "created_at": 10**30, "updated_at": 1,
             "event_count": 0}
        )
        + "\n",
        "binary.jsonl": "\udcff\udcfe\x00garbage\n",
        "deepdata.jsonl": json.dumps(
            {"kind": "session", "id": "d", "created_at": 1, "updated_at": 1, "event_count": 1}
        )
        + "\n"
        + json.dumps(
            {"kind": "event", "id": "d1", "invocation_id": "i", "event_type": "t",
             "created_at": 1, "event_data": "[" * 5000 + "]" * 5000}
        )
        + "\n",
    }
    out = {}
    for name, text in files.items():
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        out[name] = path
    return out


HOSTILE: list[tuple[list[str], int]] = [
    (["sessions", "list", "--limit", "99999999999999999999999"], 2),
    (["sessions", "list", "--limit", "-1"], 2),
    (["sessions", "list", "--limit", "0"], 2),
    (["sessions", "list", "--limit", "1e3"], 2),
    (["sessions", "list", "--limit", "\u0663"], 2),  # an Arabic-Indic digit
    (["sessions", "show", "x" * 100_000], 1),
    (["sessions", "show", "\x1b]0;pwned\x07"], 1),
    (["sessions", "show", "\udcff"], 1),
    (["search", '"unterminated'], 1),
    (["search", "AND"], 1),
    (["search", "journal_mode=WAL"], 1),
    (["search", "--limit", "10001", "wal"], 2),
    (["search", "--limit", "99999999999999999999999", "wal"], 2),
    (["search", "-x"], 2),
    (["search", "wal", "--directory", "\udcff"], 1),
    (["search", "\udcff"], 1),
    (["export", "--session", "nope"], 1),
    (["export", "--output", "/"], 1),
    (["export", "--output", "{tmp}/no/such/dir/x.jsonl"], 1),
    (["export", "--session", "\udcff"], 1),
    (["import", "{tmp}/nosuch.jsonl"], 1),
    (["import", "/"], 1),
    (["import", "{tmp}/deep.jsonl"], 1),
    (["import", "{tmp}/huge.jsonl"], 1),
    (["import", "{tmp}/binary.jsonl"], 1),
    (["import", "{tmp}/deepdata.jsonl"], 1),
    (["purge", "--archived-before", "9223372036854775808"], 2),
    (["purge", "--archived-before", "99999999999d"], 2),
    (["purge", "--archived-before", "99999999999999999999999999d"], 2),
    (["purge", "--archived-before", "1m"], 2),
    (["purge", "--archived-before", "30"], 2),
    (["purge", "--archived-before", "0001-01-01"], 2),
    (["purge", "--archived-before", "nan"], 2),
    (["purge", "--archived-before", "30d", "--batch-size", "99999999999999999999"], 2),
    (["purge", "--archived-before", "30d", "--batch-size", "0"], 2),
    (["migrate", "status", "--db", "/"], 1),
    (["migrate", "apply", "--db", "/proc/no/such.db"], 1),
    (["migrate", "bogus"], 2),
    (["index", "rebuild", "--field", "not a path"], 1),
    (["index", "rebuild", "--field", "$..["], 1),
    (["--db", "", "sessions", "list"], 1),
    (["--db", "\udcff.db", "sessions", "list"], 1),
    (["server", "migrate"], 1),  # no --conninfo, no $CONVSTORE_PG_CONNINFO
    (["server", "migrate", "--conninfo", "host=/no/such/dir port=1 dbname=x"], 1),
    (["server", "migrate", "--conninfo", "\x1b]0;owned\x07"], 1),
    (["server", "bogus"], 2),
    # a server that is not there: one line, not psycopg's retry warnings above it
    (["stats", "--conninfo", "host=127.0.0.1 port=1 dbname=x connect_timeout=1"], 1),
    (["usage", "--conninfo", "host=127.0.0.1 port=1 dbname=x connect_timeout=1"], 1),
    (["stats", "--top", "99999999999999999999999"], 2),
    (["stats", "--days", "-5"], 2),
    (["usage", "--since", "1m"], 2),
    (["retention", "--archive-idle-days", "99999999999999999999"], 2),
    (["retention", "--max-bytes", "1e999"], 2),
    (["frobnicate"], 2),
]


@pytest.mark.parametrize(("args", "status"), HOSTILE, ids=lambda v: repr(v)[:60])
def test_hostile_arguments_one_line_no_traceback_no_new_file(
    args: list[str], status: int, db: Path, tmp_path: Path
) -> None:
    _hostile_files(tmp_path)
    before = _files(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    full = [*COMMAND, "--db", str(db), *argv]
    proc = subprocess.run(
        [os.fsencode(a) for a in full],
        cwd=tmp_path,
        env={k: v for k, v in child_env().items() if k != "CONVSTORE_PG_CONNINFO"} | {"TZ": "UTC"},
        capture_output=True,
        timeout=120,
    )
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr
    assert "\x1b" not in stderr  # echoed input is escaped too
    assert proc.stdout == b""
    assert _files(tmp_path) == before


def test_deep_json_event_is_shown_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "deep.db"
    with SessionStore(path) as store:
        store.create_session("s1")
        store.append_event("s1", "e1", None, "i", "t", "[" * 500 + "]" * 500)  # the most allowed
    for args in (["sessions", "show", "s1"], ["sessions", "show", "s1", "--json"], ["export"]):
        proc = run(*args, db=path)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


# -- the cutoff grammar ---------------------------------------------------------

_DAY = 86_400


@pytest.mark.parametrize(
    ("text", "expected"),
    [("45s", NOW - 45), ("90min", NOW - 5400), ("12h", NOW - 12 * 3600), ("30d", NOW - 30 * _DAY),
     ("2w", NOW - 14 * _DAY), ("1y", NOW - 365 * _DAY), (" 30d ", NOW - 30 * _DAY),
     ("1700000000", 1_700_000_000), ("1000000000", 1_000_000_000),
     ("2023-11-14T22:13:20Z", 1_700_000_000), ("2023-11-14T22:13:20+00:00", 1_700_000_000),
     ("1970-01-01T00:00:00Z", 0), ("9999-12-31T23:59:59Z", 253_402_300_799)],
)  # fmt: skip
def test_cutoff_grammar_accepts(text: str, expected: int) -> None:
    assert parse_when(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [("30", "bare number is Unix seconds"), ("999999999", "at least 1000000000"),
     ("1m", "ambiguous"), ("3mo", "ambiguous"), ("5x", "unknown unit"),
     ("99999999999d", "before 1970"), ("9999999999999999999999999d", "not a time"),
     ("9223372036854775808", "out of range"), ("253402300800", "out of range"),
     ("1969-12-31T23:59:59Z", "out of range"), ("someday", "not a time"), ("nan", "not a time"),
     ("-5d", "not a time"), ("\u0663\u0660d", "not a time"), ("", "not a time")],
)  # fmt: skip
def test_cutoff_grammar_refuses_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_when(text, now=NOW)


def test_purge_help_documents_the_grammar() -> None:
    text = " ".join(run("purge", "--help").stdout.split())
    for piece in ("30d", "12h", "90min", "2w", "1y", "Unix seconds", "m is refused"):
        assert piece in text


# -- search in the user's terms ---------------------------------------------------


def test_search_syntax_error_suggests_literal(db: Path) -> None:
    proc = run("search", "journal_mode=WAL", db=db)
    assert proc.returncode == 1
    err = _one_line(proc)
    assert "convstore search --literal journal_mode=WAL" in err
    assert "literal=True" not in err  # the command line's terms, not Python's
    hits = json.loads(run("search", "--literal", "journal_mode=WAL", "--json", db=db).stdout)
    assert [h["event_id"] for h in hits] == ["e2"]


def test_search_term_with_a_dash_gets_the_double_dash_hint(db: Path) -> None:
    for args in (["search", "-x"], ["search", "wal", "-x"]):
        proc = run(*args, db=db)
        assert proc.returncode == 2
        assert "convstore search -- -x" in _one_line(proc)
    proc = run("search", "--literal", "--", "-x", db=db)
    assert proc.returncode == 0 and proc.stdout == "no matches\n"


def test_limit_bounds_agree_everywhere(db: Path) -> None:
    for command in (["sessions", "list"], ["search", "wal"]):
        for bad in ("0", "10001"):
            proc = run(*command, "--limit", bad, db=db)
            assert proc.returncode == 2, proc.stderr
            assert "from 1 to 10000" in _one_line(proc)
        assert run(*command, "--limit", "10000", db=db).returncode == 0


def test_search_output_has_no_rank_noise(db: Path) -> None:
    out = run("search", "wal", db=db).stdout
    assert "rank" not in out and "e-0" not in out
    assert "s1  e1  user  2023-11-14 22:13:20" in out


# -- small things a new user notices ------------------------------------------------


def test_version() -> None:
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout == f"convstore {version}\n"


def test_one_session_is_singular(db: Path, tmp_path: Path) -> None:
    text = run("export", "--session", "s1", db=db).stdout
    proc = run("import", "-", db=tmp_path / "copy.db", stdin=text)
    assert proc.stdout == "imported 1 session, 2 events\n"


def test_export_to_a_directory_names_it_not_a_temp_file(db: Path, tmp_path: Path) -> None:
    proc = run("export", "--output", str(tmp_path), db=db)
    assert proc.returncode == 1
    err = _one_line(proc)
    assert f"cannot export to '{tmp_path}': it is a directory" in err and ".tmp" not in err


def test_export_does_not_follow_a_planted_temp_file(db: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out.jsonl"
    for pid in range(1, 50_000, 997):  # the old predictable names
        (tmp_path / f"out.jsonl.tmp{pid}").symlink_to(victim)
    assert run("export", "--output", str(out), db=db).returncode == 0
    assert victim.read_text() == "keep me" and out.read_text().startswith('{"kind":"session"')


# -- stored control characters are shown escaped ------------------------------------

EVIL = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;owned\x07\x1b[2J\x9b31m\u202e\x7f"


def test_stored_control_characters_are_shown_escaped(tmp_path: Path) -> None:
    path = tmp_path / "evil.db"
    with SessionStore(path) as store:
        store.create_session("s\x1b[1m1", directory=f"/home/{EVIL}")
        store.set_metadata("s\x1b[1m1", "title", f"title {EVIL}")
        data = json.dumps({"content": f"evil wal {EVIL}\nsecond line"})
        store.append_event("s\x1b[1m1", "e\x1b1", None, "i", f"t{EVIL}", data)
    outputs = [
        run("sessions", "list", db=path).stdout,
        run("sessions", "list", "--json", db=path).stdout,
        run("sessions", "show", "s\x1b[1m1", db=path).stdout,
        run("sessions", "show", "s\x1b[1m1", "--json", db=path).stdout,
        run("search", "evil", db=path).stdout,
        run("search", "evil", "--json", db=path).stdout,
        run("sessions", "show", "nope\x1b[2J", db=path).stderr,
    ]
    for out in outputs:
        assert out
        for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\x7f"):
            assert raw not in out
    show = outputs[2]
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in show and "\\u202e" in show
    assert "    second line" in show  # newlines in message text still read as lines
    assert json.loads(outputs[3])["metadata"]["title"] == f"title {EVIL}"  # same value in JSON


# -- progress on a terminal -------------------------------------------------------


def _with_tty_stderr(args: list[str], db: Path) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal; (status, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*COMMAND, "--db", str(db), *args],
            stdout=subprocess.PIPE,
            stderr=slave,
            env={**child_env(), "TZ": "UTC"},
        )
        os.close(slave)
        out, _ = proc.communicate(timeout=60)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child's end is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    return proc.returncode, out.decode(), shown.decode()


@pytest.mark.parametrize(
    ("args", "label"),
    [(["export"], "exporting"), (["import", "{export}"], "importing"),
     (["purge", "--archived-before", "2030-01-01"], "purging"), (["index", "rebuild"], "indexing")],
)  # fmt: skip
def test_progress_bar_on_a_terminal_nothing_when_piped(
    args: list[str], label: str, db: Path, tmp_path: Path
) -> None:
    export = tmp_path / "all.jsonl"
    export.write_text(run("export", db=db).stdout)
    target = tmp_path / "copy.db" if args[0] == "import" else db
    argv = [a.replace("{export}", str(export)) for a in args]
    status, _, shown = _with_tty_stderr(argv, target)
    assert status == 0, shown
    assert f"\r\x1b[K{label}" in shown and shown.count("\r\x1b[K") >= 2  # drawn, then cleared
    if args[0] == "import":
        (tmp_path / "copy.db").unlink()
    piped = run(*argv, db=target)
    assert piped.returncode == 0 and piped.stderr == ""


def test_export_summary_goes_to_a_terminal_stderr(db: Path) -> None:
    status, out, shown = _with_tty_stderr(["export"], db)
    assert status == 0 and out.startswith('{"kind":"session"')
    assert "exported 2 sessions, 3 events\n" in shown.replace("\r\n", "\n")


# -- the index command ------------------------------------------------------------


def test_index_status_rebuild_off(db: Path) -> None:
    assert run("index", "status", db=db).stdout == "search indexing on; fields: $.content\n"
    proc = run("index", "rebuild", db=db)
    assert proc.stdout == "rebuilt the search index of 3 events; fields: $.content\n"
    assert run("index", "off", db=db).returncode == 0
    assert json.loads(run("index", "status", "--json", db=db).stdout)["indexing"] is False
    assert run("search", "wal", db=db).returncode == 1
    assert run("index", "rebuild", db=db).returncode == 0
    assert len(json.loads(run("search", "wal", "--json", db=db).stdout)) == 2


# -- the code's shape -------------------------------------------------------------


def test_no_function_in_the_cli_is_longer_than_80_lines() -> None:
    source = Path(cli.__file__).read_text()
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_migrate_status_leaves_a_rollback_journal_file_untouched(tmp_path: Path) -> None:
    import apsw

    # Another application's file: refused in one line (exit 1), every byte and the mode kept.
    path = tmp_path / "plain.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE notes(x)")
    conn.close()
    path.chmod(0o644)
    before = path.read_bytes()
    proc = run("migrate", "status", "--json", db=path)
    assert proc.returncode == 1 and "another application" in _one_line(proc)
    assert path.read_bytes() == before and path.stat().st_mode & 0o777 == 0o644
    assert _files(tmp_path) == {"plain.db"}  # no -wal, no -shm
    # A convstore file in rollback-journal mode: reported, not switched to WAL nor chmodded.
    path.unlink()
    with SessionStore(path) as store:
        store.create_session("s1")
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    path.chmod(0o644)
    before = path.read_bytes()
    proc = run("migrate", "status", "--json", db=path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["exists"] is True
    assert path.read_bytes() == before and path.stat().st_mode & 0o777 == 0o644
    assert _files(tmp_path) == {"plain.db"}  # no -wal, no -shm


def test_export_to_a_terminal_escapes_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "evil.db"
    data = json.dumps({"content": f"evil {EVIL}"}, ensure_ascii=False)
    with SessionStore(path) as store:
        store.create_session("s1", directory=f"/home/{EVIL}")
        store.append_event("s1", "e1", None, "i", "t", data)
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*COMMAND, "--db", str(path), "export"], stdout=slave, env=child_env()
        )
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    text = shown.decode()
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\x7f"):
        assert raw not in text
    header, event = (json.loads(line) for line in text.splitlines() if line.strip())
    assert header["directory"] == f"/home/{EVIL}" and event["event_data"] == data  # same values
    piped = run("export", db=path).stdout  # piped: the bytes the library wrote
    assert "\x9b" in piped and "\x1b" not in piped  # (json.dumps escapes C0 itself)

"""SPEC §3: the migration runner.

Bookkeeping, read-only status, nothing re-applied, no write lock on an
up-to-date open, exactly-once under a concurrent first open by real
processes, rollback of a failing migration, and refusal of badly named files.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import textwrap
from pathlib import Path

import apsw
import pytest
from conftest import PYTHON, REPO, FakeClock, child_env

from convstore import MigrationError, SessionStore
from convstore.migrations import (
    known_migrations,
    load_migrations,
    migrate,
    migrations_dir,
    status,
)

REPO_MIGRATIONS = REPO / "migrations"


def bookkeeping(conn: apsw.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT * FROM convstore_migrations ORDER BY version").fetchall()


def user_tables(conn: apsw.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall()
    return [r[0] for r in rows]


# -- the shipped migrations -----------------------------------------------------------------------


def test_known_migrations_are_the_repo_files_with_sha256_checksums() -> None:
    files = sorted(REPO_MIGRATIONS.glob("*.sql"))
    assert files, "the repo ships migrations"
    known = known_migrations()
    assert [m.name for m in known] == [f.name for f in files]
    assert [m.version for m in known] == sorted({int(f.name[:4]) for f in files})
    assert [m.checksum for m in known] == [
        hashlib.sha256(f.read_bytes()).hexdigest() for f in files
    ]
    assert Path(migrations_dir()).resolve() == REPO_MIGRATIONS.resolve()


def test_fresh_database_records_every_migration(db_path: Path, clock: FakeClock) -> None:
    with SessionStore(db_path, clock=clock) as store:
        rows = bookkeeping(store.connection)
        version = store.connection.execute("PRAGMA user_version").get
        tables = user_tables(store.connection)

    known = known_migrations()
    assert [(r[0], r[1], r[2]) for r in rows] == [(m.version, m.name, m.checksum) for m in known]
    for version_, _name, checksum, applied_at, duration_ms in rows:
        assert len(checksum) == 64 and int(checksum, 16) >= 0  # type: ignore[arg-type]
        assert applied_at == int(clock())  # the store's clock, not the wall clock
        assert isinstance(duration_ms, float) and duration_ms >= 0
        assert isinstance(version_, int)
    assert version == known[-1].version  # user_version mirrors the highest applied version
    assert {"sessions", "session_events", "convstore_migrations"} <= set(tables)


def test_reopen_applies_nothing_and_keeps_data(db_path: Path, clock: FakeClock) -> None:
    with SessionStore(db_path, clock=clock) as store:
        store.create_session("s1", directory="/p")
        store.append_event("s1", "e1", None, "inv", "text", '{"k": 1}')
        rows = bookkeeping(store.connection)
    content = db_path.read_bytes()
    clock.advance(3600)

    with SessionStore(db_path, clock=clock) as store:
        assert bookkeeping(store.connection) == rows  # no new row, applied_at not rewritten
        assert migrate(store.connection, "reopened") == ()
        assert [e.id for e in store.load_events("s1")] == ["e1"]
        session = store.get_session("s1")
        assert session is not None and session.head_id == "e1"

    assert db_path.read_bytes() == content  # opening an up-to-date database wrote nothing


def test_upgrade_applies_only_what_is_pending(db_path: Path, clock: FakeClock) -> None:
    known = known_migrations()
    assert len(known) >= 2
    db_path.parent.mkdir(parents=True)
    conn = apsw.Connection(str(db_path))
    assert [m.version for m in migrate(conn, "old", known=known[:1], clock=clock)] == [1]
    conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('old', 1, 1)")
    conn.close()
    clock.advance(60)

    with SessionStore(db_path, clock=clock) as store:
        rows = bookkeeping(store.connection)
        assert [r[0] for r in rows] == [m.version for m in known]
        assert rows[0][3] == int(clock()) - 60 and rows[1][3] == int(clock())
        old = store.get_session("old")
        assert old is not None and old.created_at == 1
        store.append_event("old", "e1", None, "inv", "text", "{}")  # 0002's table now exists


# -- status() -------------------------------------------------------------------------------------


def test_status_on_fresh_database_reports_pending_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    conn = apsw.Connection(str(path))

    st = status(conn, str(path))

    assert st.applied == ()
    assert st.pending == known_migrations()
    assert st.current_version == 0
    assert user_tables(conn) == []
    assert conn.execute("PRAGMA user_version").get == 0
    conn.close()
    assert not path.exists() or path.stat().st_size == 0


def test_status_on_partly_migrated_database_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "partial.db"
    known = known_migrations()
    conn = apsw.Connection(str(path))
    migrate(conn, "partial", known=known[:1])
    conn.close()
    content = path.read_bytes()

    conn = apsw.Connection(str(path))
    st = status(conn, str(path))
    conn.close()

    assert [a.version for a in st.applied] == [1]
    assert st.applied[0].checksum == known[0].checksum
    assert st.pending == known[1:]
    assert st.current_version == 1
    assert path.read_bytes() == content


def test_status_of_up_to_date_database_while_another_writer_holds_the_lock(
    db_path: Path,
) -> None:
    SessionStore(db_path).close()
    holder = apsw.Connection(str(db_path))
    holder.execute("BEGIN IMMEDIATE")
    try:
        reader = apsw.Connection(str(db_path))
        reader.set_busy_timeout(0)
        st = status(reader, str(db_path))
        reader.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert st.pending == ()
    assert [a.name for a in st.applied] == [m.name for m in known_migrations()]


def test_status_refuses_unknown_and_changed_migrations(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = apsw.Connection(str(path))
    migrate(conn, "db")
    conn.execute("UPDATE convstore_migrations SET checksum = 'x' WHERE version = 1")
    with pytest.raises(MigrationError, match=re.escape("0001_create_sessions.sql")):
        status(conn, "db")
    with pytest.raises(MigrationError, match=re.escape("0001_create_sessions.sql")):
        migrate(conn, "db")

    conn.execute(
        "UPDATE convstore_migrations SET checksum = ? WHERE version = 1",
        (known_migrations()[0].checksum,),
    )
    assert status(conn, "db").pending == ()
    with pytest.raises(MigrationError, match="does not know"):
        status(conn, "db", known=known_migrations()[:1])
    conn.close()


# -- no write lock on an up-to-date open ----------------------------------------------------------

HOLD_WRITE_LOCK = textwrap.dedent(
    """
    import sys, apsw
    conn = apsw.Connection(sys.argv[1])
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('uncommitted', 1, 1)")
    print("locked", flush=True)
    sys.stdin.readline()  # hold the write transaction until the parent says so
    conn.execute("COMMIT")
    conn.close()
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("timeout", [0.0, 0.2])
def test_up_to_date_open_takes_no_write_lock_while_another_process_writes(
    db_path: Path, clock: FakeClock, timeout: float
) -> None:
    with SessionStore(db_path, clock=clock) as store:
        store.create_session("s1", directory="/p")
        store.append_event("s1", "e1", None, "inv", "text", "{}")

    holder = subprocess.Popen(
        [PYTHON, "-c", HOLD_WRITE_LOCK, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        # timeout=0: any attempt to take the write lock would fail at once.
        with SessionStore(db_path, timeout=timeout, clock=clock) as store:
            assert [e.id for e in store.load_events("s1")] == ["e1"]
            assert store.get_session("uncommitted") is None  # not visible: still uncommitted
            assert store.find_resumable_session("/p", None, 60) is not None
    finally:
        holder.stdin.write("go\n")
        holder.stdin.close()
        out = holder.stdout.read()
        assert holder.wait(timeout=30) == 0
    assert out.strip() == "done"
    with SessionStore(db_path, clock=clock) as store:
        assert store.get_session("uncommitted") is not None


def test_up_to_date_open_takes_no_write_lock_while_another_connection_writes(
    db_path: Path, clock: FakeClock
) -> None:
    SessionStore(db_path, clock=clock).close()
    holder = apsw.Connection(str(db_path))
    holder.execute("BEGIN IMMEDIATE")
    try:
        with SessionStore(db_path, timeout=0, clock=clock) as store:
            assert store.get_session("nope") is None
            assert bookkeeping(store.connection)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- concurrent first open ------------------------------------------------------------------------

FIRST_OPEN = textwrap.dedent(
    """
    import sys
    from convstore import SessionStore
    path, me = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    sys.stdin.readline()  # the barrier: every process is started before any opens
    with SessionStore(path, timeout=30) as store:
        store.create_session(me, directory="/p")
        store.append_event(me, me + "-e1", None, "inv", "text", "{}")
    print("ok", flush=True)
    """
)


@pytest.mark.parametrize("round_", range(2))
def test_concurrent_first_open_applies_each_migration_exactly_once(
    tmp_path: Path, round_: int
) -> None:
    path = tmp_path / f"round{round_}" / "brand-new.db"
    n = 8
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", FIRST_OPEN, str(path), f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for i in range(n)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    assert not path.exists()
    for p in procs:  # release them all as close together as we can
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [p.communicate(timeout=60) for p in procs]

    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    conn = apsw.Connection(str(path))
    rows = bookkeeping(conn)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (m.version, m.name, m.checksum) for m in known_migrations()
    ]
    assert conn.execute("PRAGMA user_version").get == known_migrations()[-1].version
    ids = [r[0] for r in conn.execute("SELECT id FROM sessions ORDER BY id")]
    assert ids == sorted(f"p{i}" for i in range(n))
    assert conn.execute("SELECT COUNT(*) FROM session_events").get == n
    conn.close()


# -- a failing migration --------------------------------------------------------------------------


def write_migrations(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return folder


def test_failing_migration_rolls_back_and_records_nothing(tmp_path: Path) -> None:
    folder = write_migrations(
        tmp_path / "migs",
        {
            "0001_first.sql": "CREATE TABLE first (x INTEGER);",
            # Creates a table, then fails: the table must not survive.
            "0002_broken.sql": "CREATE TABLE second (y INTEGER);\nINSERT INTO nowhere VALUES (1);",
            "0003_never.sql": "CREATE TABLE third (z INTEGER);",
        },
    )
    known = load_migrations(folder)
    conn = apsw.Connection(str(tmp_path / "db.sqlite"))

    with pytest.raises(MigrationError, match=re.escape("0002_broken.sql")) as info:
        migrate(conn, "custom", known=known)

    assert "nowhere" in str(info.value)
    assert not conn.in_transaction
    assert user_tables(conn) == ["convstore_migrations", "first"]  # each in its own transaction
    assert [r[1] for r in bookkeeping(conn)] == ["0001_first.sql"]
    assert conn.execute("PRAGMA user_version").get == 1
    st = status(conn, "custom", known=known)
    assert [m.name for m in st.pending] == ["0002_broken.sql", "0003_never.sql"]
    conn.close()


def test_failing_first_migration_leaves_a_fresh_database_empty(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "migs", {"0001_bad.sql": "CREATE TABLE t (x;"})
    conn = apsw.Connection(str(tmp_path / "db.sqlite"))
    with pytest.raises(MigrationError, match=re.escape("0001_bad.sql")):
        migrate(conn, "custom", known=load_migrations(folder))
    assert user_tables(conn) == []
    assert conn.execute("PRAGMA user_version").get == 0
    conn.close()


def test_custom_migrations_apply_in_order_each_recorded(tmp_path: Path, clock: FakeClock) -> None:
    folder = write_migrations(
        tmp_path / "migs",
        {
            "0002_add_column.sql": "ALTER TABLE t ADD COLUMN y TEXT;",
            "0001_create.sql": "CREATE TABLE t (x INTEGER);",
            "README.md": "not a migration",
        },
    )
    known = load_migrations(folder)
    assert [m.name for m in known] == ["0001_create.sql", "0002_add_column.sql"]
    conn = apsw.Connection(str(tmp_path / "db.sqlite"))
    applied = migrate(conn, "custom", known=known, clock=clock)
    assert [m.version for m in applied] == [1, 2]
    assert [r[0] for r in conn.execute("SELECT name FROM pragma_table_info('t')")] == ["x", "y"]
    assert migrate(conn, "custom", known=known, clock=clock) == ()
    assert [(r[0], r[2], r[3]) for r in bookkeeping(conn)] == [
        (m.version, m.checksum, int(clock())) for m in known
    ]
    conn.close()


# -- badly named or numbered files ----------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {"1_init.sql": "SELECT 1;"},
        {"0001-init.sql": "SELECT 1;"},
        {"0001_Init.sql": "SELECT 1;"},
        {"init.sql": "SELECT 1;"},
        {"0001_init.sql": "SELECT 1;", "00002_more.sql": "SELECT 1;"},
    ],
    ids=["short-number", "dash", "uppercase", "no-number", "five-digits"],
)
def test_misnamed_migration_file_is_migration_error(tmp_path: Path, files: dict[str, str]) -> None:
    folder = write_migrations(tmp_path / "migs", files)
    bad = next(n for n in files if n != "0001_init.sql")
    with pytest.raises(MigrationError, match=re.escape(bad)):
        load_migrations(folder)


@pytest.mark.parametrize(
    "names",
    [
        ["0001_a.sql", "0001_b.sql"],
        ["0000_zero.sql", "0001_a.sql"],
    ],
    ids=["duplicate-version", "starts-at-zero"],
)
def test_duplicate_or_zero_versions_are_migration_error(tmp_path: Path, names: list[str]) -> None:
    folder = write_migrations(tmp_path / "migs", {n: "SELECT 1;" for n in names})
    with pytest.raises(MigrationError, match="unique"):
        load_migrations(folder)


def test_gaps_between_versions_are_allowed(tmp_path: Path) -> None:
    """Numbers are pre-allocated to parallel work: 0001 and 0003 load, in order."""
    files = {"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"}
    folder = write_migrations(tmp_path / "migs", files)
    assert [m.version for m in load_migrations(folder)] == [1, 3]


def test_missing_migrations_folder_is_migration_error(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="missing"):
        load_migrations(tmp_path / "nope")

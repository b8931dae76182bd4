"""PostgreSQL migrations: own folder, checksums, newer-database refusal, read-only status,
and concurrent first start serialised by a transaction-scoped advisory lock."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import PYTHON, child_env

from convstore import MigrationError
from convstore.migrations import known_migrations as sqlite_migrations

# Every test here needs the PostgreSQL backend's modules (psycopg): skip cleanly without it.
pytest.importorskip("psycopg", reason="the postgres extra is missing: pip install -e '.[postgres]'")
from convstore.postgres_migrations import load_postgres_migrations


def _fresh_db(pg_cluster: Any) -> str:
    dsn: str = pg_cluster.create_database(f"mig_{uuid.uuid4().hex[:10]}")
    return dsn


def test_postgres_migrations_live_in_their_own_numbered_folder() -> None:
    from convstore.postgres_migrations import known_migrations, postgres_migrations_dir

    assert Path(postgres_migrations_dir()).name == "postgres"
    names = [m.name for m in known_migrations()]
    assert names[0] == "0001_create_sessions.sql" and len(names) >= 3
    # The SQLite runner does not pick them up.
    assert all(Path(m.path).parent.name == "migrations" for m in sqlite_migrations())


def test_status_is_read_only_then_migrate_applies_then_nothing_pending(pg_cluster: Any) -> None:
    import psycopg

    from convstore.postgres_migrations import known_migrations, migrate, status

    dsn = _fresh_db(pg_cluster)
    with psycopg.connect(dsn, autocommit=True) as conn:
        st = status(conn, "test")
        assert st.applied == () and len(st.pending) == len(known_migrations())
        assert conn.execute("SELECT to_regclass('convstore_migrations')").fetchone() == (None,)
        applied = migrate(conn, "test")
        assert [m.version for m in applied] == [m.version for m in known_migrations()]
        st = status(conn, "test")
        assert st.pending == () and st.current_version == known_migrations()[-1].version
        assert [a.checksum for a in st.applied] == [m.checksum for m in known_migrations()]
        assert migrate(conn, "test") == ()


def test_changed_file_and_newer_database_are_refused_without_change(
    pg_cluster: Any, tmp_path: Path
) -> None:
    import psycopg

    from convstore.postgres_migrations import known_migrations, migrate, status

    dsn = _fresh_db(pg_cluster)
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, "db")
        # A migration file edited after it was applied.
        folder = tmp_path / "changed"
        folder.mkdir()
        for m in known_migrations():
            shutil.copy(m.path, folder / m.name)
        first = folder / known_migrations()[0].name
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match=r"0001_create_sessions\.sql.*changed"):
            migrate(conn, "db", load_postgres_migrations(folder))
        # A database migrated by a newer convstore (one more migration than we know).
        conn.execute(
            "INSERT INTO convstore_migrations VALUES (%s, 'future.sql', 'x', 0, 0)",
            (known_migrations()[-1].version + 1,),
        )
        with pytest.raises(MigrationError, match="newer convstore"):
            status(conn, "db")
        with pytest.raises(MigrationError, match="newer convstore"):
            migrate(conn, "db")
        count = conn.execute("SELECT count(*) FROM convstore_migrations").fetchone()
        assert count == (len(known_migrations()) + 1,)


def test_failing_migration_rolls_back_the_whole_upgrade(pg_cluster: Any, tmp_path: Path) -> None:
    import psycopg

    from convstore.postgres_migrations import known_migrations, migrate, status

    folder = tmp_path / "broken"
    folder.mkdir()
    for m in known_migrations()[:2]:
        shutil.copy(m.path, folder / m.name)
    (folder / "0003_broken.sql").write_text("CREATE TABLE oops (;\n")
    dsn = _fresh_db(pg_cluster)
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(MigrationError, match=r"0003_broken\.sql"):
            migrate(conn, "db", load_postgres_migrations(folder))
        assert status(conn, "db", load_postgres_migrations(folder)).applied == ()
        assert conn.execute("SELECT to_regclass('sessions')").fetchone() == (None,)


STARTER = r"""
import json, sys, psycopg
from convstore.postgres_migrations import migrate
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    print(json.dumps([m.version for m in migrate(conn, "db")]))
"""


def test_processes_starting_at_once_apply_exactly_once(pg_cluster: Any) -> None:
    import psycopg

    from convstore.postgres_migrations import known_migrations

    dsn = _fresh_db(pg_cluster)
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", STARTER, dsn],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(6)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), [r[1] for r in results]
    applied = [json.loads(out) for out, _ in results]
    everything = [m.version for m in known_migrations()]
    assert sorted(applied, key=len) == [[]] * (len(procs) - 1) + [everything]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT version FROM convstore_migrations ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == everything


def test_opening_never_migrates_and_names_the_deploy_command(pg_cluster: Any) -> None:
    import psycopg

    from convstore.postgres import PostgresSessionService
    from convstore.postgres_migrations import migrate_server

    dsn = _fresh_db(pg_cluster)
    with pytest.raises(MigrationError, match=r"convstore server migrate --conninfo"):
        PostgresSessionService(dsn, owner="o1")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass('sessions')").fetchone() == (None,)
    applied, hint = migrate_server(dsn)
    assert hint is None and {4, 5} <= {m.version for m in applied}
    with PostgresSessionService(dsn, owner="o1") as svc:
        svc.create_session("s")


def test_server_migrate_command_by_a_schema_owner_without_superuser(
    pg_cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The deploy step as a team runs it: a non-superuser owning the database migrates;
    application roles then work without any DDL right, and FORCE applies to the owner."""
    from convstore.cli import main
    from convstore.postgres import PostgresSessionService

    tag = uuid.uuid4().hex[:8]
    db = f"deploy_{tag}"
    deployer = pg_cluster.create_role(f"deployer_{tag}", f"pw-d-{tag}", dbname=db)
    pg_cluster.sql(f'CREATE DATABASE "{db}" OWNER "deployer_{tag}"')
    app = pg_cluster.create_role(f"app_{tag}", f"pw-a-{tag}", dbname=db)

    assert main(["server", "migrate", "--conninfo", deployer]) == 0
    out = capsys.readouterr().out
    assert "applied 0001_create_sessions.sql" in out and "applied 0005_oldest_client.sql" in out
    assert main(["server", "migrate", "--conninfo", deployer]) == 0
    assert "up to date" in capsys.readouterr().out

    with PostgresSessionService(app) as svc:
        svc.create_session("s", directory="/d")
        svc.append_event_at_head("s", "e", "i", "user", "{}")
    with PostgresSessionService(deployer) as owner_of_tables:
        assert owner_of_tables.get_session("s") is None  # FORCE: the table owner is no exception
    # A bad conninfo is a one-line error, never a traceback (nor the password).
    bad = deployer.replace("password=pw-d-", "password=nope-")
    assert main(["server", "migrate", "--conninfo", bad]) == 1
    err = capsys.readouterr().err
    assert err.startswith("convstore: error: cannot migrate") and "nope-" not in err


def _versions_folder(tmp_path: Path, extra: dict[str, str]) -> Path:
    from convstore.postgres_migrations import known_migrations

    folder = tmp_path / f"v{len(extra)}"
    folder.mkdir()
    for m in known_migrations():
        shutil.copy(m.path, folder / m.name)
    for name, text in extra.items():
        (folder / name).write_text(text)
    return folder


def test_older_clients_keep_working_across_additive_migrations(
    pg_cluster: Any, tmp_path: Path
) -> None:
    """Two library versions' schemas: a newer release adds 0009 (additive), then 0010
    declares it breaks older clients. The current client works after 0009, not after 0010."""
    import psycopg

    from convstore.postgres import PostgresSessionService
    from convstore.postgres_migrations import (
        client_version,
        known_migrations,
        load_postgres_migrations,
        migrate,
        migrate_server,
    )

    dsn = _fresh_db(pg_cluster)
    # A server still at an older schema: the client refuses, naming the deploy step.
    older = _versions_folder(tmp_path, {})
    for path in older.glob("*.sql"):
        if int(path.name[:4]) > 3:
            path.unlink()
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, "db", load_postgres_migrations(older))
    with pytest.raises(MigrationError, match=r"0004_row_level_security.*server migrate"):
        PostgresSessionService(dsn, owner="o")
    migrate_server(dsn)
    with PostgresSessionService(dsn, owner="o") as svc:
        svc.create_session("before")

    # The next release's numbers: above every migration this client knows.
    v1 = known_migrations()[-1].version + 1
    v2 = v1 + 1
    additive = {
        f"{v1:04d}_event_kinds.sql": (
            "CREATE INDEX session_events_type ON session_events (event_type);\n"
        )
    }
    newer = load_postgres_migrations(_versions_folder(tmp_path, additive))
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert [m.version for m in migrate(conn, "db", newer)] == [v1]
    with PostgresSessionService(dsn, owner="o") as svc:  # this client knows up to v1 - 1
        assert client_version() == known_migrations()[-1].version < v1
        assert svc.get_session("before") is not None
        svc.create_session("after-additive")

    breaking = {
        **additive,
        f"{v2:04d}_breaking.sql": (
            f"-- convstore: oldest-client {v2}\nALTER TABLE sessions ADD x int;\n"
        ),
    }
    newest = load_postgres_migrations(_versions_folder(tmp_path, breaking))
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert [m.version for m in migrate(conn, "db", newest)] == [v2]
        assert conn.execute("SELECT oldest_client FROM convstore_compat").fetchone() == (v2,)
    with pytest.raises(MigrationError, match=rf"from schema version {v2} on.*upgrade convstore"):
        PostgresSessionService(dsn, owner="o")

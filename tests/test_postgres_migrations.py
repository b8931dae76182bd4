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
from convstore.migrations import load_migrations


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
            migrate(conn, "db", load_migrations(folder))
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
            migrate(conn, "db", load_migrations(folder))
        assert status(conn, "db", load_migrations(folder)).applied == ()
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


def test_services_starting_at_once_on_a_new_database_all_work(pg_cluster: Any) -> None:
    import threading

    from convstore.postgres import PostgresSessionService

    dsn = _fresh_db(pg_cluster)
    errors: list[BaseException] = []

    def start(i: int) -> None:
        try:
            with PostgresSessionService(dsn, owner=f"o{i}") as svc:
                svc.create_session("s")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

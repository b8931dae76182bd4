"""SPEC 6.1: the server, not the client, enforces the owner.

Roles log in with SCRAM passwords over TCP (``tests/pgcluster.py`` writes a
pg_hba.conf that trusts only the harness's superuser). Each role sees and
writes only its own rows, through the API and through SQL typed on its own
connection; acting for others needs membership in ``convstore_service``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from convstore import SessionNotFound, StoreError


@dataclass
class Roles:
    alice: str  # conninfo logging in as alice
    bob: str
    backend: str  # a member of convstore_service
    names: dict[str, str]


@pytest.fixture(scope="module")
def roles(pg_cluster: Any) -> Iterator[Roles]:
    from convstore.postgres_migrations import migrate_server

    tag = uuid.uuid4().hex[:8]
    db = f"rls_{tag}"
    pg_cluster.create_database(db)
    migrate_server(pg_cluster.conninfo(db))
    names = {k: f"{k}_{tag}" for k in ("alice", "bob", "backend")}
    conns = {
        k: pg_cluster.create_role(name, f"pw-{k}-{tag}", dbname=db) for k, name in names.items()
    }
    pg_cluster.sql(f"GRANT convstore_service TO {names['backend']}")
    yield Roles(conns["alice"], conns["bob"], conns["backend"], names)


def test_scram_is_required_for_application_roles(roles: Roles) -> None:
    import psycopg

    wrong = roles.alice.replace("password=pw-", "password=wrong-")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()
    with psycopg.connect(roles.alice) as conn:
        # The server stored a SCRAM verifier, not a password or an MD5 hash.
        row = conn.execute("SHOW password_encryption").fetchone()
        assert row == ("scram-sha-256",)


def test_owner_none_is_the_login_role_and_others_cannot_see_it(roles: Roles) -> None:
    from convstore.postgres import PostgresSessionService

    with PostgresSessionService(roles.alice) as alice, PostgresSessionService(roles.bob) as bob:
        assert alice.owner == roles.names["alice"] and bob.owner == roles.names["bob"]
        alice.create_session("s1", directory="/w")
        alice.append_event_at_head("s1", "e1", "i", "user", '{"text": "secret"}')
        alice.set_metadata("s1", "title", "private")
        assert bob.get_session("s1") is None
        assert bob.load_events("s1") == []
        assert bob.list_sessions() == []
        with pytest.raises(SessionNotFound):
            bob.append_event_at_head("s1", "e2", "i", "user", "{}")
        with pytest.raises(SessionNotFound):
            bob.get_metadata("s1", "title")
        # The same id is free for bob: nothing leaks through uniqueness either.
        bob.create_session("s1")
        assert [e.id for e in alice.load_events("s1")] == ["e1"]


def test_raw_sql_on_its_own_connection_cannot_reach_other_rows(roles: Roles) -> None:
    import psycopg

    from convstore.postgres import PostgresSessionService

    with PostgresSessionService(roles.alice) as alice:
        alice.create_session("raw", directory="/r")
        alice.append_event_at_head("raw", "raw-e1", "i", "user", "{}")
    alice_name = roles.names["alice"]
    with psycopg.connect(roles.bob, autocommit=True) as conn:
        for table in ("sessions", "session_events", "session_metadata"):
            n = conn.execute(
                f"SELECT count(*) FROM {table} WHERE owner = %s", (alice_name,)
            ).fetchone()
            assert n == (0,), table
        assert (
            conn.execute(
                "UPDATE sessions SET head_id = NULL WHERE owner = %s", (alice_name,)
            ).rowcount
            == 0
        )
        assert (
            conn.execute("DELETE FROM session_events WHERE owner = %s", (alice_name,)).rowcount == 0
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO sessions (owner, id, created_at, updated_at) VALUES (%s, 'x', 0, 0)",
                (alice_name,),
            )
        # Rows it does write are its own by default.
        conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('mine', 0, 0)")
        row = conn.execute("SELECT owner FROM sessions WHERE id = 'mine'").fetchone()
        assert row == (roles.names["bob"],)
        for statement in (
            "TRUNCATE sessions CASCADE",
            "TRUNCATE session_events",
            "ALTER TABLE sessions DISABLE ROW LEVEL SECURITY",
            "DROP POLICY sessions_owner ON sessions",
            "DELETE FROM convstore_migrations",
            "INSERT INTO convstore_migrations VALUES (99, 'x', 'x', 0, 0)",
            "UPDATE convstore_compat SET oldest_client = 0",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        # The bookkeeping is readable: clients check the schema version.
        versions = conn.execute("SELECT version FROM convstore_migrations").fetchall()
        assert (4,) in versions
    with PostgresSessionService(roles.alice) as alice:
        assert [e.id for e in alice.load_events("raw")] == ["raw-e1"]


def test_acting_for_another_owner_needs_convstore_service(roles: Roles) -> None:
    from convstore.postgres import PostgresSessionService

    alice_name = roles.names["alice"]
    with pytest.raises(StoreError, match="convstore_service") as info:
        PostgresSessionService(roles.bob, owner=alice_name)
    assert "pw-" not in str(info.value)  # never the password
    # Naming yourself is fine.
    PostgresSessionService(roles.bob, owner=roles.names["bob"]).close()
    with PostgresSessionService(roles.alice) as alice:
        alice.create_session("served", directory="/srv")
    with PostgresSessionService(roles.backend, owner=alice_name) as backend:
        assert backend.owner == alice_name
        got = backend.get_session("served")
        assert got is not None and got.directory == "/srv"
        backend.append_event_at_head("served", "srv-e1", "i", "assistant", "{}")
    with PostgresSessionService(roles.alice) as alice:
        assert [e.id for e in alice.load_events("served")] == ["srv-e1"]


def test_every_table_has_forced_row_level_security_and_no_truncate(roles: Roles) -> None:
    """A guard for future migrations: each table convstore creates is covered."""
    import psycopg

    with psycopg.connect(roles.alice) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "has_table_privilege(c.oid, 'TRUNCATE') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
    assert {"sessions", "session_events", "session_metadata", "convstore_migrations"} <= {
        r[0] for r in rows
    }
    assert [r for r in rows if r[1:] != (True, True, False)] == []

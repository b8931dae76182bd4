"""What the open of an up-to-date database runs: only the settings and the up-to-date check.

Every statement at open is prepared on a fresh connection (its statement cache
is empty), ~10-40 us each, and the schema parse on the first one dominates the
rest (benchmarks/RESULTS.md). The open must therefore not grow statements it
does not need: the search setting is read when first asked
(:attr:`SessionStore.indexes_search`), the up-to-date check is
``PRAGMA user_version`` plus one plain scan of the recorded checksums (no
``pragma_user_version`` table function, no subquery), and no migration file is
read (tests/test_cheap_open.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from convstore import MigrationError, SessionStore, StoreError, _sql, migrations
from convstore.aio import AsyncSessionStore


@pytest.fixture
def traced() -> Iterator[list[str]]:
    """Every statement any connection opened meanwhile runs, in order."""
    seen: list[str] = []

    def trace(cursor: apsw.Cursor, sql: str, bindings: object) -> bool:
        seen.append(sql)
        return True

    def hook(conn: apsw.Connection) -> None:
        conn.exec_trace = trace

    apsw.connection_hooks.append(hook)
    try:
        yield seen
    finally:
        apsw.connection_hooks.remove(hook)


def test_an_up_to_date_open_runs_the_settings_and_two_reads(
    db_path: Path, traced: list[str]
) -> None:
    SessionStore(db_path).close()
    traced.clear()
    with SessionStore(db_path):
        opened = list(traced)
    assert _sql.PRAGMA_USER_VERSION in opened
    assert _sql.MIGRATIONS_STATE in opened
    assert _sql.SEARCH_INDEXING_GET not in opened  # read when first asked
    assert not [sql for sql in opened if "pragma_user_version" in sql]
    assert not [sql for sql in opened if "sqlite_master" in sql]  # no full check
    assert len(opened) <= 6, opened  # journal_mode, the check (2), the settings (3)


def test_the_search_setting_is_read_when_first_asked(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.set_search_indexing(False)
    with SessionStore(db_path) as store:
        assert store.indexes_search is False
        assert store.indexes_search is False  # remembered
    with SessionStore(db_path) as store:
        store.set_search_indexing(True)
        assert store.indexes_search is True


def test_a_missing_setting_table_is_a_store_error_when_asked(db_path: Path) -> None:
    """The open no longer reads the setting: a hand-damaged file fails where it is read."""
    SessionStore(db_path).close()
    conn = apsw.Connection(str(db_path))
    conn.execute("DROP TABLE search_config")
    conn.close()
    with SessionStore(db_path) as store:
        with pytest.raises(StoreError, match="search setting") as info:
            store.indexes_search  # noqa: B018 - the read under test
        assert not isinstance(info.value, apsw.Error)


def test_the_async_open_reads_the_setting_on_its_worker(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.set_search_indexing(False)

    async def main() -> None:
        store = await AsyncSessionStore.open(db_path)
        try:
            # Already read by the open, on the worker: the property does no I/O here.
            assert store._sync._search_index is False
            assert store.indexes_search is False
        finally:
            await store.aclose()

    asyncio.run(main())


def test_the_check_needs_user_version_and_every_checksum(db_path: Path) -> None:
    """Either half alone differing sends the open to the full check, which refuses."""
    SessionStore(db_path).close()
    conn = apsw.Connection(str(db_path))
    assert migrations.fingerprint(conn) == _sql.MIGRATIONS_FINGERPRINT
    version = conn.execute(_sql.PRAGMA_USER_VERSION).get
    conn.execute(f"PRAGMA user_version={version + 1}")
    assert migrations.fingerprint(conn) != _sql.MIGRATIONS_FINGERPRINT
    conn.close()
    with pytest.raises(MigrationError, match="newer"):
        SessionStore(db_path)


def test_a_bookkeeping_table_without_user_version_is_not_current(tmp_path: Path) -> None:
    conn = apsw.Connection(str(tmp_path / "x.db"))
    conn.execute(_sql.MIGRATIONS_CREATE_TABLE)
    assert migrations.fingerprint(conn) is None
    conn.execute("PRAGMA user_version=3")  # a version, but no rows: not ours and current
    assert migrations.fingerprint(conn) is None
    conn.execute("DROP TABLE convstore_migrations")
    assert migrations.fingerprint(conn) is None  # no table at all
    conn.close()

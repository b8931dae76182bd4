"""The cheap open: an up-to-date database is opened without reading a migration file.

``user_version`` and the checksums recorded at migration time, hashed, must
equal the fingerprint generated into ``convstore._sql`` for the shipped
migrations; then nothing else is checked. Anything else falls back to the full
check (tested in test_migrations.py and test_store_errors.py), and
``migrate status`` always reads and checksums every file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convstore import SessionStore, _sql, migrations


def _no_files(folder: object) -> tuple[migrations.Migration, ...]:
    raise AssertionError(f"an up-to-date open read the migration files in {folder!r}")


def test_up_to_date_open_reads_no_migration_file(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SessionStore(db_path).close()  # created and migrated (this reads the files)
    monkeypatch.setattr(migrations, "_known", None)  # forget the files read above
    monkeypatch.setattr(migrations, "load_migrations", _no_files)
    with SessionStore(db_path) as store:
        assert migrations.fingerprint(store.connection) == _sql.MIGRATIONS_FINGERPRINT
        store.create_session("s1")


def test_fingerprint_is_the_shipped_migrations() -> None:
    known = migrations.known_migrations()
    assert _sql.MIGRATIONS_FINGERPRINT.startswith(f"{known[-1].version}:")
    with SessionStore(":memory:") as store:
        assert migrations.fingerprint(store.connection) == _sql.MIGRATIONS_FINGERPRINT


def test_a_tampered_record_falls_back_to_the_full_check(db_path: Path) -> None:
    SessionStore(db_path).close()
    with SessionStore(db_path) as store:
        store.connection.execute("UPDATE convstore_migrations SET checksum = 'x' WHERE version = 1")
        assert migrations.fingerprint(store.connection) != _sql.MIGRATIONS_FINGERPRINT
    with pytest.raises(migrations.MigrationError, match=r"0001_create_sessions\.sql"):
        SessionStore(db_path)

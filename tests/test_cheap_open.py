"""The cheap open: an up-to-date database is opened without reading a migration file.

``user_version`` and the checksums recorded at migration time, hashed, must
equal the fingerprint generated into ``convstore._sql`` for the shipped
migrations; then nothing else is checked. Anything else falls back to the full
check (tested in test_migrations.py and test_store_errors.py), and
``migrate status`` always reads and checksums every file.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from convstore import MigrationError, SessionStore, _sql, migrations
from convstore.sqlite import connection


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


# -- the header's application_id: our own files skip the read-only probe -----------------


def _header_id(path: Path) -> bytes:
    return path.read_bytes()[68:72]


def _state(path: Path) -> dict[str, str]:
    """sha256 of the database file and of its -wal, where they exist."""
    import hashlib

    out = {}
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            out[name.name] = hashlib.sha256(name.read_bytes()).hexdigest()
    return out


def test_a_new_database_carries_the_application_id(db_path: Path) -> None:
    SessionStore(db_path).close()
    assert _header_id(db_path) == connection.APPLICATION_ID.to_bytes(4, "big")


def test_a_stamped_file_opens_without_the_probe(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SessionStore(db_path).close()

    def no_probe(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file stamped as ours was probed")

    monkeypatch.setattr(connection, "refuse_unless_ours", no_probe)
    with SessionStore(db_path) as store, SessionStore(db_path) as second:  # -wal live too
        store.create_session("s1")
        assert second.get_session("s1") is not None


def test_an_unstamped_file_is_probed_once_then_stamped(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written before the id existed: checked in full once, stamped, cheap after."""
    with SessionStore(db_path) as store:
        store.create_session("s1")
        store.connection.execute("PRAGMA application_id=0")
    assert _header_id(db_path) == b"\0\0\0\0"
    probes: list[str] = []
    real = connection.refuse_unless_ours

    def counting(path: str, **kwargs: object) -> None:
        probes.append(path)
        real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection, "refuse_unless_ours", counting)
    SessionStore(db_path).close()
    SessionStore(db_path).close()
    assert len(probes) == 1
    assert _header_id(db_path) == connection.APPLICATION_ID.to_bytes(4, "big")
    with SessionStore(db_path) as store:
        assert store.get_session("s1") is not None


@pytest.mark.parametrize("writer", ["live", "crashed"])
def test_a_stamped_file_from_a_newer_convstore_keeps_its_wal(db_path: Path, writer: str) -> None:
    """The newer schema lives only in the -wal (its writer runs, or died): refused, bytes kept.

    The header in the main file still reads as ours and current; the connection
    that finds out otherwise must not checkpoint that -wal when it closes.
    """
    SessionStore(db_path).close()
    other = apsw.Connection(str(db_path))
    other.execute("PRAGMA wal_autocheckpoint=0")
    other.execute("PRAGMA user_version=999")
    other.execute("CREATE TABLE from_the_future(x)")
    if writer == "crashed":
        other.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        other.close()
    before = _state(db_path)
    assert f"{db_path.name}-wal" in before
    try:
        with pytest.raises(MigrationError, match="newer"):
            SessionStore(db_path)
        assert _state(db_path) == before
    finally:
        if writer == "live":
            other.close()

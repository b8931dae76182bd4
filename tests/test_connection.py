"""SPEC §1 "Opening": the connection's settings, paths, and owner-only files."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from conftest import FakeClock

from convstore import InvalidArgument, SessionStore, StoreBusy, StoreError, _sql
from convstore.connection import STATEMENT_CACHE_SIZE


def pragma(store: SessionStore, name: str) -> object:
    return store.connection.execute(f"PRAGMA {name}").get


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Run with umask 000, so only the library can be what makes files owner-only."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


# -- settings -------------------------------------------------------------------------------------


def test_file_store_is_in_wal_mode(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        assert pragma(store, "journal_mode") == "wal"
    # WAL is persistent: recorded in the file header (bytes 18 and 19 are 2 for WAL).
    header = db_path.read_bytes()[:20]
    assert header[18:20] == b"\x02\x02"


@pytest.mark.parametrize(("timeout", "expected_ms"), [(5.0, 5000), (0.25, 250), (0, 0)])
def test_busy_timeout_is_the_timeout_argument(
    db_path: Path, timeout: float, expected_ms: int
) -> None:
    with SessionStore(db_path, timeout=timeout) as store:
        assert pragma(store, "busy_timeout") == expected_ms


def test_default_timeout_is_five_seconds(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        assert pragma(store, "busy_timeout") == 5000


def test_synchronous_normal_by_default_and_full_on_request(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        assert pragma(store, "synchronous") == 1  # NORMAL
    with SessionStore(db_path, synchronous="FULL") as store:
        assert pragma(store, "synchronous") == 2  # FULL


def test_foreign_keys_are_enforced(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        assert pragma(store, "foreign_keys") == 1
        with pytest.raises(apsw.ConstraintError):
            store.connection.execute(
                "INSERT INTO session_metadata VALUES (424242, 'k', 'v', 1)"
            )
        # Events are keyed by sid * 2**32 + seq (migration 0006): no foreign key on a
        # computed column; deleting a session deletes its key range by trigger instead.
        store.create_session("s")
        store.append_event("s", "e1", None, "i", "t", "{}")
        store.create_session("t")
        store.append_event("t", "e2", None, "i", "t", "{}")
        store.connection.execute("DELETE FROM sessions WHERE id = 's'")
        assert store.connection.execute("SELECT id FROM session_events").fetchall() == [("e2",)]


def test_statement_cache_holds_every_library_statement(db_path: Path) -> None:
    statements = [v for k, v in vars(_sql).items() if k.isupper() and isinstance(v, str)]
    assert len(statements) <= STATEMENT_CACHE_SIZE
    # A new second on every read of the clock: each append takes both head-move
    # statements (same second, then the other), from the first round on -- with
    # the real clock a round that crossed a second prepared the second one late.
    ticks = iter(range(1_700_000_000, 1_800_000_000))
    with SessionStore(db_path, clock=lambda: next(ticks)) as store:
        assert store.connection.cache_stats()["size"] == STATEMENT_CACHE_SIZE
        store.create_session("s1", directory="/p", git_root="/g")

        def one_round(i: int) -> None:
            store.append_event_at_head("s1", f"e{i}", "inv", "text", "{}")
            store.get_session("s1")
            store.find_resumable_session("/p", "/g", 60)
            store.load_events("s1")

        one_round(0)
        warm = store.connection.cache_stats()
        for i in range(1, 50):
            one_round(i)
        after = store.connection.cache_stats()
    assert after["misses"] == warm["misses"]  # nothing was prepared again
    assert after["hits"] > warm["hits"]


@pytest.mark.parametrize(("kwargs"), [{"timeout": -1}, {"timeout": "5"}, {"synchronous": "OFF"}])
def test_bad_settings_are_refused_before_touching_the_path(
    db_path: Path, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidArgument):
        SessionStore(db_path, **kwargs)  # type: ignore[arg-type]
    assert not db_path.parent.exists()


def test_busy_timeout_is_honoured_while_switching_a_new_file_to_wal(tmp_path: Path) -> None:
    """Regression: ``journal_mode=WAL`` used to fail busy at once, ignoring ``timeout``.

    Another connection holds the write lock on a new (not yet WAL) file, as a
    process that opened it a moment earlier does while migrating.
    """
    path = tmp_path / "new.db"
    path.touch()
    holder = apsw.Connection(str(path))
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            SessionStore(path, timeout=0.3)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert waited >= 0.25
    with SessionStore(path, timeout=0.3) as store:  # once the lock is gone, it opens
        assert pragma(store, "journal_mode") == "wal"


# -- paths ----------------------------------------------------------------------------------------


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "sessions.db"
    with SessionStore(path) as store:
        store.create_session("s1")
    assert path.is_file()
    with SessionStore(path) as store:
        assert store.get_session("s1") is not None


def test_memory_store_works_and_each_is_private(clock: FakeClock) -> None:
    with SessionStore(":memory:", clock=clock) as a, SessionStore(":memory:", clock=clock) as b:
        a.create_session("s1")
        a.append_event("s1", "e1", None, "inv", "text", "{}")
        assert [e.id for e in a.load_events("s1")] == ["e1"]
        assert b.get_session("s1") is None
        assert a.path == ":memory:"
        assert pragma(a, "foreign_keys") == 1
    assert not Path(":memory:").exists()


class BytesPathLike:
    def __init__(self, path: bytes) -> None:
        self.path = path

    def __fspath__(self) -> bytes:
        return self.path


@pytest.mark.parametrize("kind", ["str", "bytes", "Path", "bytes-PathLike"])
def test_str_bytes_and_pathlike_paths_are_accepted(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "sub dir" / "sessions ü.db"
    path: object = {
        "str": str(target),
        "bytes": os.fsencode(target),
        "Path": target,
        "bytes-PathLike": BytesPathLike(os.fsencode(target)),
    }[kind]
    with SessionStore(path) as store:  # type: ignore[arg-type]
        store.create_session("s1")
        assert store.path == str(target)
    with SessionStore(target) as store:  # the same file, whichever way it was named
        assert store.get_session("s1") is not None


# -- owner-only files -----------------------------------------------------------------------------


def test_database_and_wal_files_are_owner_only_while_open(
    db_path: Path, permissive_umask: None
) -> None:
    wal = db_path.with_name(db_path.name + "-wal")
    shm = db_path.with_name(db_path.name + "-shm")
    with SessionStore(db_path) as store:
        assert os.umask(0) == 0  # opening restored the caller's umask
        assert db_path.exists() and wal.exists() and shm.exists()
        assert [mode(p) for p in (db_path, wal, shm)] == [0o600] * 3

        store.create_session("s1")
        store.append_event("s1", "e1", None, "inv", "text", '{"secret": "yes"}')
        assert wal.stat().st_size > 0  # the append went through the WAL
        assert [mode(p) for p in (db_path, wal, shm)] == [0o600] * 3
    assert mode(db_path) == 0o600

    # Reopening (WAL and SHM recreated) keeps them owner-only too.
    with SessionStore(db_path) as store:
        store.append_event("s1", "e2", "e1", "inv", "text", "{}")
        assert [mode(p) for p in (db_path, wal, shm)] == [0o600] * 3


def test_every_file_the_store_creates_is_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    """Even under umask 000, nothing the store creates beside the database is readable by others."""
    path = tmp_path / "fresh" / "sessions.db"
    with SessionStore(path) as store:
        store.create_session("s1")
        store.append_event("s1", "e1", None, "inv", "text", "{}")
        modes = {p.name: mode(p) for p in path.parent.iterdir()}
    assert modes and set(modes.values()) == {0o600}, modes
    assert {"sessions.db", "sessions.db-wal", "sessions.db-shm"} <= set(modes)


@pytest.mark.parametrize("existing", ["empty-file", "database"])
def test_opening_an_existing_world_readable_file_makes_it_owner_only(
    tmp_path: Path, permissive_umask: None, existing: str
) -> None:
    """A file made beforehand (``touch``, a copy, an older tool) must not stay readable by others.

    The conversation log would otherwise leak through the database and its
    WAL, which SQLite creates with the database file's permissions.
    """
    path = tmp_path / "sessions.db"
    if existing == "database":
        with SessionStore(path) as store:
            store.create_session("s1")
    else:
        path.touch()
    os.chmod(path, 0o644)
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")

    with SessionStore(path) as store:
        store.create_session("s2")
        store.append_event("s2", "e1", None, "inv", "text", '{"secret": "yes"}')
        assert [mode(p) for p in (path, wal, shm)] == [0o600] * 3


def test_a_foreign_file_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database")
    os.chmod(path, 0o644)
    with pytest.raises(StoreError):
        SessionStore(path)
    assert mode(path) == 0o644

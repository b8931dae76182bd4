"""SPEC §2: every error row raises its typed error *and* leaves the database as it was.

Each test takes a snapshot before the failing call and compares it after:
``get_session``/``load_events`` for the sessions involved, plus a dump of
every table (so a stray row anywhere would show). File-level rows compare the
file's bytes and check that no ``-wal``/``-shm`` companion was left behind.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest
from conftest import FakeClock

import convstore
from convstore import (
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    MigrationError,
    SessionArchived,
    SessionNotFound,
    SessionStore,
    StoreBusy,
    StoreError,
)

TABLES = ("sessions", "session_events", "convstore_migrations")


@pytest.fixture(params=["memory", "file"])
def any_store(
    request: pytest.FixtureRequest, clock: FakeClock, db_path: Path
) -> Iterator[SessionStore]:
    """The same error behaviour is required of an in-memory and an on-disk store."""
    path: str | Path = ":memory:" if request.param == "memory" else db_path
    with SessionStore(path, clock=clock) as s:
        yield s


def dump(store: SessionStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    conn = store.connection
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def snapshot(store: SessionStore, *session_ids: str) -> tuple[Any, ...]:
    public = tuple((store.get_session(s), store.load_events(s)) for s in session_ids)
    return public, dump(store)


def assert_unchanged(store: SessionStore, before: tuple[Any, ...], *session_ids: str) -> None:
    assert snapshot(store, *session_ids) == before


def companions(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def seeded(store: SessionStore, clock: FakeClock) -> None:
    """Two sessions with a short chain each, at distinct times."""
    store.create_session("s1", directory="/p1")
    store.append_event("s1", "a1", None, "inv1", "user_message", '{"n": 1}')
    clock.advance(1)
    store.append_event("s1", "a2", "a1", "inv1", "text", '{"n": 2}')
    clock.advance(1)
    store.create_session("s2", directory="/p2")
    store.append_event("s2", "b1", None, "inv2", "user_message", '{"n": 3}')
    clock.advance(1)


# -- SessionNotFound ------------------------------------------------------------------------------


def test_append_to_missing_session_is_session_not_found(
    any_store: SessionStore, clock: FakeClock
) -> None:
    seeded(any_store, clock)
    before = snapshot(any_store, "s1", "s2", "ghost")

    with pytest.raises(SessionNotFound, match="'ghost'"):
        any_store.append_event("ghost", "e1", None, "inv", "user_message", "{}")
    with pytest.raises(SessionNotFound, match="'ghost'"):
        any_store.append_event_at_head("ghost", "e2", "inv", "user_message", "{}")
    with pytest.raises(SessionNotFound, match="'ghost'"):
        any_store.append_events("ghost", [("e3", None, "inv", "t", "{}")])

    assert_unchanged(any_store, before, "s1", "s2", "ghost")
    assert any_store.get_session("ghost") is None


def test_session_not_found_is_also_a_lookup_error(store: SessionStore) -> None:
    with pytest.raises(LookupError):
        store.append_event("ghost", "e1", None, "inv", "t", "{}")


def test_update_or_archive_missing_session_is_session_not_found(
    any_store: SessionStore, clock: FakeClock
) -> None:
    seeded(any_store, clock)
    before = snapshot(any_store, "s1", "s2")

    with pytest.raises(SessionNotFound, match="'ghost'"):
        any_store.update_server_session_id("ghost", "srv-1")
    with pytest.raises(SessionNotFound, match="'ghost'"):
        any_store.archive_session("ghost")

    assert_unchanged(any_store, before, "s1", "s2")


# -- SessionArchived ------------------------------------------------------------------------------


def test_append_to_archived_session_is_session_archived(
    any_store: SessionStore, clock: FakeClock
) -> None:
    seeded(any_store, clock)
    any_store.archive_session("s1")
    clock.advance(5)
    before = snapshot(any_store, "s1", "s2")

    with pytest.raises(SessionArchived, match="'s1'"):
        any_store.append_event("s1", "new", "a2", "inv", "text", "{}")
    with pytest.raises(SessionArchived, match="'s1'"):
        any_store.append_event_at_head("s1", "new", "inv", "text", "{}")
    with pytest.raises(SessionArchived, match="'s1'"):
        any_store.append_events("s1", [("new", "a2", "inv", "text", "{}")])

    assert_unchanged(any_store, before, "s1", "s2")


def test_archived_session_stays_readable_and_keeps_first_archived_at(
    any_store: SessionStore, clock: FakeClock
) -> None:
    seeded(any_store, clock)
    any_store.archive_session("s1")
    first = any_store.get_session("s1")
    clock.advance(100)
    any_store.archive_session("s1")  # idempotent

    again = any_store.get_session("s1")
    assert first is not None and again == first
    assert [e.id for e in any_store.load_events("s1")] == ["a1", "a2"]


# -- DuplicateId ----------------------------------------------------------------------------------


def test_duplicate_session_id_keeps_stored_session(
    any_store: SessionStore, clock: FakeClock
) -> None:
    seeded(any_store, clock)
    stored = any_store.get_session("s1")
    assert stored is not None and stored.head_id == "a2"
    before = snapshot(any_store, "s1", "s2")

    with pytest.raises(DuplicateId, match="'s1'"):
        any_store.create_session("s1", directory="/elsewhere", git_root="/elsewhere")

    assert any_store.get_session("s1") == stored
    assert_unchanged(any_store, before, "s1", "s2")


@pytest.mark.parametrize("target", ["s1", "s2"], ids=["same-session", "other-session"])
def test_duplicate_event_id_keeps_stored_event_and_head(
    any_store: SessionStore, clock: FakeClock, target: str
) -> None:
    """Event ids are unique across the store: reusing ``a1`` fails in any session."""
    seeded(any_store, clock)
    before = snapshot(any_store, "s1", "s2")
    stored_event = any_store.load_events("s1")[0]
    assert stored_event.id == "a1"

    with pytest.raises(DuplicateId, match="'a1'"):
        any_store.append_event(target, "a1", None, "inv9", "text", '{"other": true}')
    with pytest.raises(DuplicateId, match="'a1'"):
        any_store.append_event_at_head(target, "a1", "inv9", "text", '{"other": true}')
    with pytest.raises(DuplicateId, match="'a1'"):
        any_store.append_events(target, [("a1", None, "inv9", "text", '{"other": true}')])

    assert any_store.load_events("s1")[0] == stored_event
    assert_unchanged(any_store, before, "s1", "s2")


def test_duplicate_event_id_within_one_batch_writes_nothing(
    any_store: SessionStore, clock: FakeClock
) -> None:
    seeded(any_store, clock)
    before = snapshot(any_store, "s1", "s2")

    batch = [
        ("n1", "a2", "i", "t", "{}"),
        ("n2", "n1", "i", "t", "{}"),
        ("n1", "n2", "i", "t", "{}"),
    ]
    with pytest.raises(DuplicateId, match="'n1'"):
        any_store.append_events("s1", batch)

    assert_unchanged(any_store, before, "s1", "s2")


# -- InvalidEvent: event_data ---------------------------------------------------------------------

NOT_JSON = ["", "   ", "not json", '{"a": 1', "{a: 1}", "{'a': 1}", "[1,]", "NaN", '{"a":1} x']


@pytest.mark.parametrize("data", NOT_JSON)
def test_non_json_event_data_is_invalid_event(
    any_store: SessionStore, clock: FakeClock, data: str
) -> None:
    seeded(any_store, clock)
    before = snapshot(any_store, "s1", "s2")

    with pytest.raises(InvalidEvent, match="JSON"):
        any_store.append_event("s1", "bad", "a2", "inv", "text", data)
    with pytest.raises(InvalidEvent, match="JSON"):
        any_store.append_event_at_head("s1", "bad", "inv", "text", data)

    assert_unchanged(any_store, before, "s1", "s2")


@pytest.mark.parametrize("data", [b"{}", None, 1, {"a": 1}])
def test_event_data_that_is_not_text_is_invalid_event(
    store: SessionStore, clock: FakeClock, data: Any
) -> None:
    seeded(store, clock)
    before = snapshot(store, "s1")

    with pytest.raises(InvalidEvent, match="event_data"):
        store.append_event("s1", "bad", "a2", "inv", "text", data)

    assert_unchanged(store, before, "s1")


def test_invalid_event_is_an_invalid_argument_and_value_error(store: SessionStore) -> None:
    store.create_session("s1")
    with pytest.raises(InvalidArgument):
        store.append_event("s1", "e1", None, "inv", "t", "nope")
    with pytest.raises(ValueError):
        store.append_event("s1", "e1", None, "inv", "t", "nope")


# -- InvalidEvent: parent_id ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "parent", ["missing", "b1"], ids=["parent-does-not-exist", "parent-in-other-session"]
)
def test_parent_not_in_same_session_is_invalid_event(
    any_store: SessionStore, clock: FakeClock, parent: str
) -> None:
    seeded(any_store, clock)
    before = snapshot(any_store, "s1", "s2")

    with pytest.raises(InvalidEvent, match=f"parent '{parent}'.*'s1'"):
        any_store.append_event("s1", "new", parent, "inv", "text", "{}")

    assert_unchanged(any_store, before, "s1", "s2")
    assert any_store.get_session("s1").head_id == "a2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fault",
    [
        ("n2", "missing", "i", "t", "{}"),
        ("n2", "b1", "i", "t", "{}"),
        ("n2", "n1", "i", "t", "not json"),
        ("a1", "n1", "i", "t", "{}"),
    ],
    ids=["missing-parent", "foreign-parent", "bad-json", "duplicate-id"],
)
def test_append_events_batch_is_all_or_nothing(
    any_store: SessionStore, clock: FakeClock, fault: tuple[str, ...]
) -> None:
    """A bad item in the middle of a batch: the good items before it are not kept either."""
    seeded(any_store, clock)
    before = snapshot(any_store, "s1", "s2")
    batch = [("n1", "a2", "i", "t", "{}"), fault, ("n3", "n1", "i", "t", "{}")]

    with pytest.raises((InvalidEvent, DuplicateId)):
        any_store.append_events("s1", batch)

    assert_unchanged(any_store, before, "s1", "s2")


def test_append_events_batch_may_chain_parents_within_itself(
    store: SessionStore, clock: FakeClock
) -> None:
    """The all-or-nothing check must not refuse a parent that is earlier in the same batch."""
    seeded(store, clock)
    store.append_events("s1", [("n1", "a2", "i", "t", "{}"), ("n2", "n1", "i", "t", "{}")])
    assert [e.id for e in store.load_events("s1")] == ["a1", "a2", "n1", "n2"]
    assert store.get_session("s1").head_id == "n2"  # type: ignore[union-attr]


# -- StoreError for bad paths ---------------------------------------------------------------------


def test_bytes_path_that_is_not_utf8_names_the_path(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/conv\xff\xfe.db"
    with pytest.raises(StoreError, match="UTF-8") as info:
        SessionStore(raw)
    assert repr(raw) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_str_path_with_lone_surrogate_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path) + "/conv\udcff.db"
    with pytest.raises(StoreError, match="UTF-8") as info:
        SessionStore(path)
    assert repr(path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_directory_path_names_the_path(tmp_path: Path) -> None:
    target = tmp_path / "adir"
    target.mkdir()
    with pytest.raises(StoreError, match="directory") as info:
        SessionStore(target)
    assert str(target) in str(info.value)
    assert list(target.iterdir()) == []
    assert companions(target) == []


# -- StoreError for files that are not (intact) SQLite databases ----------------------------------


def _real_database(path: Path, clock: FakeClock) -> bytes:
    with SessionStore(path, clock=clock) as s:
        s.create_session("s1", directory="/p")
        for i in range(60):
            s.append_event("s1", f"e{i}", None, "inv", "text", '{"pad": "%s"}' % ("x" * 400))
    assert companions(path) == []  # the WAL was checkpointed away on close
    return path.read_bytes()


def _damaged(kind: str, good: bytes) -> bytes:
    if kind == "text-file":
        return b"these are my notes, not a database\n" * 50
    if kind == "header-only":
        return good[:50]
    if kind == "first-page-only":
        return good[:4096]
    if kind == "half":
        return good[: len(good) // 2]
    if kind == "schema-page-garbage":
        return good[:100] + bytes((i * 37 + 11) % 256 for i in range(3996)) + good[4096:]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["text-file", "header-only", "first-page-only", "half", "schema-page-garbage"]
)
def test_foreign_or_corrupt_file_is_refused_and_left_untouched(
    tmp_path: Path, clock: FakeClock, kind: str
) -> None:
    good = _real_database(tmp_path / "good.db", clock)
    target = tmp_path / "victim" / "conv.db"
    target.parent.mkdir()
    content = _damaged(kind, good)
    assert content != good
    target.write_bytes(content)
    mode = target.stat().st_mode

    with pytest.raises(StoreError) as info:
        SessionStore(target, clock=clock)

    assert str(target) in str(info.value)
    assert target.read_bytes() == content
    assert target.stat().st_mode == mode
    assert companions(target) == []  # no -wal / -shm / -journal created or left behind


def test_empty_file_is_a_new_database(tmp_path: Path, clock: FakeClock) -> None:
    """An empty file is not "foreign": SQLite treats it as a new database (touch then open)."""
    target = tmp_path / "empty.db"
    target.touch()
    with SessionStore(target, clock=clock) as s:
        s.create_session("s1")
        assert s.get_session("s1") is not None


# -- MigrationError -------------------------------------------------------------------------------


@pytest.fixture(params=["wal", "delete"])
def journal(request: pytest.FixtureRequest) -> str:
    """The refused database as convstore leaves it (WAL), or switched to a rollback journal
    (as people do before copying a database file): refusing it must not switch it back."""
    return str(request.param)


def _tamper(path: Path, journal: str, *statements: str) -> bytes:
    """Run raw SQL on a closed store's file, then return the file's bytes."""
    conn = apsw.Connection(str(path))
    assert conn.execute(f"PRAGMA journal_mode={journal}").get == journal
    for sql in statements:
        conn.execute(sql)
    conn.close()
    assert companions(path) == []
    return path.read_bytes()


def _populated(path: Path, clock: FakeClock) -> None:
    with SessionStore(path, clock=clock) as s:
        s.create_session("s1", directory="/p")
        s.append_event("s1", "e1", None, "inv", "text", "{}")


def test_newer_user_version_is_migration_error_and_changes_nothing(
    db_path: Path, clock: FakeClock, journal: str
) -> None:
    _populated(db_path, clock)
    content = _tamper(db_path, journal, "PRAGMA user_version = 999")

    with pytest.raises(MigrationError, match="newer") as info:
        SessionStore(db_path, clock=clock)

    assert str(db_path) in str(info.value)
    assert db_path.read_bytes() == content
    assert companions(db_path) == []


def test_unknown_applied_migration_is_migration_error_and_changes_nothing(
    db_path: Path, clock: FakeClock, journal: str
) -> None:
    """Same version number on the pragma, but a bookkeeping row the code does not know."""
    _populated(db_path, clock)
    content = _tamper(
        db_path,
        journal,
        "INSERT INTO convstore_migrations VALUES (99, '0099_from_the_future.sql', "
        "'" + "ab" * 32 + "', 1, 0.5)",
    )

    with pytest.raises(MigrationError, match=re.escape("0099_from_the_future.sql")) as info:
        SessionStore(db_path, clock=clock)

    assert "newer convstore" in str(info.value)
    assert db_path.read_bytes() == content
    assert companions(db_path) == []


def test_changed_migration_file_is_migration_error_naming_the_file(
    db_path: Path, clock: FakeClock, journal: str
) -> None:
    _populated(db_path, clock)
    content = _tamper(
        db_path,
        journal,
        "UPDATE convstore_migrations SET checksum = '" + "0" * 64 + "' WHERE version = 2",
    )

    with pytest.raises(MigrationError, match="checksum") as info:
        SessionStore(db_path, clock=clock)

    assert "0002_create_session_events.sql" in str(info.value)
    assert db_path.read_bytes() == content
    assert companions(db_path) == []


def test_checksum_mismatch_is_refused_even_with_migrations_pending(
    db_path: Path, clock: FakeClock, journal: str
) -> None:
    """An older database (one migration pending) with a tampered row: refused, not upgraded."""
    _populated(db_path, clock)
    content = _tamper(
        db_path,
        journal,
        "UPDATE convstore_migrations SET checksum = '" + "0" * 64 + "' WHERE version = 1",
        "DELETE FROM convstore_migrations WHERE version = 2",
        "PRAGMA user_version = 1",
    )

    with pytest.raises(MigrationError, match=re.escape("0001_create_sessions.sql")):
        SessionStore(db_path, clock=clock)

    assert db_path.read_bytes() == content


# -- StoreBusy ------------------------------------------------------------------------------------


@pytest.fixture
def locked(db_path: Path, clock: FakeClock) -> Iterator[apsw.Connection]:
    """A second connection holding the write lock on a populated, up-to-date database."""
    seed = SessionStore(db_path, clock=clock)
    seeded(seed, clock)
    seed.close()
    holder = apsw.Connection(str(db_path))
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


WRITES: list[tuple[str, Callable[[SessionStore], object]]] = [
    ("create_session", lambda s: s.create_session("s9")),
    ("append_event", lambda s: s.append_event("s1", "n1", "a2", "i", "t", "{}")),
    ("append_event_at_head", lambda s: s.append_event_at_head("s1", "n1", "i", "t", "{}")),
    ("append_events", lambda s: s.append_events("s1", [("n1", "a2", "i", "t", "{}")])),
    ("archive_session", lambda s: s.archive_session("s1")),
    ("update_server_session_id", lambda s: s.update_server_session_id("s1", "srv")),
]


@pytest.mark.parametrize("write", [w for _, w in WRITES], ids=[n for n, _ in WRITES])
def test_locked_past_timeout_is_store_busy_and_writes_nothing(
    db_path: Path,
    clock: FakeClock,
    locked: apsw.Connection,
    write: Callable[[SessionStore], object],
) -> None:
    with SessionStore(db_path, timeout=0.2, clock=clock) as s:
        before = snapshot(s, "s1", "s2", "s9")  # reads work while the writer holds its lock
        started = time.monotonic()
        with pytest.raises(StoreBusy) as info:
            write(s)
        waited = time.monotonic() - started
        assert str(db_path) in str(info.value)
        assert isinstance(info.value, TimeoutError)
        assert waited >= 0.15  # it waited on the busy timeout rather than failing at once

        locked.execute("ROLLBACK")  # the other writer goes away...
        assert_unchanged(s, before, "s1", "s2", "s9")  # ...and the failed call left no trace
        assert not s.connection.in_transaction
        write(s)  # the store is still usable afterwards


def test_opening_a_new_database_locked_past_timeout_is_store_busy(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A brand-new file whose migrations cannot take the write lock: StoreBusy, not apsw."""
    path = tmp_path / "new.db"
    holder = apsw.Connection(str(path))
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusy):
            SessionStore(path, timeout=0.2, clock=clock)
    finally:
        holder.execute("ROLLBACK")
    assert holder.execute("SELECT COUNT(*) FROM sqlite_master").get == 0
    holder.close()


# -- every error is a StoreError; no raw apsw error escapes ---------------------------------------


@pytest.mark.parametrize(
    "cls",
    [
        convstore.SessionNotFound,
        convstore.SessionArchived,
        convstore.DuplicateId,
        convstore.InvalidEvent,
        convstore.InvalidArgument,
        convstore.MigrationError,
        convstore.StoreBusy,
    ],
)
def test_every_error_is_a_store_error(cls: type[Exception]) -> None:
    assert issubclass(cls, StoreError)
    assert not issubclass(cls, apsw.Error)


CALLS: list[tuple[str, Callable[[SessionStore], object]]] = [
    ("create_session", lambda s: s.create_session("s9")),
    ("get_session", lambda s: s.get_session("s1")),
    ("find_resumable_session", lambda s: s.find_resumable_session("/p1", "/p1", 60)),
    ("append_event", lambda s: s.append_event("s1", "n1", None, "i", "t", "{}")),
    ("append_event_at_head", lambda s: s.append_event_at_head("s1", "n1", "i", "t", "{}")),
    ("append_events", lambda s: s.append_events("s1", [("n1", None, "i", "t", "{}")])),
    ("load_events", lambda s: s.load_events("s1")),
    ("update_server_session_id", lambda s: s.update_server_session_id("s1", "srv")),
    ("archive_session", lambda s: s.archive_session("s1")),
]


@pytest.mark.parametrize("call", [c for _, c in CALLS], ids=[n for n, _ in CALLS])
def test_using_a_closed_store_is_store_error_not_apsw(
    db_path: Path, clock: FakeClock, call: Callable[[SessionStore], object]
) -> None:
    s = SessionStore(db_path, clock=clock)
    seeded(s, clock)
    s.close()
    with pytest.raises(StoreError, match="closed") as info:
        call(s)
    assert not isinstance(info.value, apsw.Error)
    s.close()  # closing twice is harmless

    with SessionStore(db_path, clock=clock) as again:  # and nothing was written
        assert [e.id for e in again.load_events("s1")] == ["a1", "a2"]
        assert again.get_session("s9") is None


def test_errors_raised_inside_with_block_still_close_the_store(db_path: Path) -> None:
    with pytest.raises(SessionNotFound), SessionStore(db_path) as s:
        s.append_event("ghost", "e1", None, "i", "t", "{}")
    with pytest.raises(StoreError, match="closed"):
        s.get_session("x")


APPEND_CALLS = [(n, c) for n, c in CALLS if n.startswith("append")]


@pytest.mark.parametrize("call", [c for _, c in APPEND_CALLS], ids=[n for n, _ in APPEND_CALLS])
def test_a_failing_clock_during_an_append_rolls_back_and_leaves_the_store_usable(
    db_path: Path, call: Callable[[SessionStore], object]
) -> None:
    broken = False

    def clock() -> float:
        if broken:
            raise RuntimeError("clock unavailable")
        return 1_700_000_000

    with SessionStore(db_path, clock=clock) as s:
        seeded(s, FakeClock())
        before = snapshot(s, "s1", "s2")
        broken = True
        with pytest.raises(RuntimeError, match="clock unavailable"):
            call(s)
        assert not s.connection.in_transaction
        assert_unchanged(s, before, "s1", "s2")
        broken = False
        call(s)
        assert "n1" in [e.id for e in s.load_events("s1")]


def test_another_applications_sqlite_database_is_refused_unchanged(tmp_path: Path) -> None:
    import apsw

    from convstore import SessionStore, StoreError

    path = tmp_path / "other-app.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another application") as info:
        SessionStore(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert not (tmp_path / "other-app.db-wal").exists()

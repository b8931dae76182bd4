"""SPEC §1 beyond the reference's tests: the public names, values, clock and resume rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import FakeClock

import convstore
from convstore import SessionStore, StoredEvent, StoredSession, StoreError


def test_public_api_is_importable_from_the_package() -> None:
    for name in [
        "SessionStore",
        "StoredSession",
        "StoredEvent",
        "StoreError",
        "SessionNotFound",
        "SessionArchived",
        "DuplicateId",
        "InvalidEvent",
        "MigrationError",
        "StoreBusy",
    ]:
        assert name in convstore.__all__
        assert getattr(convstore, name) is not None


def test_value_objects_have_the_contract_fields_and_are_immutable(store: SessionStore) -> None:
    assert StoredSession._fields == (
        "id",
        "head_id",
        "server_session_id",
        "directory",
        "git_root",
        "created_at",
        "updated_at",
        "archived_at",
    )
    assert StoredEvent._fields == (
        "id",
        "session_id",
        "parent_id",
        "invocation_id",
        "event_type",
        "event_data",
        "created_at",
    )
    session = store.create_session("s1")
    event = store.append_event("s1", "e1", None, "inv", "text", "{}")
    for value, field in [(session, "head_id"), (event, "event_data")]:
        with pytest.raises((AttributeError, dataclasses.FrozenInstanceError)):
            setattr(value, field, "changed")
    # Values compare (and hash) by content: a loaded event is the same value as the returned one.
    assert len({event, store.load_events("s1")[0]}) == 1


def test_every_timestamp_comes_from_the_clock(store: SessionStore, clock: FakeClock) -> None:
    t0 = int(clock())
    created = store.create_session("s1", directory="/p")
    assert (created.created_at, created.updated_at) == (t0, t0)

    clock.advance(7)
    event = store.append_event("s1", "e1", None, "inv", "text", "{}")
    assert event.created_at == t0 + 7
    session = store.get_session("s1")
    assert session is not None
    assert (session.created_at, session.updated_at) == (t0, t0 + 7)

    clock.advance(3)
    store.archive_session("s1")
    archived = store.get_session("s1")
    assert archived is not None and archived.archived_at == t0 + 10
    assert archived.updated_at == t0 + 7


def test_timestamps_are_integer_seconds(clock: FakeClock) -> None:
    clock.now = 1_700_000_000.75
    with SessionStore(":memory:", clock=clock) as store:
        s = store.create_session("s1")
        e = store.append_event("s1", "e1", None, "inv", "text", "{}")
        loaded = store.load_events("s1")[0]
    assert s.created_at == e.created_at == loaded.created_at == 1_700_000_000
    assert type(loaded.created_at) is int


def test_append_returns_what_load_events_returns_and_moves_the_head(
    store: SessionStore, clock: FakeClock
) -> None:
    store.create_session("s1")
    returned = [store.append_event("s1", "e1", None, "inv", "user", '{"a": [1, 2]}')]
    clock.advance(1)
    returned.append(store.append_event("s1", "e2", "e1", "inv", "text", '{"b": null}'))
    assert store.load_events("s1") == returned
    session = store.get_session("s1")
    assert session is not None
    assert session.head_id == "e2"
    assert session.updated_at == returned[-1].created_at


def test_event_data_is_stored_verbatim(store: SessionStore) -> None:
    store.create_session("s1")
    data = '{ "z": 1,  "a": "é\\n",\n "emoji": "🙂" }'
    store.append_event("s1", "e1", None, "inv", "text", data)
    assert store.load_events("s1")[0].event_data == data


def test_load_events_of_unknown_session_is_empty(store: SessionStore) -> None:
    assert store.load_events("nope") == []


def test_load_events_returns_only_that_sessions_events(store: SessionStore) -> None:
    store.create_session("s1")
    store.create_session("s2")
    store.append_event("s1", "a", None, "inv", "text", "{}")
    store.append_event("s2", "b", None, "inv", "text", "{}")
    store.append_event("s1", "c", "a", "inv", "text", "{}")
    assert [e.id for e in store.load_events("s1")] == ["a", "c"]
    assert [e.id for e in store.load_events("s2")] == ["b"]


def test_update_server_session_id_can_change_it(store: SessionStore) -> None:
    store.create_session("s1")
    store.update_server_session_id("s1", "srv-1")
    store.update_server_session_id("s1", "srv-2")
    session = store.get_session("s1")
    assert session is not None and session.server_session_id == "srv-2"


# -- find_resumable_session --------------------------------------------------------------------


def test_resume_picks_the_newest_activity_not_the_newest_creation(
    store: SessionStore, clock: FakeClock
) -> None:
    store.create_session("older", directory="/p")
    clock.advance(10)
    store.create_session("newer", directory="/p")
    clock.advance(10)
    store.append_event("older", "e1", None, "inv", "text", "{}")  # older is now most active

    found = store.find_resumable_session("/p", None, 3600)
    assert found is not None and found.id == "older"


def test_resume_window_is_last_activity_within_max_age(
    store: SessionStore, clock: FakeClock
) -> None:
    store.create_session("s1", directory="/p")
    clock.advance(59)
    assert store.find_resumable_session("/p", None, 60) is not None
    clock.advance(1)  # exactly max_age old: no longer "within" the window
    assert store.find_resumable_session("/p", None, 60) is None
    store.append_event("s1", "e1", None, "inv", "text", "{}")  # activity renews it
    found = store.find_resumable_session("/p", None, 60)
    assert found is not None and found.head_id == "e1"


def test_resume_matches_directory_or_git_root_and_newest_wins(
    store: SessionStore, clock: FakeClock
) -> None:
    store.create_session("by-dir", directory="/repo/sub", git_root=None)
    clock.advance(5)
    store.create_session("by-root", directory="/elsewhere", git_root="/repo")
    found = store.find_resumable_session("/repo/sub", "/repo", 3600)
    assert found is not None and found.id == "by-root"

    clock.advance(5)
    store.append_event("by-dir", "e1", None, "inv", "text", "{}")
    found = store.find_resumable_session("/repo/sub", "/repo", 3600)
    assert found is not None and found.id == "by-dir"

    # Only the directory, or only the git root, still finds its own match.
    assert store.find_resumable_session("/repo/sub", None, 3600).id == "by-dir"  # type: ignore[union-attr]
    assert store.find_resumable_session(None, "/repo", 3600).id == "by-root"  # type: ignore[union-attr]


def test_resume_never_matches_a_missing_git_root(store: SessionStore) -> None:
    store.create_session("no-root", directory="/a", git_root=None)
    assert store.find_resumable_session("/b", None, 3600) is None
    assert store.find_resumable_session(None, None, 3600) is None


def test_resume_never_returns_an_archived_session_even_if_newest(
    store: SessionStore, clock: FakeClock
) -> None:
    store.create_session("live", directory="/p")
    clock.advance(5)
    store.create_session("gone", directory="/p")
    store.archive_session("gone")
    found = store.find_resumable_session("/p", None, 3600)
    assert found is not None and found.id == "live"


def test_find_resumable_session_writes_nothing(db_path: Path, clock: FakeClock) -> None:
    with SessionStore(db_path, clock=clock) as store:
        store.create_session("s1", directory="/p", git_root="/g")
    content = db_path.read_bytes()
    clock.advance(30)
    with SessionStore(db_path, clock=clock) as store:
        assert store.find_resumable_session("/p", "/g", 3600) is not None
        changes = store.connection.total_changes()
    assert changes == 0
    assert db_path.read_bytes() == content


# -- lifecycle ----------------------------------------------------------------------------------


def test_reopen_keeps_every_session_and_event(db_path: Path, clock: FakeClock) -> None:
    with SessionStore(db_path, clock=clock) as store:
        for s in range(3):
            store.create_session(f"s{s}", directory=f"/d{s}")
            parent = None
            for i in range(4):
                store.append_event(f"s{s}", f"s{s}e{i}", parent, "inv", "text", f'{{"i": {i}}}')
                parent = f"s{s}e{i}"
                clock.advance(1)
        store.archive_session("s2")
        store.update_server_session_id("s0", "srv")
        sessions = [store.get_session(f"s{s}") for s in range(3)]
        events = [store.load_events(f"s{s}") for s in range(3)]

    with SessionStore(db_path, clock=clock) as store:
        assert [store.get_session(f"s{s}") for s in range(3)] == sessions
        assert [store.load_events(f"s{s}") for s in range(3)] == events


def test_context_manager_closes_the_store(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        assert store.get_session("x") is None
    with pytest.raises(StoreError, match="closed"):
        store.get_session("x")

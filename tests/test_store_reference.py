"""The reference store's 11 tests (Atuin AI's ``store.rs``), ported to pytest.

Each test keeps the reference's name and checks the same behaviour; where the
reference relied on the wall clock, the fake ``clock`` fixture stands in, so
"within the hour" and "later than" are exact rather than probable.
"""

from __future__ import annotations

from conftest import FakeClock

from convstore import SessionStore


def test_create_and_get_session(store: SessionStore) -> None:
    session = store.create_session("s1", "/home/user/project", "/home/user/project")
    assert session.id == "s1"
    assert session.head_id is None
    assert session.archived_at is None

    loaded = store.get_session("s1")
    assert loaded is not None
    assert loaded.id == "s1"
    assert loaded.directory == "/home/user/project"
    # What create_session returned is what is stored.
    assert loaded == session


def test_get_nonexistent_session(store: SessionStore) -> None:
    assert store.get_session("nope") is None


def test_append_and_load_events(store: SessionStore) -> None:
    store.create_session("s1", "/tmp", None)

    store.append_event("s1", "e1", None, "inv1", "user_message", '{"content":"hello"}')
    store.append_event("s1", "e2", "e1", "inv1", "text", '{"content":"hi there"}')

    events = store.load_events("s1")
    assert len(events) == 2
    assert events[0].id == "e1"
    assert events[0].parent_id is None
    assert events[0].invocation_id == "inv1"
    assert events[0].event_type == "user_message"
    assert events[0].event_data == '{"content":"hello"}'
    assert events[1].id == "e2"
    assert events[1].parent_id == "e1"
    assert all(e.session_id == "s1" for e in events)

    session = store.get_session("s1")
    assert session is not None
    assert session.head_id == "e2"


def test_find_resumable_session(store: SessionStore) -> None:
    store.create_session("s1", "/home/user/project", None)

    found = store.find_resumable_session("/home/user/project", None, 3600)
    assert found is not None
    assert found.id == "s1"


def test_find_resumable_by_git_root(store: SessionStore) -> None:
    store.create_session("s1", "/home/user/project/sub", "/home/user/project")

    found = store.find_resumable_session("/different/dir", "/home/user/project", 3600)
    assert found is not None
    assert found.id == "s1"


def test_find_resumable_skips_archived(store: SessionStore) -> None:
    store.create_session("s1", "/tmp", None)
    store.archive_session("s1")

    assert store.find_resumable_session("/tmp", None, 3600) is None


def test_find_resumable_no_match_different_dir(store: SessionStore) -> None:
    store.create_session("s1", "/home/user/project", None)

    assert store.find_resumable_session("/other/dir", None, 3600) is None


def test_archive_session(store: SessionStore, clock: FakeClock) -> None:
    store.create_session("s1", "/tmp", None)
    clock.advance(5)

    store.archive_session("s1")

    session = store.get_session("s1")
    assert session is not None
    assert session.archived_at == int(clock())


def test_update_server_session_id(store: SessionStore) -> None:
    store.create_session("s1", "/tmp", None)

    store.update_server_session_id("s1", "server-abc")

    session = store.get_session("s1")
    assert session is not None
    assert session.server_session_id == "server-abc"


def test_find_resumable_does_not_mutate(store: SessionStore, clock: FakeClock) -> None:
    store.create_session("s1", "/tmp", None)
    before = store.get_session("s1")
    clock.advance(10)  # a lookup that wrote "now" would now be visible

    found = store.find_resumable_session("/tmp", None, 3600)
    assert found is not None

    after = store.get_session("s1")
    assert before is not None and after is not None
    assert after.updated_at == before.updated_at
    assert after == before


def test_events_ordered_chronologically(store: SessionStore, clock: FakeClock) -> None:
    store.create_session("s1", "/tmp", None)

    store.append_event("s1", "e1", None, "inv1", "user_message", "{}")
    clock.advance(1)
    store.append_event("s1", "e2", "e1", "inv1", "text", "{}")
    clock.advance(1)
    store.append_event("s1", "e3", "e2", "inv2", "user_message", "{}")

    events = store.load_events("s1")
    assert [e.id for e in events] == ["e1", "e2", "e3"]
    assert events[0].created_at < events[1].created_at < events[2].created_at
    assert events[2].invocation_id == "inv2"


def test_events_with_equal_timestamps_keep_append_order(store: SessionStore) -> None:
    """SPEC §1: ties in ``created_at`` keep insertion order (the reference's rowid tiebreak)."""
    store.create_session("s1")
    ids = ["z", "a", "m", "b"]  # not sorted: order must come from the append, not the id
    parent = None
    for event_id in ids:
        store.append_event("s1", event_id, parent, "inv1", "text", "{}")
        parent = event_id

    events = store.load_events("s1")
    assert [e.id for e in events] == ids
    assert len({e.created_at for e in events}) == 1

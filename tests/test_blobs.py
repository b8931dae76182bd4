"""The store extensions the framework integrations stand on (convstore.blobs, migration 0008)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convstore import (
    DuplicateId,
    InvalidArgument,
    LocalSessionService,
    SessionArchived,
    SessionNotFound,
    SessionStore,
)
from convstore.blobs import (
    ANY_HEAD,
    HeadMoved,
    append_event_with_metadata,
    append_events_at_head,
    clear_head,
    delete_blobs,
    delete_session,
    get_blob,
    history_tail,
    latest_blob,
    list_blobs,
    pop_head,
    put_blobs,
)
from convstore.service import ExtendedSessionService


@pytest.fixture
def store() -> SessionStore:
    s = SessionStore(":memory:")
    s.create_session("a")
    s.create_session("b")
    return s


def test_blobs_are_bytes_replaced_or_kept(store: SessionStore) -> None:
    put_blobs(store, "a", "ns", [("k1", '{"n": 1}', b"\x00\xff"), ("k2", "{}", b"two")])
    blob = get_blob(store, "a", "ns", "k1")
    assert blob is not None and blob.data == b"\x00\xff" and blob.meta == '{"n": 1}'
    put_blobs(store, "a", "ns", [("k1", "{}", b"kept?")], replace=False)
    assert get_blob(store, "a", "ns", "k1").data == b"\x00\xff"  # type: ignore[union-attr]
    put_blobs(store, "a", "ns", [("k1", "{}", b"new")])
    assert get_blob(store, "a", "ns", "k1").data == b"new"  # type: ignore[union-attr]
    typ = store.connection.execute("SELECT DISTINCT typeof(data) FROM session_blobs").fetchall()
    assert typ == [("blob",)]
    assert latest_blob(store, "a", "ns").key == "k2"  # type: ignore[union-attr]
    assert get_blob(store, "nope", "ns", "k1") is None


def test_listing_by_prefix_and_session(store: SessionStore) -> None:
    put_blobs(store, "a", "x:1", [("p1", "{}", b""), ("q1", "{}", b"")])
    put_blobs(store, "a", "x:2", [("p2", "{}", b"")])
    put_blobs(store, "b", "x:1", [("p3", "{}", b"")])
    put_blobs(store, "b", "y", [("p4", "{}", b"")])
    assert [b.key for b in list_blobs(store, "a", "x:")] == ["p1", "q1", "p2"]
    assert [b.key for b in list_blobs(store, "a", "x:", "p")] == ["p1", "p2"]
    assert [(b.session_id, b.key) for b in list_blobs(store, None, "x:1")] == [
        ("a", "p1"),
        ("a", "q1"),
        ("b", "p3"),
    ]
    delete_blobs(store, "a", "x:1")
    assert [b.key for b in list_blobs(store, "a")] == ["p2"]


def test_blob_errors_are_typed(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound):
        put_blobs(store, "ghost", "ns", [("k", "{}", b"")])
    with pytest.raises(InvalidArgument, match="JSON"):
        put_blobs(store, "a", "ns", [("k", "not json", b"")])
    with pytest.raises(InvalidArgument, match="bytes"):
        put_blobs(store, "a", "ns", [("k", "{}", "text")])  # type: ignore[list-item]
    assert list_blobs(store, "a") == []  # all or nothing


def test_delete_session_frees_its_ids(store: SessionStore) -> None:
    store.append_event_at_head("a", "e1", "i", "t", "{}")
    store.set_metadata("a", "k", "v")
    put_blobs(store, "a", "ns", [("k", "{}", b"x")])
    assert delete_session(store, "a") is True
    assert delete_session(store, "a") is False
    assert store.get_session("a") is None
    store.create_session("a")
    store.append_event_at_head("a", "e1", "i", "t", "{}")  # the event id is free too
    assert get_blob(store, "a", "ns", "k") is None
    assert store.get_metadata("a", "k") is None


def test_pop_head_and_clear_head_keep_events(store: SessionStore) -> None:
    append_events_at_head(store, "a", [("e1", "i", "t", "{}"), ("e2", "i", "t", "{}")])
    assert [e.parent_id for e in store.load_events("a")] == [None, "e1"]
    assert pop_head(store, "a").id == "e2"  # type: ignore[union-attr]
    assert [e.id for e in store.history("a")] == ["e1"]
    assert pop_head(store, "a").id == "e1"  # type: ignore[union-attr]
    assert store.history("a") == [] and pop_head(store, "a") is None
    assert len(store.load_events("a")) == 2  # nothing destroyed
    append_events_at_head(store, "a", [("e3", "i", "t", "{}")])
    assert store.get_event("a", "e3").parent_id is None  # type: ignore[union-attr]
    clear_head(store, "a")
    assert store.get_session("a").head_id is None  # type: ignore[union-attr]
    assert pop_head(store, "ghost") is None
    store.archive_session("b")
    with pytest.raises(SessionArchived):
        pop_head(store, "b")
    with pytest.raises(SessionArchived):
        clear_head(store, "b")


def test_history_tail_walks_only_what_it_returns(store: SessionStore) -> None:
    append_events_at_head(store, "a", [(f"e{i}", "i", "t", "{}") for i in range(10)])
    assert [e.id for e in history_tail(store, "a", 3)] == ["e7", "e8", "e9"]
    assert len(history_tail(store, "a", None)) == 10
    assert history_tail(store, "a", 0) == []
    assert history_tail(store, "a", 3) == store.history("a")[-3:]


def test_batch_append_is_all_or_nothing(store: SessionStore) -> None:
    store.append_event_at_head("b", "taken", "i", "t", "{}")
    with pytest.raises(DuplicateId):
        append_events_at_head(store, "a", [("new", "i", "t", "{}"), ("taken", "i", "t", "{}")])
    assert store.load_events("a") == []
    with pytest.raises(SessionNotFound):
        append_events_at_head(store, "ghost", [("x", "i", "t", "{}")])


def test_event_with_metadata_checks_the_head(store: SessionStore) -> None:
    first = append_event_with_metadata(
        store, "a", None, ("e1", "i", "t", "{}"), [("a", "k", "1"), ("shared", "k", "2")]
    )
    assert first is not None and first.parent_id is None
    assert store.get_metadata("shared", "k") == "2"  # the shared-state session was created
    with pytest.raises(HeadMoved):
        append_event_with_metadata(store, "a", None, ("e2", "i", "t", "{}"), [("a", "k", "3")])
    assert store.get_metadata("a", "k") == "1"  # nothing written
    append_event_with_metadata(store, "a", "e1", ("e2", "i", "t", "{}"))
    append_event_with_metadata(store, "a", ANY_HEAD, None, [("a", "k", "4")])
    assert store.get_metadata("a", "k") == "4"
    assert [e.id for e in store.history("a")] == ["e1", "e2"]


def test_local_service_is_an_extended_service(tmp_path: Path) -> None:
    with LocalSessionService(tmp_path / "x.db") as service:
        assert isinstance(service, ExtendedSessionService)
        service.create_session("s")
        service.put_blobs("s", "ns", [("k", "{}", b"v")])
        assert service.get_blob("s", "ns", "k").data == b"v"  # type: ignore[union-attr]
        assert service.delete_session("s") is True


def test_deleted_session_leaves_search_consistent(store: SessionStore) -> None:
    store.append_event_at_head("a", "e1", "i", "msg", '{"content": "zebra crossing"}')
    store.append_event_at_head("b", "e2", "i", "msg", '{"content": "zebra stripes"}')
    delete_session(store, "a")
    assert [hit.session_id for hit in store.search("zebra")] == ["b"]


def test_history_tail_after_forks_equals_history(store: SessionStore) -> None:
    """The linear fast path must give way to the chain walk whenever the tail forked."""
    import random

    rng = random.Random(7)
    n = 0
    for _ in range(200):
        op = rng.random()
        if op < 0.6:
            append_events_at_head(store, "a", [(f"x{n}", "i", "t", "{}")])
            n += 1
        elif op < 0.8:
            pop_head(store, "a")
        elif op < 0.9 and n:
            events = store.load_events("a")
            store.set_head("a", rng.choice(events).id)
        else:
            clear_head(store, "a")
        full = store.history("a")
        assert history_tail(store, "a", None) == full
        for limit in (1, 2, 5, 50):
            assert history_tail(store, "a", limit) == full[-limit:]


def test_blob_with_children_reads_a_checkpoint_and_its_writes_at_once(store: SessionStore) -> None:
    from convstore.blobs import get_blob_with_children

    put_blobs(store, "a", "c", [("1", "{}", b"one"), ("2", "{}", b"two")])
    put_blobs(store, "a", "w", [("1\tt\t0", "{}", b"w1"), ("2\tt\t0", "{}", b"w2")])
    put_blobs(store, "a", "w", [("2\tt\t1", "{}", b"w3"), ("20\tt\t0", "{}", b"other")])
    blob, children = get_blob_with_children(store, "a", "c", None, "w")
    assert blob is not None and blob.key == "2"
    assert [c.data for c in children] == [b"w2", b"w3"]
    blob, children = get_blob_with_children(store, "a", "c", "1", "w")
    assert blob is not None and blob.data == b"one" and [c.data for c in children] == [b"w1"]
    assert get_blob_with_children(store, "a", "c", "9", "w") == (None, [])
    assert get_blob_with_children(store, "ghost", "c", None, "w") == (None, [])

"""append_events checks in-batch parents in Python and looks up only the others.

Every way a batch's parent links can be wrong is refused exactly as before, with
nothing stored; the ways they can be right (chains, branches, links back to any
stored event of the session) are all accepted and stored in order.
"""

from __future__ import annotations

import pytest

from convstore import DuplicateId, InvalidEvent, SessionStore, StoreError


@pytest.fixture
def store() -> SessionStore:
    s = SessionStore(":memory:")
    s.create_session("s1")
    s.create_session("s2")
    s.append_events("s1", [("a1", None, "i", "t", "{}"), ("a2", "a1", "i", "t", "{}")])
    s.append_events("s2", [("b1", None, "i", "t", "{}")])
    return s


def _ids(store: SessionStore, sid: str = "s1") -> list[str]:
    return [e.id for e in store.load_events(sid)]


@pytest.mark.parametrize(
    ("batch", "error", "named"),
    [
        # a parent that comes later in the batch
        ([("n1", "n2", "i", "t", "{}"), ("n2", "a2", "i", "t", "{}")], InvalidEvent, "n1"),
        # its own parent
        ([("n1", "a2", "i", "t", "{}"), ("n2", "n2", "i", "t", "{}")], InvalidEvent, "n2"),
        # another session's event
        ([("n1", "a2", "i", "t", "{}"), ("n2", "b1", "i", "t", "{}")], InvalidEvent, "b1"),
        # an id that does not exist anywhere, after a valid chain
        ([("n1", "a2", "i", "t", "{}"), ("n2", "nope", "i", "t", "{}")], InvalidEvent, "nope"),
        # an id twice in the batch, the second a child of the first
        ([("n1", "a2", "i", "t", "{}"), ("n1", "n1", "i", "t", "{}")], DuplicateId, "n1"),
        # an id already stored in another session
        ([("n1", "a2", "i", "t", "{}"), ("b1", "n1", "i", "t", "{}")], DuplicateId, "b1"),
        # bad JSON in the middle of a chain
        (
            [
                ("n1", "a2", "i", "t", "{}"),
                ("n2", "n1", "i", "t", "{"),
                ("n3", "n2", "i", "t", "{}"),
            ],
            InvalidEvent,
            "n2",
        ),
    ],
)
def test_a_wrong_link_refuses_the_whole_batch(
    store: SessionStore, batch: list[tuple[str, str, str, str, str]], error: type, named: str
) -> None:
    before = _ids(store), store.get_session("s1")
    with pytest.raises(error, match=named):
        store.append_events("s1", batch)
    assert (_ids(store), store.get_session("s1")) == before


def test_chains_branches_and_links_to_old_events_are_stored_in_order(store: SessionStore) -> None:
    batch = [
        ("n1", "a2", "i", "t", "{}"),  # the head
        ("n2", "n1", "i", "t", "{}"),  # the chain
        ("n3", "a1", "i", "t", "{}"),  # back to an older stored event
        ("n4", "n2", "i", "t", "{}"),  # back into the batch, not the previous row
        ("n5", None, "i", "t", "{}"),  # a new root
        ("n6", "n3", "i", "t", "{}"),
    ]
    stored = store.append_events("s1", batch)
    assert [e.id for e in stored] == [b[0] for b in batch]
    assert _ids(store) == ["a1", "a2", "n1", "n2", "n3", "n4", "n5", "n6"]
    assert [e.parent_id for e in store.load_events("s1")][2:] == [b[1] for b in batch]
    session = store.get_session("s1")
    assert session is not None and session.head_id == "n6"


def test_a_retried_batch_is_a_replay_and_a_longer_one_appends_the_rest(
    store: SessionStore,
) -> None:
    batch = [("n1", "a2", "i", "t", "{}"), ("n2", "n1", "i", "t", "{}")]
    store.append_events("s1", batch)
    assert [e.id for e in store.append_events("s1", batch)] == ["n1", "n2"]
    more = [*batch, ("n3", "n2", "i", "t", "{}")]
    assert [e.id for e in store.append_events("s1", more)] == ["n1", "n2", "n3"]
    assert _ids(store) == ["a1", "a2", "n1", "n2", "n3"]


# -- JSONL import: parents checked against the session's ids, in memory up to a cap ---------


@pytest.mark.parametrize("known", [2, 200_000])
def test_import_checks_parents_and_head_in_memory_and_past_the_cap(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch, known: int
) -> None:
    import json

    from convstore.sqlite import exporting

    monkeypatch.setattr(exporting, "_KNOWN_IDS", known)
    store.append_events(
        "s1", [(f"c{i}", f"c{i - 1}" if i else "a2", "i", "t", "{}") for i in range(6)]
    )
    lines = list(store.export_jsonl(["s1"]))
    with SessionStore(":memory:") as other:
        assert other.import_jsonl(lines).events == 8
        assert _ids(other) == _ids(store)
    events = [json.loads(x) for x in lines]
    bad = next(e for e in events if e.get("id") == "c5")
    for parent in ("nope", "c5"):  # unknown; its own id (not an *earlier* event)
        bad["parent_id"] = parent
        edited = [json.dumps(e) for e in events]
        with SessionStore(":memory:") as other, pytest.raises(InvalidEvent, match=parent):
            other.import_jsonl(edited)
    bad["parent_id"] = "c4"
    header = events[0]
    header["head_id"] = "b1"  # another session's event
    with SessionStore(":memory:") as other, pytest.raises(StoreError, match="b1"):
        other.import_jsonl([json.dumps(e) for e in events])

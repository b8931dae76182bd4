"""The README example's round trip, on a real file."""

from __future__ import annotations

from pathlib import Path

from convstore import SessionStore


def test_round_trip_on_disk(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("s1", directory="/p")
        store.append_event("s1", "e1", None, "inv1", "user_message", '{"content": "hi"}')
    with SessionStore(db_path) as store:
        events = store.load_events("s1")
        assert [e.id for e in events] == ["e1"]
        session = store.get_session("s1")
        assert session is not None and session.head_id == "e1"

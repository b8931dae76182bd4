"""list_sessions: newest activity first, filters, keyset pages, counted events."""

from __future__ import annotations

import pytest
from conftest import FakeClock

from convstore import InvalidArgument, SessionNotFound, SessionService, SessionStore


def _make(service: SessionService, clock: FakeClock, n: int, directory: str = "/p") -> list[str]:
    ids = []
    for i in range(n):
        clock.advance(1)
        ids.append(service.create_session(f"s{i:03d}", directory, "/root").id)
    return ids


def test_newest_activity_first_with_event_counts(service: SessionService, clock: FakeClock) -> None:
    ids = _make(service, clock, 3)
    clock.advance(1)
    service.append_event(ids[0], "e1", None, "i", "t", "{}")
    service.append_event(ids[0], "e2", "e1", "i", "t", "{}")
    rows = service.list_sessions()
    assert [r.id for r in rows] == [ids[0], ids[2], ids[1]]
    assert [r.event_count for r in rows] == [2, 0, 0]
    assert rows[0].head_id == "e2"


def test_keyset_pages_cover_everything_once(service: SessionService, clock: FakeClock) -> None:
    ids = _make(service, clock, 25)
    seen: list[str] = []
    page = service.list_sessions(limit=10)
    while page:
        seen.extend(r.id for r in page)
        page = service.list_sessions(limit=10, before=page[-1])
    assert seen == ids[::-1]
    assert service.list_sessions(limit=10, before=ids[5])[0].id == ids[4]


def test_filters_and_archived(service: SessionService, clock: FakeClock) -> None:
    a = _make(service, clock, 2, directory="/a")
    clock.advance(1)
    b = service.create_session("other", "/b", None).id
    service.archive_session(a[0])
    assert [r.id for r in service.list_sessions(directory="/a")] == [a[1]]
    assert [r.id for r in service.list_sessions(directory="/a", include_archived=True)] == [
        a[1],
        a[0],
    ]
    assert [r.id for r in service.list_sessions(git_root="/root")] == [a[1]]
    assert {r.id for r in service.list_sessions(directory="/b", git_root="/root")} == {b, a[1]}
    assert service.list_sessions(directory="/nowhere") == []


def test_bad_limit_and_unknown_cursor_are_clear_errors(store: SessionStore) -> None:
    store.create_session("s1")
    with pytest.raises(InvalidArgument, match="limit"):
        store.list_sessions(limit=-1)
    with pytest.raises(SessionNotFound, match="missing"):
        store.list_sessions(before="missing")

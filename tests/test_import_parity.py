"""import_session gives the same outcome on SQLite and PostgreSQL (one plan decides for both).

Each case starts from the same stored state, makes the same call, and
expects the same result — a count or a typed error — and the same stored
session and events afterwards. The drift case that started it: SQLite used to
merge silently into a same-id session with another directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import FakeClock

from convstore import DuplicateId, InvalidEvent, SessionStore, StoredEvent, StoredSession

T0 = 1_700_000_000
BASE = StoredSession("s1", "e2", None, "/a", "/g", T0, T0 + 10, None)
E1 = StoredEvent("e1", "s1", None, "i", "user", '{"content": "a"}', T0)
E2 = StoredEvent("e2", "s1", "e1", "i", "text", '{"content": "b"}', T0 + 10)
E3 = StoredEvent("e3", "s1", "e2", "i", "user", '{"content": "c"}', T0 + 20)
OTHER = StoredSession("s2", "x1", None, "/b", None, T0, T0, None)
X1 = StoredEvent("x1", "s2", None, "i", "user", "{}", T0)
FRESH = StoredSession("s3", "f1", None, None, None, T0, T0, None)
F1 = StoredEvent("f1", "s3", None, "i", "user", "{}", T0)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Any]:
    if request.param == "sqlite":
        with SessionStore(":memory:", clock=clock) as store:
            yield store
    else:
        yield request.getfixturevalue("pg_service")


def _state(backend: Any, *ids: str) -> list[Any]:
    out: list[Any] = []
    for sid in ids:
        s = backend.get_session(sid)
        # The server records its own server_session_id: compare everything else.
        out.append(None if s is None else s._replace(server_session_id=None))
        out.append(backend.load_events(sid))
    return out


def _outcome(backend: Any, *args: Any, **kwargs: Any) -> object:
    try:
        return backend.import_session(*args, **kwargs)
    except (DuplicateId, InvalidEvent) as exc:
        return type(exc)


CASES: dict[str, tuple[tuple[Any, ...], dict[str, Any], object]] = {
    "fresh session": ((FRESH, [F1]), {}, 1),
    "existing without merge": ((BASE, [E1, E2]), {"merge": False}, DuplicateId),
    "merge adds what is missing": (
        (BASE._replace(head_id="e3", updated_at=T0 + 20), [E1, E2, E3]),
        {"merge": True},
        1,
    ),
    "merge is idempotent": ((BASE, [E1, E2]), {"merge": True}, 0),
    "same id, other directory (the drift)": (
        (BASE._replace(directory="/other"), []),
        {"merge": True},
        DuplicateId,
    ),
    "same id, other git root": ((BASE._replace(git_root=None), []), {"merge": True}, DuplicateId),
    "same id, other creation time": (
        (BASE._replace(created_at=T0 - 1), []),
        {"merge": True},
        DuplicateId,
    ),
    "event with different content": (
        (BASE, [E1, E2._replace(event_data='{"content": "changed"}')]),
        {"merge": True},
        DuplicateId,
    ),
    "event id of another session": (
        (BASE._replace(head_id="e2"), [E1, E2, X1._replace(session_id="s1", parent_id="e2")]),
        {"merge": True},
        DuplicateId,
    ),
    "parent that is not an event": (
        (BASE._replace(head_id="e3"), [E3._replace(parent_id="ghost")]),
        {"merge": True},
        InvalidEvent,
    ),
    "head that is not an event": (
        (BASE._replace(head_id="ghost"), []),
        {"merge": True},
        InvalidEvent,
    ),
    "older activity keeps the stored head": (
        (BASE._replace(head_id="e1", updated_at=T0 + 5), []),
        {"merge": True},
        0,
    ),
    "archiving is kept and adopted": (
        (BASE._replace(archived_at=T0 + 30, updated_at=T0 + 30), [E1, E2]),
        {"merge": True},
        0,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_outcome_on_both_backends(backend: Any, case: str) -> None:
    backend.import_session(BASE, [E1, E2])
    backend.import_session(OTHER, [X1])
    args, kwargs, expected = CASES[case]
    before = _state(backend, "s1", "s2")
    assert _outcome(backend, *args, **kwargs) == expected
    after = _state(backend, "s1", "s2")
    if isinstance(expected, type):
        assert after == before, "a refused import must write nothing"
    else:
        assert after[1] == sorted(after[1], key=lambda e: e.created_at)
        assert after == _expected_state(case, before)


def _expected_state(case: str, before: list[Any]) -> list[Any]:
    session, events = before[0], before[1]
    if case == "fresh session":
        return before  # s1 and s2 untouched (s3 is checked in the next test)
    if case == "merge adds what is missing":
        return [session._replace(head_id="e3", updated_at=T0 + 20), [*events, E3], *before[2:]]
    if case == "archiving is kept and adopted":
        return [session._replace(archived_at=T0 + 30, updated_at=T0 + 30), events, *before[2:]]
    return before


def test_merge_refuses_another_directory_on_sqlite_as_on_postgres(backend: Any) -> None:
    """The reported drift, as a user meets it: nothing merged, directory kept."""
    backend.create_session("s9", "/a")
    stored = backend.get_session("s9")
    with pytest.raises(DuplicateId, match="s9"):
        backend.import_session(stored._replace(directory="/b"), [], merge=True)
    assert backend.get_session("s9").directory == "/a"

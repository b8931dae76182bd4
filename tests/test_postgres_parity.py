"""The same error for the same input on both backends (SPEC 2 table, issue 17 item 6).

Each case runs on a local SessionStore and on the PostgreSQL service prepared
the same way; the outcome (normal return, or the convstore error class) must
be identical. Raw exceptions are failures on either side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import unique_owner

from convstore import SessionStore, StoreError

DEEP = "[" * 200_000 + "]" * 200_000

CASES: dict[str, Callable[[Any], object]] = {
    "append to a missing session": lambda x: x.append_event("nope", "n1", None, "i", "t", "{}"),
    "append to an archived session": lambda x: x.append_event("arch", "a1", None, "i", "t", "{}"),
    "event id reused with other data": lambda x: x.append_event(
        "s", "e1", None, "i", "t", '{"x": 1}'
    ),
    "event_data not JSON": lambda x: x.append_event("s", "b1", None, "i", "t", "{"),
    "event_data 200,000 deep": lambda x: x.append_event("s", "d1", None, "i", "t", DEEP),
    "parent of another session": lambda x: x.append_event("s", "p1", "zzz", "i", "t", "{}"),
    "int event id": lambda x: x.append_event("s", 5, None, "i", "t", "{}"),
    "bytes event_data": lambda x: x.append_event("s", "q2", None, "i", "t", b"{}"),
    "get_session(int)": lambda x: x.get_session(5),
    "max_age_secs str": lambda x: x.find_resumable_session("/d", None, "x"),
    "max_age_secs 10**30": lambda x: x.find_resumable_session("/d", None, 10**30),
    "max_age_secs NaN": lambda x: x.find_resumable_session("/d", None, float("nan")),
    "session id reused elsewhere": lambda x: x.create_session("s", "/other"),
    "create_session(int)": lambda x: x.create_session(7),
    "set_head to a stranger": lambda x: x.set_head("s", "zzz"),
    "metadata key int": lambda x: x.set_metadata("s", 1, "v"),
    "list_sessions(limit=-1)": lambda x: x.list_sessions(limit=-1),
    "archive a missing session": lambda x: x.archive_session("nope"),
    "lone surrogate id": lambda x: x.create_session("\ud800"),
}


def _outcome(side: Any, case: Callable[[Any], object]) -> str:
    try:
        case(side)
    except StoreError as exc:
        return type(exc).__name__
    return "ok"


@pytest.fixture(scope="module")
def sides(pg_dsn: str) -> Any:
    from convstore.postgres import PostgresSessionService

    with (
        PostgresSessionService(pg_dsn, owner=unique_owner()) as pg,
        SessionStore(":memory:") as local,
    ):
        for side in (pg, local):
            side.create_session("s", "/d")
            side.append_event_at_head("s", "e1", "i", "t", "{}")
            side.create_session("arch")
            side.archive_session("arch")
        yield pg, local


@pytest.mark.parametrize("name", list(CASES))
def test_both_backends_answer_alike(sides: Any, name: str) -> None:
    pg, local = sides
    assert _outcome(pg, CASES[name]) == _outcome(local, CASES[name])

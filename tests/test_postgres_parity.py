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


# -- hostile and careless input (issue 13): the same typed error, nothing written ------------

NAN, INF = float("nan"), float("inf")
NEW = ("h1", None, "i", "t", "{}")  # a valid new event; each case spoils one field

#: name -> (call, the outcome both backends must give). Every class of
#: tests/test_error_contract.py: wrong types, NaN/inf/huge/negative numbers,
#: bool, None, NUL, lone surrogates (raw and escaped), deep JSON, huge limits.
HOSTILE: dict[str, tuple[Callable[[Any], object], str]] = {
    # wrong types
    "create_session(None)": (lambda x: x.create_session(None), "InvalidArgument"),
    "create_session(bytes)": (lambda x: x.create_session(b"s9"), "InvalidArgument"),
    "create_session(directory=5)": (lambda x: x.create_session("s9", 5), "InvalidArgument"),
    "append: session id list": (lambda x: x.append_event(["s"], *NEW), "InvalidArgument"),
    "append: event_data None": (
        lambda x: x.append_event("s", "h1", None, "i", "t", None),
        "InvalidEvent",
    ),
    "append: parent int": (lambda x: x.append_event("s", "h1", 5, "i", "t", "{}"), "InvalidEvent"),
    "append_at_head: event id list": (
        lambda x: x.append_event_at_head("s", ["h1"], "i", "t", "{}"),
        "InvalidEvent",
    ),
    "append_at_head: event_type None": (
        lambda x: x.append_event_at_head("s", "h1", "i", None, "{}"),
        "InvalidEvent",
    ),
    "get_session(list)": (lambda x: x.get_session(["s"]), "InvalidArgument"),
    "get_event(int)": (lambda x: x.get_event("s", 5), "InvalidArgument"),
    "load_events(int)": (lambda x: x.load_events(5), "InvalidArgument"),
    "history(int)": (lambda x: x.history(5), "InvalidArgument"),
    "set_head(event int)": (lambda x: x.set_head("s", 5), "InvalidArgument"),
    "archive_session(None)": (lambda x: x.archive_session(None), "InvalidArgument"),
    "set_metadata(value None)": (lambda x: x.set_metadata("s", "k", None), "InvalidArgument"),
    "get_metadata(key int)": (lambda x: x.get_metadata("s", 5), "InvalidArgument"),
    "list_sessions(before=123)": (lambda x: x.list_sessions(before=123), "InvalidArgument"),
    "list_sessions(directory=b'')": (
        lambda x: x.list_sessions(directory=b"/d"),
        "InvalidArgument",
    ),
    "find_resumable(directory=5)": (
        lambda x: x.find_resumable_session(5, None, 10),
        "InvalidArgument",
    ),
    "search(5)": (lambda x: x.search(5), "InvalidArgument"),
    "search(event_types=5)": (lambda x: x.search("x", event_types=5), "InvalidArgument"),
    "search(markers=None)": (lambda x: x.search("x", markers=None), "InvalidArgument"),
    "purge(archived_before='x')": (lambda x: x.purge(archived_before="x"), "InvalidArgument"),
    # NaN, infinities, huge and negative numbers
    "purge(archived_before=nan)": (lambda x: x.purge(archived_before=NAN), "InvalidArgument"),
    "purge(archived_before=inf)": (lambda x: x.purge(archived_before=INF), "InvalidArgument"),
    "purge(archived_before=2**70)": (lambda x: x.purge(archived_before=2**70), "InvalidArgument"),
    "purge(batch_size=0)": (lambda x: x.purge(archived_before=1, batch_size=0), "InvalidArgument"),
    "purge(batch_size=10**30)": (
        lambda x: x.purge(archived_before=1, batch_size=10**30),
        "InvalidArgument",
    ),
    "find_resumable(max_age=-inf)": (
        lambda x: x.find_resumable_session("/d", None, -INF),
        "ok",
    ),
    "find_resumable(max_age=inf)": (lambda x: x.find_resumable_session("/d", None, INF), "ok"),
    "list_sessions(limit=-1)": (lambda x: x.list_sessions(limit=-1), "InvalidArgument"),
    # huge limits
    "list_sessions(limit=10**30)": (lambda x: x.list_sessions(limit=10**30), "InvalidArgument"),
    "list_sessions(limit=2**63)": (lambda x: x.list_sessions(limit=2**63), "InvalidArgument"),
    "list_sessions(limit=2**63-1)": (lambda x: x.list_sessions(limit=2**63 - 1), "ok"),
    "search(limit=10**30)": (lambda x: x.search("x", limit=10**30), "InvalidArgument"),
    "search(limit=-1)": (lambda x: x.search("x", limit=-1), "InvalidArgument"),
    "search: 65 terms": (lambda x: x.search(" ".join(["w"] * 65)), "InvalidArgument"),
    # bool is never a number, and only bool is a flag
    "list_sessions(limit=True)": (lambda x: x.list_sessions(limit=True), "InvalidArgument"),
    "list_sessions(include_archived='no')": (
        lambda x: x.list_sessions(include_archived="no"),
        "InvalidArgument",
    ),
    "find_resumable(max_age=True)": (
        lambda x: x.find_resumable_session("/d", None, True),
        "InvalidArgument",
    ),
    "purge(archived_before=True)": (lambda x: x.purge(archived_before=True), "InvalidArgument"),
    "purge(dry_run='no')": (lambda x: x.purge(archived_before=1, dry_run="no"), "InvalidArgument"),
    "search(literal='no')": (lambda x: x.search("x", literal="no"), "InvalidArgument"),
    "search(limit=True)": (lambda x: x.search("x", limit=True), "InvalidArgument"),
    # NUL
    "create_session NUL": (lambda x: x.create_session("a\x00b"), "InvalidArgument"),
    "create_session directory NUL": (
        lambda x: x.create_session("s9", "/d\x00"),
        "InvalidArgument",
    ),
    "append: event id NUL": (
        lambda x: x.append_event("s", "h\x00", None, "i", "t", "{}"),
        "InvalidEvent",
    ),
    "append: event_data NUL": (
        lambda x: x.append_event("s", "h1", None, "i", "t", '{"a": "\x00"}'),
        "InvalidEvent",
    ),
    "set_metadata value NUL": (lambda x: x.set_metadata("s", "k", "v\x00"), "InvalidArgument"),
    "get_session NUL": (lambda x: x.get_session("s\x00"), "ok"),
    "load_events NUL": (lambda x: x.load_events("s\x00"), "ok"),
    "get_event NUL": (lambda x: x.get_event("s", "e\x00"), "ok"),
    "history NUL": (lambda x: x.history("s\x00"), "ok"),
    "archive_session NUL": (lambda x: x.archive_session("s\x00"), "SessionNotFound"),
    "set_head NUL": (lambda x: x.set_head("s", "e1\x00"), "InvalidEvent"),
    "get_metadata key NUL": (lambda x: x.get_metadata("s", "k\x00"), "ok"),
    "list_sessions(directory NUL)": (lambda x: x.list_sessions(directory="/d\x00"), "ok"),
    "find_resumable(directory NUL)": (
        lambda x: x.find_resumable_session("/d\x00", None, 10),
        "ok",
    ),
    "search NUL": (lambda x: x.search("hello\x00"), "InvalidArgument"),
    "search(directory NUL)": (lambda x: x.search("hello", directory="\x00"), "ok"),
    # lone surrogates, raw and escaped
    "create_session surrogate": (lambda x: x.create_session("\udc00"), "InvalidArgument"),
    "append: event_data surrogate": (
        lambda x: x.append_event("s", "h1", None, "i", "t", '{"a": "\ud800"}'),
        "InvalidEvent",
    ),
    "append: event_data escaped surrogate": (
        lambda x: x.append_event("s", "h1", None, "i", "t", '{"a": "hello \\ud800"}'),
        "InvalidEvent",
    ),
    "append_at_head: invocation surrogate": (
        lambda x: x.append_event_at_head("s", "h1", "\ud800", "t", "{}"),
        "InvalidEvent",
    ),
    "set_metadata key surrogate": (lambda x: x.set_metadata("s", "\ud800", "v"), "InvalidArgument"),
    "get_session surrogate": (lambda x: x.get_session("\ud800"), "ok"),
    "list_sessions(before surrogate)": (
        lambda x: x.list_sessions(before="\ud800"),
        "SessionNotFound",
    ),
    "search surrogate": (lambda x: x.search("\ud800"), "InvalidArgument"),
    # deep JSON
    "append: 501 deep": (
        lambda x: x.append_event("s", "h1", None, "i", "t", "[" * 501 + "]" * 501),
        "InvalidEvent",
    ),
    "append_at_head: 200,000 deep": (
        lambda x: x.append_event_at_head("s", "h1", "i", "t", DEEP),
        "InvalidEvent",
    ),
}


def _state(side: Any) -> object:
    """What a refused call must leave as it was: sessions, events, metadata."""
    return (
        side.list_sessions(include_archived=True, limit=100),
        side.load_events("s"),
        side.get_metadata("s", "k"),
    )


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_gets_the_same_typed_error_and_writes_nothing(
    sides: Any, name: str
) -> None:
    call, expected = HOSTILE[name]
    for side in sides:
        before = _state(side)
        assert (type(side).__name__, _outcome(side, call)) == (type(side).__name__, expected)
        assert _state(side) == before


@pytest.mark.parametrize("returns", [NAN, INF, 2**70, None, "1", True])
def test_a_bad_clock_is_named_on_both_backends_and_nothing_is_written(
    pg_dsn: str, returns: object
) -> None:
    from convstore import SessionManager
    from convstore.errors import InvalidArgument
    from convstore.postgres import PostgresSessionService

    reading: list[object] = [1_700_000_000]  # a good time while opening
    with (
        PostgresSessionService(pg_dsn, owner=unique_owner(), clock=lambda: reading[0]) as pg,
        SessionStore(":memory:", clock=lambda: reading[0]) as local,
    ):
        reading[0] = returns
        with pytest.raises(InvalidArgument, match="clock"):
            local.create_session("c1")
        assert local.get_session("c1") is None
        # The server stamps its own time (SPEC 6.1): the client's clock is not read...
        assert pg.create_session("c1", directory="/p").created_at > 1_700_000_000
        # ...except for a resumed session's boundary gap, where a bad reading is named.
        with pytest.raises(InvalidArgument, match="clock"):
            SessionManager(pg, cwd="/p").start()
        assert pg.load_events("c1") == []
    with pytest.raises(InvalidArgument, match="clock"):
        PostgresSessionService(pg_dsn, owner=unique_owner(), clock=5)  # type: ignore[arg-type]


#: The sync server's helpers (convstore.sync calls them): PostgreSQL only.
SYNC_HOSTILE: dict[str, tuple[Callable[[Any], object], str]] = {
    "session_summaries(None)": (lambda x: x.session_summaries(None), "InvalidArgument"),
    "session_summaries('s')": (lambda x: x.session_summaries("s"), "InvalidArgument"),
    "session_summaries([5])": (lambda x: x.session_summaries([5]), "InvalidArgument"),
    "session_summaries NUL": (lambda x: x.session_summaries(["s\x00", "\ud800"]), "ok"),
    "session_metadata(None)": (lambda x: x.session_metadata(None), "InvalidArgument"),
    "metadata_times(None)": (lambda x: x.metadata_times(None), "InvalidArgument"),
    "usage_counts(None)": (lambda x: x.usage_counts(None), "InvalidArgument"),
    "events_at(True)": (lambda x: x.events_at(True), "InvalidArgument"),
    "events_at(bytes)": (lambda x: x.events_at(b"s"), "InvalidArgument"),
    "events_at seq 2**70": (lambda x: x.events_at({"s": 2**70}), "InvalidArgument"),
    "events_at seq NaN": (lambda x: x.events_at({"s": NAN}), "InvalidArgument"),
    "events_at NUL id": (lambda x: x.events_at({"s\x00": 1}), "ok"),
    "export_session NUL": (lambda x: x.export_session("s\x00"), "ok"),
    "export_session(int)": (lambda x: x.export_session(5), "InvalidArgument"),
    "export_session_after(after=nan)": (
        lambda x: x.export_session_after("s", NAN),
        "InvalidArgument",
    ),
    "merge_metadata(None)": (lambda x: x.merge_metadata("s", None), "InvalidArgument"),
    "merge_metadata not a pair": (lambda x: x.merge_metadata("s", {"a": 1}), "InvalidArgument"),
    "merge_metadata value NUL": (
        lambda x: x.merge_metadata("s", {"k": ("v\x00", 1)}),
        "InvalidArgument",
    ),
    "merge_metadata key NUL": (
        lambda x: x.merge_metadata("s", {"\x00": ("v", 1)}),
        "InvalidArgument",
    ),
    "merge_metadata time 2**70": (
        lambda x: x.merge_metadata("s", {"k": ("v", 2**70)}),
        "InvalidArgument",
    ),
}


@pytest.mark.parametrize("name", list(SYNC_HOSTILE))
def test_the_sync_helpers_validate_their_arguments(sides: Any, name: str) -> None:
    pg, _ = sides
    call, expected = SYNC_HOSTILE[name]
    before = _state(pg)
    assert _outcome(pg, call) == expected
    assert _state(pg) == before

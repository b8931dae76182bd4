"""RecallTools: schemas, scoped answers, the max_chars cap, hostile calls (SPEC §9)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import FakeClock

from convstore import InvalidArgument, LocalSessionService, SessionStore, StoreError
from convstore.tools import TOOL_NAMES, RecallTools


def _world(store: SessionStore) -> None:
    store.create_session("mine", directory="/work/app", git_root="/work")
    store.create_session("sibling", directory="/work/lib", git_root="/work")
    store.create_session("other", directory="/secret", git_root="/secret")
    for sid in ("mine", "sibling", "other"):
        for i in range(3):
            data = json.dumps({"content": f"{sid} talks about the WAL checkpoint number {i}"})
            store.append_event_at_head(sid, f"{sid}-{i}", "inv", "user", data)


@pytest.fixture
def world(store: SessionStore) -> SessionStore:
    _world(store)
    return store


def test_schemas_name_every_tool_in_both_formats(world: SessionStore) -> None:
    tools = RecallTools(world)
    openai = tools.openai_schema()
    anthropic = tools.anthropic_schema()
    assert [t["function"]["name"] for t in openai] == list(TOOL_NAMES)
    assert [t["name"] for t in anthropic] == list(TOOL_NAMES)
    for o, a in zip(openai, anthropic, strict=True):
        assert o["type"] == "function"
        assert o["function"]["parameters"] == a["input_schema"]
        assert a["input_schema"]["type"] == "object" and a["description"]
    json.dumps(openai), json.dumps(anthropic)  # plain JSON
    openai[0]["function"]["parameters"]["properties"].clear()  # a copy: mutation is harmless
    assert tools.openai_schema()[0]["function"]["parameters"]["properties"]


@pytest.mark.parametrize(
    ("scope", "visible"),
    [
        ({"directory": "/work/app"}, {"mine"}),
        ({"git_root": "/work"}, {"mine", "sibling"}),
        ({"directory": "/work/app", "git_root": "/nowhere"}, {"mine"}),
        ({}, {"mine", "sibling", "other"}),
    ],
)
def test_scope_never_leaks(world: SessionStore, scope: dict[str, str], visible: set[str]) -> None:
    tools = RecallTools(world, **scope)
    listing = tools.call("list_conversations", {})
    found = tools.call("search_conversations", {"query": "checkpoint", "limit": 50})
    for sid in ("mine", "sibling", "other"):
        read = tools.call("read_conversation", {"session_id": sid})
        if sid in visible:
            assert f"- {sid}:" in listing and f"session {sid}," in found
            assert f"{sid} talks" in read
        else:
            assert sid not in listing and f"session {sid}," not in found
            assert read.startswith("error: no conversation") and "talks" not in read
    # A cursor outside the scope is refused like an unknown one.
    if "other" not in visible:
        refused = tools.call("list_conversations", {"before": "other"})
        unknown = tools.call("list_conversations", {"before": "nope"})
        assert refused.replace("other", "X") == unknown.replace("nope", "X")


def test_every_answer_is_capped_with_a_paging_hint(store: SessionStore) -> None:
    store.create_session("long", directory="/p")
    for i in range(200):
        data = json.dumps({"content": f"message {i} " + "word " * 40})
        store.append_event_at_head("long", f"m{i}", "inv", "user", data)
    store.append_event_at_head("long", "huge", "inv", "user", json.dumps({"content": "x" * 50_000}))
    for i in range(60):
        store.create_session(f"s{i:02}", directory="/p")
    tools = RecallTools(store, directory="/p", max_chars=1000)
    page = tools.call("read_conversation", {"session_id": "long"})
    assert len(page) <= 1000 and "[0] user: message 0" in page
    assert 'offset=' in page.splitlines()[-1]
    # Follow the hints to the end: every message is seen once, each page within the cap.
    seen: list[str] = []
    offset = 0
    for _ in range(500):
        page = tools.call("read_conversation", {"session_id": "long", "offset": offset})
        assert len(page) <= 1000
        seen += [
            line.split("]")[0][1:]
            for line in page.splitlines()
            if line.startswith("[") and not line.startswith("[more")
        ]
        if "offset=" not in page.splitlines()[-1]:
            break
        offset = int(page.splitlines()[-1].split("offset=")[1].rstrip("]"))
    assert seen == [str(i) for i in range(201)]
    assert len(tools.call("list_conversations", {"limit": 50})) <= 1000
    assert len(tools.call("search_conversations", {"query": "word", "limit": 50})) <= 1000
    bad = tools.call("read_conversation", {"session_id": "x" * 100_000})
    assert len(bad) <= 1000 and bad.startswith("error:")


def test_list_pages_with_before(store: SessionStore, clock: FakeClock) -> None:
    for i in range(5):
        store.create_session(f"s{i}", directory="/p")
        clock.advance(1)
    tools = RecallTools(store, directory="/p")
    first = tools.call("list_conversations", {"limit": 2})
    assert "- s4:" in first and "- s3:" in first and 'before="s3"' in first
    second = tools.call("list_conversations", {"limit": 2, "before": "s3"})
    assert "- s2:" in second and "- s1:" in second


def test_read_conversation_shows_the_summary_or_the_originals(store: SessionStore) -> None:
    store.create_session("c", directory="/p")
    for i in range(3):
        data = json.dumps({"content": f"orig {i}"})
        store.append_event_at_head("c", f"e{i}", "inv", "user", data)
    store.compact("c", {"content": "the summary"}, through_event_id="e1")
    tools = RecallTools(store, directory="/p")
    short = tools.call("read_conversation", {"session_id": "c"})
    assert "the summary" in short and "orig 0" not in short and "orig 2" in short
    full = tools.call("read_conversation", '{"session_id": "c", "full": true}')
    assert "orig 0" in full and "the summary" in full


@pytest.mark.parametrize(
    ("name", "arguments", "needle"),
    [
        ("drop_tables", {}, "unknown tool"),
        (None, {}, "unknown tool"),
        (["x"], {}, "unknown tool"),
        ("search_conversations", "{not json", "not valid JSON"),
        ("search_conversations", "[1, 2]", "JSON object"),
        ("search_conversations", b"\xff\xfe", "UTF-8"),
        ("search_conversations", "[" * 100_000, "not valid JSON"),
        ("search_conversations", 42, "JSON object"),
        ("search_conversations", {}, "query must be"),
        ("search_conversations", {"query": 5}, "query must be"),
        ("search_conversations", {"query": "x", "limit": 10**9}, "limit must be"),
        ("search_conversations", {"query": "x", "limit": True}, "limit must be"),
        ("search_conversations", {"query": "x", "drop": 1}, "takes no argument"),
        ("search_conversations", {"query": "x", 1: 2, "z": 3}, "takes no argument"),
        ("search_conversations", {"query": '"unbalanced AND ('}, ""),
        ("read_conversation", {"session_id": "nope"}, "no conversation"),
        ("read_conversation", {"session_id": "a\udc80"}, "no conversation"),
        ("read_conversation", {"session_id": "mine", "offset": -1}, "offset must be"),
        ("read_conversation", {"session_id": "mine", "full": "yes"}, "full must be"),
        ("list_conversations", {"limit": 0}, "limit must be"),
        ("list_conversations", {"before": 3}, "before must be"),
    ],
)
def test_hostile_calls_return_a_clear_error(
    world: SessionStore, name: Any, arguments: Any, needle: str
) -> None:
    answer = RecallTools(world).call(name, arguments)
    assert isinstance(answer, str)
    if needle:
        assert answer.startswith("error:") and needle in answer, answer


def test_read_past_the_end(world: SessionStore) -> None:
    answer = RecallTools(world).call("read_conversation", {"session_id": "mine", "offset": 99})
    assert "past the end" in answer


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"max_chars": 10}, "max_chars"),
        ({"max_chars": 10**9}, "max_chars"),
        ({"max_chars": "big"}, "max_chars"),
        ({"directory": 5}, "directory"),
        ({"git_root": b"/x"}, "git_root"),
    ],
)
def test_constructor_validates(store: SessionStore, kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(InvalidArgument, match=needle):
        RecallTools(store, **kwargs)


def test_constructor_refuses_something_that_is_not_a_backend() -> None:
    with pytest.raises(InvalidArgument, match="store_or_service"):
        RecallTools(object())


def test_works_on_the_local_service_and_a_closed_store_raises_store_error(
    store: SessionStore,
) -> None:
    _world(store)
    tools = RecallTools(LocalSessionService(store), git_root="/work")
    assert "session mine," in tools.call("search_conversations", {"query": "wal"})
    store.close()
    with pytest.raises(StoreError):
        tools.call("list_conversations", {})

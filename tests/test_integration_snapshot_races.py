"""The ADK and OpenAI Agents adapters against a writer landing between their backend calls.

A spy service passes every call through (as a coroutine, whichever backend sits
underneath) and runs a concurrent writer at one exact point of the adapter's
sequence of calls, so each race is replayed deterministically on every backend
(a local store, the PostgreSQL service and its async twin) instead of being
hit by chance:

- ADK ``append_event`` with a ``Session`` this service never returned: an
  append by another writer between its staleness check and its write must
  make the copy stale, not be silently missed;
- ADK ``get_session``: whatever call the other append lands after, the
  returned copy is self-consistent — its events, its state and the head it
  remembers are one moment's — so its next ``append_event`` succeeds exactly
  when that moment already held the other append (else it is stale);
- OpenAI Agents: moving the generation pointer past a generation archived
  elsewhere (the CLI) is a compare-and-set, so an adapter that decided on an
  old pointer never moves it back over another adapter's clear (which would
  bring the cleared items back).

The core calls these stand on (``get_session_with_tail``, ``set_metadata_if``)
are checked with a writer *inside* the snapshot, on a file and on the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("google.adk", reason="the adk extra is not installed")
pytest.importorskip("agents", reason="the openai-agents extra is not installed")

from conftest import unique_owner
from google.adk.events import Event
from google.adk.sessions.base_session_service import GetSessionConfig
from integration_backends import BACKENDS, run_with_service
from test_integration_adk import user_event

from convstore import LocalSessionService, SessionNotFound
from convstore.integrations._common import acall
from convstore.integrations.adk import ConvstoreSessionService, StaleSessionError, session_key
from convstore.integrations.openai_agents import ConvstoreSession
from convstore.sqlite import blobs as sqlite_blobs

Hook = Callable[[str, str], Awaitable[None]]


class _Spy:
    """Every method of ``inner`` as a coroutine; ``hook(name, "before" | "after")``
    is awaited around each call, and the names called are recorded in ``calls``."""

    def __init__(self, inner: Any, hook: Hook) -> None:
        self._inner = inner
        self._hook = hook
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        async def passthrough(*args: Any, **kwargs: Any) -> Any:
            await self._hook(name, "before")
            result = await acall(self._inner, name, *args, **kwargs)
            self.calls.append(name)
            await self._hook(name, "after")
            return result

        return passthrough


async def _other_writer_appends(inner: Any, text: str = "other") -> Event:
    """Another process's ADK service: a fresh copy of the session and one append."""
    other = ConvstoreSessionService(service=inner)
    copy = await other.get_session(app_name="a", user_id="u", session_id="s")
    assert copy is not None
    event = user_event(text, {"other": text}, timestamp=2000.5)
    await other.append_event(copy, event)
    return event


# -- 1. ADK append_event with a copy this service never returned ---------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_adk_foreign_copy_goes_stale_when_an_append_lands_before_the_write(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """The foreign copy passes ADK's timestamp check; another writer appends before
    the write. The write must then be refused as stale (it used to append with no
    head check, silently past the other writer's event)."""

    async def main(service: Any) -> None:
        creator = ConvstoreSessionService(service=service)
        await creator.create_session(app_name="a", user_id="u", session_id="s")
        foreign = await creator.get_session(app_name="a", user_id="u", session_id="s")
        assert foreign is not None
        raced: list[Event] = []

        async def hook(name: str, phase: str) -> None:
            if name == "append_event_with_metadata" and phase == "before" and not raced:
                raced.append(await _other_writer_appends(service))

        adk = ConvstoreSessionService(service=_Spy(service, hook))  # never saw `foreign`
        with pytest.raises(StaleSessionError):
            await adk.append_event(foreign, user_event("mine", {"mine": 1}))
        assert raced, "the other writer did not run"
        assert foreign.events == [] and "mine" not in foreign.state
        stored = await acall(service, "history_tail", session_key("a", "u", "s"), None)
        assert [e.event_type for e in stored] == ["adk.event"]  # the other writer's only
        fresh = await adk.get_session(app_name="a", user_id="u", session_id="s")
        assert fresh is not None and fresh.state.get("other") == "other"
        assert "mine" not in fresh.state

    run_with_service(backend, request, main)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adk_foreign_copy_without_a_race_still_appends(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """No other writer: a foreign copy that passes the timestamp rule appends, and
    (remembered now) its next append is checked by the head."""

    async def main(service: Any) -> None:
        creator = ConvstoreSessionService(service=service)
        await creator.create_session(app_name="a", user_id="u", session_id="s")
        foreign = await creator.get_session(app_name="a", user_id="u", session_id="s")
        assert foreign is not None
        adk = ConvstoreSessionService(service=service)
        await adk.append_event(foreign, user_event("one", {"k": 1}))
        await adk.append_event(foreign, user_event("two", {"k": 2}))
        got = await adk.get_session(app_name="a", user_id="u", session_id="s")
        assert got is not None and len(got.events) == 2 and got.state["k"] == 2

    run_with_service(backend, request, main)


# -- 2. ADK get_session: one moment's events, state and head --------------------------------------

CONFIGS = {
    "all": None,
    "recent-1": GetSessionConfig(num_recent_events=1),
    "recent-0": GetSessionConfig(num_recent_events=0),
    "after-future": GetSessionConfig(after_timestamp=4e9),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("after_call", [1, 2, 3])
@pytest.mark.parametrize("backend", BACKENDS)
def test_adk_get_session_copy_is_one_moment(
    backend: str, after_call: int, config: str, request: pytest.FixtureRequest
) -> None:
    """Another writer appends right after the ``after_call``-th backend call of
    ``get_session``. Whichever moment the copy shows, it is one moment: the other
    event is in its events exactly when its state shows it, and its next append
    succeeds exactly then (else it is stale, rightly). Separate reads of the
    session, its events and its metadata used to mix two moments: a false
    ``StaleSessionError`` on a copy that held the other event, or a state ahead
    of the events."""

    async def main(service: Any) -> None:
        creator = ConvstoreSessionService(service=service)
        created = await creator.create_session(app_name="a", user_id="u", session_id="s")
        await creator.append_event(created, user_event("first", {"first": 1}, timestamp=1000.5))
        raced: list[Event] = []
        count = 0

        async def hook(name: str, phase: str) -> None:
            nonlocal count
            if phase == "after" and not raced:
                count += 1
                if count == after_call:
                    raced.append(await _other_writer_appends(service))

        adk = ConvstoreSessionService(service=_Spy(service, hook))
        copy = await adk.get_session(
            app_name="a", user_id="u", session_id="s", config=CONFIGS[config]
        )
        assert copy is not None
        assert raced, "the other writer did not run"
        saw_state = copy.state.get("other") == "other"
        saw_event = any(e.id == raced[0].id for e in copy.events)
        if config in ("all", "recent-1"):
            assert saw_event == saw_state, (saw_event, saw_state)
            newest = copy.events[-1]
            assert newest.id == raced[0].id if saw_event else newest.timestamp == 1000.5
        else:
            assert copy.events == []
        assert copy.last_update_time == (2000.5 if saw_state else 1000.5)
        try:
            await adk.append_event(copy, user_event("next"))
            appended = True
        except StaleSessionError:
            appended = False
        assert appended == saw_state, (appended, saw_state, count)

    run_with_service(backend, request, main)


# -- 3. OpenAI Agents: the generation pointer moves by compare-and-set ---------------------------


@pytest.mark.parametrize("operation", ["add_items", "clear_session"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_openai_pointer_is_never_moved_back_over_another_clear(
    backend: str, operation: str, request: pytest.FixtureRequest
) -> None:
    """The CLI archived the session without moving the pointer. Adapter A decides
    to point the id at ``chat~2``; before it writes, adapter B points it there
    itself, adds an item and clears (pointer: ``chat~3``). A's write must not
    move the pointer back to the cleared ``chat~2`` — every reader would get
    B's cleared item back (until A's retry, and for ``clear_session``, which
    does not retry, for good)."""

    async def main(service: Any) -> None:
        b = ConvstoreSession("chat", service=service)
        await b.add_items([{"role": "user", "content": "before"}])
        await acall(service, "archive_session", "chat")  # `convstore archive chat`
        seen: list[list[Any]] = []
        raced = False

        async def hook(name: str, phase: str) -> None:
            nonlocal raced
            if phase != "before":
                return
            if name in ("set_metadata", "set_metadata_if") and not raced:
                raced = True
                await b.add_items([{"role": "user", "content": "cleared"}])
                await b.clear_session()
            elif raced and not seen and name in ("create_session", "append_events_at_head"):
                # A reader between A's pointer write and its next step.
                seen.append(await ConvstoreSession("chat", service=service).get_items())

        a = ConvstoreSession("chat", service=_Spy(service, hook))
        if operation == "add_items":
            await a.add_items([{"role": "user", "content": "after"}])
        else:
            await a.clear_session()
        assert raced, "the other adapter did not run"
        reader = ConvstoreSession("chat", service=service)
        items = await reader.get_items()
        cleared = {"role": "user", "content": "cleared"}
        assert cleared not in items, items
        assert all(cleared not in s for s in seen), seen
        if operation == "add_items":
            assert items == [{"role": "user", "content": "after"}]
        else:
            assert items == []
        pointer = await acall(service, "get_metadata", "chat", "openai_agents.current")
        assert pointer == "chat~3"
        archived = await acall(service, "get_session", "chat~2")
        assert archived is not None and archived.archived_at is not None

    run_with_service(backend, request, main)


# -- the core calls, with a writer inside them ----------------------------------------------------


def _pg(request: pytest.FixtureRequest, owner: str) -> Any:
    from convstore.postgres import PostgresSessionService

    return PostgresSessionService(request.getfixturevalue("pg_dsn"), owner=owner, max_size=4)


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_session_with_tail_is_one_snapshot(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another connection appends (event and metadata) while the read is between
    its events and its metadata: the result shows none of it. The session is
    forked, so the server takes its multi-statement path too (an unforked tail
    is one statement there: one snapshot by construction)."""
    if backend == "local":
        path = tmp_path / "snap.db"
        reader, writer = LocalSessionService(path), LocalSessionService(path)
        module, name = sqlite_blobs, "history_tail"
    else:
        owner = unique_owner("snap")
        reader, writer = _pg(request, owner), _pg(request, owner)
        from convstore.postgres import blobs as module

        name = "_tail"
    try:
        reader.create_session("s")
        reader.append_events_at_head("s", [("e1", "i", "t", "{}"), ("e2", "i", "t", "{}")])
        reader.set_head("s", "e1")
        reader.append_event_with_metadata("s", "e1", ("e3", "i", "t", "{}"), [("s", "k", "1")])
        real = getattr(module, name)
        wrote: list[bool] = []

        def tail_then_write(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            if not wrote:
                writer.append_event_with_metadata(
                    "s", "e3", ("e4", "i", "t", "{}"), [("s", "k", "2")]
                )
                wrote.append(True)
            return out

        monkeypatch.setattr(module, name, tail_then_write)
        got = reader.get_session_with_tail("s", None)
        assert wrote and got is not None
        assert got.session.head_id == "e3" and [e.id for e in got.events] == ["e1", "e3"]
        assert got.metadata == {"k": "1"}
        monkeypatch.undo()
        for limit, full in [(5, True), (2, False), (None, False)]:
            now = reader.get_session_with_tail("s", limit, full=full)
            assert now is not None and now.session.head_id == "e4"
            assert now.metadata == {"k": "2"}
            assert now.events == reader.history_tail("s", limit, full=full)
        assert [e.id for e in reader.get_session_with_tail("s", 1).events] == ["e4"]
        empty = reader.get_session_with_tail("s", 0)
        assert empty is not None and empty.events == [] and empty.session.head_id == "e4"
        assert empty.metadata == {"k": "2"} and empty.session == reader.get_session("s")
        reader.compact("s", '{"content": "so far"}', through_event_id="e3")
        for limit, full in [(None, False), (1, False), (2, False), (None, True), (3, True)]:
            folded = reader.get_session_with_tail("s", limit, full=full)
            assert folded is not None
            assert folded.events == reader.history_tail("s", limit, full=full)
            assert folded.session == reader.get_session("s")
        reader.create_session("bare")
        bare = reader.get_session_with_tail("bare", None)
        assert bare is not None and bare.events == [] and bare.metadata == {}
        assert reader.get_session_with_tail("nope", None) is None
        assert reader.get_session_with_tail("\ud800", None) is None
        from convstore import InvalidArgument

        for bad in [(1, None, False), ("s", "2", False), ("s", True, False), ("s", 2, 1)]:
            with pytest.raises(InvalidArgument):
                reader.get_session_with_tail(bad[0], bad[1], full=bad[2])
    finally:
        reader.close()
        writer.close()


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_set_metadata_if_has_one_winner(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "local":
        service: Any = LocalSessionService(tmp_path / "cas.db")
    else:
        service = _pg(request, unique_owner("cas"))
    try:
        service.create_session("s")
        service.archive_session("s")  # metadata is not an event: archived sessions take it
        assert service.set_metadata_if("s", "p", None, [("s", "p", "2"), ("other", "g", "2")])
        assert not service.set_metadata_if("s", "p", None, [("s", "p", "9")])
        assert not service.set_metadata_if("s", "p", "1", [("s", "p", "9")])
        assert service.set_metadata_if("s", "p", "2", [("s", "p", "3")])
        assert service.get_metadata("s", "p") == "3"
        assert service.get_metadata("other", "g") == "2"  # a missing target is created
        assert service.set_metadata_if("s", "q", None, [])  # a check alone
        with pytest.raises(SessionNotFound):
            service.set_metadata_if("nope", "p", None, [("nope", "p", "1")])
        from convstore import InvalidArgument

        for bad in [
            (1, "p", None, []),
            ("s", None, None, []),
            ("s", "p", 3, []),
            ("s", "p", "\ud800", []),
            ("s", "p", "3", [("s", "p")]),
            ("s", "p", "3", [("s", "p", 4)]),
            ("s", "p", "3", "not rows"),
        ]:
            with pytest.raises(InvalidArgument):
                service.set_metadata_if(*bad)
        assert service.get_metadata("s", "p") == "3"
    finally:
        service.close()


def test_adk_ids_that_cannot_be_stored_are_invalid_arguments() -> None:
    """A lone surrogate or a non-``str`` id is a :class:`StoreError`, never a raw
    ``UnicodeEncodeError``/``AttributeError`` from encoding the convstore key."""
    import asyncio

    from convstore import InvalidArgument

    async def main() -> None:
        adk = ConvstoreSessionService(":memory:")
        await adk.create_session(app_name="a", user_id="u", session_id="s")
        for app, user, sid in [("\ud800", "u", "s"), ("a", "u\udfff", "s"), ("a", "u", 5)]:
            with pytest.raises(InvalidArgument):
                await adk.get_session(app_name=app, user_id=user, session_id=sid)
            with pytest.raises(InvalidArgument):
                await adk.create_session(app_name=app, user_id=user, session_id=sid)
            with pytest.raises(InvalidArgument):
                await adk.delete_session(app_name=app, user_id=user, session_id=sid)
        assert await adk.get_session(app_name="a", user_id="u", session_id="s\x00") is None
        await adk.close()

    asyncio.run(main())

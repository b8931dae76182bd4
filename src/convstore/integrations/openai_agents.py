"""OpenAI Agents SDK: ``ConvstoreSession``, an ``agents.memory.Session`` on convstore.

>>> import asyncio
>>> from convstore.integrations.openai_agents import ConvstoreSession
>>> async def demo() -> list[object]:
...     session = ConvstoreSession("chat-1")          # ":memory:"; pass a file path to keep it
...     await session.add_items([{"role": "user", "content": "hi"}])
...     await session.add_items([{"role": "assistant", "content": "hello"}])
...     return await session.get_items(limit=1)
>>> asyncio.run(demo())
[{'role': 'assistant', 'content': 'hello'}]

How the SDK's calls map onto convstore (inspect them with the ``convstore`` CLI):

- the SDK's ``session_id`` is the convstore session id; each item is one
  event of type ``openai_agents.item`` whose ``event_data`` is the item's
  JSON, appended at the head, so ``get_items`` is the head's chain;
- ``pop_item()`` moves the head back one event and returns that item — the
  event stays in the log (``convstore`` shows it; the next ``add_items``
  starts a branch there);
- ``clear_session()`` archives the session (rows kept, never resumed) and
  points the id at a fresh generation ``<session_id>~2``, ``~3`` … created
  by the next ``add_items``; the pointer is metadata on the first session
  (``openai_agents.current``).

Results are those of the SDK's ``SQLiteSession`` for every call sequence
(``tests/test_integration_openai_agents.py`` checks it on hundreds of random
sequences). The backend calls run on the event loop's thread: a local call
takes microseconds, and with an async service (the team server) they are
awaited.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from agents.memory.session_settings import SessionSettings, resolve_session_limit

from ..errors import DuplicateId, SessionArchived, SessionNotFound
from ..ids import new_id
from ..lifecycle import COMPACTED_THROUGH_KEY, COMPACTION_EVENT_TYPE
from ._common import acall, open_service

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

__all__ = ["ITEM_EVENT_TYPE", "ConvstoreSession"]

ITEM_EVENT_TYPE = "openai_agents.item"
"""The ``event_type`` of every item this adapter stores."""

_CURRENT = "openai_agents.current"
_GENERATION = "openai_agents.generation"
_ATTEMPTS = 16
"""How often ``add_items`` follows the pointer past generations archived under it."""


class ConvstoreSession:
    """An ``agents.memory.Session`` (the runtime-checkable protocol) stored by convstore.

    ``db_path``: a file (created if missing) or ``":memory:"``; or pass
    ``service=`` — any :class:`~convstore.service.ExtendedSessionService`,
    sync or async (e.g. the team server) — and leave ``db_path`` alone.
    ``session_settings`` (an ``agents.SessionSettings`` or a dict) supplies
    the default ``limit`` of :meth:`get_items`, as in the SDK.
    """

    session_id: str
    session_settings: SessionSettings | None

    def __init__(
        self,
        session_id: str,
        db_path: Any = ":memory:",
        *,
        service: Any = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
    ) -> None:
        if service is not None and db_path == ":memory:":
            db_path = None
        self._service, self._owned = open_service(db_path, service, "ConvstoreSession")
        self.session_id = session_id
        if isinstance(session_settings, dict):
            session_settings = SessionSettings(**session_settings)
        self.session_settings = (
            session_settings if session_settings is not None else SessionSettings()
        )
        self._invocation = new_id()

    # -- which convstore session holds the items now ----------------------------

    async def _current(self) -> str:
        return (await self._read_pointer())[0]

    async def _read_pointer(self) -> tuple[str, str | None]:
        """``(current generation, the pointer's stored value)``; ``None``: never moved."""
        base = self.session_id
        stored = await acall(self._service, "get_session", base)
        if stored is None or stored.archived_at is None:
            return base, None
        pointer = await acall(self._service, "get_metadata", base, _CURRENT)
        return (base if pointer is None else str(pointer)), pointer

    def _successor(self, current: str) -> str:
        """The generation after ``current``: ``<id>`` → ``<id>~2`` → ``<id>~3`` …

        Derived from the current one (not from a counter read separately), so
        every caller that saw the same current generation names the same next one.
        """
        base = self.session_id
        suffix = current[len(base) + 1 :]
        number = int(suffix) if current != base and suffix.isascii() and suffix.isdigit() else 1
        return f"{base}~{number + 1}"

    async def _next_free(self, current: str, *, skip_live: bool) -> str:
        """The first successor of ``current`` that is not stored (or, unless
        ``skip_live``, is stored and live: a generation another writer has started).

        Normally the very next one; only a pointer edited by hand names a
        generation whose successors already exist. Every caller that saw the
        same state names the same generation.
        """
        target = self._successor(current)
        while True:
            stored = await acall(self._service, "get_session", target)
            if stored is None or (not skip_live and stored.archived_at is None):
                return target
            target = self._successor(target)

    def _pointer(self, target: str) -> list[tuple[str, str, str]]:
        base = self.session_id
        return [(base, _GENERATION, target.rpartition("~")[2]), (base, _CURRENT, target)]

    async def _advance(self, current: str, pointer: str | None) -> str | None:
        """Point the id past ``current`` (archived elsewhere, e.g. by the CLI); the new id.

        ``pointer`` is the stored pointer value ``current`` was read from. The
        move is a compare-and-set on it (``set_metadata_if``): ``None`` when
        another writer moved the pointer meanwhile — maybe on past a generation
        it started and cleared since, which an unconditional write would bring
        back — so the caller re-reads it.
        """
        target = await self._next_free(current, skip_live=False)
        moved = await acall(
            self._service,
            "set_metadata_if",
            self.session_id,
            _CURRENT,
            pointer,
            self._pointer(target),
        )
        return target if moved else None

    async def _writable(self) -> str:
        """The generation to append to, created if needed; follows concurrent clears.

        A generation found archived is either stale (a concurrent clear
        archived it *and* moved the pointer after we read it: follow the
        pointer) or archived elsewhere without moving it (the CLI: move it now).
        """
        current = await self._current()
        for _ in range(_ATTEMPTS):
            stored = await acall(self._service, "get_session", current)
            if stored is None or stored.archived_at is None:
                break
            moved, pointer = await self._read_pointer()
            if moved == current:
                advanced = await self._advance(current, pointer)
                if advanced is not None:
                    current, stored = advanced, None
                    break
                moved = await self._current()  # moved by another writer: follow it
            current = moved
        if stored is None:
            with contextlib.suppress(DuplicateId):  # another writer created it first
                await acall(self._service, "create_session", current)
        return current

    # -- the Session protocol ----------------------------------------------------

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The conversation, oldest first; the latest ``limit`` items when given.

        ``limit=None`` falls back to ``session_settings.limit`` (``None``: all);
        ``0`` returns nothing and a negative limit everything, as in the SDK.
        """
        resolved = resolve_session_limit(limit, self.session_settings)
        if resolved == 0:
            return []
        wanted = None if resolved is None or resolved < 0 else resolved
        current = await self._current()
        # The usual case: the page as one row and one JSON parse.
        values = await acall(self._service, "history_tail_values", current, wanted)
        if values is not None:
            return values  # type: ignore[no-any-return]
        # A forked tail or a compaction summary in it: event by event.
        events = await acall(self._service, "history_tail", current, wanted)
        return [_item(event) for event in events]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Append the items in order, in one transaction (all or none).

        A concurrent :meth:`clear_session` (another process, another
        connection) never makes it fail: the items land in the generation
        that is current when they are written — before the clear (and are
        cleared with it) or after it, in the new generation.
        """
        if not items:
            return
        rows = [(new_id(), self._invocation, ITEM_EVENT_TYPE, json.dumps(item)) for item in items]
        # Reading the pointer and appending are two calls: a concurrent clear may
        # archive the generation in between (again and again under a stream of
        # clears, each one a clear that succeeded). Then the append is refused
        # whole, so re-read the pointer and append to the new generation —
        # as if the items came after that clear.
        for _ in range(_ATTEMPTS - 1):
            with contextlib.suppress(SessionArchived):
                await acall(self._service, "append_events_at_head", await self._writable(), rows)
                return
        await acall(self._service, "append_events_at_head", await self._writable(), rows)

    async def pop_item(self) -> TResponseInputItem | None:
        """Take the latest item off the conversation and return it (``None`` when empty).

        The head moves back to the item's parent; the event itself stays in
        the log, so nothing is destroyed.
        """
        try:
            event = await acall(self._service, "pop_head", await self._current())
        except SessionArchived:
            return None
        return None if event is None else _item(event)

    async def clear_session(self) -> None:
        """Start the conversation afresh: archive the session's current generation.

        The archived session keeps every event (``convstore list --all``
        shows it); the next :meth:`add_items` creates ``<session_id>~N``.
        Archiving and moving the id's pointer to the next generation are one
        transaction: of two concurrent clears exactly one archives, and an
        ``add_items`` racing a clear lands either before it (and is cleared)
        or after it (in the new generation), never in a generation nobody
        points at.
        """
        current = await self._current()
        target = await self._next_free(current, skip_live=True)
        try:
            await acall(
                self._service, "archive_session_with_metadata", current, self._pointer(target)
            )
        except SessionNotFound:
            return  # nothing stored yet: nothing to clear
        except SessionArchived:
            # Cleared by a concurrent caller (the pointer moved with it), or
            # archived elsewhere without moving it: then move it now.
            now, pointer = await self._read_pointer()
            if now == current:
                await self._advance(current, pointer)  # None: another writer moved it first

    def close(self) -> None:
        """Close the backend if this session opened it (a path was given)."""
        if self._owned:
            self._service.close()


def _item(event: Any) -> Any:
    """The SDK item an event stands for; a compaction summary becomes one input item.

    After ``store.compact(...)`` the conversation starts at the summary, as
    ``history()`` does (SPEC §9): the item is the summary's own JSON object
    without ``compacted_through`` when it is already an item (it has a
    ``role`` or a ``type``), else a ``system`` message whose content is the
    summary's ``content`` text (or its JSON).
    """
    data = json.loads(event.event_data)
    if event.event_type != COMPACTION_EVENT_TYPE or not isinstance(data, dict):
        return data
    data.pop(COMPACTED_THROUGH_KEY, None)
    if "role" in data or "type" in data:
        return data
    content = data.get("content")
    text = content if isinstance(content, str) else json.dumps(data, ensure_ascii=False)
    return {"role": "system", "content": text}

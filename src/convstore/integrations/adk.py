"""Google ADK: ``ConvstoreSessionService``, a ``BaseSessionService`` on convstore.

>>> import asyncio
>>> from convstore.integrations.adk import ConvstoreSessionService
>>> async def demo() -> dict[str, object]:
...     service = ConvstoreSessionService(":memory:")
...     session = await service.create_session(
...         app_name="app", user_id="u1", state={"topic": "rust", "user:lang": "en"}
...     )
...     got = await service.get_session(app_name="app", user_id="u1", session_id=session.id)
...     return got.state
>>> asyncio.run(demo())
{'topic': 'rust', 'user:lang': 'en'}

How ADK's ids and scopes map onto convstore (inspect them with the ``convstore`` CLI;
each part is percent-encoded, so ``/`` and ``:`` inside an id stay unambiguous):

- session ``(app, user, id)`` is the convstore session ``adk:<app>/<user>/<id>``,
  with ``directory`` ``adk://<app>/<user>`` and ``git_root`` ``adk://<app>``
  (so ``convstore list --directory adk://app/u1`` lists a user's sessions);
- each event is a convstore event of type ``adk.event`` whose ``event_data``
  is the event's JSON (``Event.model_dump_json(exclude_none=True)``, as ADK's
  own SQLite service stores it); timestamps are the event's float seconds;
- session state is metadata ``adk.state:<key>`` (JSON values) and
  ``adk.last_update_time`` (the float, exactly); ``app:`` state lives on the
  session ``adk-app:<app>`` and ``user:`` state on ``adk-user:<app>/<user>``,
  shared by every session; ``temp:`` state is never stored.

An event and all its state changes are one transaction. A stale session —
one whose copy was read before another append — is refused with ADK's
``StaleSessionError``, decided by the stored head (the copy's last known
event) rather than by comparing timestamps; for a ``Session`` object this
service never returned, ADK's timestamp rule applies, and the append is then
conditional on the head that check saw. ``get_session`` reads the session,
its events and its state in one snapshot, so a copy's events, state and
remembered head belong together. ``delete_session`` deletes for good, and
the id can be created again.
"""

from __future__ import annotations

import contextlib
import json
import weakref
from typing import Any
from urllib.parse import quote, unquote

from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions, EventCompaction
from google.adk.platform import time as platform_time
from google.adk.platform import uuid as platform_uuid
from google.adk.sessions import _session_util
from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
    ListSessionsResponse,
)
from google.adk.sessions.session import Session
from google.adk.sessions.state import State
from google.genai import types

from ..errors import DuplicateId, InvalidArgument, SessionNotFound
from ..ids import new_id
from ..lifecycle import COMPACTED_THROUGH_KEY, COMPACTION_EVENT_TYPE
from ..sqlite.blobs import HeadMoved
from ._common import acall, open_service

try:
    from google.adk.errors import StaleSessionError
except ImportError:  # pragma: no cover - older ADK
    from google.adk.errors._stale_session_error import StaleSessionError

__all__ = ["EVENT_TYPE", "ConvstoreSessionService"]

EVENT_TYPE = "adk.event"
"""The ``event_type`` of every ADK event this service stores."""

_STATE = "adk.state:"
_LUT = "adk.last_update_time"
_PAGE = 500


def _q(part: str) -> str:
    """``part`` percent-encoded; :class:`InvalidArgument` for one that is not UTF-8 text."""
    if type(part) is not str:
        raise InvalidArgument(f"ADK ids are str, got {type(part).__name__}: {part!r:.80}")
    try:
        return quote(part, safe="")
    except UnicodeEncodeError:
        raise InvalidArgument(
            f"ADK id {part!r:.80} is not valid UTF-8 text (it holds a lone surrogate)"
        ) from None


def session_key(app_name: str, user_id: str, session_id: str) -> str:
    """The convstore session id of an ADK session."""
    return f"adk:{_q(app_name)}/{_q(user_id)}/{_q(session_id)}"


def _app_key(app_name: str) -> str:
    return f"adk-app:{_q(app_name)}"


def _user_key(app_name: str, user_id: str) -> str:
    return f"adk-user:{_q(app_name)}/{_q(user_id)}"


def _state_of(metadata: dict[str, str]) -> dict[str, Any]:
    return {
        key[len(_STATE) :]: json.loads(value)
        for key, value in metadata.items()
        if key.startswith(_STATE)
    }


def _updates(target: str, delta: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(target, _STATE + k, json.dumps(v, ensure_ascii=False)) for k, v in delta.items()]


class ConvstoreSessionService(BaseSessionService):
    """ADK's session service stored in a convstore database.

    ``db_path``: a file (created if missing) or ``":memory:"``; or pass
    ``service=`` — any :class:`~convstore.service.ExtendedSessionService`,
    sync or async (the team server).
    """

    def __init__(self, db_path: Any = None, *, service: Any = None) -> None:
        self._service, self._owned = open_service(db_path, service, "ConvstoreSessionService")
        # id(session object) -> (weak ref, the convstore head that copy has seen)
        self._heads: dict[int, tuple[weakref.ref[Session], str | None]] = {}

    # -- bookkeeping --------------------------------------------------------------

    def _remember(self, session: Session, head: str | None) -> None:
        key = id(session)
        heads = self._heads

        def forget(_: object, key: int = key) -> None:
            heads.pop(key, None)

        self._heads[key] = (weakref.ref(session, forget), head)

    def _known_head(self, session: Session) -> tuple[bool, str | None]:
        entry = self._heads.get(id(session))
        if entry is None or entry[0]() is not session:
            return False, None
        return True, entry[1]

    async def _shared_state(self, app_name: str, user_id: str) -> dict[str, Any]:
        """The ``app:`` and ``user:`` state, with their prefixes."""
        merged: dict[str, Any] = {}
        app = await acall(self._service, "get_all_metadata", _app_key(app_name))
        for key, value in _state_of(app).items():
            merged[State.APP_PREFIX + key] = value
        user = await acall(self._service, "get_all_metadata", _user_key(app_name, user_id))
        for key, value in _state_of(user).items():
            merged[State.USER_PREFIX + key] = value
        return merged

    @staticmethod
    def _lut(metadata: dict[str, str], created_at: int) -> float:
        value = metadata.get(_LUT)
        return float(value) if value is not None else float(created_at)

    # -- BaseSessionService ---------------------------------------------------------

    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        """Create a session (``AlreadyExistsError`` when the id is taken); returns it merged."""
        session_id = session_id.strip() if isinstance(session_id, str) else session_id
        session_id = session_id or platform_uuid.new_uuid()
        key = session_key(app_name, user_id, session_id)
        now = platform_time.get_time()
        deltas = _session_util.extract_json_safe_state_delta(state or {})
        updates = [(key, _LUT, repr(now))]
        updates += _updates(key, deltas["session"])
        updates += _updates(_app_key(app_name), deltas["app"])
        updates += _updates(_user_key(app_name, user_id), deltas["user"])
        # One transaction: the existence check, the session and its initial
        # (and shared) state. No idempotent replay (SPEC §2.1) here: of two
        # callers creating the same id exactly one succeeds, as ADK requires.
        try:
            await acall(
                self._service,
                "create_session_with_metadata",
                key,
                f"adk://{_q(app_name)}/{_q(user_id)}",
                f"adk://{_q(app_name)}",
                updates,
            )
        except DuplicateId:
            raise AlreadyExistsError(f"Session with id {session_id} already exists.") from None
        ids = (app_name, user_id, session_id)
        return await self._assemble(ids, dict(deltas["session"]), [], now, None)

    async def _assemble(
        self,
        ids: tuple[str, str, str],
        state: dict[str, Any],
        events: list[Event],
        last_update_time: float,
        head_id: str | None,
    ) -> Session:
        """The ADK ``Session`` of ``(app_name, user_id, session_id)``: its own ``state``
        merged with the app's and the user's, remembered with the head it was read at."""
        app_name, user_id, session_id = ids
        state.update(await self._shared_state(app_name, user_id))
        session = Session(
            app_name=app_name,
            user_id=user_id,
            id=session_id,
            state=state,
            events=events,
            last_update_time=last_update_time,
        )
        self._remember(session, head_id)
        return session

    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> Session | None:
        """The session with its events (filtered by ``config``) and merged state, or ``None``."""
        session_id = session_id.strip() if isinstance(session_id, str) else session_id
        key = session_key(app_name, user_id, session_id)
        limit = None
        if config is not None and config.num_recent_events is not None:
            limit = config.num_recent_events
        # The session, its events and its state from one snapshot: the head this
        # copy remembers is the one its events end at (an append landing between
        # separate reads would make its next append_event a false stale error).
        # With a limit of 0 or an after_timestamp filter it is still the stored
        # chain's head as of that snapshot.
        snapshot = await acall(self._service, "get_session_with_tail", key, limit)
        if snapshot is None:
            return None
        stored, rows, metadata = snapshot
        events = await self._events(key, rows)
        if config is not None and config.after_timestamp is not None:
            i = len(events) - 1
            while i >= 0 and events[i].timestamp >= config.after_timestamp:
                i -= 1
            if i >= 0:
                events = events[i + 1 :]
        last_update_time = self._lut(metadata, stored.created_at)
        ids = (app_name, user_id, session_id)
        return await self._assemble(
            ids, _state_of(metadata), events, last_update_time, stored.head_id
        )

    async def _events(self, key: str, rows: list[Any]) -> list[Event]:
        """ADK events of stored rows; a compaction summary becomes ADK's own compaction event.

        After ``store.compact(...)`` the history starts at the summary, which
        stands for the events it covers (SPEC §9), so ADK sees what its own
        ``LlmEventSummarizer`` would have left: an ``Event(author="user")``
        whose ``actions.compaction`` carries the covered time range and the
        summary's ``content`` as the model's text. A summary whose data is
        itself an ADK event is that event.
        """
        if not any(row.event_type == COMPACTION_EVENT_TYPE for row in rows):
            return [Event.model_validate_json(row.event_data) for row in rows]
        full = await acall(self._service, "history_tail", key, None, full=True)
        return [
            self._summary_event(row, full)
            if row.event_type == COMPACTION_EVENT_TYPE
            else Event.model_validate_json(row.event_data)
            for row in rows
        ]

    @staticmethod
    def _summary_event(row: Any, chain: list[Any]) -> Event:
        data = json.loads(row.event_data)
        through = data.pop(COMPACTED_THROUGH_KEY, None)
        with contextlib.suppress(ValueError):
            return Event.model_validate(data)
        times = []
        for event in chain:
            if event.event_type == EVENT_TYPE:
                times.append(json.loads(event.event_data).get("timestamp", event.created_at))
            if event.id == through:
                break
        end = float(times[-1]) if times else float(row.created_at)
        start = float(times[0]) if times else end
        content = data.get("content")
        text = content if isinstance(content, str) else json.dumps(data, ensure_ascii=False)
        return Event(
            id=row.id,
            invocation_id=row.invocation_id,
            author="user",
            timestamp=end,
            actions=EventActions(
                compaction=EventCompaction(
                    start_timestamp=start,
                    end_timestamp=end,
                    compacted_content=types.Content(role="model", parts=[types.Part(text=text)]),
                )
            ),
        )

    async def list_sessions(
        self, *, app_name: str, user_id: str | None = None
    ) -> ListSessionsResponse:
        """Sessions without events, oldest activity first (ADK's order)."""
        if user_id is None:
            filters: dict[str, str] = {"git_root": f"adk://{_q(app_name)}"}
        else:
            filters = {"directory": f"adk://{_q(app_name)}/{_q(user_id)}"}
        found: list[Session] = []
        shared: dict[str, dict[str, Any]] = {}
        before = None
        while True:
            page = await acall(
                self._service, "list_sessions", limit=_PAGE, before=before, **filters
            )
            for summary in page:
                _, _, rest = summary.id.partition(":")
                parts = rest.split("/")
                if len(parts) != 3:
                    continue
                uid, sid = unquote(parts[1]), unquote(parts[2])
                metadata = await acall(self._service, "get_all_metadata", summary.id)
                state = _state_of(metadata)
                if uid not in shared:
                    shared[uid] = await self._shared_state(app_name, uid)
                state.update(shared[uid])
                found.append(
                    Session(
                        app_name=app_name,
                        user_id=uid,
                        id=sid,
                        state=state,
                        last_update_time=self._lut(metadata, summary.created_at),
                    )
                )
            if len(page) < _PAGE:
                break
            before = page[-1]
        found.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=found)

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        """Delete the session and its events for good (nothing if absent); the id is free again."""
        session_id = session_id.strip() if isinstance(session_id, str) else session_id
        await acall(self._service, "delete_session", session_key(app_name, user_id, session_id))

    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        """The ``user:`` state of ``(app_name, user_id)``, keys without the prefix."""
        metadata = await acall(self._service, "get_all_metadata", _user_key(app_name, user_id))
        return _state_of(metadata)

    async def append_event(self, session: Session, event: Event) -> Event:
        """Store the event and its state delta atomically; update ``session`` in place."""
        if event.partial:
            return event
        key = session_key(session.app_name, session.user_id, session.id)
        if any(e.id == event.id for e in session.events):
            # An equal re-delivery is a no-op, as in ADK's in-memory service.
            stored = await acall(self._service, "history_tail", key, None)
            if any(e == event for e in await self._events(key, stored)):
                return event
        known, expected = self._known_head(session)
        if not known:
            # A copy this service never returned: ADK's timestamp rule, checked
            # against one snapshot, and the append made conditional on the head
            # that snapshot saw, so another writer's append landing between the
            # check and the write makes this copy stale instead of being missed.
            snapshot = await acall(self._service, "get_session_with_tail", key, 0)
            if snapshot is None:
                raise SessionNotFoundError(f"Session {session.id} not found.")
            stored_session, _, metadata = snapshot
            if self._lut(metadata, stored_session.created_at) > session.last_update_time:
                raise StaleSessionError(
                    "The last_update_time provided in the session object is earlier than "
                    "the update_time in storage. Please check if it is a stale session."
                )
            expected = stored_session.head_id
        original = None
        if event.actions and event.actions.state_delta:
            original = dict(event.actions.state_delta)
        trimmed = self._trim_temp_delta_state(event)
        updates = [(key, _LUT, repr(trimmed.timestamp))]
        if trimmed.actions and trimmed.actions.state_delta:
            deltas = _session_util.extract_json_safe_state_delta(trimmed.actions.state_delta)
            updates += _updates(key, deltas["session"])
            updates += _updates(_app_key(session.app_name), deltas["app"])
            updates += _updates(_user_key(session.app_name, session.user_id), deltas["user"])
        row = (
            new_id(),
            trimmed.invocation_id or "",
            EVENT_TYPE,
            trimmed.model_dump_json(exclude_none=True),
        )
        try:
            appended = await acall(
                self._service, "append_event_with_metadata", key, expected, row, updates
            )
        except BaseException as exc:
            if original is not None and event.actions:
                event.actions.state_delta = original
            if isinstance(exc, SessionNotFound):
                raise SessionNotFoundError(f"Session {session.id} not found.") from None
            if isinstance(exc, HeadMoved):
                raise StaleSessionError(
                    f"Session {session.id} was appended to since this copy was read "
                    "(its head moved). Please check if it is a stale session."
                ) from None
            raise
        if original is not None:
            for k, v in original.items():
                if k.startswith(State.TEMP_PREFIX):
                    session.state[k] = v
        session.last_update_time = trimmed.timestamp
        self._remember(session, appended.id)
        return self._commit_event_to_session(session, trimmed)

    async def close(self) -> None:
        """Close the backend if this service opened it (a path was given)."""
        if self._owned:
            with contextlib.suppress(Exception):
                self._service.close()

"""How a session written with its original ids merges into a store: one decision, both backends.

``import_session`` (sync's pull into SQLite, sync's push into PostgreSQL, a
restore) must give the same outcome on either backend. The rules live here,
as pure functions over what the backend read under its write lock; the
backends only read, then execute the :class:`ImportPlan`:

1. **Identity.** A session id that is not stored is created with all its
   fields. A stored one is :class:`DuplicateId` without ``merge``; with
   ``merge`` it must be *the same session* — same directory, git root and
   creation time — else it is another session that happens to share the id
   (:class:`DuplicateId`, nothing written).
2. **Events.** An incoming event already stored with identical content is
   skipped (an idempotent replay); stored with other content, or in another
   session, it is :class:`DuplicateId` naming it. Every other event is
   inserted in the given order; its parent must be an event of the session
   stored before or earlier in the batch (:class:`InvalidEvent`).
3. **Session fields.** ``updated_at`` is the later of the two; the head
   follows the newer activity (ties: the incoming side) and must be one of
   the session's events; an archived session stays archived (the first
   ``archived_at`` wins); a server id already recorded is kept unless the
   incoming side names one.
4. **Metadata.** Incoming values that differ from the stored ones are written.

>>> from convstore import StoredEvent, StoredSession
>>> s = StoredSession("s1", "e1", None, "/p", None, 10, 20, None)
>>> e = StoredEvent("e1", "s1", None, "i", "user", "{}", 20)
>>> plan = plan_import(s, [e], merge=False, stored=None, existing={}, known=set())
>>> plan.create, [ev.id for ev in plan.events], plan.head_id
(True, ['e1'], 'e1')
"""

from __future__ import annotations

from ._lean import TYPE_CHECKING, NamedTuple
from .errors import DuplicateId, InvalidArgument, InvalidEvent

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping

    from .models import SessionSummary, StoredEvent, StoredSession

__all__ = ["StoredState", "ImportPlan", "check_import", "references", "plan_import"]


class StoredState(NamedTuple):
    """The stored session as the backend read it, under its write lock."""

    directory: str | None
    git_root: str | None
    created_at: int
    updated_at: int
    archived_at: int | None
    head_id: str | None
    server_session_id: str | None


class ImportPlan(NamedTuple):
    """What a backend writes for one ``import_session`` call."""

    #: Whether the session row is new (created with the incoming fields).
    create: bool
    #: The events to insert, in order (parents first).
    events: list[StoredEvent]
    head_id: str | None
    updated_at: int
    archived_at: int | None
    server_session_id: str | None
    #: ``(key, value)`` metadata to upsert, sorted by key.
    metadata: list[tuple[str, str]]
    #: Whether the stored row needs its update (new, events added, or a field moved).
    touch: bool


def check_import(
    session: StoredSession | SessionSummary,
    events: Iterable[StoredEvent],
    metadata: Mapping[str, str] | None,
) -> tuple[list[StoredEvent], dict[str, str]]:
    """Validate the arguments before any I/O; return the events as a list and the metadata.

    The same checks as an append (:mod:`convstore._validate`) on every field,
    so whatever a pull, push or restore stores can be read, searched and
    exported like any appended event, on either backend.
    """
    from . import _validate as _v

    _check_session(session)
    name = session.id
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidArgument(f"metadata must be a dict, got {type(metadata).__name__}")
    meta = dict(metadata or {})
    for key, value in meta.items():
        _v.text(key, "metadata key")
        _v.text(value, f"metadata {key!r}")
    if isinstance(events, str | bytes) or not hasattr(events, "__iter__"):
        raise InvalidArgument(
            f"events must be an iterable of StoredEvent, got {type(events).__name__}"
        )
    evs = list(events)
    for ev in evs:
        _check_event(ev)
        if ev.session_id != name:
            raise InvalidEvent(
                f"event {ev.id!r} belongs to session {ev.session_id!r}, not {name!r}"
            )
    return evs, meta


def _check_session(session: object) -> None:
    """A session record to import: every field storable, timestamps in range."""
    from . import _validate as _v

    fields = ("id", "head_id", "server_session_id", "directory", "git_root", "created_at",
              "updated_at", "archived_at")  # fmt: skip
    if not isinstance(session, tuple) or not all(hasattr(session, f) for f in fields):
        raise InvalidArgument(
            f"session must be a StoredSession or SessionSummary, got {type(session).__name__}"
        )
    name = _v.text(getattr(session, "id"), "session id")  # noqa: B009
    where = f"session {name!r}"
    for field in ("head_id", "server_session_id", "directory", "git_root"):
        _v.optional_text(getattr(session, field), f"{where}: {field}")
    low, high = 1 - _v.TIME_LIMIT, _v.TIME_LIMIT - 1
    for field in ("created_at", "updated_at", "archived_at"):
        value = getattr(session, field)
        if value is not None or field != "archived_at":
            _v.integer(value, f"{where}: {field}", low=low, high=high)


def _check_event(event: object) -> None:
    """An event to import: the checks of an append, plus its session id and timestamp."""
    from . import _validate as _v

    if not isinstance(event, tuple) or len(event) != 7:
        raise InvalidEvent(f"events must be StoredEvent records, got {_v._clip(event)}")
    eid, session_id, parent, invocation, kind, data, created = event
    _v.event_fields(eid, parent, invocation, kind, data)
    _v.text(session_id, f"event {eid!r}: session_id", error=InvalidEvent)
    _v.integer(created, f"event {eid!r}: created_at", low=1 - _v.TIME_LIMIT, high=_v.TIME_LIMIT - 1)


def references(session: StoredSession | SessionSummary, events: list[StoredEvent]) -> set[str]:
    """Ids the batch refers to but does not carry (parents, the head): ask the store about them."""
    carried = {ev.id for ev in events}
    wanted = {ev.parent_id for ev in events if ev.parent_id is not None}
    if session.head_id is not None:
        wanted.add(session.head_id)
    return wanted - carried


def _check_identity(
    session: StoredSession | SessionSummary, stored: StoredState | None, merge: bool
) -> None:
    if stored is None:
        return
    if not merge:
        raise DuplicateId(f"session id {session.id!r} is already used")
    if (stored.directory, stored.git_root, stored.created_at) != (
        session.directory,
        session.git_root,
        session.created_at,
    ):
        raise DuplicateId(
            f"session {session.id!r} already exists with a different directory, git root or "
            "creation time: another session with the same id; nothing was written"
        )


def _new_events(
    name: str,
    events: list[StoredEvent],
    existing: Mapping[str, StoredEvent],
    known: set[str],
) -> list[StoredEvent]:
    """The events to insert; ``known`` grows with them (it ends as every event of the session)."""
    out: list[StoredEvent] = []
    for ev in events:
        old = existing.get(ev.id)
        if old is not None:
            if old != ev:
                what = (
                    f"in session {old.session_id!r}"
                    if old.session_id != name
                    else "with different content"
                )
                raise DuplicateId(
                    f"event {ev.id!r} of session {name!r} conflicts: an event with that id is "
                    f"already stored {what}; nothing was written"
                )
            known.add(ev.id)
            continue
        if ev.parent_id is not None and ev.parent_id not in known:
            raise InvalidEvent(
                f"event {ev.id!r}: parent {ev.parent_id!r} is not an earlier event "
                f"of session {name!r}"
            )
        known.add(ev.id)
        out.append(ev)
    return out


def plan_import(
    session: StoredSession | SessionSummary,
    events: list[StoredEvent],
    *,
    merge: bool,
    stored: StoredState | None,
    existing: Mapping[str, StoredEvent],
    known: Collection[str],
    stored_metadata: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> ImportPlan:
    """Decide what importing ``session`` with ``events`` writes; raise when it must write nothing.

    ``existing``: the stored events (of any session) whose ids the batch
    carries. ``known``: which of :func:`references` are events of this stored
    session. ``stored``/``stored_metadata``: the stored session, ``None``/empty
    when there is none.
    """
    _check_identity(session, stored, merge)
    known_ids = set(known)
    inserted = _new_events(session.id, events, existing, known_ids)
    if session.head_id is not None and session.head_id not in known_ids:
        raise InvalidEvent(
            f"session {session.id!r}: head {session.head_id!r} is not one of its events"
        )
    have = stored_metadata or {}
    changed = sorted((k, v) for k, v in (metadata or {}).items() if have.get(k) != v)
    if stored is None:
        return ImportPlan(
            True,
            inserted,
            session.head_id,
            session.updated_at,
            session.archived_at,
            session.server_session_id,
            changed,
            True,
        )
    if session.updated_at >= stored.updated_at:
        head, updated = session.head_id, session.updated_at
    else:
        head, updated = stored.head_id, stored.updated_at
    archived = stored.archived_at if stored.archived_at is not None else session.archived_at
    server = (
        session.server_session_id
        if session.server_session_id is not None
        else stored.server_session_id
    )
    moved = (head, updated, archived, server) != (
        stored.head_id,
        stored.updated_at,
        stored.archived_at,
        stored.server_session_id,
    )
    return ImportPlan(
        False, inserted, head, updated, archived, server, changed, moved or bool(inserted)
    )

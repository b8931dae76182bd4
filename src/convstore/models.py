"""Immutable value objects returned by the store.

They are named tuples (:class:`typing.NamedTuple` to a type checker): immutable, hashable, cheap to
build straight from a database row (``load_events`` of a long session builds
thousands of them), and readable by attribute::

    >>> from convstore import StoredEvent
    >>> e = StoredEvent("e1", "s1", None, "inv1", "user", '{"content": "hi"}', 1700000000)
    >>> e.event_type, e.parent_id
    ('user', None)
"""

from __future__ import annotations

from ._lean import NamedTuple

__all__ = ["StoredSession", "StoredEvent", "SessionSummary"]


class StoredSession(NamedTuple):
    """One conversation. Timestamps are integer Unix seconds."""

    id: str
    head_id: str | None
    server_session_id: str | None
    directory: str | None
    git_root: str | None
    created_at: int
    updated_at: int
    archived_at: int | None


class StoredEvent(NamedTuple):
    """One entry of a session's append-only event log. ``event_data`` is JSON text."""

    id: str
    session_id: str
    parent_id: str | None
    invocation_id: str
    event_type: str
    event_data: str
    created_at: int


class SessionSummary(NamedTuple):
    """A :class:`StoredSession`'s fields plus the number of events it holds."""

    id: str
    head_id: str | None
    server_session_id: str | None
    directory: str | None
    git_root: str | None
    created_at: int
    updated_at: int
    archived_at: int | None
    event_count: int

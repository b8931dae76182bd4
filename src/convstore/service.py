"""The service layer: what a backend must do for the client.

:class:`SessionService` is a :class:`typing.Protocol`: any object with these
methods can back a :class:`~convstore.manager.SessionManager` — the local
SQLite store (:class:`LocalSessionService`), the PostgreSQL team server
(``convstore.postgres.PostgresSessionService``), or a test's in-memory fake.

>>> from convstore import LocalSessionService, SessionService
>>> isinstance(LocalSessionService(":memory:"), SessionService)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._common import like

if TYPE_CHECKING:
    from .sqlite import blobs as _blobs
    from .sqlite.store import SessionStore
else:

    class _Names:
        """At run time a Protocol needs only its members' names: ``_blobs.x`` is the
        string ``"convstore.sqlite.blobs.x"``, and nothing is imported for it."""

        def __init__(self, where):
            self._where = where

        def __getattr__(self, name):
            return f"{self._where}.{name}"

    _blobs = _Names("convstore.sqlite.blobs")
    SessionStore = _Names("SessionStore")

__all__ = ["ExtendedSessionService", "LifecycleService", "SessionService"]


@runtime_checkable
class SessionService(Protocol):
    """Everything a backend does for the session manager (and the CLI, and sync).

    Semantics and errors are those of :class:`~convstore.SessionStore`:
    unknown sessions raise :class:`~convstore.SessionNotFound` on writes and
    metadata, archived ones refuse appends, ids are unique.
    """

    @like(SessionStore.create_session)
    def create_session(self) -> None:
        """Create an empty session."""

    @like(SessionStore.get_session)
    def get_session(self) -> None:
        """The session, or ``None``."""

    @like(SessionStore.find_resumable_session)
    def find_resumable_session(self) -> None:
        """Newest live session for the directory or git root, active within the window."""

    @like(SessionStore.append_event)
    def append_event(self) -> None:
        """Append with an explicit parent; moves the head."""

    @like(SessionStore.append_event_at_head)
    def append_event_at_head(self) -> None:
        """Append with the head (read inside the write) as parent; moves the head."""

    @like(SessionStore.get_event)
    def get_event(self) -> None:
        """One event of the session, or ``None``."""

    @like(SessionStore.load_events)
    def load_events(self) -> None:
        """Every event, in append order."""

    @like(SessionStore.history)
    def history(self) -> None:
        """The chain from the head back to the root, oldest first.

        A compacted chain starts at its newest summary (SPEC §9); ``full=True``
        returns the originals too.
        """

    @like(SessionStore.set_head)
    def set_head(self) -> None:
        """Move the head to one of the session's events (fork)."""

    @like(SessionStore.archive_session)
    def archive_session(self) -> None:
        """Archive: never resumed, no more appends."""

    @like(SessionStore.update_server_session_id)
    def update_server_session_id(self) -> None:
        """Record the sync server's id for the session."""

    @like(SessionStore.set_metadata)
    def set_metadata(self) -> None:
        """Upsert one metadata value."""

    @like(SessionStore.get_metadata)
    def get_metadata(self) -> None:
        """One metadata value, ``None`` when unset."""

    @like(SessionStore.list_sessions)
    def list_sessions(self) -> None:
        """Sessions, newest activity first, keyset-paginated."""

    def close(self) -> None:
        """Release the backend's resources."""
        ...


@runtime_checkable
class LifecycleService(SessionService, Protocol):
    """A :class:`SessionService` that also keeps the conversation lifecycle (SPEC §9).

    Compaction, the token usage ledger and retention, with the semantics and
    errors of the same methods of :class:`~convstore.SessionStore`.
    :class:`~convstore.LocalSessionService` and
    ``convstore.postgres.PostgresSessionService`` implement it.

    >>> from convstore import LocalSessionService
    >>> isinstance(LocalSessionService(":memory:"), LifecycleService)
    True
    """

    @like(SessionStore.compact)
    def compact(self) -> None:
        """Append a summary standing, in ``history()``, for the chain through an event."""

    @like(SessionStore.record_usage)
    def record_usage(self) -> None:
        """Record a model call's token usage against the event it produced."""

    @like(SessionStore.usage)
    def usage(self) -> None:
        """Usage totals per model, UTC day or session."""

    @like(SessionStore.apply_retention)
    def apply_retention(self) -> None:
        """Archive idle and delete old archived sessions — by default only report it."""


@runtime_checkable
class ExtendedSessionService(SessionService, Protocol):
    """A :class:`SessionService` with what agent frameworks need beyond the event log.

    Blobs (raw bytes per session, under a namespace and an ordered key, with
    JSON ``meta``), deleting a session for good, and clearing a head. The
    framework adapters in :mod:`convstore.integrations` require it;
    :class:`~convstore.LocalSessionService` and
    ``convstore.postgres.PostgresSessionService`` implement it (see
    :mod:`convstore.sqlite.blobs` for the semantics).
    """

    @like(_blobs.put_blobs)
    def put_blobs(self) -> None:
        """Store ``(key, meta, data)`` blobs of one session, atomically."""

    @like(_blobs.get_blob)
    def get_blob(self) -> None:
        """One blob, or ``None``."""

    @like(_blobs.latest_blob)
    def latest_blob(self) -> None:
        """The blob with the greatest key in a namespace, or ``None``."""

    @like(_blobs.get_blob_with_children)
    def get_blob_with_children(self) -> None:
        """A blob (or the latest) and the ``child_namespace`` blobs keyed ``<its key>\t…``."""

    @like(_blobs.list_blobs)
    def list_blobs(self) -> None:
        """Blobs by prefix, ordered by session, namespace, key (``None``: every session)."""

    @like(_blobs.delete_blobs)
    def delete_blobs(self) -> None:
        """Delete a session's blobs under a namespace prefix."""

    @like(_blobs.delete_session)
    def delete_session(self) -> None:
        """Delete a session and everything in it, for good; ``False`` if absent."""

    @like(_blobs.clear_head)
    def clear_head(self) -> None:
        """Move the head back to "no event" (events stay)."""

    @like(_blobs.append_events_at_head)
    def append_events_at_head(self) -> None:
        """Append ``(event_id, invocation_id, event_type, event_data)`` as one chain at the head."""

    @like(_blobs.history_tail)
    def history_tail(self) -> None:
        """The last ``limit`` events of ``history(full=full)``, oldest first."""

    @like(_blobs.history_tail_values)
    def history_tail_values(self) -> None:
        """``history_tail``'s parsed event data, oldest first; ``None``: use ``history_tail``."""

    @like(_blobs.create_session_with_metadata)
    def create_session_with_metadata(self) -> None:
        """Create a session that must not exist (no replay) and upsert metadata, atomically."""

    @like(_blobs.archive_session_with_metadata)
    def archive_session_with_metadata(self) -> None:
        """Archive a live session (else ``SessionArchived``) and upsert metadata, atomically."""

    @like(_blobs.pop_head)
    def pop_head(self) -> None:
        """Move the head back one event and return it (the event stays in the log)."""

    @like(_blobs.append_event_with_metadata)
    def append_event_with_metadata(self) -> None:
        """Append at the head if it is ``expected_head`` and upsert metadata, atomically."""

    @like(SessionStore.get_all_metadata)
    def get_all_metadata(self) -> None:
        """Every metadata key and value of a session (empty when none)."""

    @like(_blobs.get_session_with_tail)
    def get_session_with_tail(self) -> None:
        """The session, its history's last ``limit`` events and its metadata, in one snapshot."""

    @like(_blobs.set_metadata_if)
    def set_metadata_if(self) -> None:
        """Upsert metadata only if a key holds the expected value (compare-and-set)."""

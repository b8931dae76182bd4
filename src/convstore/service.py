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

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .models import SessionSummary, StoredEvent, StoredSession

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .lifecycle import UsageTotal
    from .sqlite.blobs import Blob
    from .sqlite.retention import RetentionPolicy, RetentionReport

__all__ = ["ExtendedSessionService", "LifecycleService", "SessionService"]


@runtime_checkable
class SessionService(Protocol):
    """Everything a backend does for the session manager (and the CLI, and sync).

    Semantics and errors are those of :class:`~convstore.SessionStore`:
    unknown sessions raise :class:`~convstore.SessionNotFound` on writes and
    metadata, archived ones refuse appends, ids are unique.
    """

    def create_session(
        self, id: str, directory: str | None = None, git_root: str | None = None
    ) -> StoredSession:
        """Create an empty session."""
        ...

    def get_session(self, id: str) -> StoredSession | None:
        """The session, or ``None``."""
        ...

    def find_resumable_session(
        self, directory: str | None, git_root: str | None, max_age_secs: int
    ) -> StoredSession | None:
        """Newest live session for the directory or git root, active within the window."""
        ...

    def append_event(
        self,
        session_id: str,
        event_id: str,
        parent_id: str | None,
        invocation_id: str,
        event_type: str,
        event_data: str,
    ) -> StoredEvent:
        """Append with an explicit parent; moves the head."""
        ...

    def append_event_at_head(
        self, session_id: str, event_id: str, invocation_id: str, event_type: str, event_data: str
    ) -> StoredEvent:
        """Append with the head (read inside the write) as parent; moves the head."""
        ...

    def get_event(self, session_id: str, event_id: str) -> StoredEvent | None:
        """One event of the session, or ``None``."""
        ...

    def load_events(self, session_id: str) -> list[StoredEvent]:
        """Every event, in append order."""
        ...

    def history(self, session_id: str, *, full: bool = False) -> list[StoredEvent]:
        """The chain from the head back to the root, oldest first.

        A compacted chain starts at its newest summary (SPEC §9); ``full=True``
        returns the originals too.
        """
        ...

    def set_head(self, session_id: str, event_id: str) -> None:
        """Move the head to one of the session's events (fork)."""
        ...

    def archive_session(self, session_id: str) -> None:
        """Archive: never resumed, no more appends."""
        ...

    def update_server_session_id(self, session_id: str, server_session_id: str) -> None:
        """Record the sync server's id for the session."""
        ...

    def set_metadata(self, session_id: str, key: str, value: str) -> None:
        """Upsert one metadata value."""
        ...

    def get_metadata(self, session_id: str, key: str) -> str | None:
        """One metadata value, ``None`` when unset."""
        ...

    def list_sessions(
        self,
        directory: str | None = None,
        git_root: str | None = None,
        include_archived: bool = False,
        limit: int = 20,
        before: str | StoredSession | SessionSummary | None = None,
    ) -> list[SessionSummary]:
        """Sessions, newest activity first, keyset-paginated."""
        ...

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

    def compact(
        self,
        session_id: str,
        summary_data: str | Mapping[str, Any],
        *,
        through_event_id: str,
        event_id: str | None = None,
        invocation_id: str | None = None,
    ) -> StoredEvent:
        """Append a summary standing, in ``history()``, for the chain through an event."""
        ...

    def record_usage(
        self,
        session_id: str,
        event_id: str,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        cost: float | None = None,
    ) -> None:
        """Record a model call's token usage against the event it produced."""
        ...

    def usage(
        self,
        *,
        session_id: str | None = None,
        since: int | None = None,
        group_by: str = "model",
    ) -> list[UsageTotal]:
        """Usage totals per model, UTC day or session."""
        ...

    def apply_retention(self, policy: RetentionPolicy, *, dry_run: bool = True) -> RetentionReport:
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

    def put_blobs(
        self,
        session_id: str,
        namespace: str,
        items: Sequence[tuple[str, str, bytes]],
        *,
        replace: bool = True,
    ) -> None:
        """Store ``(key, meta, data)`` blobs of one session, atomically."""
        ...

    def get_blob(self, session_id: str, namespace: str, key: str) -> Blob | None:
        """One blob, or ``None``."""
        ...

    def latest_blob(self, session_id: str, namespace: str) -> Blob | None:
        """The blob with the greatest key in a namespace, or ``None``."""
        ...

    def get_blob_with_children(
        self, session_id: str, namespace: str, key: str | None, child_namespace: str
    ) -> tuple[Blob | None, list[Blob]]:
        """A blob (or the latest) and the ``child_namespace`` blobs keyed ``<its key>\t…``."""
        ...

    def list_blobs(
        self,
        session_id: str | None,
        namespace_prefix: str = "",
        key_prefix: str = "",
        *,
        exact: bool = False,
        newest_first: bool = False,
        before_key: str | None = None,
        limit: int | None = None,
    ) -> list[Blob]:
        """Blobs by prefix, ordered by session, namespace, key (``None``: every session)."""
        ...

    def delete_blobs(self, session_id: str, namespace_prefix: str = "") -> None:
        """Delete a session's blobs under a namespace prefix."""
        ...

    def delete_session(self, session_id: str) -> bool:
        """Delete a session and everything in it, for good; ``False`` if absent."""
        ...

    def clear_head(self, session_id: str) -> None:
        """Move the head back to "no event" (events stay)."""
        ...

    def append_events_at_head(
        self, session_id: str, items: Sequence[tuple[str, str, str, str]]
    ) -> list[StoredEvent]:
        """Append ``(event_id, invocation_id, event_type, event_data)`` as one chain at the head."""
        ...

    def history_tail(
        self, session_id: str, limit: int | None, *, full: bool = False
    ) -> list[StoredEvent]:
        """The last ``limit`` events of ``history(full=full)``, oldest first."""
        ...

    def history_tail_values(self, session_id: str, limit: int | None) -> list[Any] | None:
        """``history_tail``'s parsed event data, oldest first; ``None``: use ``history_tail``."""
        ...

    def create_session_with_metadata(
        self,
        session_id: str,
        directory: str | None,
        git_root: str | None,
        metadata: Sequence[tuple[str, str, str]] = (),
    ) -> StoredSession:
        """Create a session that must not exist (no replay) and upsert metadata, atomically."""
        ...

    def archive_session_with_metadata(
        self, session_id: str, metadata: Sequence[tuple[str, str, str]] = ()
    ) -> None:
        """Archive a live session (else ``SessionArchived``) and upsert metadata, atomically."""
        ...

    def pop_head(self, session_id: str) -> StoredEvent | None:
        """Move the head back one event and return it (the event stays in the log)."""
        ...

    def append_event_with_metadata(
        self,
        session_id: str,
        expected_head: str | None,
        event: tuple[str, str, str, str] | None,
        metadata: Sequence[tuple[str, str, str]] = (),
    ) -> StoredEvent | None:
        """Append at the head if it is ``expected_head`` and upsert metadata, atomically."""
        ...

    def get_all_metadata(self, session_id: str) -> dict[str, str]:
        """Every metadata key and value of a session (empty when none)."""
        ...

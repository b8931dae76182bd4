"""``LocalSessionService``: the :class:`~convstore.service.SessionService` on a local store.

>>> from convstore import LocalSessionService
>>> service = LocalSessionService(":memory:")
>>> service.create_session("s1", directory="/p").id
's1'
>>> service.close()
"""

from __future__ import annotations

from ._common import Closing
from ._lean import TYPE_CHECKING
from .sqlite.store import SessionStore

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

    from ._common import Clock
    from .lifecycle import UsageTotal
    from .models import SessionSummary, StoredEvent, StoredSession
    from .sqlite.blobs import Blob
    from .sqlite.connection import PathArg
    from .sqlite.retention import RetentionPolicy, RetentionReport
    from .sqlite.search import SearchHit

__all__ = ["LocalSessionService"]


class LocalSessionService(Closing):
    """:class:`SessionService` on a local :class:`~convstore.SessionStore`.

    Pass a path (the service opens and owns the store) or an open store (the
    caller keeps ownership, and ``close()`` leaves it open).
    """

    __slots__ = ("_owns", "store")

    def __init__(
        self, store: SessionStore | PathArg, *, timeout: float = 5.0, clock: Clock | None = None
    ) -> None:
        if isinstance(store, SessionStore):
            self.store = store
            self._owns = False
        else:
            self.store = SessionStore(store, timeout=timeout, clock=clock)
            self._owns = True

    def create_session(
        self, id: str, directory: str | None = None, git_root: str | None = None
    ) -> StoredSession:
        """See :meth:`SessionStore.create_session`."""
        return self.store.create_session(id, directory, git_root)

    def get_session(self, id: str) -> StoredSession | None:
        """See :meth:`SessionStore.get_session`."""
        return self.store.get_session(id)

    def find_resumable_session(
        self, directory: str | None, git_root: str | None, max_age_secs: int
    ) -> StoredSession | None:
        """See :meth:`SessionStore.find_resumable_session`."""
        return self.store.find_resumable_session(directory, git_root, max_age_secs)

    def append_event(
        self,
        session_id: str,
        event_id: str,
        parent_id: str | None,
        invocation_id: str,
        event_type: str,
        event_data: str,
    ) -> StoredEvent:
        """See :meth:`SessionStore.append_event`."""
        return self.store.append_event(
            session_id, event_id, parent_id, invocation_id, event_type, event_data
        )

    def append_event_at_head(
        self, session_id: str, event_id: str, invocation_id: str, event_type: str, event_data: str
    ) -> StoredEvent:
        """See :meth:`SessionStore.append_event_at_head`."""
        return self.store.append_event_at_head(
            session_id, event_id, invocation_id, event_type, event_data
        )

    def get_event(self, session_id: str, event_id: str) -> StoredEvent | None:
        """See :meth:`SessionStore.get_event`."""
        return self.store.get_event(session_id, event_id)

    def load_events(self, session_id: str) -> list[StoredEvent]:
        """See :meth:`SessionStore.load_events`."""
        return self.store.load_events(session_id)

    def history(self, session_id: str, *, full: bool = False) -> list[StoredEvent]:
        """See :meth:`SessionStore.history`."""
        return self.store.history(session_id, full=full)

    def set_head(self, session_id: str, event_id: str) -> None:
        """See :meth:`SessionStore.set_head`."""
        self.store.set_head(session_id, event_id)

    def archive_session(self, session_id: str) -> None:
        """See :meth:`SessionStore.archive_session`."""
        self.store.archive_session(session_id)

    def update_server_session_id(self, session_id: str, server_session_id: str) -> None:
        """See :meth:`SessionStore.update_server_session_id`."""
        self.store.update_server_session_id(session_id, server_session_id)

    def set_metadata(self, session_id: str, key: str, value: str) -> None:
        """See :meth:`SessionStore.set_metadata`."""
        self.store.set_metadata(session_id, key, value)

    def get_metadata(self, session_id: str, key: str) -> str | None:
        """See :meth:`SessionStore.get_metadata`."""
        return self.store.get_metadata(session_id, key)

    def list_sessions(
        self,
        directory: str | None = None,
        git_root: str | None = None,
        include_archived: bool = False,
        limit: int = 20,
        before: str | StoredSession | SessionSummary | None = None,
    ) -> list[SessionSummary]:
        """See :meth:`SessionStore.list_sessions`."""
        return self.store.list_sessions(directory, git_root, include_archived, limit, before)

    # -- conversation lifecycle (SPEC §9); see SessionStore for each ----------

    def compact(
        self,
        session_id: str,
        summary_data: str | Mapping[str, Any],
        *,
        through_event_id: str,
        event_id: str | None = None,
        invocation_id: str | None = None,
    ) -> StoredEvent:
        """See :meth:`SessionStore.compact`."""
        return self.store.compact(
            session_id,
            summary_data,
            through_event_id=through_event_id,
            event_id=event_id,
            invocation_id=invocation_id,
        )

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
        """See :meth:`SessionStore.record_usage`."""
        self.store.record_usage(
            session_id,
            event_id,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            cost=cost,
        )

    def usage(
        self,
        *,
        session_id: str | None = None,
        since: int | None = None,
        group_by: str = "model",
    ) -> list[UsageTotal]:
        """See :meth:`SessionStore.usage`."""
        return self.store.usage(session_id=session_id, since=since, group_by=group_by)

    def apply_retention(self, policy: RetentionPolicy, *, dry_run: bool = True) -> RetentionReport:
        """See :meth:`SessionStore.apply_retention`."""
        return self.store.apply_retention(policy, dry_run=dry_run)

    def search(
        self,
        query: str,
        *,
        directory: str | None = None,
        git_root: str | None = None,
        event_types: Iterable[str] | None = None,
        limit: int = 20,
        literal: bool = False,
        markers: tuple[str, str] = ("[", "]"),
        order: str = "rank",
    ) -> list[SearchHit]:
        """See :meth:`SessionStore.search` (used by :mod:`convstore.tools`)."""
        return self.store.search(
            query,
            directory=directory,
            git_root=git_root,
            event_types=event_types,
            limit=limit,
            literal=literal,
            markers=markers,
            order=order,
        )
    # -- ExtendedSessionService (convstore.sqlite.blobs) ---------------------------

    def put_blobs(
        self,
        session_id: str,
        namespace: str,
        items: Sequence[tuple[str, str, bytes]],
        *,
        replace: bool = True,
    ) -> None:
        """See :func:`convstore.sqlite.blobs.put_blobs`."""
        from .sqlite import blobs

        blobs.put_blobs(self.store, session_id, namespace, items, replace=replace)

    def get_blob(self, session_id: str, namespace: str, key: str) -> Blob | None:
        """See :func:`convstore.sqlite.blobs.get_blob`."""
        from .sqlite import blobs

        return blobs.get_blob(self.store, session_id, namespace, key)

    def latest_blob(self, session_id: str, namespace: str) -> Blob | None:
        """See :func:`convstore.sqlite.blobs.latest_blob`."""
        from .sqlite import blobs

        return blobs.latest_blob(self.store, session_id, namespace)

    def get_blob_with_children(
        self, session_id: str, namespace: str, key: str | None, child_namespace: str
    ) -> tuple[Blob | None, list[Blob]]:
        """See :func:`convstore.sqlite.blobs.get_blob_with_children`."""
        from .sqlite import blobs

        return blobs.get_blob_with_children(
            self.store, session_id, namespace, key, child_namespace
        )

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
        """See :func:`convstore.sqlite.blobs.list_blobs`."""
        from .sqlite import blobs

        return blobs.list_blobs(
            self.store,
            session_id,
            namespace_prefix,
            key_prefix,
            exact=exact,
            newest_first=newest_first,
            before_key=before_key,
            limit=limit,
        )

    def delete_blobs(self, session_id: str, namespace_prefix: str = "") -> None:
        """See :func:`convstore.sqlite.blobs.delete_blobs`."""
        from .sqlite import blobs

        blobs.delete_blobs(self.store, session_id, namespace_prefix)

    def delete_session(self, session_id: str) -> bool:
        """See :func:`convstore.sqlite.blobs.delete_session`."""
        from .sqlite import blobs

        return blobs.delete_session(self.store, session_id)

    def clear_head(self, session_id: str) -> None:
        """See :func:`convstore.sqlite.blobs.clear_head`."""
        from .sqlite import blobs

        blobs.clear_head(self.store, session_id)

    def append_events_at_head(
        self, session_id: str, items: Sequence[tuple[str, str, str, str]]
    ) -> list[StoredEvent]:
        """See :func:`convstore.sqlite.blobs.append_events_at_head`."""
        from .sqlite import blobs

        return blobs.append_events_at_head(self.store, session_id, items)

    def history_tail(
        self, session_id: str, limit: int | None, *, full: bool = False
    ) -> list[StoredEvent]:
        """See :func:`convstore.sqlite.blobs.history_tail`."""
        from .sqlite import blobs

        return blobs.history_tail(self.store, session_id, limit, full=full)

    def create_session_with_metadata(
        self,
        session_id: str,
        directory: str | None,
        git_root: str | None,
        metadata: Sequence[tuple[str, str, str]] = (),
    ) -> StoredSession:
        """See :func:`convstore.sqlite.blobs.create_session_with_metadata`."""
        from .sqlite import blobs

        return blobs.create_session_with_metadata(
            self.store, session_id, directory, git_root, metadata
        )

    def archive_session_with_metadata(
        self, session_id: str, metadata: Sequence[tuple[str, str, str]] = ()
    ) -> None:
        """See :func:`convstore.sqlite.blobs.archive_session_with_metadata`."""
        from .sqlite import blobs

        blobs.archive_session_with_metadata(self.store, session_id, metadata)

    def pop_head(self, session_id: str) -> StoredEvent | None:
        """See :func:`convstore.sqlite.blobs.pop_head`."""
        from .sqlite import blobs

        return blobs.pop_head(self.store, session_id)

    def append_event_with_metadata(
        self,
        session_id: str,
        expected_head: str | None,
        event: tuple[str, str, str, str] | None,
        metadata: Sequence[tuple[str, str, str]] = (),
    ) -> StoredEvent | None:
        """See :func:`convstore.sqlite.blobs.append_event_with_metadata`."""
        from .sqlite import blobs

        return blobs.append_event_with_metadata(
            self.store, session_id, expected_head, event, metadata
        )

    def get_all_metadata(self, session_id: str) -> dict[str, str]:
        """See :meth:`SessionStore.get_all_metadata`."""
        return self.store.get_all_metadata(session_id)

    def close(self) -> None:
        """Close the store if this service opened it."""
        if self._owns:
            self.store.close()

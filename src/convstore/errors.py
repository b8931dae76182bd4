"""Typed errors raised by convstore.

Every error the library raises derives from :class:`StoreError`, carries a
message a person can act on (it names the session, event, file or migration),
and is raised only after the database has been left exactly as it was before
the call. Raw ``apsw`` exceptions never escape the public API.

Example::

    >>> from convstore import SessionStore, SessionNotFound
    >>> with SessionStore(":memory:") as store:
    ...     try:
    ...         store.append_event("nope", "e1", None, "inv1", "user", "{}")
    ...     except SessionNotFound as exc:
    ...         print(exc)
    session 'nope' does not exist
"""

from __future__ import annotations

__all__ = [
    "StoreError",
    "SessionNotFound",
    "SessionArchived",
    "DuplicateId",
    "InvalidEvent",
    "InvalidArgument",
    "MigrationError",
    "StoreBusy",
    "CommitUncertain",
    "NotStarted",
    "StoreClosed",
]


class StoreError(Exception):
    """Base class of every error convstore raises."""


class SessionNotFound(StoreError, LookupError):
    """The named session does not exist (or, on a shared server, is not yours)."""


class SessionArchived(StoreError):
    """The session is archived: it can be read but no longer appended to."""


class DuplicateId(StoreError):
    """A session or event id is already in use; the stored row is unchanged."""


class InvalidArgument(StoreError, ValueError):
    """An argument has the wrong type or cannot be stored (e.g. not UTF-8)."""


class InvalidEvent(InvalidArgument):
    """The event cannot be stored: data that is not JSON, or a bad parent."""


class MigrationError(StoreError):
    """The schema cannot be brought up to date safely; nothing was changed."""


class StoreBusy(StoreError, TimeoutError):
    """The database stayed locked by another connection past ``timeout``."""


class NotStarted(StoreError, RuntimeError):
    """A :class:`~convstore.SessionManager` was used before its ``start()``."""


class StoreClosed(StoreError):
    """The store (or service) was closed: open a new one. The message names the file."""


class CommitUncertain(StoreError):
    """The disk failed while *flushing* a commit (fsync): the change may or may not be stored.

    SQLite writes a transaction to the WAL and then asks the OS to flush it.
    When only the flush fails, the transaction's bytes can already be in the
    file: this connection treats the transaction as rolled back, but if no
    later write replaces those bytes (the disk stays broken, or the process
    dies first), the change reappears the next time the database is opened.
    Every database has this ambiguity after a failed fsync (and a server
    connection lost during a commit has the same one). Retrying is safe
    (SPEC §2.1): retry with the *same* ids and fields, and a write that was in
    fact stored is an idempotent replay -- it returns the stored event or
    session and writes nothing (in a batch, replayed items are skipped and
    the rest appended). Only a retry that differs in some field raises
    :class:`DuplicateId`. :class:`~convstore.SessionManager` retries once by
    itself.
    """

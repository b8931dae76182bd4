"""convstore: AI-assistant conversations in a local SQLite file.

Sessions and an append-only event log, resumable by working directory or git
root, fast on tables with millions of events. ``import convstore`` loads only
APSW and the standard library (no pypika, no psycopg), so a client that starts
on every shell prompt pays for nothing it does not use.

>>> from convstore import SessionStore
>>> with SessionStore(":memory:") as store:
...     _ = store.create_session("s1", directory="/tmp/project")
...     store.find_resumable_session("/tmp/project", None, 3600).id
's1'
"""

from .errors import (
    CommitUncertain,
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    MigrationError,
    SessionArchived,
    SessionNotFound,
    StoreBusy,
    StoreError,
)
from .ids import new_id
from .manager import BOUNDARY_EVENT_TYPE, SessionManager
from .models import SessionSummary, StoredEvent, StoredSession
from .service import LocalSessionService, SessionService
from .store import NewEvent, SessionStore

__version__ = "0.1.0"

__all__ = [
    "SessionStore",
    "SessionService",
    "LocalSessionService",
    "SessionManager",
    "BOUNDARY_EVENT_TYPE",
    "new_id",
    "StoredSession",
    "StoredEvent",
    "SessionSummary",
    "NewEvent",
    "StoreError",
    "SessionNotFound",
    "SessionArchived",
    "DuplicateId",
    "InvalidEvent",
    "InvalidArgument",
    "MigrationError",
    "StoreBusy",
    "CommitUncertain",
]

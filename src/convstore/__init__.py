"""convstore: AI-assistant conversations in a local SQLite file.

Sessions and an append-only event log, resumable by working directory or git
root, fast on tables with millions of events. ``import convstore`` loads only
APSW and a few standard modules (no pypika, psycopg or :mod:`typing`): the
service layer is imported on first use, so a client that starts on every
shell prompt pays for nothing it does not use.

>>> from convstore import SessionStore
>>> with SessionStore(":memory:") as store:
...     _ = store.create_session("s1", directory="/tmp/project")
...     store.find_resumable_session("/tmp/project", None, 3600).id
's1'
"""

from ._lean import TYPE_CHECKING
from .errors import (
    CommitUncertain,
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    MigrationError,
    NotStarted,
    SessionArchived,
    SessionNotFound,
    StoreBusy,
    StoreClosed,
    StoreError,
)
from .models import SessionSummary, StoredEvent, StoredSession
from .store import NewEvent, SessionStore

if TYPE_CHECKING:
    from .exporting import ImportReport
    from .ids import new_id
    from .lifecycle import UsageTotal
    from .local import LocalSessionService
    from .manager import BOUNDARY_EVENT_TYPE, SessionManager
    from .retention import PurgeReport, RetentionPolicy, RetentionReport
    from .search import SearchHit
    from .service import LifecycleService, SessionService

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
    "NotStarted",
    "StoreClosed",
    "SearchHit",
    "ImportReport",
    "PurgeReport",
    "RetentionPolicy",
    "RetentionReport",
    "UsageTotal",
    "LifecycleService",
]

#: Public names imported on first access (PEP 562), by defining module.
_LAZY = {
    "SessionManager": "manager",
    "BOUNDARY_EVENT_TYPE": "manager",
    "LocalSessionService": "local",
    "SessionService": "service",
    "new_id": "ids",
    "SearchHit": "search",
    "ImportReport": "exporting",
    "PurgeReport": "retention",
    "RetentionPolicy": "retention",
    "RetentionReport": "retention",
    "UsageTotal": "lifecycle",
    "LifecycleService": "service",
    # Lives in convstore.postgres (the optional 'postgres' extra); reachable
    # here too, and without the extra the import error says what to install.
    "PostgresSessionService": "postgres",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'convstore' has no attribute {name!r}")
    import sys

    __import__(f"convstore.{module}")
    value = getattr(sys.modules[f"convstore.{module}"], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

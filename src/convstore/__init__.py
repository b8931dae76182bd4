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

from . import errors
from ._lean import TYPE_CHECKING
from .errors import *  # noqa: F403  # every typed error, as listed in errors.__all__
from .models import SessionSummary, StoredEvent, StoredSession
from .sqlite.store import NewEvent, SessionStore

if TYPE_CHECKING:
    from .ids import new_id
    from .lifecycle import UsageTotal
    from .local import LocalSessionService
    from .manager import BOUNDARY_EVENT_TYPE, SessionManager
    from .service import LifecycleService, SessionService
    from .sqlite.exporting import ImportReport
    from .sqlite.retention import PurgeReport, RetentionPolicy, RetentionReport
    from .sqlite.search import SearchHit

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
    "SearchHit",
    "ImportReport",
    "PurgeReport",
    "RetentionPolicy",
    "RetentionReport",
    "UsageTotal",
    "LifecycleService",
]
__all__ += errors.__all__  # every typed error (convstore.errors)

#: Public names imported on first access (PEP 562), by defining module.
_LAZY = {
    "SessionManager": "manager",
    "BOUNDARY_EVENT_TYPE": "manager",
    "LocalSessionService": "local",
    "SessionService": "service",
    "new_id": "ids",
    "SearchHit": "sqlite.search",
    "ImportReport": "sqlite.exporting",
    "PurgeReport": "sqlite.retention",
    "RetentionPolicy": "sqlite.retention",
    "RetentionReport": "sqlite.retention",
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


#: Module paths from before the sqlite/ and postgres/ packages (convstore 0.1):
#: ``import convstore.store`` and the like keep working, as the same module objects.
_MOVED = {
    "convstore._blobsql": "convstore.sqlite._blobsql",
    "convstore._blobsqlbuild": "convstore.sqlite._blobsqlbuild",
    "convstore._pgdeadline": "convstore.postgres._pgdeadline",
    "convstore._pgsql": "convstore.postgres._pgsql",
    "convstore._pgsqlbuild": "convstore.postgres._pgsqlbuild",
    "convstore._sql": "convstore.sqlite._sql",
    "convstore._sqlbuild": "convstore.sqlite._sqlbuild",
    "convstore.blobs": "convstore.sqlite.blobs",
    "convstore.connection": "convstore.sqlite.connection",
    "convstore.exporting": "convstore.sqlite.exporting",
    "convstore.migrations": "convstore.sqlite.migrations",
    "convstore.postgres_aio": "convstore.postgres.aio",
    "convstore.postgres_lifecycle": "convstore.postgres.lifecycle",
    "convstore.postgres_migrations": "convstore.postgres.migrations",
    "convstore.retention": "convstore.sqlite.retention",
    "convstore.search": "convstore.sqlite.search",
    "convstore.store": "convstore.sqlite.store",
}


class _MovedModule:
    """Import hook: an old module path gives the module at its new path (no second copy).

    First in ``sys.meta_path`` (the installed wheel also has a ``convstore/migrations``
    data folder, which would otherwise pass for ``convstore.migrations``); it
    answers a dict lookup for every other name, and costs ``import convstore``
    nothing but this class.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.spec: object = None

    @classmethod
    def find_spec(cls, name: str, path: object = None, target: object = None) -> object:
        new = _MOVED.get(name)
        if new is None:
            return None
        from importlib.machinery import ModuleSpec

        return ModuleSpec(name, cls(new))  # type: ignore[arg-type]  # a loader by protocol

    def create_module(self, spec: object) -> object:
        import importlib

        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: object) -> None:
        module.__spec__ = self.spec  # type: ignore[attr-defined]  # keep the real spec


def _install_moved_modules() -> None:
    import sys

    sys.meta_path.insert(0, _MovedModule)  # type: ignore[arg-type]


_install_moved_modules()

"""The team server: the same :class:`~convstore.SessionService` on PostgreSQL.

Install the extra (``pip install 'convstore[postgres]'``), then::

    from convstore import SessionManager
    from convstore.postgres import PostgresSessionService

    # logs in as alice (SCRAM, TLS); owner=None: the rows are alice's
    service = PostgresSessionService("host=db.internal dbname=convstore user=alice")
    manager = SessionManager(service, cwd=os.getcwd())
    manager.start()

Design:

* **psycopg 3 with a** ``psycopg_pool.ConnectionPool``; connections run in
  autocommit, so each single-statement operation is its own transaction and
  costs one round trip. Hot statements are prepared server-side by psycopg
  after a few uses.
* **Statements** are constants from :mod:`convstore.postgres._pgsql` (built with
  pypika by :mod:`convstore.postgres._pgsqlbuild`); values are always bound.
* **Ownership, enforced by the server.** Every row has an ``owner``; forced
  row-level security (migration 0004) lets a role see and write only rows
  whose owner is its login name, unless it is a member of
  ``convstore_service`` (a trusted backend, which may pass ``owner=``).
  Every statement also filters on the service's owner. Session ids and
  event ids are unique *per owner* (``UNIQUE (owner, id)``), so another
  owner's session behaves exactly like one that does not exist —
  :class:`SessionNotFound` on writes, ``None`` or ``[]`` on reads — and
  reusing an id another owner has is no error and no hint. Ids from
  :func:`convstore.new_id` (UUIDv7) are unique anyway.
* **Appends stay linear.** An append is one statement whose first step locks
  the session row (``SELECT ... FOR UPDATE``); the head (the parent of
  :meth:`append_event_at_head`) and the event counter are read under that
  lock, the event is inserted and the head moved before it is released. Any
  number of clients appending to one session form one chain.
* **Errors** are convstore's typed errors (raw psycopg exceptions never
  escape), name the session or event, and are raised only after the
  statement's transaction rolled back: a failed call writes nothing.
* **Bounded calls.** ``timeout`` is one budget per call, connect included:
  pool wait, ``statement_timeout``/``lock_timeout``, TCP keepalives and a
  client-side watchdog (:mod:`convstore.postgres._pgdeadline`) for a server that never
  answers. Idle connections are checked (without a round trip) before use.
* **Safe retries** (SPEC 2.1): an identical replay of ``append_event``,
  ``append_event_at_head`` or ``create_session`` returns what is stored; a
  write whose answer was lost is :class:`CommitUncertain` unless a check
  finds it stored.
* **Server time.** Every timestamp comes from the server's clock; ``updated_at``
  never moves backwards. ``clock`` is only the client's clock for a resumed
  session's boundary gap (see :attr:`PostgresSessionService.clock`).
* **Migrations** (``migrations/postgres``) are never applied by a client:
  ``convstore server migrate`` (:func:`convstore.postgres.migrations.migrate_server`)
  is the deploy step; opening only checks (:func:`~convstore.postgres.migrations.check_schema`).

``import convstore`` does not import this module (nor psycopg).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, LiteralString, NoReturn, TypeVar, cast

try:
    import psycopg
    from psycopg import errors as pgerrors
    from psycopg.conninfo import conninfo_to_dict
    from psycopg_pool import ConnectionPool, PoolTimeout
except ModuleNotFoundError as _missing:  # the optional extra is not installed
    from .._extras import missing_extra

    raise missing_extra(__name__, "postgres", _missing) from None

from .. import _common
from .. import _validate as _v
from .._importplan import ImportPlan, StoredState, check_import, plan_import, references
from .._lean import ReadOnly
from ..errors import (
    CommitUncertain,
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    SessionNotFound,
    StoreBusy,
    StoreError,
)
from ..models import SessionSummary, StoredEvent, StoredSession
from ..sqlite import search as search_tool
from ..sqlite.retention import PurgeReport, purge_in_batches
from ..sqlite.search import SearchHit, SearchRequest
from ..sqlite.store import SessionStore
from . import _pgsql
from ._host import Conn, Row
from ._pgdeadline import Watchdog
from .blobs import PostgresBlobsMixin, read_history
from .lifecycle import PostgresLifecycleMixin
from .migrations import SERVICE_ROLE, check_schema

if TYPE_CHECKING:
    from .._common import Clock

__all__ = ["PostgresSessionService"]

#: Rows per round trip when a sync moves events in bulk.
_CHUNK = 1000

_SEARCH_SQL: dict[tuple[bool, str], LiteralString] = {
    (False, "rank"): _pgsql.SEARCH_WEB_RANK,
    (False, "recent"): _pgsql.SEARCH_WEB_RECENT,
    (True, "rank"): _pgsql.SEARCH_LITERAL_RANK,
    (True, "recent"): _pgsql.SEARCH_LITERAL_RECENT,
}

_LIST_SQL: dict[tuple[str, bool], LiteralString] = _common.listing_statements(_pgsql)

_Record = TypeVar("_Record", StoredSession, StoredEvent)


#: ``append_event``'s arguments, in its order (``_append`` checks them).
_Fields = tuple[str, str, str | None, str, str, str]
#: ``list_sessions``' arguments, checked, in its order.
_Listing = tuple[str | None, str | None, bool, int, str | StoredSession | SessionSummary | None]
#: ``import_session``'s arguments, checked: ``(session, events, merge, metadata)``.
_Import = tuple[StoredSession | SessionSummary, list[StoredEvent], bool, dict[str, str]]


def _event_fields(
    session_id: Any,
    event_id: Any,
    parent_id: Any,
    invocation_id: Any,
    event_type: Any,
    event_data: Any,
) -> _Fields:
    """``append_event``'s arguments as one row: ``_append`` checks them, as the head's."""
    return session_id, event_id, parent_id, invocation_id, event_type, event_data


def _listing(
    directory: object, git_root: object, include_archived: object, limit: object, before: object
) -> _Listing | None:
    """``list_sessions``' arguments checked as on the local store, or ``None``: nothing matches."""
    checked = _common.listing_arguments(directory, git_root, include_archived, limit, before)
    if checked is None:
        return None
    cursor = cast("str | StoredSession | SessionSummary | None", before)  # checked above
    return checked[0], checked[1], bool(include_archived), checked[2], cursor


def _import_arguments(
    session: StoredSession | SessionSummary,
    events: Iterable[StoredEvent],
    merge: bool,
    metadata: dict[str, str] | None,
) -> _Import:
    """``import_session``'s arguments, checked as on the local store (``check_import``)."""
    evs, meta = check_import(session, events, metadata)
    return session, evs, merge, meta


def _describe(conninfo: str) -> str:
    """``host:port/dbname`` for messages: never the password."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "the PostgreSQL server"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    port = parts.get("port") or "5432"
    db = parts.get("dbname") or parts.get("user") or ""
    return f"PostgreSQL server {host}:{port}/{db}"


class PostgresSessionService(PostgresLifecycleMixin, PostgresBlobsMixin):
    """:class:`~convstore.SessionService` on a PostgreSQL server, for one ``owner``.

    ``conninfo`` is a libpq connection string or URI. ``owner=None`` (the
    default) is the role the connection logs in as; another owner needs
    membership in ``convstore_service`` (else :class:`StoreError` here).
    Every timestamp it stores and the resume window come from the server's
    clock; ``clock`` (the client's) is used only for a resumed session's
    boundary gap (:attr:`clock`). ``min_size``/``max_size`` bound the connection pool;
    ``timeout`` (seconds) bounds every call, connect included: it returns or
    raises within ``timeout`` + 1 s (:class:`StoreBusy` for a lock or pool
    wait, :class:`StoreError` for a server down or hung). Opening never
    migrates: a schema this client cannot use is a :class:`MigrationError`
    naming ``convstore server migrate``.
    """

    __slots__ = ("_clock", "_max_size", "_where")
    #: Makes the connection pool; :mod:`convstore.postgres.aio` runs this very class
    #: on psycopg's async pool by swapping in a pool whose calls await.
    _pool_class: ClassVar[Callable[..., ConnectionPool[Conn]]] = ConnectionPool

    def __init__(
        self,
        conninfo: str,
        *,
        owner: str | None = None,
        clock: Clock | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 5.0,
    ) -> None:
        _v.text(conninfo, "conninfo")
        _v.optional_text(owner, "owner")
        if owner == "":
            raise InvalidArgument("owner must be a non-empty str or None (the login role)")
        if not 0 <= min_size <= max_size or max_size < 1:
            raise InvalidArgument(
                f"pool sizes must satisfy 0 <= min_size <= max_size, max_size >= 1: "
                f"{min_size}, {max_size}"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise InvalidArgument(f"timeout must be a positive number of seconds: {timeout!r}")
        self._clock: Clock | None = _v.clock(clock)
        self._timeout = float(timeout)
        self._where = _describe(conninfo)
        self._lock = threading.Lock()
        self._in_use = 0
        self._max_size = max_size
        self._watchdog = Watchdog(owner or "login-role")
        self._pool: ConnectionPool[Conn] = self._pool_class(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs=_connection_settings(conninfo, self._timeout),
            timeout=self._timeout,
            open=False,
            name=f"convstore:{owner or 'login-role'}",
        )
        try:
            self._pool.open(wait=min_size > 0, timeout=self._timeout)
            with self._conn("checking the schema") as conn:
                check_schema(conn, self._where)
                row = conn.execute(_pgsql.ROLE_WHOAMI).fetchone()
            assert row is not None
            login, acts_for_others = str(row[0]), bool(row[1])
            if owner is not None and owner != login and not acts_for_others:
                raise StoreError(
                    f"role {login!r} may not act for owner {owner!r} on {self._where}: that "
                    f"needs membership in the role {SERVICE_ROLE!r} "
                    f"(GRANT {SERVICE_ROLE} TO {login}); pass owner=None to use your own rows"
                )
            self._owner = login if owner is None else owner
        except BaseException as exc:
            self._pool.close()
            self._watchdog.close()
            if isinstance(exc, PoolTimeout):
                raise StoreError(
                    f"cannot connect to {self._where} within {self._timeout:g}s "
                    "(is the server running, and the conninfo right?)"
                ) from None
            raise

    # -- plumbing ------------------------------------------------------------

    owner = ReadOnly[str]("_owner", "The owner every statement of this service is scoped to.")
    pool = ReadOnly["ConnectionPool[Conn]"](
        "_pool", "The connection pool, for advanced use (benchmarks, inspection)."
    )
    where = ReadOnly[str](
        "_where",
        "The server and database this service talks to, for messages (never the password).",
    )
    clock = ReadOnly["Clock | None"](
        "_clock",
        """The client clock given at construction, for a resumed session's boundary gap only.

        Every timestamp this service stores, and the resume window, come from
        the server's clock (SPEC 6.1): clients' clocks may be hours off. A
        :class:`~convstore.SessionManager` built without a ``clock`` of its own
        uses this one for the ``gap_secs`` of the boundary event it appends.
        """,
    )

    def _translate(
        self, exc: BaseException, doing: str, *, fired: bool = False, write: bool = False
    ) -> BaseException:
        """Map a psycopg/pool exception to the typed error a caller can act on.

        ``fired``: the client-side deadline aborted the call. ``write``: the
        call sent a write, so a connection lost before the answer arrived is
        :class:`CommitUncertain` (the write may be stored; retry with the same
        ids, SPEC 2.1), not a plain failure.
        """
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, PoolTimeout):
            if self._in_use >= self._max_size:
                return StoreBusy(
                    f"all {self._max_size} connections to {self._where} stayed busy for "
                    f"{self._timeout:g}s while {doing} (a larger max_size, or fewer threads)"
                )
            return StoreError(
                f"cannot reach {self._where} within {self._timeout:g}s while {doing}: the "
                "server is down, unreachable or not accepting connections"
            )
        if fired:
            if write:
                return CommitUncertain(
                    f"{self._where} did not answer within {self._timeout:g}s while {doing}: "
                    "the write may or may not be stored; retry with the same ids (a stored "
                    "one is returned, never doubled)"
                )
            return StoreError(
                f"{self._where} did not answer within {self._timeout:g}s while {doing}: the "
                "server is hung or unreachable"
            )
        if isinstance(exc, pgerrors.LockNotAvailable):
            return StoreBusy(f"{self._where} stayed locked while {doing}: {exc}")
        if isinstance(exc, pgerrors.QueryCanceled):
            return StoreError(
                f"{self._where} did not finish {doing} within {self._timeout:g}s "
                f"(statement_timeout): {exc}"
            )
        if isinstance(exc, pgerrors.DeadlockDetected | pgerrors.SerializationFailure):
            return StoreBusy(f"{self._where}: {doing} conflicted with another writer: {exc}")
        if isinstance(exc, UnicodeError):
            return InvalidArgument(f"{doing}: a value is not valid UTF-8 text ({exc})")
        if isinstance(exc, psycopg.DataError):
            return InvalidArgument(f"{doing}: a value cannot be stored ({exc})")
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return StoreError(
                f"{self._where} has no convstore schema while {doing}: run "
                "`convstore server migrate --conninfo ...` once"
            )
        state = getattr(exc, "sqlstate", None)
        if isinstance(exc, psycopg.OperationalError) and state and not _connection_state(state):
            # The server answered with an error (resources, limits): not a lost connection.
            return StoreError(f"{self._where}: {doing} failed: {exc}")
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            if write and state is None:
                return CommitUncertain(
                    f"lost the connection to {self._where} while {doing}: the write may or "
                    "may not be stored; retry with the same ids (a stored one is returned, "
                    "never doubled)"
                )
            return StoreError(f"lost the connection to {self._where} while {doing}: {exc}")
        if isinstance(exc, psycopg.Error):
            return StoreError(f"{self._where}: {doing} failed: {exc}")
        return exc

    def _fail(self, exc: BaseException, doing: str) -> NoReturn:
        raise self._translate(exc, doing) from None

    def _write_session(
        self, session_id: str, sql: LiteralString, params: dict[str, Any], doing: str
    ) -> None:
        """One write to a session's own rows; :class:`SessionNotFound` when it touched none.

        Another owner's session reads as missing (row-level security hides it), and
        so does an id that could never have been stored.
        """
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        params = self._mine(session_id, **params)
        if self._rowcount(sql, params, doing) == 0:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    def _why_not(self, session_id: str, event_id: str, parent_id: str | None) -> StoreError:
        """Explain a write that changed nothing (the statement already rolled back)."""
        row = self._one(
            _pgsql.SESSION_STATE,
            self._mine(session_id),
            f"reading session {session_id!r}",
        )
        archived = None if row is None else row[0] is not None
        return _common.why_not_appended(session_id, event_id, parent_id, archived)

    def _event_error(self, exc: BaseException, event_id: str) -> BaseException:
        if isinstance(exc, pgerrors.UniqueViolation):
            return _common.event_refused("duplicate", event_id)
        if isinstance(
            exc,
            pgerrors.CheckViolation
            | pgerrors.InvalidTextRepresentation
            | pgerrors.UntranslatableCharacter
            | pgerrors.InvalidParameterValue,
        ):
            return _common.event_refused("json", event_id)
        if isinstance(exc, pgerrors.StatementTooComplex | pgerrors.ProgramLimitExceeded):
            # JSON nested deeper than the server's stack allows: the local store's
            # json_valid() refuses it as invalid JSON too (parity).
            return _common.event_refused("json", event_id)
        if isinstance(exc, psycopg.DataError):
            return InvalidEvent(f"event {event_id!r} cannot be stored: {exc}")
        return exc

    def close(self) -> None:
        """Close the pool (waits for connections in use). Idempotent."""
        self._pool.close()
        self._watchdog.close()

    def __enter__(self) -> PostgresSessionService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresSessionService({self._where!r}, owner={self._owner!r})"

    # -- sessions ------------------------------------------------------------

    def create_session(
        self, id: str, directory: str | None = None, git_root: str | None = None
    ) -> StoredSession:
        """Create an empty session; :class:`DuplicateId` when this owner already has ``id``."""
        _v.text(id, "session id")
        _v.optional_text(directory, "directory")
        _v.optional_text(git_root, "git_root")
        doing = f"creating session {id!r}"
        params = self._mine(
            id,
            directory=directory,
            git_root=git_root,
        )

        def duplicate(exc: BaseException) -> BaseException:
            if isinstance(exc, pgerrors.UniqueViolation):
                return DuplicateId(f"session id {id!r} is already used")
            return exc

        row, same = self._insert_or_replay(
            doing,
            _pgsql.SESSION_INSERT,
            params,
            duplicate,
            lambda budget: self._stored_session_if_same(id, directory, git_root, budget=budget),
        )
        if same is not None:
            return same
        assert row is not None
        created: int = row[0]
        return StoredSession(id, None, None, directory, git_root, created, created, None)

    def _insert_or_replay(
        self,
        doing: str,
        sql: LiteralString,
        params: dict[str, Any],
        mapper: Callable[[BaseException], BaseException],
        stored_if_same: Callable[[float | None], _Record | None],
    ) -> tuple[Row | None, _Record | None]:
        """Run one insert; a refused or uncertain one may be a replay of what is stored.

        Returns ``(row, None)`` when the insert ran, or ``(None, record)`` when
        it was refused as a duplicate (or its commit was lost on the way back)
        but ``stored_if_same(budget)`` finds this very record stored: SPEC 2.1's
        idempotent replay. Otherwise the error is raised as it came.
        """
        start = time.monotonic()
        try:
            with self._conn(doing, write=True, mapper=mapper) as conn:
                return conn.execute(sql, params).fetchone(), None
        except DuplicateId:
            same = stored_if_same(None)
            if same is None:
                raise
            return None, same  # SPEC 2.1: an idempotent replay
        except CommitUncertain:
            left = self._timeout - (time.monotonic() - start)
            if left < 0.2:
                raise
            try:
                same = stored_if_same(left)
            except StoreError:
                same = None
            if same is None:
                raise
            return None, same  # the lost commit was stored: resolved here

    def _stored_session_if_same(
        self, id: str, directory: str | None, git_root: str | None, budget: float | None = None
    ) -> StoredSession | None:
        """The stored session when it has this directory and git root (a replay), else None."""
        with self._conn(f"reading session {id!r}", budget=budget) as conn:
            row = conn.execute(_pgsql.SESSION_GET, self._mine(id))
            found = row.fetchone()
        if found is None:
            return None
        stored = StoredSession._make(found)
        return stored if (stored.directory, stored.git_root) == (directory, git_root) else None

    def get_session(self, id: str) -> StoredSession | None:
        """The session, or ``None`` (also when it is another owner's)."""
        if not _v.lookup_text(id, "session id"):  # a wrong type: InvalidArgument
            return None
        row = self._one(_pgsql.SESSION_GET, self._mine(id), f"reading session {id!r}")
        return None if row is None else StoredSession._make(row)

    def find_resumable_session(
        self, directory: str | None, git_root: str | None, max_age_secs: int
    ) -> StoredSession | None:
        """Newest live session of this owner for the directory or git root, in the window."""
        directory_ok = _v.optional_lookup_text(directory, "directory")
        git_root_ok = _v.optional_lookup_text(git_root, "git_root")
        max_age = max(-_v.TIME_LIMIT, min(_v.TIME_LIMIT, _v.window(max_age_secs, "max_age_secs")))
        if not (directory_ok and git_root_ok):
            return None  # a directory or git root that could never have been stored
        row = self._one(
            _pgsql.SESSION_RESUMABLE,
            {
                "owner": self._owner,
                "directory": directory,
                "git_root": git_root,
                "max_age": max_age,
            },
            "looking up a resumable session",
        )
        return None if row is None else StoredSession._make(row[:8])

    def update_server_session_id(self, session_id: str, server_session_id: str) -> None:
        """Record a sync server's id for the session."""
        _v.optional_text(server_session_id, "server_session_id")
        self._write_session(
            session_id,
            _pgsql.SESSION_SET_SERVER_ID,
            {"server_session_id": server_session_id},
            f"setting the server id of session {session_id!r}",
        )

    def archive_session(self, session_id: str) -> None:
        """Archive (never resumed, no more appends); archiving twice keeps the first time."""
        self._write_session(
            session_id,
            _pgsql.SESSION_ARCHIVE,
            {},
            f"archiving session {session_id!r}",
        )

    # -- events --------------------------------------------------------------

    def _append(self, sql: LiteralString, fields: _Fields) -> StoredEvent:
        """``fields`` are ``append_event``'s arguments, in its order."""
        session_id, event_id, parent_id, invocation_id, event_type, event_data = fields
        _v.text(session_id, "session id")
        at_head = sql is _pgsql.EVENT_APPEND_AT_HEAD
        _v.event_fields(
            event_id, parent_id, invocation_id, event_type, event_data, check_parent=not at_head
        )
        doing = f"appending event {event_id!r} to session {session_id!r}"
        params = self._mine(
            session_id,
            event_id=event_id,
            parent_id=parent_id,
            invocation_id=invocation_id,
            event_type=event_type,
            event_data=event_data,
        )
        row, same = self._insert_or_replay(
            doing,
            sql,
            params,
            lambda exc: self._event_error(exc, event_id),
            lambda budget: self._stored_event_if_same(fields, at_head, budget=budget),
        )
        if same is not None:
            return same
        if row is None:
            same = self._stored_event_if_same(fields, at_head)
            if same is not None:
                return same  # a replay on a session archived since
            raise self._why_not(session_id, event_id, parent_id)
        return StoredEvent(
            event_id, session_id, row[0], invocation_id, event_type, event_data, row[1]
        )

    def _stored_event_if_same(
        self,
        fields: tuple[str, str, str | None, str, str, str],
        any_parent: bool,
        budget: float | None = None,
    ) -> StoredEvent | None:
        """The stored event when it is this exact append (SPEC 2.1 replay), else None.

        ``fields`` are ``append_event``'s arguments, in its order.
        """
        session_id, event_id, parent_id, invocation_id, event_type, event_data = fields
        with self._conn(f"reading event {event_id!r}", budget=budget) as conn:
            rows = conn.execute(
                _pgsql.SYNC_EVENTS_EXISTING, {"owner": self._owner, "ids": [event_id]}
            ).fetchall()
        if not rows:
            return None
        ev = StoredEvent._make(rows[0])
        same = (
            ev.session_id == session_id
            and (any_parent or ev.parent_id == parent_id)
            and ev.invocation_id == invocation_id
            and ev.event_type == event_type
            and ev.event_data == event_data
        )
        return ev if same else None

    @_common.front(SessionStore.append_event, _event_fields)
    def append_event(self, fields: _Fields) -> StoredEvent:
        """Append with an explicit parent (``None`` or an event of the same session).

        Errors, with nothing written: :class:`SessionNotFound` (also another
        owner's session), :class:`SessionArchived`, :class:`DuplicateId` (this
        owner already has the event id), :class:`InvalidEvent` (bad parent,
        ``event_data`` not JSON).
        """
        return self._append(_pgsql.EVENT_APPEND, fields)

    def append_event_at_head(
        self, session_id: str, event_id: str, invocation_id: str, event_type: str, event_data: str
    ) -> StoredEvent:
        """Append with the head, read under the session's row lock, as parent."""
        fields = (session_id, event_id, None, invocation_id, event_type, event_data)
        return self._append(_pgsql.EVENT_APPEND_AT_HEAD, fields)

    def get_event(self, session_id: str, event_id: str) -> StoredEvent | None:
        """One event of the session, or ``None``."""
        if not (_v.lookup_text(session_id, "session id") & _v.lookup_text(event_id, "event id")):
            return None
        row = self._one(
            _pgsql.EVENT_GET,
            self._mine(session_id, event_id=event_id),
            f"reading event {event_id!r}",
        )
        return None if row is None else StoredEvent._make(row)

    def load_events(self, session_id: str) -> list[StoredEvent]:
        """Every event of the session in append order (empty for an unknown session)."""
        if not _v.lookup_text(session_id, "session id"):
            return []
        rows = self._all(
            _pgsql.EVENTS_LOAD,
            self._mine(session_id),
            f"loading events of session {session_id!r}",
        )
        return list(map(StoredEvent._make, rows))

    def history(self, session_id: str, *, full: bool = False) -> list[StoredEvent]:
        """The chain from the head back to the root, oldest first (one recursive query).

        A compacted chain starts at its newest summary; ``full=True`` returns
        the originals too (SPEC §9, :mod:`convstore.lifecycle`).
        """
        if not _v.lookup_text(session_id, "session id"):
            return []
        _v.boolean(full, "full")
        with self._conn(f"reading the history of session {session_id!r}") as conn:
            return read_history(conn, self._mine(session_id), full=full)

    def set_head(self, session_id: str, event_id: str) -> None:
        """Move the head to one of the session's own events (fork / rewind)."""
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        if not _v.lookup_text(event_id, "event id"):
            raise InvalidEvent(f"event {event_id!r} is not an event of session {session_id!r}")
        changed = self._rowcount(
            _pgsql.SESSION_SET_HEAD,
            self._mine(
                session_id,
                event_id=event_id,
            ),
            f"moving the head of session {session_id!r} to {event_id!r}",
        )
        if changed == 0:
            why = self._why_not(session_id, event_id, event_id)
            if isinstance(why, InvalidEvent):
                why = InvalidEvent(f"event {event_id!r} is not an event of session {session_id!r}")
            raise why

    # -- metadata ------------------------------------------------------------

    def set_metadata(self, session_id: str, key: str, value: str) -> None:
        """Upsert one metadata value; :class:`SessionNotFound` for no (or another's) session."""
        _v.text(key, "metadata key")
        _v.text(value, "metadata value")
        self._write_session(
            session_id,
            _pgsql.METADATA_SET,
            {"key": key, "value": value},
            f"setting metadata {key!r} of session {session_id!r}",
        )

    def get_metadata(self, session_id: str, key: str) -> str | None:
        """One metadata value, ``None`` when unset; :class:`SessionNotFound` for no session."""
        if not _v.lookup_text(session_id, "session id"):
            raise SessionNotFound(f"session {session_id!r} does not exist")
        if not _v.lookup_text(key, "metadata key"):  # never stored: the session alone decides
            if self.get_session(session_id) is None:
                raise SessionNotFound(f"session {session_id!r} does not exist")
            return None
        row = self._one(
            _pgsql.METADATA_GET,
            self._mine(session_id, key=key),
            f"reading metadata of session {session_id!r}",
        )
        if row is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        value: str | None = row[0]
        return value

    # -- listing -------------------------------------------------------------

    @_common.front(SessionStore.list_sessions, _listing)
    def list_sessions(self, checked: _Listing | None) -> list[SessionSummary]:
        """This owner's sessions, newest activity first, keyset-paginated (``before``)."""
        if checked is None:
            return []  # a filter that could never have been stored matches nothing
        directory, git_root, include_archived, limit, before = checked
        cursor: tuple[int, int] = _common.FIRST_PAGE
        if before is not None:
            before_id = before if isinstance(before, str) else before.id
            found = self._one(
                _pgsql.SESSION_CURSOR,
                self._mine(before_id),
                "listing sessions",
            )
            if found is None:
                raise SessionNotFound(f"session {before_id!r} (the page cursor) does not exist")
            updated_at = found[0] if isinstance(before, str) else before.updated_at
            cursor = (updated_at, found[1])
        rows = self._all(
            _LIST_SQL[_common.list_filter(directory, git_root), include_archived],
            {
                "owner": self._owner,
                "cursor_updated_at": cursor[0],
                "cursor_sid": cursor[1],
                "limit": limit,
                "directory": directory,
                "git_root": git_root,
            },
            "listing sessions",
        )
        return list(map(SessionSummary._make, rows))

    # -- sync (server side of convstore.sync) ----------------------------------

    def session_summaries(self, ids: Sequence[str]) -> dict[str, SessionSummary]:
        """This owner's sessions among ``ids`` (one round trip), by id."""
        ids = _v.lookup_ids(ids)
        rows = self._all(
            _pgsql.SESSION_SUMMARIES,
            {"owner": self._owner, "ids": ids},
            f"reading {len(ids)} sessions",
        )
        return {row[0]: SessionSummary._make(row) for row in rows}

    def session_metadata(self, ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Every metadata value of this owner's sessions among ``ids``, by session id."""
        ids = _v.lookup_ids(ids)
        rows = self._all(
            _pgsql.SYNC_METADATA_OF,
            {"owner": self._owner, "ids": ids},
            f"reading the metadata of {len(ids)} sessions",
        )
        out: dict[str, dict[str, str]] = {}
        for session_id, key, value in rows:
            out.setdefault(session_id, {})[key] = value
        return out

    # -- search --------------------------------------------------------------

    @_common.front(search_tool.search, search_tool.check_search, refuse_unknown=True)
    def search(self, args: SearchRequest) -> list[SearchHit]:
        """This owner's events whose ``content`` matches ``query``, best first.

        The server twin of :meth:`convstore.SessionStore.search`: the same
        arguments and :class:`~convstore.search.SearchHit` rows (``rank``:
        lower is better; ``snippet``: up to 16 words around the best match,
        every matched word in ``markers``). It indexes what the local store
        indexes by default: ``$.content`` as SQLite's ``json_extract`` gives
        it (a string; a number; an array or object of content blocks as its
        JSON text), split into the same words (lower case, diacritics
        removed, punctuation a separator: ``ci.py`` is ``ci`` and ``py``) --
        migration ``0009_search_like_local.sql``, over PostgreSQL full text
        search (``tsvector`` + GIN). ``query`` is FTS5's query language, checked
        by FTS5 itself (the same :class:`~convstore.search.InvalidQuery` for
        a bad query) and translated into a ``tsquery``: words,
        ``"a phrase"``, ``prefix*``, ``AND``/``OR``/``NOT``, parentheses;
        ``^word`` and ``NEAR(…)`` match the words anywhere
        (:mod:`convstore.postgres._pgsearch`). ``literal=True`` matches every
        word as typed. ``order="recent"``: newest first. Unknown keyword
        arguments are :class:`~convstore.InvalidArgument`.
        """
        query, directory, git_root, types, limit, literal, markers, order, storable = args
        if not storable:
            return []  # a filter that could never have been stored matches nothing
        from ._pgsearch import snippet, tsquery_text

        tsquery = query if literal else tsquery_text(query)
        if tsquery is None:
            return []  # only words FTS5 drops, or a column filter without the text
        sql = _SEARCH_SQL[literal, order]
        rows = self._all(
            sql,
            {
                "owner": self._owner,
                "query": tsquery,
                "directory": directory,
                "git_root": git_root,
                "types": types,
                "limit": limit,
            },
            f"searching for {query!r}",
        )
        return [
            SearchHit(r[0], r[1], r[2], snippet(r[3], r[6], markers), float(r[4]), r[5])
            for r in rows
        ]

    # -- retention -----------------------------------------------------------

    def purge(
        self,
        *,
        archived_before: int,
        dry_run: bool = False,
        batch_size: int = 2000,
        progress: Callable[[PurgeReport], None] | None = None,
    ) -> PurgeReport:
        """Delete this owner's sessions archived before ``archived_before``, for good.

        The server twin of :meth:`convstore.SessionStore.purge`: the same
        selection (archived strictly before the cutoff; live sessions are
        never touched) and the same :class:`~convstore.retention.PurgeReport`
        counts. Sessions go in batches of at most ``batch_size`` events (a
        larger session over several), each its own short transaction; their
        events, metadata and usage go with them. ``dry_run`` only counts. Space is reclaimed
        by the server's autovacuum (``bytes_freed`` is 0).
        """
        cutoff = _v.cutoff(archived_before, "archived_before")
        _v.integer(batch_size, "batch_size", low=1)
        _v.boolean(dry_run, "dry_run")
        if progress is not None and not callable(progress):
            raise InvalidArgument(
                f"progress must be a callable or None, got {type(progress).__name__}"
            )
        base = {"owner": self._owner, "cutoff": cutoff}
        doing = f"purging sessions archived before {cutoff}"
        if dry_run:
            with self._conn(doing) as conn, conn.transaction():
                conn.execute(_pgsql.TX_SNAPSHOT)
                row = conn.execute(_pgsql.PURGE_COUNT, base).fetchone()
                meta = conn.execute(_pgsql.PURGE_COUNT_METADATA, base).fetchone()
            assert row is not None and meta is not None
            return PurgeReport(int(row[0]), int(row[1]), int(meta[0]), 0, True, 0)

        @contextmanager
        def batch() -> Iterator[_PgPurgeBatch]:
            with self._conn(doing, write=True) as conn, conn.transaction():
                yield _PgPurgeBatch(conn, base)

        return purge_in_batches(batch, batch_size, progress)

    def metadata_times(self, ids: Sequence[str]) -> dict[str, dict[str, tuple[str, int]]]:
        """``{session: {key: (value, updated_at)}}`` of this owner's sessions among ``ids``."""
        ids = _v.lookup_ids(ids)
        rows = self._all(
            _pgsql.SYNC_METADATA_TIMES,
            {"owner": self._owner, "ids": ids},
            f"reading the metadata of {len(ids)} sessions",
        )
        out: dict[str, dict[str, tuple[str, int]]] = {}
        for session_id, key, value, updated_at in rows:
            out.setdefault(session_id, {})[key] = (value, updated_at)
        return out

    def merge_metadata(self, session_id: str, values: dict[str, tuple[str, int]]) -> int:
        """Upsert ``{key: (value, updated_at)}`` where the stored value is older; return count.

        Last writer wins on the value's own ``updated_at``; a tie keeps the
        server's value. One transaction.
        """
        _v.text(session_id, "session id")
        if not isinstance(values, dict):
            raise InvalidArgument(
                f"values must be a dict of key -> (value, updated_at), got {type(values).__name__}"
            )
        for key, pair in values.items():
            _v.text(key, "metadata key")
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise InvalidArgument(
                    f"metadata {key!r} must be a (value, updated_at) pair, got {_v._clip(pair)}"
                )
            _v.text(pair[0], f"metadata {key!r}")
            limit = _v.TIME_LIMIT - 1
            _v.integer(pair[1], f"metadata {key!r} updated_at", low=-limit, high=limit)
        doing = f"merging metadata into session {session_id!r}"
        changed = 0
        with self._conn(doing, write=True) as conn, conn.transaction():
            for key, (value, updated_at) in sorted(values.items()):
                changed += conn.execute(
                    _pgsql.SYNC_METADATA_PUT_IF_NEWER,
                    self._mine(
                        session_id,
                        key=key,
                        value=value,
                        updated_at=updated_at,
                    ),
                ).rowcount
        return changed

    def events_at(self, positions: dict[str, int]) -> dict[str, StoredEvent]:
        """For each session id, its event at that position (seq), in one round trip.

        Incremental sync compares one event per session: when both sides have
        the same event at position *n*, everything up to *n* is common and
        only what follows needs to travel. Sessions or positions this owner
        does not have are absent from the answer.
        """
        if not isinstance(positions, dict):
            raise InvalidArgument(
                f"positions must be a dict of session id -> seq, got {type(positions).__name__}"
            )
        for seq in positions.values():
            _v.integer(seq, "positions value (seq)")
        ids = _v.lookup_ids(positions, "positions")
        if not ids:
            return {}
        rows = self._all(
            _pgsql.SYNC_EVENTS_AT,
            {"owner": self._owner, "ids": ids, "seqs": [positions[i] for i in ids]},
            f"reading the sync positions of {len(ids)} sessions",
        )
        return {row[1]: StoredEvent._make(row) for row in rows}

    def export_session_after(
        self, session_id: str, after: int
    ) -> tuple[StoredSession, list[StoredEvent], dict[str, str]] | None:
        """Like :meth:`export_session`, but only the events after position ``after``."""
        _v.integer(after, "after")
        return self._export(session_id, _pgsql.SYNC_EVENTS_AFTER, {"after": after})

    def export_session(
        self, session_id: str
    ) -> tuple[StoredSession, list[StoredEvent], dict[str, str]] | None:
        """The session, all its events and its metadata from one snapshot, or ``None``."""
        return self._export(session_id, _pgsql.EVENTS_LOAD, {})

    def _export(
        self, session_id: str, events_sql: str, extra: dict[str, Any]
    ) -> tuple[StoredSession, list[StoredEvent], dict[str, str]] | None:
        """The session, the events ``events_sql`` selects and its metadata, from one snapshot."""
        if not _v.lookup_text(session_id, "session id"):
            return None
        params = self._mine(session_id, **extra)
        meta_params = {"owner": self._owner, "ids": [session_id]}
        with self._conn(f"exporting session {session_id!r}") as conn, conn.transaction():
            conn.execute(_pgsql.TX_SNAPSHOT)
            row = conn.execute(_pgsql.SESSION_GET, params).fetchone()
            rows = conn.execute(events_sql, params).fetchall()
            meta = conn.execute(_pgsql.SYNC_METADATA_OF, meta_params).fetchall()
        if row is None:
            return None
        events = list(map(StoredEvent._make, rows))
        return StoredSession._make(row), events, {key: value for _, key, value in meta}

    @_common.front(SessionStore.import_session, _import_arguments)
    def import_session(self, checked: _Import) -> int:
        """Store a session and its events with their own ids and times; return events added.

        The server twin of :meth:`convstore.SessionStore.import_session`, with
        the same rules (:mod:`convstore._importplan` decides for both), in one
        transaction under the session's row lock: a new session is created
        with all its fields; an existing one (same id, directory, git root and
        creation time) receives only the events it lacks, appended in the
        given order (parents first). An event this owner already has with
        identical content is skipped; with different content (or in another
        session) it is a :class:`DuplicateId` naming it, and nothing at all is
        written. The head follows the newer activity (ties: the incoming
        side), ``updated_at`` is the later one, an archived session stays
        archived, and changed ``metadata`` values are upserted.
        ``merge=False`` refuses an existing session instead.
        """
        session, evs, merge, meta = checked
        doing = f"importing session {session.id!r}"
        plan: ImportPlan | None = None

        def culprit(exc: BaseException) -> BaseException:
            """Name what a failed import stumbled on (the transaction rolled back)."""
            if isinstance(exc, pgerrors.UniqueViolation):
                return DuplicateId(
                    f"{doing}: an event id was taken by a concurrent writer; nothing was written"
                )
            if plan is not None and plan.events:  # failed inside the bulk insert: find it
                bad = next((e.id for e in plan.events if not _v.is_json(e.event_data)), None)
                if bad is not None:
                    mapped = self._event_error(exc, bad)
                    if mapped is not exc:
                        return mapped
            return exc

        # A bulk write: one ``timeout`` per started chunk of events, not one in all.
        budget = self._timeout * (1 + len(evs) // _CHUNK)
        with (
            self._conn(doing, write=True, budget=budget, mapper=culprit) as conn,
            conn.transaction(),
        ):
            sid, count, plan = self._plan_import(conn, session, evs, meta, merge)
            self._write_import(conn, sid, count, plan)
        return len(plan.events)

    def _plan_import(
        self,
        conn: Conn,
        session: StoredSession | SessionSummary,
        evs: list[StoredEvent],
        meta: dict[str, str],
        merge: bool,
    ) -> tuple[int, int, ImportPlan]:
        """Create-or-lock the session row, read what the plan needs, decide."""
        base = self._mine(session.id)
        created = (
            conn.execute(
                _pgsql.SYNC_SESSION_INSERT,
                {
                    **base,
                    "directory": session.directory,
                    "git_root": session.git_root,
                    "created_at": session.created_at,
                    "updated_at": session.updated_at,
                    "archived_at": session.archived_at,
                },
            ).rowcount
            == 1
        )
        locked = conn.execute(_pgsql.SYNC_SESSION_LOCK, base).fetchone()
        if locked is None:  # pragma: no cover - inserted or present, and locked
            raise StoreError(f"importing session {session.id!r}: the session vanished")
        sid, directory, git_root, created_at, updated_at, archived_at, head, count = locked
        # The server records its own id (SYNC_SESSION_FINISH): the client's is not compared.
        stored = StoredState(
            directory,
            git_root,
            created_at,
            updated_at,
            archived_at,
            head,
            session.server_session_id,
        )
        existing = self._stored_events(conn, [e.id for e in evs])
        refs = references(session, evs)
        known = [
            e.id for e in self._stored_events(conn, refs).values() if e.session_id == session.id
        ]
        stored_meta: dict[str, str] = {}
        if meta and not created:
            rows = conn.execute(
                _pgsql.SYNC_METADATA_OF, {"owner": self._owner, "ids": [session.id]}
            )
            stored_meta = {key: value for _, key, value in rows.fetchall()}
        plan = plan_import(
            session,
            evs,
            merge=merge,
            stored=None if created else stored,
            existing=existing,
            known=known,
            stored_metadata=stored_meta,
            metadata=meta,
        )
        return sid, count, plan

    def _stored_events(self, conn: Conn, ids: Iterable[str]) -> dict[str, StoredEvent]:
        """This owner's stored events among ``ids`` (any session), by id, a chunk a round trip."""
        wanted = list(ids)
        found: dict[str, StoredEvent] = {}
        for start in range(0, len(wanted), _CHUNK):
            params = {"owner": self._owner, "ids": wanted[start : start + _CHUNK]}
            for row in conn.execute(_pgsql.SYNC_EVENTS_EXISTING, params).fetchall():
                found[row[0]] = StoredEvent._make(row)
        return found

    def _write_import(self, conn: Conn, sid: int, count: int, plan: ImportPlan) -> None:
        """Execute an import plan inside the import's transaction."""
        owner = self._owner
        evs = plan.events
        for start in range(0, len(evs), _CHUNK):
            chunk = evs[start : start + _CHUNK]
            conn.execute(
                _pgsql.SYNC_EVENTS_INSERT_MANY,
                {
                    "sid": sid,
                    "owner": owner,
                    "seqs": list(range(count + 1 + start, count + 1 + start + len(chunk))),
                    "ids": [e.id for e in chunk],
                    "parents": [e.parent_id for e in chunk],
                    "invocations": [e.invocation_id for e in chunk],
                    "types": [e.event_type for e in chunk],
                    "datas": [e.event_data for e in chunk],
                    "created": [e.created_at for e in chunk],
                },
            )
        added = evs
        if plan.touch:
            conn.execute(
                _pgsql.SYNC_SESSION_FINISH,
                {
                    "owner": owner,
                    "sid": sid,
                    "head_id": plan.head_id,
                    "updated_at": plan.updated_at,
                    "archived_at": plan.archived_at,
                    "added": len(added),
                },
            )
        if plan.metadata:
            changed = [
                {"owner": owner, "sid": sid, "key": k, "value": v, "now": plan.updated_at}
                for k, v in plan.metadata
            ]
            with conn.cursor() as cur:
                cur.executemany(_pgsql.SYNC_METADATA_PUT, changed)


def _connection_state(sqlstate: str) -> bool:
    """SQLSTATEs that mean the connection (not the statement) is gone."""
    return sqlstate.startswith("08") or sqlstate in ("57P01", "57P02", "57P03")


def _connection_settings(conninfo: str, timeout: float) -> dict[str, Any]:
    """libpq settings that bound every call by ``timeout`` on the server and the wire.

    ``connect_timeout`` (whole seconds, at least 2: libpq's floor);
    ``statement_timeout`` and a slightly shorter ``lock_timeout`` (so a lock
    wait is reported as one: :class:`StoreBusy`); TCP keepalives and
    ``tcp_user_timeout`` to notice a peer that vanished. Settings already in
    ``conninfo``'s ``options`` come first and ours are appended. Behind
    PgBouncer in transaction mode set ``ignore_startup_parameters = options``
    and give the roles these timeouts with ``ALTER ROLE ... SET`` instead
    (docs/deploy-server.md).
    """
    ms = max(1, int(timeout * 1000))
    try:
        given = conninfo_to_dict(conninfo).get("options") or ""
    except psycopg.Error:
        given = ""
    options = f"{given} -c statement_timeout={ms} -c lock_timeout={max(1, int(ms * 0.8))}"
    return {
        "autocommit": True,
        "connect_timeout": max(2, math.ceil(timeout)),
        "keepalives": 1,
        "keepalives_idle": max(1, int(timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": ms,
        "options": options.strip(),
    }


class _PgPurgeBatch:
    """:class:`convstore.sqlite.retention.PurgeBatch` in one server transaction."""

    __slots__ = ("_base", "_conn", "_left")

    def __init__(self, conn: Any, base: dict[str, Any]) -> None:
        self._conn = conn
        self._base = base
        self._left = 0

    def candidates(self, after: int, limit: int) -> list[int]:
        params = {**self._base, "after": after, "limit": limit}
        return [int(row[0]) for row in self._conn.execute(_pgsql.PURGE_CANDIDATES, params)]

    def delete_events(self, sid: int, budget: int) -> int:
        step = {**self._base, "sid": sid, "budget": budget}
        chunk = self._conn.execute(_pgsql.PURGE_EVENTS_CHUNK, step).fetchone()
        assert chunk is not None  # the session row is locked by this batch
        gone, self._left = int(chunk[0]), int(chunk[1])
        return gone

    def has_events(self, sid: int) -> bool:
        return self._left > 0  # as PURGE_EVENTS_CHUNK counted for this very session

    def delete_rest(self, sid: int) -> tuple[int, int]:
        step = {**self._base, "sid": sid}
        metadata = self._conn.execute(_pgsql.PURGE_METADATA, step).rowcount
        return metadata, self._conn.execute(_pgsql.PURGE_SESSION, step).rowcount


if TYPE_CHECKING:
    from ..service import ExtendedSessionService, LifecycleService
    from .aio import AsyncPostgresSessionService as AsyncPostgresSessionService

    def _implements(
        service: PostgresSessionService,
    ) -> tuple[LifecycleService, ExtendedSessionService]:
        """The type checker's proof that this service keeps both contracts."""
        return service, service


def __getattr__(name: str) -> Any:
    """``AsyncPostgresSessionService`` lives in :mod:`convstore.postgres.aio`, loaded on use."""
    if name == "AsyncPostgresSessionService":
        from .aio import AsyncPostgresSessionService

        return AsyncPostgresSessionService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

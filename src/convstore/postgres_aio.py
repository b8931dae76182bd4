"""``AsyncPostgresSessionService``: the PostgreSQL service for an event loop (SPEC §7).

The :class:`~convstore.service.SessionService` methods of
:class:`~convstore.postgres.PostgresSessionService` as coroutines, on
psycopg's :class:`~psycopg_pool.AsyncConnectionPool`: no thread per call, the
loop never blocks on the network or on a row lock. The statements, parameters,
results and typed errors are the sync service's (same generated SQL in
:mod:`convstore._pgsql`, same error mapping), so both drive one database
interchangeably. Import it from :mod:`convstore.postgres`::

    from convstore.aio import AsyncSessionManager
    from convstore.postgres import AsyncPostgresSessionService

    async with await AsyncPostgresSessionService.open(conninfo, owner="alice") as service:
        manager = AsyncSessionManager(service, cwd=".")
        await manager.start()
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, LiteralString, NoReturn, cast

import psycopg
from psycopg import errors as pgerrors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from . import _pgsql
from ._common import FIRST_PAGE, event_refused, list_filter, why_not_appended
from .errors import DuplicateId, InvalidArgument, InvalidEvent, SessionNotFound, StoreError
from .models import SessionSummary, StoredEvent, StoredSession
from .postgres import (
    _LIST_SQL,
    PostgresSessionService,
    _describe,
    _require_optional_str,
    _require_str,
)

if TYPE_CHECKING:
    from types import TracebackType

    from psycopg.rows import TupleRow

    from ._common import Clock

    AConn = psycopg.AsyncConnection[TupleRow]

__all__ = ["AsyncPostgresSessionService"]


class AsyncPostgresSessionService:
    """:class:`~convstore.postgres.PostgresSessionService` for an event loop.

    Open with ``await AsyncPostgresSessionService.open(conninfo, owner=...)``
    (same keywords as the sync constructor); ``async with`` or
    ``await service.aclose()`` closes the pool. Every statement is scoped by
    ``owner``, as in the sync service.
    """

    __slots__ = ("_clock", "_owner", "_pool", "_timeout", "_where")

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        *,
        owner: str,
        where: str,
        clock: Clock | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._pool = pool
        self._owner = owner
        self._where = where
        self._clock: Clock = clock if clock is not None else time.time
        self._timeout = float(timeout)

    @classmethod
    async def open(
        cls,
        conninfo: str,
        *,
        owner: str,
        clock: Clock | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 30.0,
    ) -> AsyncPostgresSessionService:
        """Open a pool on ``conninfo`` (arguments and errors as the sync constructor).

        Validation and migrations run through the sync service once, on a
        worker thread (a one-off at start-up); the pool itself is async.
        """
        await asyncio.to_thread(
            lambda: PostgresSessionService(
                conninfo,
                owner=owner,
                clock=clock,
                min_size=0,
                max_size=1,
                timeout=timeout,
            ).close()  # checks the schema and the owner; never migrates (issue 17)
        )
        where = _describe(conninfo)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            timeout=float(timeout),
            open=False,
            name=f"convstore-async:{owner}",
        )
        try:
            await pool.open(wait=min_size > 0, timeout=float(timeout))
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, PoolTimeout):
                raise StoreError(
                    f"cannot connect to {where} within {float(timeout):g}s "
                    "(is the server running, and the conninfo right?)"
                ) from None
            raise
        return cls(pool, owner=owner, where=where, clock=clock, timeout=timeout)

    # -- plumbing ------------------------------------------------------------

    @property
    def owner(self) -> str:
        """The owner every statement of this service is scoped to."""
        return self._owner

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        """The async connection pool, for advanced use."""
        return self._pool

    def _now(self) -> int:
        return int(self._clock())

    def _translate(self, exc: BaseException, doing: str) -> BaseException:
        # The sync service's mapping; it reads only _where and _timeout.
        translate = cast("Any", PostgresSessionService._translate)
        return cast("BaseException", translate(self, exc, doing))

    def _fail(self, exc: BaseException, doing: str) -> NoReturn:
        raise self._translate(exc, doing) from None

    async def _fetch(self, sql: LiteralString, params: dict[str, Any], doing: str, how: str) -> Any:
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(sql, params)
                if how == "one":
                    return await cur.fetchone()
                if how == "all":
                    return await cur.fetchall()
                return cur.rowcount
        except (psycopg.Error, PoolTimeout, UnicodeError) as exc:
            self._fail(exc, doing)

    async def _why_not(self, session_id: str, event_id: str, parent_id: str | None) -> StoreError:
        row = await self._fetch(
            _pgsql.SESSION_STATE,
            {"owner": self._owner, "session_id": session_id},
            f"reading session {session_id!r}",
            "one",
        )
        archived = None if row is None else row[0] is not None
        return why_not_appended(session_id, event_id, parent_id, archived)

    def _event_error(self, exc: BaseException, event_id: str) -> BaseException:
        if isinstance(exc, pgerrors.UniqueViolation):
            return event_refused("duplicate", event_id)
        event_error = cast("Any", PostgresSessionService._event_error)
        return cast("BaseException", event_error(self, exc, event_id))

    async def aclose(self) -> None:
        """Close the pool (waits for connections in use). Idempotent."""
        await self._pool.close()

    async def __aenter__(self) -> AsyncPostgresSessionService:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncPostgresSessionService({self._where!r}, owner={self._owner!r})"

    # -- sessions ------------------------------------------------------------

    async def create_session(
        self, id: str, directory: str | None = None, git_root: str | None = None
    ) -> StoredSession:
        """See :meth:`PostgresSessionService.create_session`."""
        _require_str(id, "session id")
        _require_optional_str(directory, "directory")
        _require_optional_str(git_root, "git_root")
        now = self._now()
        params = {
            "owner": self._owner,
            "session_id": id,
            "directory": directory,
            "git_root": git_root,
            "now": now,
        }
        try:
            async with self._pool.connection() as conn:
                await conn.execute(_pgsql.SESSION_INSERT, params)
        except pgerrors.UniqueViolation:
            raise DuplicateId(f"session id {id!r} is already used") from None
        except (psycopg.Error, PoolTimeout, UnicodeError) as exc:
            self._fail(exc, f"creating session {id!r}")
        return StoredSession(id, None, None, directory, git_root, now, now, None)

    async def get_session(self, id: str) -> StoredSession | None:
        """See :meth:`PostgresSessionService.get_session`."""
        if type(id) is not str:
            return None
        row = await self._fetch(
            _pgsql.SESSION_GET,
            {"owner": self._owner, "session_id": id},
            f"reading session {id!r}",
            "one",
        )
        return None if row is None else StoredSession._make(row)

    async def find_resumable_session(
        self, directory: str | None, git_root: str | None, max_age_secs: int
    ) -> StoredSession | None:
        """See :meth:`PostgresSessionService.find_resumable_session`."""
        row = await self._fetch(
            _pgsql.SESSION_RESUMABLE,
            {
                "owner": self._owner,
                "directory": directory,
                "git_root": git_root,
                # The cutoff is computed on the server (issue 17): now - max_age.
                "now": self._now(),
                "max_age": int(max_age_secs),
            },
            "looking up a resumable session",
            "one",
        )
        return None if row is None else StoredSession._make(row[:8])

    async def update_server_session_id(self, session_id: str, server_session_id: str) -> None:
        """See :meth:`PostgresSessionService.update_server_session_id`."""
        _require_optional_str(server_session_id, "server_session_id")
        changed = await self._fetch(
            _pgsql.SESSION_SET_SERVER_ID,
            {
                "owner": self._owner,
                "session_id": session_id,
                "server_session_id": server_session_id,
            },
            f"setting the server id of session {session_id!r}",
            "rowcount",
        )
        if changed == 0:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    async def archive_session(self, session_id: str) -> None:
        """See :meth:`PostgresSessionService.archive_session`."""
        changed = await self._fetch(
            _pgsql.SESSION_ARCHIVE,
            {"owner": self._owner, "session_id": session_id, "now": self._now()},
            f"archiving session {session_id!r}",
            "rowcount",
        )
        if changed == 0:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    # -- events --------------------------------------------------------------

    async def _append(
        self,
        sql: LiteralString,
        session_id: str,
        event_id: str,
        parent_id: str | None,
        invocation_id: str,
        event_type: str,
        event_data: str,
    ) -> StoredEvent:
        _require_str(session_id, "session id", InvalidEvent)
        _require_str(event_id, "event id", InvalidEvent)
        _require_optional_str(parent_id, "parent_id", InvalidEvent)
        _require_str(invocation_id, "invocation_id", InvalidEvent)
        _require_str(event_type, "event_type", InvalidEvent)
        _require_str(event_data, "event_data", InvalidEvent)
        now = self._now()
        params = {
            "owner": self._owner,
            "session_id": session_id,
            "event_id": event_id,
            "parent_id": parent_id,
            "invocation_id": invocation_id,
            "event_type": event_type,
            "event_data": event_data,
            "now": now,
        }
        try:
            async with self._pool.connection() as conn:
                cur = await conn.execute(sql, params)
                row = await cur.fetchone()
        except (psycopg.Error, PoolTimeout, UnicodeError) as exc:
            doing = f"appending event {event_id!r} to session {session_id!r}"
            self._fail(self._event_error(exc, event_id), doing)
        if row is None:
            raise await self._why_not(session_id, event_id, parent_id)
        return StoredEvent(event_id, session_id, row[0], invocation_id, event_type, event_data, now)

    async def append_event(
        self,
        session_id: str,
        event_id: str,
        parent_id: str | None,
        invocation_id: str,
        event_type: str,
        event_data: str,
    ) -> StoredEvent:
        """See :meth:`PostgresSessionService.append_event`."""
        return await self._append(
            _pgsql.EVENT_APPEND,
            session_id,
            event_id,
            parent_id,
            invocation_id,
            event_type,
            event_data,
        )

    async def append_event_at_head(
        self, session_id: str, event_id: str, invocation_id: str, event_type: str, event_data: str
    ) -> StoredEvent:
        """See :meth:`PostgresSessionService.append_event_at_head`."""
        return await self._append(
            _pgsql.EVENT_APPEND_AT_HEAD,
            session_id,
            event_id,
            None,
            invocation_id,
            event_type,
            event_data,
        )

    async def get_event(self, session_id: str, event_id: str) -> StoredEvent | None:
        """See :meth:`PostgresSessionService.get_event`."""
        row = await self._fetch(
            _pgsql.EVENT_GET,
            {"owner": self._owner, "session_id": session_id, "event_id": event_id},
            f"reading event {event_id!r}",
            "one",
        )
        return None if row is None else StoredEvent._make(row)

    async def load_events(self, session_id: str) -> list[StoredEvent]:
        """See :meth:`PostgresSessionService.load_events`."""
        rows = await self._fetch(
            _pgsql.EVENTS_LOAD,
            {"owner": self._owner, "session_id": session_id},
            f"loading events of session {session_id!r}",
            "all",
        )
        return list(map(StoredEvent._make, rows))

    async def history(self, session_id: str) -> list[StoredEvent]:
        """See :meth:`PostgresSessionService.history`."""
        rows = await self._fetch(
            _pgsql.EVENTS_HISTORY,
            {"owner": self._owner, "session_id": session_id},
            f"reading the history of session {session_id!r}",
            "all",
        )
        return list(map(StoredEvent._make, rows))

    async def set_head(self, session_id: str, event_id: str) -> None:
        """See :meth:`PostgresSessionService.set_head`."""
        changed = await self._fetch(
            _pgsql.SESSION_SET_HEAD,
            {
                "owner": self._owner,
                "session_id": session_id,
                "event_id": event_id,
                "now": self._now(),
            },
            f"moving the head of session {session_id!r} to {event_id!r}",
            "rowcount",
        )
        if changed == 0:
            why = await self._why_not(session_id, event_id, event_id)
            if isinstance(why, InvalidEvent):
                why = InvalidEvent(f"event {event_id!r} is not an event of session {session_id!r}")
            raise why

    # -- metadata ------------------------------------------------------------

    async def set_metadata(self, session_id: str, key: str, value: str) -> None:
        """See :meth:`PostgresSessionService.set_metadata`."""
        _require_str(key, "metadata key")
        _require_str(value, "metadata value")
        changed = await self._fetch(
            _pgsql.METADATA_SET,
            {
                "owner": self._owner,
                "session_id": session_id,
                "key": key,
                "value": value,
                "now": self._now(),
            },
            f"setting metadata {key!r} of session {session_id!r}",
            "rowcount",
        )
        if changed == 0:
            raise SessionNotFound(f"session {session_id!r} does not exist")

    async def get_metadata(self, session_id: str, key: str) -> str | None:
        """See :meth:`PostgresSessionService.get_metadata`."""
        row = await self._fetch(
            _pgsql.METADATA_GET,
            {"owner": self._owner, "session_id": session_id, "key": key},
            f"reading metadata of session {session_id!r}",
            "one",
        )
        if row is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        value: str | None = row[0]
        return value

    # -- listing -------------------------------------------------------------

    async def list_sessions(
        self,
        directory: str | None = None,
        git_root: str | None = None,
        include_archived: bool = False,
        limit: int = 20,
        before: str | StoredSession | SessionSummary | None = None,
    ) -> list[SessionSummary]:
        """See :meth:`PostgresSessionService.list_sessions`."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidArgument(f"limit must be a non-negative int: {limit!r}")
        cursor: tuple[int, int] = FIRST_PAGE
        if before is not None:
            before_id = before if isinstance(before, str) else before.id
            found = await self._fetch(
                _pgsql.SESSION_CURSOR,
                {"owner": self._owner, "session_id": before_id},
                "listing sessions",
                "one",
            )
            if found is None:
                raise SessionNotFound(f"session {before_id!r} (the page cursor) does not exist")
            updated_at = found[0] if isinstance(before, str) else before.updated_at
            cursor = (updated_at, found[1])
        rows = await self._fetch(
            _LIST_SQL[list_filter(directory, git_root), bool(include_archived)],
            {
                "owner": self._owner,
                "cursor_updated_at": cursor[0],
                "cursor_sid": cursor[1],
                "limit": limit,
                "directory": directory,
                "git_root": git_root,
            },
            "listing sessions",
            "all",
        )
        return list(map(SessionSummary._make, rows))

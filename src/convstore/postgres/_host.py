"""The PostgreSQL service's connection helpers, and what its mixins use of the service.

:class:`ServiceHost` is the base of :class:`~convstore.postgres.PostgresSessionService`
and of the mixins it is made of (:class:`~convstore.postgres.lifecycle.PostgresLifecycleMixin`,
:class:`~convstore.postgres.blobs.PostgresBlobsMixin`). It holds the helpers
every statement runs through -- :meth:`~ServiceHost._conn` and the one-statement
shortcuts -- written once here and inherited by all three, and declares (for
type checkers) the few service members those helpers and the mixins use.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, LiteralString

import psycopg
from psycopg_pool import PoolTimeout

from ._pgdeadline import idle_connection_is_dead

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Iterator

    from psycopg_pool import ConnectionPool

    from ._pgdeadline import Watchdog

__all__ = ["ServiceHost"]

Row = tuple[Any, ...]
Conn = psycopg.Connection[Row]

#: How long past ``timeout`` the client-side watchdog waits before it aborts a
#: call: the server's own statement/lock timeouts, which give the precise
#: error, fire first; the watchdog is the backstop for a server that does not
#: answer at all. Every call returns within ``timeout + _GRACE`` (< 1 s over).
_GRACE = 0.5


class ServiceHost:
    """The service's connection helpers, shared by the service and its mixins."""

    # The state the helpers use; the service's constructor sets it.
    __slots__ = ("_in_use", "_lock", "_owner", "_pool", "_timeout", "_watchdog")
    _owner: str
    _timeout: float
    _pool: ConnectionPool[Conn]
    _lock: threading.Lock
    _in_use: int
    _watchdog: Watchdog

    if TYPE_CHECKING:

        def _translate(
            self, exc: BaseException, doing: str, *, fired: bool = False, write: bool = False
        ) -> BaseException: ...

        def _event_error(self, exc: BaseException, event_id: str) -> BaseException: ...

        def _why_not(self, session_id: str, event_id: str, parent_id: str | None) -> Any: ...

    @contextmanager
    def _conn(
        self,
        doing: str,
        *,
        write: bool = False,
        budget: float | None = None,
        mapper: Callable[[BaseException], BaseException] | None = None,
    ) -> Iterator[Any]:  # a Conn; Any for the mixins, which index rows they know exist
        """A pooled connection for one call, bounded by ``timeout`` (or ``budget``) in all.

        The pool wait gets the budget; the work gets what is left, watched by
        the client-side deadline. Every psycopg error becomes a typed error
        (``mapper`` first, for errors a caller names more precisely).
        """
        budget = self._timeout if budget is None else budget
        fired = False
        start = time.monotonic()
        try:
            while True:
                conn = self._pool.getconn(timeout=max(0.0, start + budget - time.monotonic()))
                if not idle_connection_is_dead(conn):
                    break
                conn.close()  # closed by the server (a restart): discard, take the next
                self._pool.putconn(conn)
            with self._lock:
                self._in_use += 1
            token = self._watchdog.arm(start + budget + _GRACE, conn)
            try:
                yield conn
            finally:
                fired = self._watchdog.disarm(token)
                with self._lock:
                    self._in_use -= 1
                self._pool.putconn(conn)
        except (psycopg.Error, PoolTimeout, UnicodeError) as exc:
            if mapper is not None and not fired:
                mapped = mapper(exc)
                if mapped is not exc:
                    raise mapped from None
            raise self._translate(exc, doing, fired=fired, write=write) from None

    def _one(self, sql: LiteralString, params: dict[str, Any], doing: str) -> Any:
        """The statement's first row, or ``None`` (typed ``Any``: the mixins' aggregates
        and ``RETURNING`` statements always return one)."""
        with self._conn(doing) as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: LiteralString, params: dict[str, Any], doing: str) -> list[Row]:
        with self._conn(doing) as conn:
            rows: list[Row] = conn.execute(sql, params).fetchall()
            return rows

    def _rowcount(self, sql: LiteralString, params: dict[str, Any], doing: str) -> int:
        with self._conn(doing, write=True) as conn:
            count: int = conn.execute(sql, params).rowcount
            return count

    def _mine(self, session_id: str, **params: Any) -> dict[str, Any]:
        """A statement's parameters for one of this owner's sessions (and ``params``)."""
        return {"owner": self._owner, "session_id": session_id, **params}

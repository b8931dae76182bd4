"""Client-side deadlines for :mod:`convstore.postgres`: every call bounded by ``timeout``.

``statement_timeout`` ends a statement the server is *running*; TCP
keepalives and ``tcp_user_timeout`` notice a peer that vanished; neither
helps against a server that is alive at the TCP level but does not answer (a
stopped or overloaded postmaster: the kernel keeps acknowledging). So each
call also arms a :class:`Watchdog`: one daemon thread per service that, when a
call's deadline passes, shuts the call's socket down. The blocked psycopg call
then fails at once with a connection error, which the service reports as "the
server did not answer within Ns" (or :class:`~convstore.CommitUncertain` for a
write), and the broken connection is dropped by the pool.

Arming costs a lock and a dict insert; the thread sleeps until the earliest
deadline and never touches a connection that finished in time.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import threading
import time
from typing import Any

__all__ = ["Watchdog", "idle_connection_is_dead"]


class Watchdog:
    """Aborts (socket shutdown) the connections of calls that outlive their deadline."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._cv = threading.Condition()
        self._calls: dict[int, tuple[float, Any]] = {}
        self._fired: set[int] = set()
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wake_at = float("inf")  # when the thread next looks at the deadlines

    def arm(self, deadline: float, conn: Any) -> int:
        """Watch ``conn`` until :meth:`disarm`; abort it at ``deadline`` (monotonic)."""
        token = next(self._tokens)
        with self._cv:
            self._calls[token] = (deadline, conn)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"convstore-watchdog:{self._name}", daemon=True
                )
                self._thread.start()
            if deadline < self._wake_at:
                # Only a deadline earlier than the thread's next wake-up needs it now;
                # calls with one budget arm ever later deadlines, so a busy service
                # wakes the thread once per timeout, not once per call (a thread
                # wake-up costs the caller a GIL hand-over: ~0.3 ms measured).
                self._wake_at = deadline
                self._cv.notify()
        return token

    def disarm(self, token: int) -> bool:
        """Stop watching; ``True`` when the deadline had already fired (the call was aborted)."""
        with self._cv:
            self._calls.pop(token, None)
            if token in self._fired:
                self._fired.discard(token)
                return True
            return False

    def close(self) -> None:
        """Stop the thread (calls still armed are no longer watched)."""
        with self._cv:
            self._closed = True
            self._cv.notify()

    def _run(self) -> None:
        with self._cv:
            while not self._closed:
                now = time.monotonic()
                due = [t for t, (d, _) in self._calls.items() if d <= now]
                for token in due:
                    _, conn = self._calls.pop(token)
                    self._fired.add(token)
                    _abort(conn)
                wait = min((d for d, _ in self._calls.values()), default=None)
                self._wake_at = float("inf") if wait is None else wait
                self._cv.wait(None if wait is None else max(0.0, wait - now))


def _abort(conn: Any) -> None:
    """Shut the connection's socket down so a blocked read or write returns at once."""
    try:
        fd = conn.pgconn.socket
    except Exception:  # already closed or broken: nothing is blocked on it
        return
    try:
        dup = os.dup(fd)
    except OSError:
        return
    try:
        with socket.socket(fileno=dup) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def idle_connection_is_dead(conn: Any) -> bool:
    """Check an idle pooled connection before use, without a round trip.

    An idle connection has nothing to read. When its socket is readable (or
    hung up), the server closed it (a restart, an idle timeout, an
    administrator) or sent a farewell error: the caller discards it and takes
    another, so the first calls after a server restart succeed.
    """
    try:
        fd = conn.pgconn.socket
    except Exception:
        return True
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))

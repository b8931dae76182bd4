"""``SessionManager``: the client's behaviour on top of any :class:`SessionService`.

On :meth:`~SessionManager.start` it resumes the newest session for the
current directory or git root whose last activity is younger than
``session_continue_minutes`` — appending one *boundary* event so the model can
see where the earlier conversation ended — or creates a new session.
``new_session()`` is the client's ``/new``.

>>> from convstore import LocalSessionService, SessionManager
>>> service = LocalSessionService(":memory:")
>>> first = SessionManager(service, cwd="/tmp/project")
>>> first.start()                      # nothing to resume: a new session
False
>>> _ = first.append("user_message", {"content": "hello"})
>>> again = SessionManager(service, cwd="/tmp/project")
>>> again.start(), again.session_id == first.session_id   # resumed, boundary appended
(True, True)
>>> [e.event_type for e in again.history()]
['user_message', 'invocation_boundary']
"""

from __future__ import annotations

import os
import time

from . import _validate as _v
from ._lean import TYPE_CHECKING, ReadOnly
from .errors import (
    CommitUncertain,
    InvalidArgument,
    InvalidEvent,
    NotStarted,
    SessionArchived,
    SessionNotFound,
)
from .gitroot import find_git_root
from .ids import new_id

if TYPE_CHECKING:
    from typing import Any

    from ._common import Clock
    from .models import StoredEvent
    from .service import SessionService

__all__ = ["SessionManager", "BOUNDARY_EVENT_TYPE"]

#: ``event_type`` of the event appended when a later invocation resumes a session.
BOUNDARY_EVENT_TYPE = "invocation_boundary"


def storable_path(path: str) -> str:
    """A directory as stored text: itself when it is valid UTF-8, else a documented normalisation.

    File names are bytes; Python shows the bytes that are not UTF-8 as lone
    surrogates (``os.fsdecode``), which no backend can store. Such a name is
    stored with each of those bytes written as ``\\xNN`` (Python's
    ``backslashreplace``): the same directory always gives the same text, so
    resuming works there, and every valid UTF-8 name is stored unchanged.

    >>> storable_path("/tmp/caf\\udce9")
    '/tmp/caf\\\\xe9'
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return os.fsencode(path).decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that stands for no byte: \\udXXX
            return path.encode("utf-8", "backslashreplace").decode("utf-8")
    return path


class SessionManager:
    """Owns the current session of one client invocation.

    ``cwd`` is the client's working directory; its git root is found by
    walking up for ``.git`` (no subprocess). ``session_continue_minutes=0``
    disables resuming. ``clock`` (Unix seconds) is used for the boundary
    event's time gap (default: the service's ``clock`` attribute when it has
    one, as the PostgreSQL service does, else :func:`time.time`); the service
    keeps its own clock for timestamps.
    """

    __slots__ = (
        "_clock",
        "_continue_secs",
        "_directory",
        "_git_root",
        "_invocation_id",
        "_service",
        "_session_id",
    )

    def __init__(
        self,
        service: SessionService,
        *,
        cwd: str | os.PathLike[str],
        session_continue_minutes: float = 60,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(session_continue_minutes, bool) or not isinstance(
            session_continue_minutes, int | float
        ):
            raise InvalidArgument(
                f"session_continue_minutes must be a number, got {session_continue_minutes!r}"
            )
        if not 0 <= session_continue_minutes < float("inf"):
            raise InvalidArgument(
                f"session_continue_minutes must be >= 0 and finite (0 disables resuming), "
                f"got {session_continue_minutes!r}"
            )
        try:
            text_cwd = isinstance(cwd, str | os.PathLike) and isinstance(os.fspath(cwd), str)
        except TypeError:  # a PathLike whose __fspath__ returns neither str nor bytes
            text_cwd = False
        if not text_cwd:
            raise InvalidArgument(f"cwd must be a str or os.PathLike[str], got {_v._clip(cwd)}")
        if clock is not None and not callable(clock):
            raise InvalidArgument(f"clock must be a zero-argument callable, got {clock!r}")
        if not all(
            callable(getattr(service, name, None))
            for name in ("find_resumable_session", "create_session", "append_event_at_head")
        ):
            raise InvalidArgument(
                f"service must be a SessionService (e.g. LocalSessionService), got "
                f"{type(service).__name__}"
            )
        self._service = service
        absolute = os.path.abspath(cwd)
        # Matched and stored as text every backend can hold (see storable_path).
        self._directory = storable_path(absolute)
        root = find_git_root(absolute)
        self._git_root = None if root is None else storable_path(root)
        # Beyond the timestamp range every session is young enough (1e308 minutes * 60 is inf).
        self._continue_secs = int(min(session_continue_minutes * 60, _v.TIME_LIMIT))
        if clock is None:  # a team server's client clock (it stores server time only)
            clock = getattr(service, "clock", None)
        self._clock: Clock = clock if callable(clock) else time.time
        self._invocation_id = new_id()
        self._session_id: str | None = None

    service = ReadOnly["SessionService"]("_service", "The backend this manager drives.")
    directory = ReadOnly[str](
        "_directory", "The absolute working directory sessions are matched on."
    )
    git_root = ReadOnly[str | None](
        "_git_root", "The working directory's git root, if it is inside a repository."
    )
    invocation_id = ReadOnly[str](
        "_invocation_id", "This invocation's id: every event it appends carries it."
    )

    @property
    def session_id(self) -> str:
        """The current session's id. Raises :class:`~convstore.NotStarted` before :meth:`start`."""
        if self._session_id is None:
            raise NotStarted("SessionManager.start() has not been called: no current session yet")
        return self._session_id

    def start(self) -> bool:
        """Resume the right session or create one; ``True`` when resumed.

        Resuming appends exactly one boundary event (type
        ``"invocation_boundary"``, data: the previous and new invocation ids and
        the gap in seconds); creating appends nothing.
        """
        if self._continue_secs > 0:
            found = self._service.find_resumable_session(
                self._directory, self._git_root, self._continue_secs
            )
            if found is not None:
                previous = (
                    self._service.get_event(found.id, found.head_id)
                    if found.head_id is not None
                    else None
                )
                boundary = {
                    "previous_invocation_id": previous.invocation_id if previous else None,
                    "invocation_id": self._invocation_id,
                    "gap_secs": max(0, _v.now(self._clock) - found.updated_at),
                }
                try:
                    self._append_to(found.id, BOUNDARY_EVENT_TYPE, boundary)
                except (SessionArchived, SessionNotFound):
                    # Another terminal's /new archived it (or a purge removed it) between
                    # the lookup and this append: nothing to resume, start afresh.
                    pass
                else:
                    self._session_id = found.id
                    return True
        self._create()
        return False

    def _create(self) -> None:
        session_id = new_id()
        try:
            session = self._service.create_session(session_id, self._directory, self._git_root)
        except CommitUncertain:
            # Resolve it here: the retry is an idempotent replay if the first call was stored.
            session = self._service.create_session(session_id, self._directory, self._git_root)
        self._session_id = session.id

    def _append(self, event_type: str, data: Any) -> StoredEvent:
        return self._append_to(self.session_id, event_type, data)

    def _append_to(self, session_id: str, event_type: str, data: Any) -> StoredEvent:
        if isinstance(data, str):
            text = data
        else:
            import json  # only clients that pass objects pay for the json import

            try:
                text = json.dumps(data, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError, RecursionError) as exc:
                raise InvalidEvent(
                    f"{event_type!r} event data is not JSON-serialisable: {exc}"
                ) from None
        event_id = new_id()
        args = (session_id, event_id, self._invocation_id, event_type, text)
        try:
            return self._service.append_event_at_head(*args)
        except CommitUncertain:
            # The same id again: stored already -> the stored event (SPEC §2.1), else appended.
            return self._service.append_event_at_head(*args)

    def append(self, event_type: str, data: Any) -> str:
        """Append an event to the head of the current session; return its id.

        ``data`` is JSON text (a ``str``) or any JSON-serialisable object. The
        parent is the head as read inside the write transaction, so two
        terminals appending to one session form a single chain.
        """
        return self._append(event_type, data).id

    def new_session(self) -> None:
        """The client's ``/new``: archive the current session and start a fresh one."""
        self._service.archive_session(self.session_id)
        self._create()

    def history(self) -> list[StoredEvent]:
        """The current branch of the conversation, oldest first (what the model sees)."""
        return self._service.history(self.session_id)

    def fork(self, event_id: str) -> None:
        """Move the head back to ``event_id``: the next :meth:`append` starts a branch."""
        self._service.set_head(self.session_id, event_id)

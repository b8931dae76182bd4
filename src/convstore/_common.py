"""What the SQLite store and the PostgreSQL service share, written once.

Both backends keep the same rules; only how they reach the database differs.
What lives here is everything that is *not* SQL and *not* a connection:

* the ``Clock`` type (a zero-argument callable giving Unix seconds);
* the listing's keyset cursor (:data:`FIRST_PAGE`) and which of the four
  filtered statements a ``list_sessions`` call needs (:func:`list_filter`);
* sorting a refused insert into :class:`DuplicateId` or :class:`InvalidEvent`
  (:func:`event_refused`);
* explaining an append that wrote nothing (:func:`why_not_appended`);
* the column lists of the two records;
* :data:`COMPACTION_EVENT_TYPE`, so that a history without a summary is
  returned without importing :mod:`convstore.lifecycle` (json, re, datetime).

Input validation (argument types, event JSON) lives in :mod:`convstore._validate`;
the import/merge decision in :mod:`convstore._importplan`.
Importing this module costs nothing: it loads only convstore's own errors.

>>> list_filter("/p", None)
'DIRECTORY'
>>> type(event_refused("duplicate", "e1")).__name__
'DuplicateId'
"""

from __future__ import annotations

from ._lean import TYPE_CHECKING, cast
from .errors import DuplicateId, InvalidEvent, SessionArchived, SessionNotFound, StoreError

if TYPE_CHECKING:
    import inspect
    from collections.abc import Callable, Iterable
    from typing import Any, Concatenate, ParamSpec, Self, TypeVar

    _P = ParamSpec("_P")
    _R = TypeVar("_R")
    _S = TypeVar("_S")
    _A = TypeVar("_A")

    #: A zero-argument callable returning the current Unix time in seconds.
    Clock = Callable[[], float]

__all__ = [
    "COMPACTION_EVENT_TYPE",
    "FIRST_PAGE",
    "LIST_FILTERS",
    "SESSION_COLUMNS",
    "EVENT_COLUMNS",
    "list_filter",
    "event_refused",
    "why_not_appended",
    "front",
    "parameter_source",
]

#: The ``event_type`` of a summary written by ``compact`` (SPEC §9).
COMPACTION_EVENT_TYPE = "compaction"

#: Above every real ``(updated_at, sid)``: the cursor of a listing's first page.
FIRST_PAGE = (1 << 62, 1 << 62)

#: The four listing statements each backend has (times "with archived" or not).
LIST_FILTERS = ("ALL", "DIRECTORY", "GIT_ROOT", "EITHER")

#: The fields of a :class:`~convstore.StoredSession`, in order (also the SELECT lists).
SESSION_COLUMNS = (
    "id",
    "head_id",
    "server_session_id",
    "directory",
    "git_root",
    "created_at",
    "updated_at",
    "archived_at",
)
#: An event's own columns, in the order of a :class:`~convstore.StoredEvent` minus its session.
EVENT_COLUMNS = ("id", "parent_id", "invocation_id", "event_type", "event_data", "created_at")
#: Rows per statement of a bulk insert (SQLite's ``EVENT_INSERT_ROWS``): ``executemany`` of
#: a one-row insert pays APSW's statement-cache lookup (a hash of the SQL text), a
#: statement reset and a B-tree descent per row; ten rows a statement pay them once.
#: Measured (callgrind, batches of 100 ~200 B events): 10 beats 4, 8, 16, 25 and 100.
BULK_INSERT_ROWS = 10


def listing_arguments(
    directory: object, git_root: object, include_archived: object, limit: object, before: object
) -> tuple[str | None, str | None, int] | None:
    """Check ``list_sessions``' arguments once for both backends.

    Returns ``(directory, git_root, limit)`` ready to bind, or ``None`` when no
    session can match (a filter that could never have been stored and no other
    usable filter). Raises :class:`~convstore.errors.InvalidArgument` naming the
    argument, or :class:`~convstore.errors.SessionNotFound` for a page cursor
    (``before``) that names no storable session.
    """
    from . import _validate as _v

    directory_ok = _v.optional_lookup_text(directory, "directory")
    git_root_ok = _v.optional_lookup_text(git_root, "git_root")
    _v.boolean(include_archived, "include_archived")
    checked_limit = _v.limit(limit)
    if before is not None:
        check_cursor(before)
    if not (directory_ok and git_root_ok):
        # A filter that could never have been stored matches nothing; the other still may.
        if not (directory_ok and directory is not None) and not (
            git_root_ok and git_root is not None
        ):
            return None
        directory = directory if directory_ok else None
        git_root = git_root if git_root_ok else None
    return cast("str | None", directory), cast("str | None", git_root), checked_limit


def check_cursor(before: object) -> None:
    """``before`` of ``list_sessions``: an id or a row of an earlier page."""
    from . import _validate as _v
    from .errors import InvalidArgument
    from .models import SessionSummary, StoredSession

    if isinstance(before, str):
        if not _v.lookup_text(before, "before"):
            raise SessionNotFound(f"session {before!r} (the page cursor, before) does not exist")
        return
    if isinstance(before, StoredSession | SessionSummary) or (
        isinstance(before, tuple) and hasattr(before, "id") and hasattr(before, "updated_at")
    ):
        _v.lookup_text(getattr(before, "id"), "before.id")  # noqa: B009
        _v.integer(getattr(before, "updated_at"), "before.updated_at")  # noqa: B009
        return
    raise InvalidArgument(
        "before must be a session id (str) or a row of an earlier page (StoredSession or "
        f"SessionSummary), got {type(before).__name__}"
    )


def listing_statements(module: object) -> dict[tuple[str, bool], str]:
    """``(list_filter(...), include_archived)`` -> the generated ``LIST_SESSIONS_*`` statement.

    The same eight statements exist in both generated modules (``sqlite._sql``
    and ``postgres._pgsql``), named ``LIST_SESSIONS_<FILTER>[_WITH_ARCHIVED]``.
    """
    return {
        (name, archived): getattr(
            module, f"LIST_SESSIONS_{name}{'_WITH_ARCHIVED' if archived else ''}"
        )
        for name in ("ALL", "DIRECTORY", "GIT_ROOT", "EITHER")
        for archived in (False, True)
    }


def list_filter(directory: str | None, git_root: str | None) -> str:
    """Which listing statement serves these filters: both given means either matches."""
    if directory is not None:
        return "EITHER" if git_root is not None else "DIRECTORY"
    return "GIT_ROOT" if git_root is not None else "ALL"


def event_refused(kind: str, event_id: str, detail: str = "") -> StoreError:
    """The typed error for an event the database refused to insert.

    ``kind`` is what the backend recognised in its own exception:
    ``"duplicate"`` (a unique key), ``"json"`` (the JSON check), anything else
    is reported with ``detail``.
    """
    if kind == "duplicate":
        return DuplicateId(f"event id {event_id!r} is already used")
    if kind == "json":
        return InvalidEvent(f"event {event_id!r}: event_data is not valid JSON")
    return InvalidEvent(f"event {event_id!r} was refused by the database: {detail}")


def why_not_appended(
    session_id: str, event_id: str, parent_id: str | None, archived: bool | None
) -> StoreError:
    """Explain an append that inserted nothing, from the session's state.

    ``archived`` is ``None`` when the session does not exist (for this owner).
    """
    if archived is None:
        return SessionNotFound(f"session {session_id!r} does not exist")
    if archived:
        return SessionArchived(
            f"session {session_id!r} is archived; start a new session to continue"
        )
    return InvalidEvent(
        f"event {event_id!r}: parent {parent_id!r} is not an event of session {session_id!r}"
    )


class Closing:
    """Mixin: ``with obj: ...`` closes ``obj`` on the way out (its :meth:`close`)."""

    __slots__ = ()

    def close(self) -> None:  # pragma: no cover - every user defines its own
        """Release what the object holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClosing:
    """Mixin: ``async with obj: ...`` closes ``obj`` on the way out (its :meth:`aclose`)."""

    __slots__ = ()

    async def aclose(self) -> None:  # pragma: no cover - every user defines its own
        """Release what the object holds."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def like(
    reference: Callable[Concatenate[Any, _P], _R],
) -> Callable[[Callable[..., object]], Callable[Concatenate[Any, _P], _R]]:
    """A Protocol method whose parameters and result are ``reference``'s, written once.

    ``@like(LocalSessionService.append_event)`` over a stub (a name and a
    docstring) gives the type checker the reference's signature without the
    Protocol restating it, so a parameter changed in the reference changes the
    contract the other backends are checked against. At run time the stub is
    kept (a Protocol only needs the name); ``reference`` may then be a plain
    name so that nothing is imported for it, and the stub's docstring says
    where the parameters are documented.
    """

    def member(stub: Callable[..., object]) -> Callable[Concatenate[Any, _P], _R]:
        where = getattr(reference, "__qualname__", reference)
        stub.__doc__ = f"{stub.__doc__}\n\nArguments and errors: see ``{where}``."
        return cast("Callable[Concatenate[Any, _P], _R]", stub)

    return member


def front(
    reference: Callable[Concatenate[Any, _P], _R],
    check: Callable[..., _A],
    *,
    refuse_unknown: bool = False,
) -> Callable[[Callable[[_S, _A], _R]], Callable[Concatenate[_S, _P], _R]]:
    """A backend's operation with ``reference``'s public parameters and ``check``'s validation.

    ``reference`` is the operation where its parameters (names, kinds,
    defaults, types) and documentation are written: the local store's
    function, whose first parameter is the store. ``check`` is the validation
    every backend runs, taking those parameters positionally in the same
    order and returning the checked values (the reference calls it too). The
    decorated function is another backend's executor, ``(self, checked) ->
    result``. The result is a real function generated with ``reference``'s
    parameters after ``self``: ``inspect.signature``, ``help()``, the async
    twins and the type checker see them as if written out, and a wrong call
    fails as it would there (``record_usage() got an unexpected keyword
    argument 'x'``). ``refuse_unknown=True`` adds ``**unknown``, refused as
    :class:`~convstore.errors.InvalidArgument` naming them. Name, docstring
    and module are the executor's. Cost: one call more than parameters
    written out, so the appends (the hot path) do not use it.

    >>> def check_ping(host: object, times: object) -> tuple[str, int]:
    ...     return str(host), int(str(times))
    >>> def ping(store: object, host: str, *, times: int = 1) -> str:
    ...     "Ping ``host`` ``times`` times."
    ...     return " ".join([check_ping(host, times)[0]] * times)
    >>> class Server:
    ...     @front(ping, check_ping)
    ...     def ping(self, checked: tuple[str, int]) -> str:
    ...         return "/".join([checked[0]] * checked[1])
    >>> import inspect
    >>> str(inspect.signature(Server.ping)), Server().ping("a", times=2)
    ("(self, host: 'str', *, times: 'int' = 1) -> 'str'", 'a/a')
    """
    import inspect  # paid by the modules that define a front, not by ``import convstore``

    params = list(inspect.signature(reference).parameters.values())[1:]
    names = [p.name for p in params]
    if names != list(inspect.signature(check).parameters) or any(
        p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params
    ):
        raise TypeError(f"{check.__qualname__} must take {reference.__qualname__}'s parameters")
    text, defaults = parameter_source(params)
    namespace: dict[str, Any] = {"_check": check, "_refused": _refused, **defaults}
    notes = {k: v for k, v in reference.__annotations__.items() if k in (*names, "return")}

    def bind(run: Callable[[_S, _A], _R]) -> Callable[Concatenate[_S, _P], _R]:
        name, head, refusal = run.__name__, f"self, {text}" if text else "self", ""
        if refuse_unknown:
            head += ", **unknown"
            refusal = f"if unknown:\n        raise _refused({name!r}, unknown)\n    "
        call = f"_run(self, _check({', '.join(names)}))"
        source = f"def {name}({head}):\n    {refusal}return {call}\n"
        scope = {**namespace, "_run": run}
        exec(compile(source, f"<convstore front of {run.__qualname__}>", "exec"), scope)
        op = scope[name]
        op.__qualname__ = run.__qualname__
        op.__module__ = run.__module__
        op.__doc__ = run.__doc__
        op.__annotations__ = {**notes, **({"unknown": "Any"} if refuse_unknown else {})}
        return cast("Callable[Concatenate[_S, _P], _R]", op)

    return bind


def parameter_source(params: Iterable[inspect.Parameter]) -> tuple[str, dict[str, Any]]:
    """``params`` as the text of a generated ``def``'s parameter list, and the defaults it names.

    Each default is named ``_d0``, ``_d1``… in the text (a value's ``repr`` is
    not always source) and returned under that name, for the namespace the
    source is executed in; annotations are left out. Used by :func:`front`
    and by the async classes' generated ``open``.

    >>> import inspect
    >>> def f(a, b=[], *, c=None): ...
    >>> parameter_source(inspect.signature(f).parameters.values())
    ('a, b=_d1, *, c=_d2', {'_d1': [], '_d2': None})
    """
    import inspect  # paid by the modules that generate a def, not by ``import convstore``

    defaults: dict[str, Any] = {}
    shown = []
    for i, p in enumerate(params):
        default: object = p.empty
        if p.default is not p.empty:
            defaults[f"_d{i}"] = p.default
            default = _Source(f"_d{i}")
        shown.append(p.replace(annotation=p.empty, default=default))
    return str(inspect.Signature(shown))[1:-1], defaults


class _Source(str):
    """A default value as it is named in generated source (its repr is the name)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def _refused(name: str, unknown: dict[str, object]) -> StoreError:
    from .errors import InvalidArgument

    return InvalidArgument(f"{name}() got unknown arguments: {sorted(unknown)}")

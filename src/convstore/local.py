"""``LocalSessionService``: the :class:`~convstore.service.SessionService` on a local store.

>>> from convstore import LocalSessionService
>>> service = LocalSessionService(":memory:")
>>> service.create_session("s1", directory="/p").id
's1'
>>> service.close()
"""

from __future__ import annotations

from ._common import Closing
from ._lean import TYPE_CHECKING
from .sqlite.store import SessionStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

    from ._common import Clock
    from .sqlite import blobs as _blobs
    from .sqlite.connection import PathArg

    _P = ParamSpec("_P")
    _R = TypeVar("_R")

    class _Via(Generic[_P, _R]):
        def __init__(self, function: Callable[Concatenate[SessionStore, _P], _R]) -> None:
            self.function = function

        @overload
        def __get__(
            self, service: None, owner: type | None = None
        ) -> Callable[Concatenate[LocalSessionService, _P], _R]: ...
        @overload
        def __get__(
            self, service: LocalSessionService, owner: type | None = None
        ) -> Callable[_P, _R]: ...
        def __get__(self, service: object, owner: object = None) -> Any:
            return self.function

    _Store = SessionStore
else:

    class _Ref:
        """``module.name``, looked up on first use (the blob and history-tool modules are not
        imported with :mod:`convstore.local`)."""

        __slots__ = ("_module", "_name")

        def __init__(self, module, name=None):
            self._module = module
            self._name = name

        def __getattr__(self, name):
            return _Ref(self._module, f"{self._name}.{name}" if self._name else name)

        def resolve(self):
            import sys

            __import__(self._module)
            target = sys.modules[self._module]
            for part in self._name.split("."):
                target = getattr(target, part)
            return target

    class _Via:
        """``service.name(...)`` is ``function(service.store, ...)``: one signature and one
        docstring, the store's (or :mod:`convstore.sqlite.blobs`'); ``help()`` shows them.

        On the class, ``LocalSessionService.name`` is a plain function taking the
        service first (what :mod:`convstore.aio` builds its twins from).
        """

        __slots__ = ("_function", "_qualname", "_unbound")

        def __init__(self, function):
            self._function = function
            self._unbound = None

        def __set_name__(self, owner, name):
            self._qualname = f"{owner.__qualname__}.{name}"

        def __get__(self, service, owner=None):
            function = self._function
            if isinstance(function, _Ref):
                function = self._function = function.resolve()
            if service is not None:
                return function.__get__(service.store)
            if self._unbound is None:
                self._unbound = _on_service(function, self._qualname)
            return self._unbound

    def _on_service(function, qualname):
        """``function`` as a function of the service: ``f(service, ...)``."""

        def method(service, /, *args, **kwargs):
            return function(service.store, *args, **kwargs)

        method.__name__ = function.__name__
        method.__qualname__ = qualname
        method.__module__ = __name__
        method.__doc__ = function.__doc__
        method.__annotations__ = dict(function.__annotations__)
        method.__wrapped__ = function  # inspect.signature: the function's parameters
        return method

    _blobs = _Ref("convstore.sqlite.blobs")
    _Store = _Ref("convstore.sqlite.store", "SessionStore")

__all__ = ["LocalSessionService"]


class LocalSessionService(Closing):
    """:class:`SessionService` on a local :class:`~convstore.SessionStore`.

    Pass a path (the service opens and owns the store) or an open store (the
    caller keeps ownership, and ``close()`` leaves it open).

    Each operation is the store's method of the same name (or the function of
    :mod:`convstore.sqlite.blobs` for the extended service), called on
    :attr:`store`: see those for arguments, errors and examples.
    """

    __slots__ = ("_owns", "store")

    def __init__(
        self, store: SessionStore | PathArg, *, timeout: float = 5.0, clock: Clock | None = None
    ) -> None:
        if isinstance(store, SessionStore):
            self.store = store
            self._owns = False
        else:
            self.store = SessionStore(store, timeout=timeout, clock=clock)
            self._owns = True

    create_session = _Via(_Store.create_session)
    get_session = _Via(_Store.get_session)
    find_resumable_session = _Via(_Store.find_resumable_session)
    append_event = _Via(_Store.append_event)
    append_event_at_head = _Via(_Store.append_event_at_head)
    get_event = _Via(_Store.get_event)
    load_events = _Via(_Store.load_events)
    history = _Via(_Store.history)
    set_head = _Via(_Store.set_head)
    archive_session = _Via(_Store.archive_session)
    update_server_session_id = _Via(_Store.update_server_session_id)
    set_metadata = _Via(_Store.set_metadata)
    get_metadata = _Via(_Store.get_metadata)
    get_all_metadata = _Via(_Store.get_all_metadata)
    list_sessions = _Via(_Store.list_sessions)

    # -- conversation lifecycle (SPEC §9) and recall (convstore.tools) --------
    compact = _Via(_Store.compact)
    record_usage = _Via(_Store.record_usage)
    usage = _Via(_Store.usage)
    apply_retention = _Via(_Store.apply_retention)
    search = _Via(_Store.search)

    # -- ExtendedSessionService (convstore.sqlite.blobs) ----------------------
    put_blobs = _Via(_blobs.put_blobs)
    get_blob = _Via(_blobs.get_blob)
    latest_blob = _Via(_blobs.latest_blob)
    get_blob_with_children = _Via(_blobs.get_blob_with_children)
    list_blobs = _Via(_blobs.list_blobs)
    delete_blobs = _Via(_blobs.delete_blobs)
    delete_session = _Via(_blobs.delete_session)
    clear_head = _Via(_blobs.clear_head)
    append_events_at_head = _Via(_blobs.append_events_at_head)
    history_tail = _Via(_blobs.history_tail)
    history_tail_values = _Via(_blobs.history_tail_values)
    pop_head = _Via(_blobs.pop_head)
    append_event_with_metadata = _Via(_blobs.append_event_with_metadata)
    create_session_with_metadata = _Via(_blobs.create_session_with_metadata)
    archive_session_with_metadata = _Via(_blobs.archive_session_with_metadata)
    get_session_with_tail = _Via(_blobs.get_session_with_tail)
    set_metadata_if = _Via(_blobs.set_metadata_if)

    def close(self) -> None:
        """Close the store if this service opened it."""
        if self._owns:
            self.store.close()


if TYPE_CHECKING:
    from .service import ExtendedSessionService, LifecycleService

    def _implements(
        service: LocalSessionService,
    ) -> tuple[LifecycleService, ExtendedSessionService]:
        """The type checker's proof that this service keeps both contracts."""
        return service, service

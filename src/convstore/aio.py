"""The async API: the store, the service and the manager as coroutines (SPEC §7).

``import convstore.aio`` is the only way in (``import convstore`` loads no
asyncio). Every public method of :class:`~convstore.SessionStore`,
:class:`~convstore.LocalSessionService` and :class:`~convstore.SessionManager`
exists on its twin as a coroutine with the same name, parameters, results and
typed errors; ``close()`` becomes ``aclose()``, generators become async
generators, properties stay plain attributes.

>>> import asyncio
>>> from convstore.aio import AsyncLocalSessionService, AsyncSessionManager
>>> async def main() -> list[str]:
...     async with await AsyncLocalSessionService.open(":memory:") as service:
...         manager = AsyncSessionManager(service, cwd="/tmp/project")
...         await manager.start()
...         await manager.append("user_message", {"content": "hello"})
...         return [e.event_type for e in await manager.history()]
>>> asyncio.run(main())
['user_message']

How a call runs (the design, measured in ``benchmarks/async_bench.py``)
-----------------------------------------------------------------------
A thread hop costs ~100 µs here (``apsw.aio`` and :func:`asyncio.to_thread`
alike), about what an append costs, so an append sent through a worker every
time costs 1.8x a sync one. Instead a call is first tried **inline on the loop
thread** with the connection's busy timeout at zero: in WAL mode a read never
waits, and a write's ``BEGIN IMMEDIATE`` either gets the write lock at once or
fails at once having done nothing. Only when it fails busy (another connection
holds the write lock) — or when it runs longer than ``inline_budget`` (1 ms; a
progress handler interrupts it and it rolls back, unless it already committed:
a commit hook marks that) — is it handed to the store's worker thread (APSW's
:class:`apsw.aio.AsyncIO` controller, with a daemon thread), which waits up to
``timeout`` for the lock while the loop keeps running. Calls that may run long
by nature (imports, purges, search, batches, opening, closing) always go to the
worker. WAL checkpoints (an fsync) never run on the loop: the store's own
background checkpointer takes them, or (a store without one, e.g. a custom VFS)
this worker, through a WAL hook. Measured (``benchmarks/results/async_bench.md``):
awaited append 1.02x a sync append (p50), load_events 1.11x, resume 1.16x; an
append forced through the worker every time 2.2x.

Inline calls complete without suspending, so a task calling in a loop would
never let the loop run: once a store has used ``YIELD_EVERY`` (0.5 ms) of a
loop iteration, its next call waits for the next iteration, holding the store
lock so the other callers queue instead of spinning. Loop iterations stay under
1 ms of CPU while 100 tasks append and another process holds the write lock.

One lock per store serialises calls: many tasks sharing a
store never interleave one call's statements with another's (an async
generator such as ``export_jsonl`` takes it per batch of ``ITER_BATCH`` items).
Cancelling a task during a worker call returns at once; the call is
interrupted (progress and busy handlers see the flag), rolls back, and the lock
is released only when the worker is done with it — so the database stays
consistent and the next call starts on a clean connection.

asyncio and trio (and anyio on either) are supported, as by ``apsw.aio``: the
store detects the running framework on its first call and uses that
framework's lock, schedule point and APSW controller (``apsw.aio.AsyncIO`` or
``apsw.aio.Trio``, each with a daemon worker); ``tests/test_aio_trio.py``.

Adding a twin for a new sync method is one line in the class body, e.g.
``compact = _twin(SessionStore.compact, WORKER)`` — written once in ``_Twins``
when the store and both services have the method (each class gets its own
copy, see :class:`_Twins`); ``tests/test_aio.py`` fails until every public sync
method has one with an identical signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import queue
import sys
import threading
import time
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    Required,
    TypedDict,
    TypeVar,
    Unpack,
    cast,
    overload,
)

import apsw
import apsw.aio

from ._common import AsyncClosing, parameter_source
from .errors import InvalidEvent, StoreBusy, StoreError
from .local import LocalSessionService
from .manager import BOUNDARY_EVENT_TYPE, SessionManager
from .sqlite.store import SessionStore

if TYPE_CHECKING:
    import os

    from ._common import Clock
    from .models import StoredEvent, StoredSession
    from .service import SessionService

__all__ = [
    "AsyncSessionStore",
    "AsyncLocalSessionService",
    "AsyncSessionManager",
    "AsyncSessionService",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
_F = TypeVar("_F", bound=Callable[..., None])

Mode = Literal["inline", "worker"]
#: Try on the loop thread first (short, single-transaction calls).
INLINE: Mode = "inline"
#: Always run on the worker thread (long or multi-transaction calls).
WORKER: Mode = "worker"

#: Inline calls let the event loop run at least this often (seconds).
YIELD_EVERY = 0.0005

#: WAL size (pages) after which a checkpoint runs on the worker (SQLite's default).
CHECKPOINT_PAGES = 1000

#: Async generators pull this many items from the sync generator per worker hop.
ITER_BATCH = 256


class _Controller(apsw.aio.AsyncIO):
    """APSW's asyncio controller with a daemon worker (an unclosed store never blocks exit)."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.loop = asyncio.get_running_loop()
        threading.Thread(
            name="convstore apsw worker", target=self.worker_thread_run, daemon=True
        ).start()


class _Lock(Protocol):
    """What the runner needs of a lock: asyncio's, or :class:`_TrioLock`."""

    def locked(self) -> bool: ...

    async def acquire(self) -> Any: ...

    def release(self) -> None: ...


class _AsyncIOFlavour:
    """The runner's few framework primitives, for asyncio (and anyio on asyncio)."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()

    def lock(self) -> _Lock:
        return asyncio.Lock()

    async def sleep0(self) -> None:
        await asyncio.sleep(0)

    def controller(self) -> Any:
        return _Controller()

    def release_from_thread(self, lock: _Lock) -> None:
        self.loop.call_soon_threadsafe(lock.release)

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.loop.create_task(fn())


class _TrioLock:
    """A FIFO lock that any task or callback may release (``trio.Lock`` may not)."""

    __slots__ = ("_sem", "_trio")

    def __init__(self, trio: Any) -> None:
        self._trio = trio
        self._sem = trio.Semaphore(1)

    def locked(self) -> bool:
        return bool(self._sem.value == 0)

    async def acquire(self) -> bool:
        try:
            self._sem.acquire_nowait()  # free: no schedule point, like asyncio.Lock
        except self._trio.WouldBlock:
            await self._sem.acquire()
        return True

    def release(self) -> None:
        self._sem.release()  # hands the lock to the first waiter, if any


class _TrioFlavour:
    """The runner's framework primitives for trio (and anyio on trio); APSW's Trio controller."""

    __slots__ = ("token", "trio")

    def __init__(self, trio: Any) -> None:
        self.trio = trio
        self.token = trio.lowlevel.current_trio_token()

    def lock(self) -> _Lock:
        return _TrioLock(self.trio)

    async def sleep0(self) -> None:
        await self.trio.sleep(0)

    def controller(self) -> Any:
        flavour = self

        class Controller(apsw.aio.Trio):
            def __init__(self) -> None:  # a daemon worker, like _Controller
                # apsw.aio.Trio.__init__ makes trio one of its module's globals (send()
                # uses it); this __init__ replaces that one, so it does the same.
                vars(apsw.aio).setdefault("trio", flavour.trio)
                self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
                self.token = flavour.token
                threading.Thread(
                    name="convstore apsw worker", target=self.worker_thread_run, daemon=True
                ).start()

        return Controller()

    def release_from_thread(self, lock: _Lock) -> None:
        self.token.run_sync_soon(lock.release)

    def spawn(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.trio.lowlevel.spawn_system_task(fn)


_Flavour = _AsyncIOFlavour | _TrioFlavour


def _flavour() -> _Flavour:
    """The running framework: trio when a trio run is active (also under anyio), else asyncio."""
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
        else:
            return _TrioFlavour(trio)
    try:
        return _AsyncIOFlavour()
    except RuntimeError:
        raise StoreError(
            "convstore.aio needs a running asyncio or trio event loop (await it inside one)"
        ) from None


class _Job:
    """One call handed to the worker; the hand-over of the store lock on cancellation."""

    __slots__ = ("cancelled", "deadline", "interrupted", "mu", "release_when_done", "state")

    def __init__(self) -> None:
        self.mu = threading.Lock()
        self.state = "pending"  # -> running -> done, or pending -> abandoned
        self.cancelled = False
        self.interrupted = False
        self.release_when_done = False
        self.deadline = 0.0


class _Runner:
    """Runs sync calls of one connection for the event loop: inline when they cannot wait."""

    __slots__ = (
        "_checkpoint_due",
        "_checkpointing",
        "_closed",
        "_committed",
        "_conn",
        "_ctl",
        "_deadline",
        "_fw",
        "_inline",
        "_job",
        "_lock",
        "_overran",
        "_resume_by",
        "_timeout",
        "budget",
    )

    def __init__(
        self, conn: apsw.Connection, timeout: float, budget: float, checkpoints: bool = True
    ) -> None:
        self._conn = conn
        self._timeout = timeout
        self.budget = budget
        self._ctl: Any = None  # APSW's controller for the running framework, on first hop
        self._fw: _Flavour | None = None
        self._lock: _Lock | None = None
        self._inline = False
        self._overran = False
        self._deadline = 0.0
        self._job: _Job | None = None
        self._closed = False
        self._resume_by = 0.0
        self._committed = False
        self._checkpoint_due = False
        self._checkpointing = False
        conn.set_busy_timeout(0)
        if checkpoints:  # else the store's own background checkpointer keeps them off the loop
            conn.set_wal_hook(self._wal_hook)
        conn.set_commit_hook(self._commit_hook)
        conn.set_progress_handler(self._progress, 1000, id=self)

    def _progress(self) -> bool:
        """SQLite's progress handler: interrupt an overrunning inline call or a cancelled job."""
        if self._inline:
            if not self._overran and not self._committed and time.perf_counter() > self._deadline:
                self._overran = True  # once: the rollback that follows must run
                return True
            return False
        job = self._job
        if job is not None and job.cancelled and not job.interrupted:
            job.interrupted = True
            return True
        return False

    async def run(self, call: Callable[[], R], mode: Mode) -> R:
        """Run ``call`` alone on the connection: inline if it cannot wait, else on the worker."""
        lock = self._lock
        if lock is None:
            fw = self._fw = _flavour()
            lock = self._lock = fw.lock()
        if lock.locked():
            await lock.acquire()  # woken in a later loop iteration: a fresh window
            now = time.perf_counter()
            self._resume_by = now + YIELD_EVERY
        else:
            await lock.acquire()  # immediate
            now = time.perf_counter()
            if now > self._resume_by:
                # Inline calls complete without suspending, so tasks calling in
                # a loop would never let the event loop run: once this store
                # has used YIELD_EVERY of a loop iteration, the next call waits
                # for the next iteration (holding the lock: the others queue).
                try:
                    await self._framework().sleep0()
                except BaseException:
                    lock.release()
                    raise
                now = time.perf_counter()
                self._resume_by = now + YIELD_EVERY
        if mode == INLINE or self._closed:
            self._overran = self._committed = False
            self._deadline = now + self.budget
            self._inline = True
            try:
                result = call()
            except BaseException as exc:
                self._inline = False
                self._settle()
                retry = (
                    not self._closed
                    and not self._committed
                    and (
                        isinstance(exc, StoreBusy)
                        or (self._overran and isinstance(exc, StoreError))
                    )
                )
                if not retry:
                    lock.release()
                    raise
            else:
                self._inline = False
                lock.release()
                if self._checkpoint_due:
                    self._schedule_checkpoint()
                return result
        return await self._hop(call, lock)

    def _settle(self) -> None:
        """After a failed call: no transaction may outlive it (an interrupt can land
        right after ``BEGIN`` took effect)."""
        with contextlib.suppress(apsw.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def _commit_hook(self) -> bool:
        """Once an inline call has committed, it is never interrupted (nor retried)."""
        self._committed = True
        return False

    def _wal_hook(self, conn: apsw.Connection, name: str, pages: int) -> int:
        """Replaces auto-checkpointing: a checkpoint (an fsync) must not run on the loop."""
        if pages >= CHECKPOINT_PAGES:
            self._checkpoint_due = True
        return apsw.SQLITE_OK

    def _schedule_checkpoint(self) -> None:
        self._checkpoint_due = False
        if not self._checkpointing:
            self._checkpointing = True
            self._framework().spawn(self._checkpoint)

    async def _checkpoint(self) -> None:
        """A passive checkpoint on the worker (it never waits for readers or writers)."""
        try:
            await self.run(
                lambda: self._conn.wal_checkpoint(mode=apsw.SQLITE_CHECKPOINT_PASSIVE), WORKER
            )
        except (StoreError, apsw.Error):
            pass  # the next commit past the threshold tries again
        finally:
            self._checkpointing = False

    def _framework(self) -> _Flavour:
        assert self._fw is not None  # set with the lock, before any call runs
        return self._fw

    async def _hop(self, call: Callable[[], R], lock: _Lock) -> R:
        """Run ``call`` on the worker; the caller holds ``lock``, released here exactly once."""
        job = _Job()
        try:
            ctl = self._ctl
            if ctl is None:
                ctl = self._ctl = self._framework().controller()
            result = await ctl.send(lambda: self._work(job, call, lock))
        except BaseException:
            with job.mu:
                if job.state == "running":  # cancelled mid-call: interrupt, hand over the lock
                    job.cancelled = True
                    job.release_when_done = True
                    return_lock = False
                else:
                    if job.state == "pending":
                        job.state = "abandoned"
                    return_lock = True
            if return_lock:
                lock.release()
            raise
        lock.release()
        if self._checkpoint_due:
            self._schedule_checkpoint()
        return cast("R", result)

    def _work(self, job: _Job, call: Callable[[], R], lock: _Lock) -> R | None:
        """In the worker thread: run the call with a cancellable busy wait of ``timeout``."""
        with job.mu:
            if job.state == "abandoned":
                return None
            job.state = "running"
        conn = self._conn
        job.deadline = time.monotonic() + self._timeout

        def busy(prior_calls: int) -> bool:
            left = job.deadline - time.monotonic()
            if job.cancelled or left <= 0:
                return False
            time.sleep(min(0.001 * (1 + prior_calls), 0.02, left))
            return not job.cancelled  # a cancelled call never takes the lock

        self._job = job
        try:
            if not self._closed:
                conn.set_busy_handler(busy)
            return call()
        except BaseException:
            if not self._closed:
                self._settle()
            raise
        finally:
            self._job = None
            if not self._closed:
                with contextlib.suppress(apsw.Error):  # closed by this very call
                    conn.set_busy_timeout(0)
            with job.mu:
                job.state = "done"
                release = job.release_when_done
            if release:
                self._framework().release_from_thread(lock)

    async def iterate(self, make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Drive a sync generator on the worker, ``ITER_BATCH`` items per hop (locked per hop)."""
        it = await self.run(make, WORKER)

        def batch() -> list[T]:
            out: list[T] = []
            for item in it:
                out.append(item)
                if len(out) >= ITER_BATCH:
                    break
            return out

        while True:
            items = await self.run(batch, WORKER)
            for item in items:
                yield item
            if len(items) < ITER_BATCH:
                return

    async def close(self, close: Callable[[], None]) -> None:
        """Run ``close`` on the worker, then stop the worker thread."""
        if self._closed:
            await self.run(close, INLINE)
            return
        try:
            await self.run(close, WORKER)
        finally:
            self._closed = True
            if self._ctl is not None:
                self._ctl.close()
                self._ctl = None


# -- twins: generated with the sync method's exact parameters -------------------------------


def _generate(
    fn: Callable[..., Any], body: str, *, is_async_gen: bool = False
) -> Callable[..., Any]:
    """Build ``async def <fn's name>(<fn's parameters>): <body>``; ``body`` sees ``_call``.

    The parameters (names, kinds, defaults) and annotations are copied from
    ``fn``, so ``inspect.signature`` of the twin equals the sync method's and a
    wrong call fails exactly as it would on the sync class. ``_call`` is
    ``_fn(self._sync, ...)``, ``_fn`` a global of the twin (:func:`_copy_for`
    gives a copy another one).
    """
    sig = inspect.signature(fn)
    namespace: dict[str, Any] = {"_fn": fn}
    params: list[str] = []
    args: list[str] = []
    star = False
    for i, p in enumerate(sig.parameters.values()):
        text = p.name
        if p.kind is p.VAR_POSITIONAL:
            text, star = "*" + p.name, True
            args.append(text)
        elif p.kind is p.VAR_KEYWORD:
            text = "**" + p.name
            args.append(text)
        elif p.kind is p.KEYWORD_ONLY:
            if not star:
                params.append("*")
                star = True
            args.append(f"{p.name}={p.name}")
        elif p.kind is p.POSITIONAL_ONLY:
            args.append(p.name)
        else:
            args.append(p.name)
        if p.default is not p.empty:
            namespace[f"_d{i}"] = p.default
            text += f"=_d{i}"
        params.append(text)
        if p.kind is p.POSITIONAL_ONLY and (
            i + 1 == len(sig.parameters)
            or list(sig.parameters.values())[i + 1].kind is not p.POSITIONAL_ONLY
        ):
            params.append("/")
    # The first parameter is the instance: ``self`` in a method, ``store`` in a
    # history-tool function that SessionStore offers as a method.
    if not args or next(iter(sig.parameters.values())).kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"{fn.__qualname__}: the first parameter must be the instance")
    params[0] = "self"
    name = fn.__name__
    call = f"lambda: _fn({', '.join(['self._sync', *args[1:]])})"
    src = f"async def {name}({', '.join(params)}):\n    _call = {call}\n    {body}\n"
    exec(compile(src, f"<convstore.aio twin of {fn.__qualname__}>", "exec"), namespace)
    twin = namespace[name]
    twin.__annotations__ = dict(fn.__annotations__)
    _document(twin, fn)
    assert inspect.isasyncgenfunction(twin) == is_async_gen
    return cast("Callable[..., Any]", twin)


def _document(twin: types.FunctionType, fn: Callable[..., Any]) -> None:
    """Name and document ``twin`` as the awaitable ``fn`` (what ``help()`` shows)."""
    twin.__doc__ = f"Awaitable :meth:`{fn.__qualname__}` (same arguments, result and errors)."
    twin.__qualname__ = fn.__qualname__
    twin.__module__ = __name__


def _twin(
    fn: Callable[Concatenate[Any, P], R], mode: Mode = INLINE
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
    """The coroutine twin of a sync method: ``await twin(...)`` == ``fn(sync, ...)``."""
    return _generate(fn, f"return await self._runner.run(_call, {mode!r})")


def _agen_twin(
    fn: Callable[Concatenate[Any, P], Iterator[T]],
) -> Callable[Concatenate[Any, P], AsyncIterator[T]]:
    """The async-generator twin of a sync method returning an iterator."""
    return _generate(
        fn,
        "async for _item in self._runner.iterate(_call):\n        yield _item",
        is_async_gen=True,
    )


if TYPE_CHECKING:

    class _Same(Generic[T]):
        """What :func:`_Same` gives the type checker: the sync property's type."""

        def __init__(self, prop: Callable[[Any], T], via: str = "_sync") -> None: ...
        @overload
        def __get__(self, obj: None, owner: type | None = None) -> _Same[T]: ...
        @overload
        def __get__(self, obj: object, owner: type | None = None) -> T: ...
        def __get__(self, obj: object, owner: type | None = None) -> Any: ...

else:
    from operator import attrgetter

    def _Same(prop, via="_sync"):
        """A read-only property of an async twin: the wrapped sync object's property of the
        same name (``self._sync.path``; ``via="_core"`` for the manager), with its docstring."""
        return property(attrgetter(f"{via}.{prop.fget.__name__}"), doc=prop.__doc__)


class _Opener(Protocol[P]):
    """What :func:`_open_twin` gives the type checker: ``await Cls.open(*init_args) -> Cls``."""

    def __get__(self, obj: object, owner: type[T]) -> Callable[P, Coroutine[Any, Any, T]]: ...


def _open_twin(init: Callable[Concatenate[Any, P], None], cls_name: str) -> _Opener[P]:
    """``open`` classmethod with ``init``'s parameters (after the first) as its own."""
    sig = inspect.signature(init)
    params = list(sig.parameters.values())
    new = sig.replace(parameters=[params[0].replace(name="cls"), *params[1:]])
    names = ", ".join(
        f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else p.name for p in params[1:]
    )
    text, ns = parameter_source(params[1:])
    src = f"async def open(cls, {text}):\n    return await cls._open({names})\n"
    exec(compile(src, f"<convstore.aio {cls_name}.open>", "exec"), ns)
    opener = ns["open"]
    opener.__annotations__ = {**dict(init.__annotations__), "return": cls_name}
    opener.__qualname__ = f"{cls_name}.open"
    opener.__module__ = __name__
    opener.__doc__ = (
        f"Open on the worker thread (migrations may wait for a lock); same arguments as "
        f"the sync class. ``{cls_name}.open(...)`` must be awaited inside the loop that uses it."
    )
    assert new.parameters.keys() == inspect.signature(opener).parameters.keys()
    return classmethod(opener)


# -- the twins the async store and services share -------------------------------------------


def _copy_for(twin: types.FunctionType, sync_cls: type) -> types.FunctionType:
    """``twin`` running and documented as ``sync_cls``'s method of its name.

    The same code, with that method as its ``_fn``: looked up once here, so a
    call costs what a twin built from that method costs.
    """
    fn = getattr(sync_cls, twin.__name__)
    copy = types.FunctionType(
        twin.__code__,
        {**twin.__globals__, "_fn": fn},
        twin.__name__,
        twin.__defaults__,
        twin.__closure__,
    )
    copy.__kwdefaults__ = twin.__kwdefaults__
    copy.__annotations__ = dict(twin.__annotations__)
    _document(copy, fn)
    return copy


class _Twins(AsyncClosing):
    """The twins of the methods the SQLite store and both services share, written once.

    :class:`~convstore.SessionService` and :class:`~convstore.LifecycleService`
    take their signatures from :class:`~convstore.SessionStore`, and
    :class:`~convstore.LocalSessionService` and the PostgreSQL service have
    them as they are; so each twin is written here once, built from the
    store's method. A class that names its sync class in ``_twin_of`` gets its
    own copy of each (:func:`_copy_for`), which runs that class's method of the
    same name on ``self._sync`` through ``self._runner`` (the SQLite classes'
    worker-thread runner, or the PostgreSQL service's greenlet one, which
    ignores the mode) and whose docstring names that method; the class lists
    only the twins of its other methods. ``tests/test_aio.py`` and
    ``tests/test_postgres_aio.py`` check the parameters against each sync class.
    """

    __slots__ = ()

    #: The sync class a concrete subclass wraps (``self._sync``).
    _twin_of: ClassVar[type]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        sync_cls = vars(cls).get("_twin_of")
        if sync_cls is None:
            return  # one more layer of shared twins
        for layer in cls.__mro__[1:]:
            if issubclass(layer, _Twins) and "_twin_of" not in vars(layer):
                for name, twin in vars(layer).items():
                    if inspect.iscoroutinefunction(twin) and name not in vars(cls):
                        setattr(cls, name, _copy_for(twin, sync_cls))

    create_session = _twin(SessionStore.create_session)
    get_session = _twin(SessionStore.get_session)
    find_resumable_session = _twin(SessionStore.find_resumable_session)
    append_event = _twin(SessionStore.append_event)
    append_event_at_head = _twin(SessionStore.append_event_at_head)
    get_event = _twin(SessionStore.get_event)
    load_events = _twin(SessionStore.load_events)
    history = _twin(SessionStore.history)
    set_head = _twin(SessionStore.set_head)
    archive_session = _twin(SessionStore.archive_session)
    update_server_session_id = _twin(SessionStore.update_server_session_id)
    set_metadata = _twin(SessionStore.set_metadata)
    get_metadata = _twin(SessionStore.get_metadata)
    get_all_metadata = _twin(SessionStore.get_all_metadata)
    list_sessions = _twin(SessionStore.list_sessions)
    # The conversation lifecycle (SPEC §9, issue 18).
    compact = _twin(SessionStore.compact)
    record_usage = _twin(SessionStore.record_usage)
    usage = _twin(SessionStore.usage, WORKER)
    apply_retention = _twin(SessionStore.apply_retention, WORKER)


class _ExtendedTwins(_Twins):
    """:class:`_Twins` and those of :class:`~convstore.ExtendedSessionService`'s methods
    (what the framework integrations use; each one short transaction, or one read),
    shared by the local and the PostgreSQL service, built from the local one's."""

    __slots__ = ()

    put_blobs = _twin(LocalSessionService.put_blobs)
    get_blob = _twin(LocalSessionService.get_blob)
    latest_blob = _twin(LocalSessionService.latest_blob)
    get_blob_with_children = _twin(LocalSessionService.get_blob_with_children)
    list_blobs = _twin(LocalSessionService.list_blobs)
    delete_blobs = _twin(LocalSessionService.delete_blobs)
    delete_session = _twin(LocalSessionService.delete_session)
    clear_head = _twin(LocalSessionService.clear_head)
    append_events_at_head = _twin(LocalSessionService.append_events_at_head)
    history_tail = _twin(LocalSessionService.history_tail)
    history_tail_values = _twin(LocalSessionService.history_tail_values)
    pop_head = _twin(LocalSessionService.pop_head)
    append_event_with_metadata = _twin(LocalSessionService.append_event_with_metadata)
    create_session_with_metadata = _twin(LocalSessionService.create_session_with_metadata)
    archive_session_with_metadata = _twin(LocalSessionService.archive_session_with_metadata)
    get_session_with_tail = _twin(LocalSessionService.get_session_with_tail)
    set_metadata_if = _twin(LocalSessionService.set_metadata_if)


# -- the store ------------------------------------------------------------------------------


class AsyncSessionStore(_Twins):
    """:class:`~convstore.SessionStore` for an event loop. Open with :meth:`open`.

    ``AsyncSessionStore(store)`` wraps an open sync store and takes it over
    (``aclose()`` closes it; don't use the sync store directly meanwhile).
    ``inline_budget`` (seconds) bounds how long a call may run on the loop
    thread before it is moved to the worker.
    """

    __slots__ = ("_runner", "_sync")
    _twin_of = SessionStore

    def __init__(self, store: SessionStore, *, inline_budget: float = 0.001) -> None:
        if not isinstance(store, SessionStore):
            raise StoreError(f"AsyncSessionStore wraps a SessionStore, got {type(store).__name__}")
        self._sync = store
        self._runner = _Runner(
            store.connection,
            store.timeout,
            inline_budget,
            checkpoints=not store.checkpoints_in_background,
        )

    @classmethod
    async def _open(cls, *args: Any, **kwargs: Any) -> AsyncSessionStore:
        def make() -> SessionStore:
            store = SessionStore(*args, **kwargs)
            try:  # the sync open reads this lazily: here, so that the property never reads
                store.indexes_search  # noqa: B018 - on the loop thread
            except BaseException:
                store.close()
                raise
            return store

        ctl = _flavour().controller()
        try:
            store = cast(SessionStore, await ctl.send(make))
        finally:
            ctl.close()
        return cls(store)

    open = _open_twin(SessionStore.__init__, "AsyncSessionStore")

    path = _Same(SessionStore.path)
    timeout = _Same(SessionStore.timeout)
    connection = _Same(SessionStore.connection)
    indexes_search = _Same(SessionStore.indexes_search)

    def translate_error(self, exc: BaseException, doing: str) -> BaseException:
        """See :meth:`SessionStore.translate_error` (pure, no I/O: not a coroutine)."""
        return self._sync.translate_error(exc, doing)

    async def run_sync(self, fn: Callable[[SessionStore], R]) -> R:
        """Run ``fn(sync_store)`` on the worker thread, alone on the connection.

        The async stand-in for :meth:`SessionStore.atomic` and for anything
        else composed of sync calls: ``fn`` may open ``store.atomic(...)``,
        run several statements, and no other task's call interleaves.
        """
        return await self._runner.run(lambda: fn(self._sync), WORKER)

    @property
    def sync(self) -> SessionStore:
        """The wrapped sync store (for code that runs off the loop, e.g. in a worker thread)."""
        return self._sync

    async def aclose(self) -> None:
        """Close the store (on the worker thread) and stop its worker. Idempotent."""
        await self._runner.close(self._sync.close)

    def __repr__(self) -> str:
        return f"AsyncSessionStore({self._sync.path!r})"

    # _Twins has the methods the services share; these are the store's own.
    append_events = _twin(SessionStore.append_events, WORKER)
    import_session = _twin(SessionStore.import_session, WORKER)
    search = _twin(SessionStore.search, WORKER)
    index_pending = _twin(SessionStore.index_pending, WORKER)
    search_fields = _twin(SessionStore.search_fields)
    search_indexing = _twin(SessionStore.search_indexing)
    set_search_indexing = _twin(SessionStore.set_search_indexing, WORKER)
    configure_search = _twin(SessionStore.configure_search, WORKER)
    export_jsonl = _agen_twin(SessionStore.export_jsonl)
    import_jsonl = _twin(SessionStore.import_jsonl, WORKER)
    purge = _twin(SessionStore.purge, WORKER)


# -- the service ----------------------------------------------------------------------------


class AsyncLocalSessionService(_ExtendedTwins):
    """:class:`~convstore.LocalSessionService` for an event loop.

    ``AsyncLocalSessionService(store)`` serves an open :class:`AsyncSessionStore`
    (the caller keeps it: ``aclose()`` leaves it open);
    ``await AsyncLocalSessionService.open(path, ...)`` opens and owns one.
    """

    __slots__ = ("_owns", "_runner", "_sync", "store")
    _twin_of = LocalSessionService

    def __init__(self, store: AsyncSessionStore) -> None:
        if not isinstance(store, AsyncSessionStore):
            raise StoreError(
                f"AsyncLocalSessionService serves an AsyncSessionStore, got {type(store).__name__}"
                " (use `await AsyncLocalSessionService.open(path)` to open one)"
            )
        self.store = store
        self._runner = store._runner
        self._sync = LocalSessionService(store.sync)
        self._owns = False

    @classmethod
    async def open(
        cls, path: Any, *, timeout: float = 5.0, clock: Clock | None = None
    ) -> AsyncLocalSessionService:
        """Open the store at ``path`` (on the worker thread) and own it."""
        store = await AsyncSessionStore._open(path, timeout=timeout, clock=clock)
        service = cls(store)
        service._owns = True
        return service

    async def aclose(self) -> None:
        """Close the store if this service opened it."""
        if self._owns:
            await self.store.aclose()

    # _ExtendedTwins has the rest (shared with the PostgreSQL service).
    search = _twin(LocalSessionService.search, WORKER)


# -- the manager ----------------------------------------------------------------------------


class AsyncSessionService:
    """What :class:`AsyncSessionManager` needs: the :class:`SessionService` methods, awaitable.

    Documentation only (duck-typed): :class:`AsyncLocalSessionService` and
    ``convstore.postgres.AsyncPostgresSessionService`` provide it.
    """

    async def find_resumable_session(
        self, directory: str | None, git_root: str | None, max_age_secs: int
    ) -> StoredSession | None:
        """Newest live session for the directory or git root, active within the window."""
        raise NotImplementedError

    async def get_event(self, session_id: str, event_id: str) -> StoredEvent | None:
        """One event of the session, or ``None``."""
        raise NotImplementedError

    async def create_session(
        self, id: str, directory: str | None = None, git_root: str | None = None
    ) -> StoredSession:
        """Create an empty session."""
        raise NotImplementedError

    async def append_event_at_head(
        self, session_id: str, event_id: str, invocation_id: str, event_type: str, event_data: str
    ) -> StoredEvent:
        """Append with the head (read inside the write) as parent."""
        raise NotImplementedError

    async def archive_session(self, session_id: str) -> None:
        """Archive: never resumed, no more appends."""
        raise NotImplementedError

    async def history(self, session_id: str) -> list[StoredEvent]:
        """The chain from the head back to the root, oldest first."""
        raise NotImplementedError

    async def set_head(self, session_id: str, event_id: str) -> None:
        """Move the head to one of the session's events."""
        raise NotImplementedError


class _ManagerOptions(TypedDict, total=False):
    """:class:`~convstore.SessionManager`'s options (documented there), for the type
    checker: what :class:`AsyncSessionManager` forwards to it. ``tests/test_aio.py``
    checks that they are the sync constructor's keyword parameters."""

    cwd: Required[str | os.PathLike[str]]
    session_continue_minutes: float
    clock: Clock | None


def _signature_of(init: Callable[..., None]) -> Callable[[_F], _F]:
    """Show ``init``'s parameters (the service's type aside) in ``help()`` of the
    ``__init__(self, service, **options)`` that forwards them."""

    def shown(stub: _F) -> _F:
        sig = inspect.signature(init)
        own, service, *options = sig.parameters.values()
        stub.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[own, service.replace(annotation="Any"), *options]
        )
        return stub

    return shown


class AsyncSessionManager:
    """:class:`~convstore.SessionManager` for an event loop, on any async service.

    Same constructor, attributes (``session_id``, ``invocation_id``,
    ``directory``, ``git_root``, ``service``) and behaviour; the methods are
    coroutines. Each is one or two service calls, so an append costs one
    awaited store append.
    """

    __slots__ = ("_core", "_service")

    @_signature_of(SessionManager.__init__)
    def __init__(self, service: Any, **options: Unpack[_ManagerOptions]) -> None:
        # The sync manager validates the arguments and holds the state; only
        # the service calls differ, and those are awaited here.
        self._core = SessionManager(cast("SessionService", service), **options)
        self._service = service

    @property
    def service(self) -> Any:
        """The async backend this manager drives."""
        return self._service

    directory = _Same(SessionManager.directory, via="_core")
    git_root = _Same(SessionManager.git_root, via="_core")
    invocation_id = _Same(SessionManager.invocation_id, via="_core")
    session_id = _Same(SessionManager.session_id, via="_core")

    async def start(self) -> bool:
        """See :meth:`SessionManager.start`: ``True`` when resumed (one boundary event)."""
        core = self._core
        if core._continue_secs > 0:
            found = await self._service.find_resumable_session(
                core._directory, core._git_root, core._continue_secs
            )
            if found is not None:
                core._session_id = found.id
                previous = (
                    await self._service.get_event(found.id, found.head_id)
                    if found.head_id is not None
                    else None
                )
                boundary = {
                    "previous_invocation_id": previous.invocation_id if previous else None,
                    "invocation_id": core._invocation_id,
                    "gap_secs": max(0, int(core._clock()) - found.updated_at),
                }
                await self._append(BOUNDARY_EVENT_TYPE, boundary)
                return True
        await self._create()
        return False

    async def _create(self) -> None:
        from .ids import new_id

        core = self._core
        session = await self._service.create_session(new_id(), core._directory, core._git_root)
        core._session_id = session.id

    async def _append(self, event_type: str, data: Any) -> StoredEvent:
        from .ids import new_id

        if isinstance(data, str):
            text = data
        else:
            import json

            try:
                text = json.dumps(data, ensure_ascii=False)
            except (TypeError, ValueError, RecursionError) as exc:
                raise InvalidEvent(
                    f"{event_type!r} event data is not JSON-serialisable: {exc}"
                ) from None
        core = self._core
        return cast(
            "StoredEvent",
            await self._service.append_event_at_head(
                core.session_id, new_id(), core._invocation_id, event_type, text
            ),
        )

    async def append(self, event_type: str, data: Any) -> str:
        """See :meth:`SessionManager.append`: the new event's id (parent: the head)."""
        return (await self._append(event_type, data)).id

    async def new_session(self) -> None:
        """See :meth:`SessionManager.new_session`: archive this session, start anew."""
        await self._service.archive_session(self.session_id)
        await self._create()

    async def history(self) -> list[StoredEvent]:
        """See :meth:`SessionManager.history`: the current branch, oldest first."""
        return cast("list[StoredEvent]", await self._service.history(self.session_id))

    async def fork(self, event_id: str) -> None:
        """See :meth:`SessionManager.fork`: move the head back to ``event_id``."""
        await self._service.set_head(self.session_id, event_id)

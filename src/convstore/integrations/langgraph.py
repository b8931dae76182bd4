"""LangGraph: ``ConvstoreSaver``, a ``BaseCheckpointSaver`` on convstore.

>>> from convstore.integrations.langgraph import ConvstoreSaver
>>> with ConvstoreSaver.from_path(":memory:") as saver:
...     config = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
...     from langgraph.checkpoint.base import empty_checkpoint
...     saved = saver.put(config, empty_checkpoint(), {"step": -1}, {})
...     saver.get_tuple(saved).metadata["step"]
-1

How LangGraph's ids map onto convstore (inspect them with the ``convstore`` CLI):

- a thread ``T`` is the convstore session ``langgraph:T`` (created by the
  first ``put``; ``delete_thread`` deletes that session and everything in it);
- a checkpoint is a blob (``convstore.sqlite.blobs``, table ``session_blobs``) in
  namespace ``langgraph.checkpoint:<checkpoint_ns>`` under its checkpoint
  id, the serialised checkpoint as raw bytes, its parent id, serde type and
  metadata in the blob's JSON ``meta``;
- a pending write is a blob in ``langgraph.writes:<checkpoint_ns>`` keyed
  ``<checkpoint_id>\\t<task_id>\\t<idx>``, the value as raw bytes.

One implementation serves both halves: each method is written once as a
coroutine that awaits the backend only when the backend is async; the sync
methods drive it to completion directly (so with a sync backend, the common
case, they never touch an event loop), and refuse an async backend that
would have to wait. The same results as ``SqliteSaver``; the
``langgraph-checkpoint-conformance`` suite runs against it in CI.
"""

from __future__ import annotations

import inspect
import json
import random
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)

from ..errors import DuplicateId, InvalidArgument, SessionNotFound
from ._common import acall

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.serde.base import SerializerProtocol

__all__ = ["THREAD_PREFIX", "ConvstoreSaver"]

THREAD_PREFIX = "langgraph:"
"""A thread ``T`` is stored as the convstore session ``langgraph:T``."""

_CKPT = "langgraph.checkpoint:"
_WRITES = "langgraph.writes:"
_ATTEMPTS = 8
"""How often a put recreates its thread's session deleted under it by a concurrent delete."""
_T = TypeVar("_T")
_P = ParamSpec("_P")


def _drive(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine that never waits (a sync backend) to its result, without a loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise InvalidArgument(
        "ConvstoreSaver: this backend is async; use the async methods (aput, aget_tuple, …)"
    )


def _driven(
    method: Callable[Concatenate[Any, _P], Coroutine[Any, Any, _T]], doc: str
) -> Callable[Concatenate[Any, _P], _T]:
    """The sync twin of an async method: the same coroutine, run by :func:`_drive`."""

    def sync(self: Any, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        return _drive(method(self, *args, **kwargs))

    name = method.__name__[1:]  # aput -> put
    sync.__name__ = name
    sync.__qualname__ = method.__qualname__.rsplit(".", 1)[0] + "." + name
    sync.__doc__ = doc
    sync.__wrapped__ = method  # type: ignore[attr-defined]  # inspect.signature: its parameters
    return sync


_FAST_LOADS: Callable[[str], Any] | None
try:  # langsmith (a dependency of langchain-core) installs orjson; the stdlib parser otherwise
    from orjson import loads as _FAST_LOADS
except ImportError:  # pragma: no cover - orjson is there wherever langgraph is
    _FAST_LOADS = None
_LONG_DIGITS = re.compile(r"[0-9]{19}").search


def _loads(text: str) -> Any:
    """``json.loads(text)``, by orjson when it can (a few microseconds off every ``get_tuple``).

    The result is always the stdlib's: what orjson refuses (``NaN``,
    ``Infinity``, lone surrogates) falls back to :func:`json.loads`, and so
    does any text with a run of 19 digits, since orjson reads an integer past
    64 bits as a float where :mod:`json` keeps it exact.
    """
    if _FAST_LOADS is not None and _LONG_DIGITS(text) is None:
        try:
            return _FAST_LOADS(text)
        except ValueError:  # orjson.JSONDecodeError
            pass
    return json.loads(text)


_WRITE_META: dict[str, dict[str, Any]] = {}


def _write_meta(text: str) -> dict[str, Any]:
    """A pending write's parsed ``meta``, remembered by its text (read-only here).

    The same few texts come back on every ``get_tuple`` of a thread (task id,
    channel, index, serde type), so parsing each once saves a JSON parse per
    write per read. Bounded: forgotten wholesale past 4096 texts.
    """
    meta = _WRITE_META.get(text)
    if meta is None:
        if len(_WRITE_META) >= 4096:
            _WRITE_META.clear()
        meta = _WRITE_META[text] = _loads(text)
    return meta


def _thread_config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


class ConvstoreSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer stored in a convstore database.

    ``ConvstoreSaver(store)`` takes an open :class:`~convstore.SessionStore`
    (the caller keeps it) or any :class:`~convstore.service.ExtendedSessionService`,
    sync or async (the team server); :meth:`from_path` opens a file and closes
    it on exit. Sessions already in the file are left alone.
    """

    def __init__(self, store: Any, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        from ..local import LocalSessionService
        from ..sqlite.store import SessionStore

        if isinstance(store, SessionStore):
            store = LocalSessionService(store)
        if not hasattr(store, "put_blobs"):
            raise InvalidArgument(
                "ConvstoreSaver needs a SessionStore or an ExtendedSessionService "
                f"(blobs), got {type(store).__name__}"
            )
        self.service = store
        self._owned: Any = None
        # A sync backend's read, bound once: get_tuple calls it directly.
        read = store.get_blob_with_children
        self._read: Any = None if inspect.iscoroutinefunction(read) else read

    @classmethod
    @contextmanager
    def from_path(
        cls, path: Any, *, serde: SerializerProtocol | None = None
    ) -> Iterator[ConvstoreSaver]:
        """Open (creating if missing) the database at ``path`` for the ``with`` block."""
        from ..local import LocalSessionService

        service = LocalSessionService(path)
        try:
            saver = cls(service, serde=serde)
            saver._owned = service
            yield saver
        finally:
            service.close()

    # -- the shared implementation (coroutines) -------------------------------------

    async def _put_blobs(
        self, session: str, namespace: str, rows: Sequence[tuple[str, str, bytes]], *, replace: bool
    ) -> None:
        # The thread's session is created by its first put. A concurrent
        # delete_thread may remove it again between that create and the put
        # (and again, once per concurrent delete): then create it anew, as a
        # put after the delete would, rather than fail with SessionNotFound.
        for _ in range(_ATTEMPTS - 1):
            try:
                await acall(self.service, "put_blobs", session, namespace, rows, replace=replace)
                return
            except SessionNotFound:
                with suppress(DuplicateId):  # another writer created it first
                    await acall(self.service, "create_session", session)
        await acall(self.service, "put_blobs", session, namespace, rows, replace=replace)

    async def _writes_of(
        self, session: str, ns: str, checkpoint_id: str
    ) -> list[tuple[str, str, Any]]:
        blobs = await acall(
            self.service, "list_blobs", session, _WRITES + ns, f"{checkpoint_id}\t", exact=True
        )
        return self._decode_writes(blobs)

    def _decode_writes(self, blobs: Sequence[Any]) -> list[tuple[str, str, Any]]:
        if not blobs:
            return []
        rows = [(_write_meta(blob.meta), blob.data) for blob in blobs]
        if len(rows) > 1:
            rows.sort(
                key=lambda r: writes_sort_key(r[0]["task_path"], r[0]["task_id"], r[0]["idx"])
            )
        loads = self.serde.loads_typed
        return [
            (meta["task_id"], meta["channel"], loads((meta["type"], data))) for meta, data in rows
        ]

    def _make_tuple(
        self, thread_id: str, blob: Any, writes: list[tuple[str, str, Any]]
    ) -> CheckpointTuple:
        ns = blob.namespace[len(_CKPT) :]
        meta = _loads(blob.meta)
        parent = meta["parent"]
        return CheckpointTuple(
            _thread_config(thread_id, ns, blob.key),
            self.serde.loads_typed((meta["type"], blob.data)),
            meta["metadata"],
            _thread_config(thread_id, ns, parent) if parent else None,
            writes,
        )

    async def _tuple(self, thread_id: str, blob: Any) -> CheckpointTuple:
        ns = blob.namespace[len(_CKPT) :]
        writes = await self._writes_of(blob.session_id, ns, blob.key)
        return self._make_tuple(thread_id, blob, writes)

    @staticmethod
    def _get_args(config: RunnableConfig) -> tuple[str, tuple[str, str, str | None, str]]:
        """The thread id and the ``get_blob_with_children`` arguments for ``config``."""
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = configurable.get("checkpoint_ns", "")
        checkpoint_id = configurable.get("checkpoint_id") or get_checkpoint_id(config) or None
        return thread_id, (THREAD_PREFIX + thread_id, _CKPT + ns, checkpoint_id, _WRITES + ns)

    def _finish_get(self, thread_id: str, found: tuple[Any, list[Any]]) -> CheckpointTuple | None:
        blob, writes = found
        if blob is None:
            return None
        return self._make_tuple(thread_id, blob, self._decode_writes(writes))

    async def _get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id, args = self._get_args(config)
        found = await acall(self.service, "get_blob_with_children", *args)
        return self._finish_get(thread_id, found)

    async def _list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> list[CheckpointTuple]:
        ns: str | None = None
        checkpoint_id = None
        if (
            config is not None
            and config["configurable"].get("checkpoint_ns") is not None
            and not get_checkpoint_id(config)
            and not filter
            and (limit is None or limit > 0)
        ):
            # One thread and namespace, newest first: read only what is returned.
            ns = config["configurable"]["checkpoint_ns"]
            thread_id = str(config["configurable"]["thread_id"])
            newest = await acall(
                self.service,
                "list_blobs",
                THREAD_PREFIX + thread_id,
                _CKPT + ns,
                exact=True,
                newest_first=True,
                before_key=get_checkpoint_id(before) if before is not None else None,
                limit=limit,
            )
            return [await self._tuple(thread_id, blob) for blob in newest]
        if config is not None:
            blobs = await acall(
                self.service,
                "list_blobs",
                THREAD_PREFIX + str(config["configurable"]["thread_id"]),
                _CKPT,
            )
            ns = config["configurable"].get("checkpoint_ns")
            checkpoint_id = get_checkpoint_id(config)
        else:
            blobs = await acall(self.service, "list_blobs", None, _CKPT)
        before_id = get_checkpoint_id(before) if before is not None else None
        chosen = []
        for blob in blobs:
            if not blob.session_id.startswith(THREAD_PREFIX):
                continue
            if ns is not None and blob.namespace != _CKPT + ns:
                continue
            if checkpoint_id and blob.key != checkpoint_id:
                continue
            if before_id and blob.key >= before_id:
                continue
            if filter:
                metadata = _loads(blob.meta)["metadata"]
                if not all(metadata.get(k) == v for k, v in filter.items()):
                    continue
            chosen.append(blob)
        chosen.sort(key=lambda b: b.key, reverse=True)
        if limit is not None:
            chosen = chosen[: max(limit, 0)]
        return [await self._tuple(blob.session_id[len(THREAD_PREFIX) :], blob) for blob in chosen]

    async def _put(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata
    ) -> RunnableConfig:
        thread_id = str(config["configurable"]["thread_id"])
        ns = config["configurable"].get("checkpoint_ns", "")
        type_, data = self.serde.dumps_typed(checkpoint)
        meta = json.dumps(
            {
                "parent": config["configurable"].get("checkpoint_id"),
                "type": type_,
                "metadata": get_checkpoint_metadata(config, metadata),
            },
            ensure_ascii=False,
        )
        await self._put_blobs(
            THREAD_PREFIX + thread_id, _CKPT + ns, [(checkpoint["id"], meta, data)], replace=True
        )
        return _thread_config(thread_id, ns, checkpoint["id"])

    async def _put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        if not writes:
            return
        thread_id = str(config["configurable"]["thread_id"])
        ns = str(config["configurable"].get("checkpoint_ns", ""))
        checkpoint_id = str(config["configurable"]["checkpoint_id"])
        rows = []
        for idx, (channel, value) in enumerate(writes):
            index = WRITES_IDX_MAP.get(channel, idx)
            type_, data = self.serde.dumps_typed(value)
            meta = json.dumps(
                {
                    "task_id": task_id,
                    "task_path": task_path,
                    "idx": index,
                    "channel": channel,
                    "type": type_,
                },
                ensure_ascii=False,
            )
            rows.append((f"{checkpoint_id}\t{task_id}\t{index}", meta, data))
        replace = all(w[0] in WRITES_IDX_MAP for w in writes)
        await self._put_blobs(THREAD_PREFIX + thread_id, _WRITES + ns, rows, replace=replace)

    async def _delete_thread(self, thread_id: str) -> None:
        await acall(self.service, "delete_session", THREAD_PREFIX + str(thread_id))

    # -- sync methods -------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config`` (its ``checkpoint_id``), else the thread's latest."""
        read = self._read
        if read is None:  # an async backend: refused by _drive with a clear error
            return _drive(self._get_tuple(config))
        # The hot path, inlined (_get_args, _finish_get): one direct read.
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = configurable.get("checkpoint_ns", "")
        blob, writes = read(
            THREAD_PREFIX + thread_id,
            _CKPT + ns,
            configurable.get("checkpoint_id") or None,
            _WRITES + ns,
        )
        if blob is None:
            return None
        return self._make_tuple(thread_id, blob, self._decode_writes(writes) if writes else [])

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, filtered by thread/namespace/id, metadata and ``before``."""
        return iter(_drive(self._list(config, filter, before, limit)))

    # -- async methods ------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async :meth:`get_tuple`."""
        return await self._get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async :meth:`list`."""
        for item in await self._list(config, filter, before, limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint (as bytes) under its thread and namespace; return its config."""
        return await self._put(config, checkpoint, metadata)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for a checkpoint (as bytes), atomically."""
        await self._put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete the thread's session with every checkpoint and write, for good."""
        await self._delete_thread(thread_id)

    # -- the sync twins of the writes: the same coroutine, driven (a sync backend never waits)

    put = _driven(aput, "Store a checkpoint (as bytes) under its thread and namespace.")
    put_writes = _driven(aput_writes, "Store a task's pending writes (as bytes), atomically.")
    delete_thread = _driven(adelete_thread, "Delete the thread's session, for good.")

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Monotonic channel versions, in ``SqliteSaver``'s format."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    def close(self) -> None:
        """Close the database if :meth:`from_path` opened it."""
        if self._owned is not None:
            self._owned.close()
            self._owned = None

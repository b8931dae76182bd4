"""The framework adapters against a concurrent writer landing inside their read-then-write windows.

A hook service runs the concurrent call (a ``delete_thread``, a ``clear_session``)
exactly between two of the adapter's backend calls, so each race is replayed
deterministically on every backend instead of being hit by chance.
(``ConvstoreSession``'s clears are in ``tests/test_integration_openai_agents.py``.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.base", reason="the langgraph extra is missing")

from integration_backends import BACKENDS, run_with_service
from langgraph.checkpoint.base import empty_checkpoint

from convstore.integrations._common import acall
from convstore.integrations.langgraph import THREAD_PREFIX, ConvstoreSaver


class _Before:
    """A service that awaits ``racer(inner)`` just before the calls to ``method``
    after the first ``skip``, ``times`` times; every method passes through as
    a coroutine (whichever backend, sync or async, sits underneath)."""

    def __init__(
        self,
        inner: Any,
        method: str,
        racer: Callable[[Any], Awaitable[object]],
        *,
        times: int,
        skip: int = 0,
    ) -> None:
        self._inner = inner
        self._method = method
        self._racer = racer
        self._skip = skip
        self.times = times

    def __getattr__(self, name: str) -> Any:
        async def passthrough(*args: Any, **kwargs: Any) -> Any:
            if name == self._method:
                if self._skip:
                    self._skip -= 1
                elif self.times:
                    self.times -= 1
                    await self._racer(self._inner)
            return await acall(self._inner, name, *args, **kwargs)

        return passthrough


@pytest.mark.parametrize("deletes", [1, 3])
@pytest.mark.parametrize("backend", BACKENDS)
def test_langgraph_put_survives_deletes_between_create_and_put(
    backend: str, deletes: int, request: pytest.FixtureRequest
) -> None:
    """A ``delete_thread`` between the put's create of the thread and its put.

    The first put of a thread finds no session, creates it and puts again;
    a concurrent delete landing in between used to make ``aput`` fail with
    ``SessionNotFound``. The put must land as if it came after the delete.
    """

    async def main(service: Any) -> None:
        async def delete(inner: Any) -> object:
            return await ConvstoreSaver(inner).adelete_thread("t")

        # put_blobs #1 finds no thread; each later one gets a delete just before it.
        racing = _Before(service, "put_blobs", delete, times=deletes, skip=1)
        config: Any = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        checkpoint = empty_checkpoint()
        saved = await ConvstoreSaver(racing).aput(config, checkpoint, {"source": "input"}, {})
        assert racing.times == 0
        tup = await ConvstoreSaver(service).aget_tuple(saved)
        assert tup is not None and tup.checkpoint["id"] == checkpoint["id"]
        assert await acall(service, "get_session", THREAD_PREFIX + "t") is not None

    run_with_service(backend, request, main)

"""What the framework adapters share: opening a backend, calling it sync or async."""

from __future__ import annotations

import inspect
import os
from typing import Any

from ..errors import InvalidArgument

__all__ = ["acall", "call", "open_service"]


def open_service(path: object, service: object | None, who: str) -> tuple[Any, bool]:
    """``(service, owned)``: the given service, or a :class:`LocalSessionService` on ``path``.

    ``owned`` tells whether the adapter opened it (and so closes it).
    """
    if service is not None:
        if path is not None:
            raise InvalidArgument(f"{who}: pass a path or a service, not both")
        return service, False
    if path is None:
        raise InvalidArgument(f"{who}: pass a database path or a service")
    if not isinstance(path, str | bytes | os.PathLike):
        raise InvalidArgument(f"{who}: path must be str or os.PathLike, got {type(path).__name__}")
    from ..local import LocalSessionService

    return LocalSessionService(path), True


_AWAITS: dict[tuple[type, str], bool] = {}


async def acall(service: object, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``service.name(...)``, awaiting the result when the method is a coroutine.

    Whether a backend's method returns an awaitable is learnt on its first
    call and remembered per backend type, so the sync path pays one dict
    lookup instead of an ``isawaitable`` check on every call.
    """
    result = getattr(service, name)(*args, **kwargs)
    key = (type(service), name)
    awaits = _AWAITS.get(key)
    if awaits is None:
        awaits = _AWAITS[key] = inspect.isawaitable(result)
    if awaits:
        result = await result
    return result


def call(service: object, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call a *sync* service method; an async service is refused with a clear error."""
    method = getattr(service, name)
    if inspect.iscoroutinefunction(method):
        raise InvalidArgument(
            f"{type(service).__name__}.{name} is async: use the adapter's async methods "
            "(a…) with an async service"
        )
    return method(*args, **kwargs)

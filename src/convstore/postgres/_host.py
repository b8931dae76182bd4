"""What the PostgreSQL service's mixins use of the service they are mixed into.

:class:`~convstore.postgres.lifecycle.PostgresLifecycleMixin` and
:class:`~convstore.postgres.blobs.PostgresBlobsMixin` run their statements
through :class:`~convstore.postgres.PostgresSessionService`'s connection
helpers. :class:`ServiceHost` declares those helpers once, for type checkers;
at run time it is an empty base and the service's own methods are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

__all__ = ["ServiceHost"]


class ServiceHost:
    """The service's connection helpers, as the mixins see them (declarations only)."""

    __slots__ = ()

    if TYPE_CHECKING:
        _owner: str

        def _conn(
            self,
            doing: str,
            *,
            write: bool = False,
            budget: float | None = None,
            mapper: Callable[[BaseException], BaseException] | None = None,
        ) -> AbstractContextManager[Any]: ...

        def _event_error(self, exc: BaseException, event_id: str) -> BaseException: ...

        def _one(self, sql: Any, params: dict[str, Any], doing: str) -> Any: ...

        def _all(self, sql: Any, params: dict[str, Any], doing: str) -> list[Any]: ...

        def _rowcount(self, sql: Any, params: dict[str, Any], doing: str) -> int: ...

        def _why_not(self, session_id: str, event_id: str, parent_id: str | None) -> Any: ...

    def _mine(self, session_id: str, **params: Any) -> dict[str, Any]:
        """A statement's parameters for one of this owner's sessions (and ``params``)."""
        return {"owner": self._owner, "session_id": session_id, **params}

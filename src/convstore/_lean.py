"""Start-up-lean stand-ins for the two ``typing`` features used at run time.

``import typing`` drags in ``re``, ``enum``, ``functools``, ``contextlib`` and
more — several milliseconds of a shell assistant's start-up. Type checkers
see the real :mod:`typing` names (``TYPE_CHECKING`` is true for them); at run
time these equivalents, built on :func:`collections.namedtuple` (already
loaded by APSW), are used instead. ``tests/test_import_cost.py`` checks that
``import convstore`` never imports :mod:`typing`.

>>> class Point(NamedTuple):
...     x: int
...     y: int
>>> Point(1, 2), Point._make([3, 4]).y, Point._fields
(Point(x=1, y=2), 4, ('x', 'y'))
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple, cast
else:
    _SKIP = frozenset({"__annotations__", "__module__", "__qualname__", "__dict__", "__weakref__"})

    class _NamedTupleMeta(type):
        """Turn an annotated class body into a :func:`collections.namedtuple` class."""

        def __new__(mcls, name, bases, namespace):
            if not bases:  # the NamedTuple base itself
                return super().__new__(mcls, name, bases, namespace)
            fields = tuple(namespace.get("__annotations__", {}))
            cls = collections.namedtuple(name, fields, module=namespace.get("__module__"))
            for key, value in namespace.items():
                if key not in _SKIP:
                    setattr(cls, key, value)
            cls.__qualname__ = namespace.get("__qualname__", name)
            cls.__annotations__ = dict(namespace.get("__annotations__", {}))
            return cls

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base for immutable records: ``class P(NamedTuple): x: int``."""

    def cast(typ, value):
        """Run-time no-op, like :func:`typing.cast`."""
        return value


__all__ = ["TYPE_CHECKING", "NamedTuple", "cast"]

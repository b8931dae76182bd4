"""Start-up-lean stand-ins for the ``typing`` features used at run time.

``import typing`` drags in ``re``, ``enum``, ``functools``, ``contextlib`` and
more — several milliseconds of a shell assistant's start-up. Type checkers
see the real :mod:`typing` names (``TYPE_CHECKING`` is true for them); at run
time lighter equivalents are used instead: records are built like
:func:`collections.namedtuple`'s, without its ``eval``.
``tests/test_import_cost.py`` checks that ``import convstore`` never imports
:mod:`typing`.

:class:`ReadOnly` is the third: a read-only attribute, typed for the checker
and as fast as a slot at run time.

>>> class Point(NamedTuple):
...     x: int
...     y: int
>>> Point(1, 2), Point._make([3, 4]).y, Point._fields
(Point(x=1, y=2), 4, ('x', 'y'))
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Generic, NamedTuple, TypeVar, cast, overload

    _T = TypeVar("_T")

    class ReadOnly(Generic[_T]):
        """What :class:`ReadOnly` gives the type checker: ``obj.attr`` is a ``_T``.

        ``Cls.attr`` is typed as its getter, the way mypy types a property
        read on its class (at run time it is the descriptor).
        """

        __name__: str

        def __init__(self, attr: str, doc: str) -> None: ...
        @overload
        def __get__(self, obj: None, owner: type | None = None) -> Callable[[Any], _T]: ...
        @overload
        def __get__(self, obj: object, owner: type | None = None) -> _T: ...
        def __get__(self, obj: object, owner: type | None = None) -> Any: ...

else:
    from operator import attrgetter  # C; operator is loaded at start-up anyway

    class ReadOnly(property):
        """A read-only attribute that returns another attribute of the instance.

        ``path = ReadOnly[str]("_path", "The database path.")`` in a class body
        stands for the four-line ``@property`` that returns ``self._path``,
        docstring included (``help()`` shows it). It is a :class:`property`
        whose getter is :func:`operator.attrgetter`: reading it runs no Python
        code, so it is faster than the ``def`` it replaces. It needs no
        instance ``__dict__`` (works with ``__slots__``) and, having no
        annotation, is not a field of a dataclass it stands in.
        """

        def __init__(self, attr, doc):
            super().__init__(attrgetter(attr), None, None, doc)
            self.__doc__ = doc  # a subclass's own docstring would hide property's copy

        def __class_getitem__(cls, item):
            return cls  # ReadOnly[str](...): the type argument is for the checker

        def __set_name__(self, owner, name):
            super().__set_name__(owner, name)  # names the attribute in "has no setter"
            self.__name__ = name
            self.__qualname__ = f"{owner.__qualname__}.{name}"
            read = super().fget

            def getter(obj):
                return read(obj)

            getter.__name__, getter.__qualname__ = name, self.__qualname__
            getter.__doc__ = self.__doc__
            self._getter = getter

        @property
        def fget(self):
            """The getter, a function named like the attribute, as a ``def``'s would be.

            (Reading the attribute does not call it: the property calls its
            ``attrgetter``, which has no name for code that asks ``fget.__name__``.)
            """
            return self.__dict__.get("_getter") or super().fget

    from collections import _tuplegetter  # C; collections is loaded by APSW anyway

    _SKIP = frozenset({"__annotations__", "__module__", "__qualname__", "__dict__", "__weakref__"})
    _tuple_new = tuple.__new__

    class _Signature:
        """``Record.__signature__``, built on first request (``help()``, :mod:`inspect`)."""

        def __get__(self, obj, owner):
            from inspect import Parameter, Signature

            kind = Parameter.POSITIONAL_OR_KEYWORD
            return Signature([Parameter(name, kind) for name in owner._fields])

    def _bind(name, fields, args, kwargs):
        """The values of a record built with keywords, or Python's own TypeError."""
        rest = fields[len(args) :]
        if len(kwargs) == len(rest) and len(args) <= len(fields):
            try:
                return (*args, *map(kwargs.__getitem__, rest))
            except KeyError:
                pass
        if len(args) > len(fields):
            raise TypeError(
                f"{name}() takes {len(fields)} positional arguments but {len(args)} were given"
            )
        for key in kwargs:
            if key not in fields:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            if key not in rest:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
        missing = [field for field in rest if field not in kwargs]
        raise TypeError(f"{name}() missing required arguments: {', '.join(missing)}")

    def _record_namespace(name, fields):
        """What :func:`collections.namedtuple` puts in the class, without its ``eval``.

        ``namedtuple`` compiles a ``__new__`` with one parameter a field: about
        100 us a record class, seven of them on ``import convstore``'s path. This
        ``__new__`` takes ``*args`` (the positional call passes them straight
        on) and the class still tells ``help()`` its fields (``__signature__``).
        """
        size = len(fields)
        repr_fmt = "(" + ", ".join(f"{field}=%r" for field in fields) + ")"

        def __new__(cls, *args, **kwargs):
            if not kwargs:
                if len(args) != size:
                    _bind(name, fields, args, kwargs)  # raises the TypeError
                return _tuple_new(cls, args)
            if not args and len(kwargs) == size:  # all by keyword: read them in C
                try:
                    return _tuple_new(cls, map(kwargs.__getitem__, fields))
                except KeyError:
                    pass  # a wrong name: _bind says which
            return _tuple_new(cls, _bind(name, fields, args, kwargs))

        @classmethod
        def _make(cls, iterable):
            result = _tuple_new(cls, iterable)
            if len(result) != size:
                raise TypeError(f"Expected {size} arguments, got {len(result)}")
            return result

        def _replace(self, /, **kwds):
            result = self._make(map(kwds.pop, fields, self))
            if kwds:
                raise ValueError(f"Got unexpected field names: {list(kwds)!r}")
            return result

        def __repr__(self):
            return self.__class__.__name__ + repr_fmt % self

        def _asdict(self):
            return dict(zip(fields, self, strict=True))

        def __getnewargs__(self):
            return tuple(self)

        namespace = {
            "__slots__": (),
            "_fields": fields,
            "_field_defaults": {},
            "__new__": __new__,
            "__signature__": _Signature(),
            "_make": _make,
            "_replace": _replace,
            "__repr__": __repr__,
            "_asdict": _asdict,
            "__getnewargs__": __getnewargs__,
            "__match_args__": fields,
        }
        for method in (__new__, _make.__func__, _replace, __repr__, _asdict, __getnewargs__):
            method.__qualname__ = f"{name}.{method.__name__}"
        for index, field in enumerate(fields):
            namespace[field] = _tuplegetter(index, f"Alias for field number {index}")
        return namespace

    class _NamedTupleMeta(type):
        """Turn an annotated class body into a class like :func:`collections.namedtuple`'s."""

        def __new__(mcls, name, bases, namespace):
            if not bases:  # the NamedTuple base itself
                return super().__new__(mcls, name, bases, namespace)
            annotations = namespace.get("__annotations__", {})
            body = _record_namespace(name, tuple(annotations))
            body.update((k, v) for k, v in namespace.items() if k not in _SKIP)
            body["__qualname__"] = namespace.get("__qualname__", name)
            body["__annotations__"] = dict(annotations)
            cls = type(name, (tuple,), body)
            cls.__module__ = namespace.get("__module__", cls.__module__)
            return cls

    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base for immutable records: ``class P(NamedTuple): x: int``."""

    def cast(typ, value):
        """Run-time no-op, like :func:`typing.cast`."""
        return value


__all__ = ["TYPE_CHECKING", "NamedTuple", "ReadOnly", "cast"]

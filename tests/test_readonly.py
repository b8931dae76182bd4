"""``_lean.ReadOnly``: the one-line read-only attributes behave like the properties they replace.

Each plain read-only attribute of the public classes (``store.path``,
``manager.directory``, ``service.owner``, ``report.sessions``...) is a
``ReadOnly``: what a caller can see (value, docstring in ``help()``, refusal
to be set, the class attribute being a descriptor) is checked here, on
``__slots__`` classes and on the frozen dataclass ``SyncReport``.
"""

from __future__ import annotations

import dataclasses
import pydoc
from typing import Any

import pytest

from convstore import LocalSessionService, SessionManager, SessionStore
from convstore._lean import ReadOnly
from convstore.aio import AsyncSessionManager, AsyncSessionStore
from convstore.postgres import PostgresSessionService
from convstore.sync import SyncReport

#: The plain read-only attributes of each class: each one line in the class body.
READ_ONLY = {
    SessionStore: "path timeout connection",
    SessionManager: "service directory git_root invocation_id",
    PostgresSessionService: "owner pool where clock",
    SyncReport: "sessions events",
}


@pytest.mark.parametrize(
    ("cls", "name"), [(c, n) for c, ns in READ_ONLY.items() for n in ns.split()]
)
def test_class_attribute_is_a_documented_read_only_property(cls: type, name: str) -> None:
    descriptor = cls.__dict__[name]
    assert isinstance(descriptor, ReadOnly) and isinstance(descriptor, property)
    assert getattr(cls, name) is descriptor  # Cls.attr is the descriptor
    assert descriptor.__name__ == name and descriptor.__qualname__ == f"{cls.__qualname__}.{name}"
    assert descriptor.fset is None and descriptor.fdel is None
    # Code that takes a property's getter (the async twins do) gets a named function;
    # the class attribute itself is no more callable than a property is.
    assert descriptor.fget.__name__ == name and descriptor.fget.__doc__ == descriptor.__doc__
    assert not callable(descriptor)
    first_line = descriptor.__doc__.splitlines()[0]
    assert len(first_line) > 20 and first_line in pydoc.render_doc(cls, renderer=pydoc.plaintext)


def test_docstrings_kept_word_for_word() -> None:
    assert SessionStore.path.__doc__ == (
        'The database path as given (normalised to ``str``), or ``":memory:"``.'
    )
    doc = pydoc.getdoc(PostgresSessionService.clock)
    assert doc.startswith("The client clock given at construction, for a resumed session's")
    assert doc.endswith("uses this one for the ``gap_secs`` of the boundary event it appends.")
    assert "\n\nEvery timestamp this service stores, and the resume window, come from\nthe" in doc


def test_values_are_the_instance_attributes_and_cannot_be_set(tmp_path: Any) -> None:
    with SessionStore(str(tmp_path / "s.db"), timeout=2.5) as store:
        assert (store.path, store.timeout) == (str(tmp_path / "s.db"), 2.5)
        assert store.connection is store._conn
        manager = SessionManager(LocalSessionService(store), cwd=str(tmp_path))
        assert manager.service.store is store  # type: ignore[attr-defined]
        assert manager.directory == str(tmp_path) and manager.git_root is None
        assert manager.invocation_id == manager._invocation_id
        assert vars(SessionManager)["directory"].fget(manager) == manager.directory
        for obj, name in [(store, "path"), (store, "connection"), (manager, "directory")]:
            with pytest.raises(AttributeError, match=name):
                setattr(obj, name, "x")
            with pytest.raises(AttributeError, match=name):
                delattr(obj, name)


def test_sync_report_aliases_are_not_fields() -> None:
    report = SyncReport(sessions_checked=5, sessions_written=3, events_written=7)
    assert (report.sessions, report.events, report.sessions_unchanged) == (3, 7, 2)
    names = [f.name for f in dataclasses.fields(SyncReport)]
    assert names == [
        "sessions_checked",
        "sessions_written",
        "events_written",
        "skipped",
        "conflicts",
    ]
    assert "sessions=" not in repr(report) and report == SyncReport(5, 3, 7)
    # Python 3.11's frozen slots dataclass raises TypeError for a non-field name
    # (its __setattr__ names the class before slots were added); so did the property.
    with pytest.raises((AttributeError, TypeError)):
        report.sessions = 1  # type: ignore[misc]
    assert report.sessions == 3


@pytest.mark.parametrize(
    ("twin", "sync", "names"),
    [
        (AsyncSessionStore, SessionStore, ["path", "timeout", "connection"]),
        (AsyncSessionManager, SessionManager, ["directory", "git_root", "invocation_id"]),
    ],
)
def test_async_twins_keep_the_docstrings(twin: type, sync: type, names: list[str]) -> None:
    for name in names:
        assert getattr(twin, name).__doc__ == getattr(sync, name).__doc__


def test_a_new_read_only_attribute() -> None:
    class Box:
        __slots__ = ("_size",)
        size = ReadOnly[int]("_size", "How big.")

        def __init__(self) -> None:
            self._size = 3

    box = Box()
    assert box.size == 3 and Box.size.__doc__ == "How big." and vars(Box)["size"].fget(box) == 3
    with pytest.raises(AttributeError, match=r"'size' of .*Box' object has no setter"):
        box.size = 4  # type: ignore[misc]

"""``_lean.NamedTuple`` records behave like :func:`collections.namedtuple`'s.

They are built without ``namedtuple``'s ``eval`` (start-up cost), so every
behaviour a caller can see is compared with a real named tuple of the same fields.
"""

from __future__ import annotations

import collections
import copy
import inspect
import pickle
from typing import Any

import pytest

from convstore import NewEvent, StoredSession
from convstore.sqlite.migrations import MigrationStatus

FIELDS = StoredSession._fields
Real = collections.namedtuple("Real", FIELDS)  # type: ignore[misc]
VALUES = ("s1", "e2", None, "/d", None, 1, 2, None)


def test_same_tuple_fields_and_helpers() -> None:
    ours, real = StoredSession(*VALUES), Real(*VALUES)
    assert tuple(ours) == tuple(real) and ours == real and hash(ours) == hash(real)
    assert ours._asdict() == real._asdict()
    assert tuple(ours._replace(head_id="x")) == tuple(real._replace(head_id="x"))
    assert repr(ours) == repr(real).replace("Real(", "StoredSession(")
    assert StoredSession._make(VALUES) == ours
    assert StoredSession(**dict(zip(FIELDS, VALUES, strict=True))) == ours
    assert StoredSession(*VALUES[:5], **dict(zip(FIELDS[5:], VALUES[5:], strict=True))) == ours
    assert ours.directory == "/d" and ours[3] == "/d" and StoredSession.__match_args__ == FIELDS
    assert pickle.loads(pickle.dumps(ours)) == ours and copy.deepcopy(ours) == ours
    assert type(pickle.loads(pickle.dumps(ours))) is StoredSession
    assert str(inspect.signature(StoredSession)) == str(inspect.signature(Real))
    assert StoredSession.__module__ == "convstore.models" and "conversation" in str(
        StoredSession.__doc__
    )
    assert MigrationStatus((), ()).current_version == 0  # methods of the class body stay


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        (VALUES[:1], {}, "missing"),
        ((*VALUES, 9), {}, "positional"),
        (VALUES, {"id": "x"}, "multiple values"),
        (VALUES[:7], {"nope": 1}, "unexpected keyword"),
        ((), {**dict(zip(FIELDS[:7], VALUES, strict=False)), "nope": 1}, "unexpected keyword"),
        ((), dict(zip(FIELDS[:7], VALUES, strict=False)), "missing"),
        (VALUES[:2], dict(zip(FIELDS[1:], VALUES[1:], strict=True)), "multiple values"),
    ],
)
def test_wrong_calls_raise_type_error_like_namedtuple(
    args: tuple[Any, ...], kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(TypeError, match=words):
        StoredSession(*args, **kwargs)
    with pytest.raises(TypeError):
        Real(*args, **kwargs)


def test_make_and_replace_refuse_wrong_lengths_and_names() -> None:
    with pytest.raises(TypeError):
        StoredSession._make(VALUES[:3])
    with pytest.raises(ValueError, match="unexpected field"):
        StoredSession(*VALUES)._replace(nope=1)
    assert NewEvent("e1", None, "i", "t", "{}")._fields == NewEvent._fields

"""The append's one-expression argument check decides exactly as the full checks do.

``_validate.append_arguments`` lets the usual event through with one
expression and sends everything else to the full checks (``text`` for the
session id, then ``event_fields``): for every hostile or unusual input here,
it must raise the same error with the same message as those checks, and
accept what they accept.
"""

from __future__ import annotations

import pytest

from convstore import _validate as _v
from convstore.errors import StoreError

DEEP = "[" * 501 + "]" * 501
GOOD = '{"content": "hello"}'
BIG = '{"content": "' + "word " * 1800 + '"}'

VALUES: list[object] = [
    "plain", "", "naïve ✓", "nul\x00inside", "\ud800lone", b"bytes", None, 7, 3.5, True,
    ["list"], "x" * 5000,
]  # fmt: skip
DATA: list[object] = [
    GOOD, BIG, DEEP, "[" * 600, "{" * 300 + "[" * 300 + "x" * 500, DEEP + " " * 10,
    '{"a": "\\ud800"}', '{"a": "\\ud83d\\ude00"}', '{"a": "\\n\\"quoted\\""}',
    '{"a": "\\\\ud800"}', '{"a": 1}\x00', '{"a": "\ud800"}', '{"a": "é"}', b"{}", None, 5,
    "not json at all", "{" + '"k": [' * 700,
]  # fmt: skip


def _full(*args: object, check_parent: bool = True) -> str | None:
    session_id, event_id, parent_id, invocation_id, event_type, data = args
    try:
        _v.text(session_id, "session id")
        _v.event_fields(
            event_id, parent_id, invocation_id, event_type, data, check_parent=check_parent
        )
    except StoreError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _fast(*args: object, check_parent: bool = True) -> str | None:
    try:
        _v.append_arguments(*args, check_parent=check_parent)
    except StoreError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("field", range(5))
@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("check_parent", [True, False])
def test_each_field_decides_like_the_full_checks(
    field: int, value: object, check_parent: bool
) -> None:
    args: list[object] = ["s1", "e1", "p1", "inv", "text", GOOD]
    args[field] = value
    assert _fast(*args, check_parent=check_parent) == _full(*args, check_parent=check_parent)


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("parent", [None, "p1"])
def test_event_data_decides_like_the_full_checks(data: object, parent: str | None) -> None:
    args = ("s1", "e1", parent, "inv", "text", data)
    assert _fast(*args) == _full(*args)


def test_a_bad_session_id_is_named_before_the_event() -> None:
    message = _fast(None, b"e1", None, "inv", "text", GOOD)
    assert message == "InvalidArgument: session id must be a str, got NoneType"

"""An append reads the store's clock once; whatever it returns is checked as before.

``append_event`` and ``append_event_at_head`` take whole seconds from a clock of
ints without a further call; anything else (floats, int subclasses, bools,
NaN, values out of range) goes through the same check as every other write.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from convstore import InvalidArgument, SessionStore


class Seconds(int):
    """An int subclass: accepted, stored as a plain int."""


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (1_700_000_000, 1_700_000_000),
        (1_700_000_000.9, 1_700_000_000),
        (Seconds(1_700_000_001), 1_700_000_001),
    ],
)
@pytest.mark.parametrize("at_head", [False, True])
def test_a_clock_of_seconds_gives_the_event_its_time(
    value: Any, stored: int, at_head: bool
) -> None:
    reading: list[Any] = [1_600_000_000]
    store = SessionStore(":memory:", clock=lambda: reading[0])
    store.create_session("s")
    reading[0] = value
    if at_head:
        event = store.append_event_at_head("s", "e", "i", "t", "{}")
    else:
        event = store.append_event("s", "e", None, "i", "t", "{}")
    assert event.created_at == stored and type(event.created_at) is int
    assert store.load_events("s")[0].created_at == stored


@pytest.mark.parametrize("value", [True, math.nan, math.inf, 2**62, -(2**62), "1700000000", None])
@pytest.mark.parametrize("at_head", [False, True])
def test_a_clock_returning_anything_else_is_refused_naming_the_clock(
    value: Any, at_head: bool
) -> None:
    reading: list[Any] = [1_600_000_000]
    store = SessionStore(":memory:", clock=lambda: reading[0])
    store.create_session("s")
    reading[0] = value
    with pytest.raises(InvalidArgument, match="clock"):
        if at_head:
            store.append_event_at_head("s", "e", "i", "t", "{}")
        else:
            store.append_event("s", "e", None, "i", "t", "{}")
    assert store.load_events("s") == []

"""The read path's fast paths (SPEC §5) answer exactly what the full checks answer.

``find_resumable_session`` decides the usual call (two ASCII ``str`` paths, an
``int`` window within ±2**62) in a few comparisons and sends everything else
through the full checks; ``load_events``/``get_session`` bind by position.
Each case here is asked both ways -- the public call, and the full checks
(``_resume_filters``) with the same lookups -- and must agree, at and around
every boundary of the fast path.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FakeClock

from convstore import InvalidArgument, SessionStore, _sql
from convstore import _validate as _v

LIMIT = _v.TIME_LIMIT


class Path(str):
    """A ``str`` subclass: not the fast path's exact ``str`` (refused, as before)."""


@pytest.fixture
def store(clock: FakeClock) -> Any:
    with SessionStore(":memory:", clock=clock) as s:
        s.create_session("old", "/p", "/g")
        clock.advance(100)
        s.create_session("new", "/q", "/g")
        s.append_event("new", "e1", None, "i", "user", '{"content": "hi"}')
        yield s


def full_path(store: SessionStore, directory: Any, git_root: Any, window: Any) -> str | None:
    """The same lookup, its arguments checked by the slow path only."""
    by_dir, by_root, cutoff = store._resume_filters(directory, git_root, window)
    conn, best = store.connection, None
    if by_dir:
        best = conn.execute(_sql.SESSION_RESUMABLE_BY_DIRECTORY, (directory, cutoff)).fetchone()
    if by_root:
        other = conn.execute(_sql.SESSION_RESUMABLE_BY_GIT_ROOT, (git_root, cutoff)).fetchone()
        if other is not None and (best is None or other[6] > best[6]):
            best = other
    return None if best is None else str(best[0])


WINDOWS = [0, 1, 50, 99, 100, 101, 3600, -1, -100, LIMIT - 1, LIMIT, LIMIT + 1, -LIMIT + 1,
           -LIMIT, -LIMIT - 1, 2**63 - 1, 2**63, -(2**63), 2**64, 1.5, 99.5, float("inf"),
           float("-inf")]  # fmt: skip
PATHS = [("/p", "/g"), ("/q", "/nothing"), ("/p", "/p"), ("/nowhere", "/g"), ("/p\x00", "/g"),
         ("/p", "/g\x00"), ("/\ud800", "/g"), ("/p", "/\udfff"), ("/é", "/g"), (Path("/p"), "/x"),
         ("/x", Path("/g")), (None, "/g"), ("/p", None), (None, None), ("", "")]  # fmt: skip


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize(("directory", "git_root"), PATHS)
def test_resume_fast_path_agrees_with_the_full_checks(
    store: SessionStore, directory: Any, git_root: Any, window: Any
) -> None:
    assert outcome(lambda: store.find_resumable_session(directory, git_root, window)) == outcome(
        lambda: full_path(store, directory, git_root, window)
    )


def outcome(call: Any) -> object:
    """The session id found, or the error's type and message."""
    try:
        found = call()
    except InvalidArgument as exc:
        return (type(exc), str(exc))
    return getattr(found, "id", found)


@pytest.mark.parametrize("window", [True, False, None, "60", float("nan"), [60]])
def test_resume_refuses_bad_windows_on_every_path(store: SessionStore, window: Any) -> None:
    with pytest.raises(InvalidArgument, match="max_age_secs"):
        store.find_resumable_session("/p", "/g", window)


@pytest.mark.parametrize("bad", [b"/p", 7, ["/p"]])
def test_resume_refuses_non_text_paths_on_every_path(store: SessionStore, bad: Any) -> None:
    with pytest.raises(InvalidArgument, match="directory"):
        store.find_resumable_session(bad, "/g", 60)
    with pytest.raises(InvalidArgument, match="git_root"):
        store.find_resumable_session("/p", bad, 60)


def test_clock_values_of_every_kind(clock: FakeClock) -> None:
    """The clock's fast path (exact int/float) and its slow path (subclasses) agree."""

    class Seconds(int):
        pass

    for value, expected in [(5, 5), (5.9, 5), (Seconds(7), 7), (-3.5, -3)]:
        assert _v.now(lambda v=value: v) == expected
    for value in [True, float("nan"), float("inf"), LIMIT, -LIMIT, "5", None]:
        with pytest.raises(InvalidArgument, match="clock"):
            _v.now(lambda v=value: v)


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), LIMIT, "5", None])
def test_resume_refuses_a_bad_clock_value(value: Any) -> None:
    calls = []

    def clock() -> Any:
        calls.append(1)
        return value

    with SessionStore(":memory:") as store:
        store._clock = clock
        with pytest.raises(InvalidArgument, match="clock"):
            store.find_resumable_session("/p", "/g", 60)
    assert len(calls) == 1  # read once, as every other call reads it

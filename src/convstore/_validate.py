"""Argument validation shared by every backend: refuse bad input before anything is written.

Each public entry point (the SQLite store, the services, the manager, search,
export, import, purge, sync) calls these first. Each function checks one kind
of argument and returns it in the form the backend binds, or raises
:class:`~convstore.errors.InvalidArgument` (:class:`~convstore.errors.InvalidEvent`
for an event's fields) whose message *names the argument* and says what was
expected. Nothing here touches a database, so a refused call has created and
written nothing.

The rules, in one place:

* **Text that is stored** (ids, directory, git root, event type, invocation
  id, metadata keys and values): a ``str`` (never ``bytes``, ``None`` where
  not optional, or a number) that is valid UTF-8 (no lone surrogate) and holds
  no NUL character -- PostgreSQL cannot store NUL in text, and what one
  backend accepts the other must too.
* **Text that is only looked up** (``get_session(id)``, filters): a ``str`` of
  the right type; a value that could never have been stored simply matches
  nothing (see :func:`lookup_text`).
* **Numbers**: ``bool`` is never a number; NaN is refused everywhere;
  integers must fit what the database stores (64-bit, timestamps within
  ``±2**62``); ``timeout`` must be finite (the busy timeout is a C ``int`` of
  milliseconds).
* **Timestamps from ``clock``**: a finite number within ``±2**62``;
  anything else (``None``, NaN, infinity, ``2**70``) is an
  :class:`InvalidArgument` naming ``clock`` (an exception the clock itself
  raises passes through unchanged, after the write is rolled back).
* **event_data**: JSON text (the database checks the grammar) without a NUL,
  without a lone surrogate -- raw, or escaped as ``\\ud800`` (SQLite would
  store it and every later read, search or export of it would fail) -- and
  nested at most :data:`MAX_JSON_DEPTH` deep, checked without recursion.

>>> from convstore._validate import text, limit
>>> text("s1", "session id")
's1'
>>> limit(-1)
Traceback (most recent call last):
...
convstore.errors.InvalidArgument: limit must be an int from 0 to 9223372036854775807, got -1

Kept free of heavy imports (``re``, ``json``, ``math`` are loaded only on
the slow paths): ``import convstore`` stays lean.
"""

from __future__ import annotations

import os

from ._lean import TYPE_CHECKING, cast
from .errors import InvalidArgument, InvalidEvent, StoreError

if TYPE_CHECKING:
    import re
    from collections.abc import Callable

    PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]

__all__ = [
    "INT64_MAX",
    "TIME_LIMIT",
    "MAX_TIMEOUT",
    "MAX_JSON_DEPTH",
    "MAX_QUERY_TERMS",
    "MAX_QUERY_CHARS",
    "text",
    "optional_text",
    "lookup_text",
    "optional_lookup_text",
    "boolean",
    "integer",
    "limit",
    "seconds",
    "window",
    "cutoff",
    "clock",
    "now",
    "path",
    "event_data",
    "json_depth",
    "event_fields",
    "append_arguments",
    "search_query",
    "lookup_ids",
]

#: The largest integer SQLite (and PostgreSQL's ``bigint``) stores.
INT64_MAX = (1 << 63) - 1
#: Timestamps (Unix seconds) must lie strictly within ``±TIME_LIMIT``: far beyond
#: any real date, and below the listing's first-page cursor (``2**62``).
TIME_LIMIT = 1 << 62
#: The busy timeout is a C ``int`` of milliseconds: about 24.8 days.
MAX_TIMEOUT = 2_147_483.0
#: Deepest ``[``/``{`` nesting accepted in ``event_data``. SQLite's own limit is
#: 1000; this one leaves room for Python readers (``json.loads`` of a stored
#: event in a CLI or a client recurses once per level), so what is stored can
#: always be shown.
MAX_JSON_DEPTH = 500
#: A search query may hold at most this many terms (words, phrases, operators)...
MAX_QUERY_TERMS = 64
#: ...and at most this many characters: FTS5's query cost grows faster than linearly.
MAX_QUERY_CHARS = 4096


def _kind(value: object) -> str:
    return type(value).__name__


def _clip(value: object, width: int = 80) -> str:
    """``repr(value)`` cut to ``width`` characters: a message must stay readable."""
    try:
        shown = repr(value)
    except Exception:  # a hostile __repr__
        return f"<{_kind(value)}>"
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def _not_utf8(value: str) -> bool:
    """Whether ``value`` (not ASCII) cannot be encoded as UTF-8: it holds a lone surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_text(value: str, name: str, error: type[InvalidArgument]) -> str:
    if "\x00" in value:
        raise error(f"{name} must not contain a NUL character: {_clip(value)}")
    if not value.isascii() and _not_utf8(value):
        raise error(f"{name} is not valid UTF-8 text (it holds a lone surrogate): {_clip(value)}")
    return value


def text(value: object, name: str, *, error: type[InvalidArgument] = InvalidArgument) -> str:
    """A ``str`` that can be stored: valid UTF-8, no NUL. Returns it unchanged.

    >>> text(b"s1", "session id")
    Traceback (most recent call last):
    ...
    convstore.errors.InvalidArgument: session id must be a str, got bytes
    """
    if type(value) is not str:
        raise error(f"{name} must be a str, got {_kind(value)}")
    return _check_text(value, name, error)


def optional_text(
    value: object, name: str, *, error: type[InvalidArgument] = InvalidArgument
) -> str | None:
    """``None``, or a ``str`` that can be stored (see :func:`text`)."""
    if value is None:
        return None
    if type(value) is not str:
        raise error(f"{name} must be a str or None, got {_kind(value)}")
    return _check_text(value, name, error)


def str_items(
    value: object, name: str, expected: str, check: Callable[[object], object]
) -> list[str]:
    """A ``str`` (one item) or an iterable of them, listed, each passed to ``check``.

    ``check`` refuses an item that is not a ``str`` (:func:`text`, :func:`lookup_text`).
    ``expected`` words the accepted types in the error for anything else
    (``bytes`` included: it iterates, but as numbers).

    >>> str_items("a", "names", "an iterable of str", lambda item: text(item, "name"))
    ['a']
    """
    if isinstance(value, str):
        value = [value]
    if isinstance(value, bytes) or not hasattr(value, "__iter__"):
        raise InvalidArgument(f"{name} must be {expected}, got {type(value).__name__}")
    items = list(cast("list[str]", value))  # any iterable; checked item by item below
    for item in items:
        check(item)
    return items


def event_types(value: object) -> list[str] | None:
    """A search's ``event_types`` filter: ``None`` (any type), one ``str`` or an iterable of them.

    >>> event_types("user"), event_types(None)
    (['user'], None)
    """
    if value is None:
        return None
    return str_items(
        value,
        "event_types",
        "a str or an iterable of str",
        lambda kind: text(kind, "event_types item"),
    )


def lookup_text(value: object, name: str) -> bool:
    """Type-check a ``str`` used only to look something up; ``False`` when it can match nothing.

    A text that could never be stored (a lone surrogate, a NUL) names no
    session, event or key: lookups answer "not found" for it rather than an
    error, exactly as for any other unknown name.

    >>> lookup_text("s1", "session id"), lookup_text("\\ud800", "session id")
    (True, False)
    """
    if type(value) is not str:
        raise InvalidArgument(f"{name} must be a str, got {_kind(value)}")
    if "\x00" in value:
        return False
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def optional_lookup_text(value: object, name: str) -> bool:
    """:func:`lookup_text` that also accepts ``None`` (no filter): ``True`` for ``None``."""
    if value is None:
        return True
    if type(value) is not str:
        raise InvalidArgument(f"{name} must be a str or None, got {_kind(value)}")
    return lookup_text(value, name)


def boolean(value: object, name: str) -> bool:
    """Exactly ``True`` or ``False`` (not ``0``, ``"no"`` or ``None``)."""
    if type(value) is not bool:
        raise InvalidArgument(f"{name} must be True or False, got {_clip(value)}")
    return value


def integer(value: object, name: str, *, low: int = -INT64_MAX, high: int = INT64_MAX) -> int:
    """An ``int`` (not ``bool``, not ``float``) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int from {low} to {high}, got {_clip(value)}")
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be an int from {low} to {high}, got {_clip(value)}")
    return int(value)


def limit(value: object, name: str = "limit", *, high: int = INT64_MAX) -> int:
    """A row limit: an ``int`` from 0 to ``high``."""
    return integer(value, name, low=0, high=high)


def _number(value: object, name: str, what: str) -> float | int:
    """An ``int`` or ``float`` that is not ``bool`` and not NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name} must be {what}, got {_clip(value)}")
    if value != value:  # NaN
        raise InvalidArgument(f"{name} must be {what}, got nan")
    return value


def seconds(value: object, name: str = "timeout", *, high: float = MAX_TIMEOUT) -> float:
    """A duration: a finite number of seconds from 0 to ``high``.

    >>> seconds(float("inf"))
    Traceback (most recent call last):
    ...
    convstore.errors.InvalidArgument: timeout must be a number of seconds from 0 to 2147483, got inf
    """
    number = _number(value, name, f"a number of seconds from 0 to {high:.0f}")
    if not 0 <= number <= high:
        raise InvalidArgument(
            f"{name} must be a number of seconds from 0 to {high:.0f}, got {_clip(value)}"
        )
    return float(number)


def window(value: object, name: str = "max_age_secs") -> int:
    """An age window in whole seconds, rounded up so the comparison stays exact.

    Infinity (and anything beyond the timestamp range) means "any age"; minus
    infinity "nothing is young enough". NaN, ``bool`` and non-numbers are refused.
    """
    number = _number(value, name, "a number of seconds")
    if number >= TIME_LIMIT * 2:
        return TIME_LIMIT * 2
    if number <= -TIME_LIMIT * 2:
        return -TIME_LIMIT * 2
    return _ceil(number)


def _ceil(number: float | int) -> int:
    whole = int(number)
    return whole + 1 if whole < number else whole


def cutoff(value: object, name: str) -> int:
    """A "before" instant in Unix seconds, as the integer that keeps ``x < value`` exact.

    Stored timestamps are whole seconds, so ``t < 1.5`` is ``t < 2``: a
    fractional cutoff is rounded *up*, never truncated. Must be finite and
    within ``±2**62``.

    >>> cutoff(1.5, "archived_before"), cutoff(2, "archived_before")
    (2, 2)
    """
    number = _number(value, name, "Unix seconds (an int or float)")
    if not -TIME_LIMIT < number < TIME_LIMIT:
        raise InvalidArgument(f"{name} must be Unix seconds within ±2**62, got {_clip(value)}")
    return _ceil(number)


def clock(value: Callable[[], float] | None, name: str = "clock") -> Callable[[], float] | None:
    """``None`` or a zero-argument callable (checked when called, by :func:`now`)."""
    if value is not None and not callable(value):
        raise InvalidArgument(
            f"{name} must be a callable returning Unix seconds, got {_clip(value)}"
        )
    return value


def now(read: Callable[[], float], name: str = "clock") -> int:
    """Call the clock; its result as whole Unix seconds, or :class:`InvalidArgument` naming it."""
    return clock_value(read(), name)  # what the clock raises is the caller's own: it passes


def clock_value(value: float, name: str = "clock") -> int:
    """A value a clock returned, as whole Unix seconds (see :func:`now`)."""
    kind = type(value)
    if kind is int or kind is float:  # the usual clocks: no isinstance, no union object
        number = True
    else:  # int and float subclasses too, never bool
        number = isinstance(value, (int, float)) and kind is not bool
    if number and -TIME_LIMIT < value < TIME_LIMIT:
        return int(value)  # (False for NaN and infinities)
    raise InvalidArgument(
        f"{name} must return Unix seconds, a finite number within ±2**62; it returned "
        f"{_clip(value)}"
    )


def path(value: object) -> str:
    """A database path as a UTF-8-clean ``str``; :class:`StoreError` naming it otherwise.

    Accepts ``str``, ``bytes`` and ``os.PathLike``; anything else is an
    :class:`InvalidArgument`.
    """
    if not isinstance(value, str | bytes | os.PathLike):
        raise InvalidArgument(
            f"database path must be a str, bytes or os.PathLike, got {_kind(value)}"
        )
    try:
        raw = os.fspath(value)
    except TypeError as exc:  # a PathLike whose __fspath__ returns something else
        raise InvalidArgument(f"database path: {exc}") from None
    if isinstance(raw, bytes):
        try:
            shown = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise StoreError(f"database path is not valid UTF-8: {raw!r}") from None
    else:
        shown = raw
        if not shown.isascii():
            try:
                shown.encode("utf-8")
            except UnicodeEncodeError:
                raise StoreError(f"database path is not valid UTF-8: {shown!r}") from None
    if not shown:
        raise StoreError("database path is empty")
    if "\x00" in shown:
        raise StoreError(f"database path contains a NUL byte: {shown!r}")
    return shown


def more_brackets_than(data: str, limit: int) -> bool:
    """Whether ``data`` holds more than ``limit`` opening brackets (``{`` or ``[``).

    Nesting deeper than ``limit`` needs that many, so this spares the usual
    multi-KB event :func:`json_depth`'s full scan. Found by ``str.find``
    (memchr speed, ~10x faster than ``str.count`` on 8 KB of text) and
    stopped at ``limit + 1``: a text with few brackets costs a few calls.

    >>> more_brackets_than('{"a": [1, {"b": 2}]}', 3), more_brackets_than("[[[", 2)
    (False, True)
    """
    seen = 0
    for bracket in "{[":
        at = data.find(bracket)
        while at >= 0:
            seen += 1
            if seen > limit:
                return True
            at = data.find(bracket, at + 1)
    return False


def is_json(text: str) -> bool:
    """Whether ``text`` parses as JSON: to name the event a database refused as bad JSON.

    >>> is_json('{"a": 1}'), is_json("{")
    (True, False)
    """
    import json

    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def json_depth(data: str) -> int:
    """How deep ``[``/``{`` nest in JSON text, outside strings; no recursion, C-speed scans.

    >>> json_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    if data.count("[") + data.count("{") == 0:
        return 0
    import re
    from itertools import accumulate

    # Strings (with their escapes) hold no structure: drop them, keep the brackets.
    stripped = re.sub(r'"[^"\\]*(?:\\.[^"\\]*)*"?', "", data, flags=re.DOTALL)
    steps = [1 if c in "[{" else -1 for c in re.findall(r"[\[\]{}]", stripped)]
    return max(accumulate(steps), default=0)


_SURROGATE_ESCAPE: re.Pattern[str] | None = None


def _lone_surrogate_escape(data: str) -> str | None:
    """The first ``\\uD8xx`` to ``\\uDFxx`` escape that is not half of a valid pair, or None."""
    global _SURROGATE_ESCAPE
    import re

    if _SURROGATE_ESCAPE is None:
        _SURROGATE_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
    pending_high: tuple[int, str] | None = None  # (end offset, text) of a high surrogate
    for match in _SURROGATE_ESCAPE.finditer(data):
        code = match.group(1)
        unit = int(code, 16) if code is not None else -1
        if pending_high is not None:
            end, shown = pending_high
            pending_high = None
            if match.start() == end and 0xDC00 <= unit <= 0xDFFF:
                continue  # a valid pair
            return shown
        if 0xD800 <= unit <= 0xDBFF:
            pending_high = (match.end(), match.group(0))
        elif 0xDC00 <= unit <= 0xDFFF:
            return match.group(0)
    return pending_high[1] if pending_high is not None else None


def event_data(value: object, event_id: object, name: str = "event_data") -> str:
    """JSON text that every backend can store and every reader can read back.

    Cheap for the usual event (a few C-speed scans); the slow checks run only
    when the text holds a ``\\u`` escape or enough brackets to nest deeply.
    The grammar itself is checked by the database (SQLite's ``json_valid``,
    PostgreSQL's ``json``), so a bad-JSON event is refused in the same
    transaction that would have stored it.

    >>> event_data('{"content": "hi \\\\ud800"}', "e1")
    Traceback (most recent call last):
    ...
    convstore.errors.InvalidEvent: event 'e1': event_data holds a lone surrogate escape ...
    """
    if type(value) is not str:
        raise InvalidEvent(
            f"event {_clip(event_id)}: {name} must be a str of JSON text, got {_kind(value)}"
        )
    if "\x00" in value:
        raise InvalidEvent(
            f"event {_clip(event_id)}: {name} is not valid JSON (it contains a NUL character)"
        )
    if not value.isascii() and _not_utf8(value):
        raise InvalidEvent(
            f"event {_clip(event_id)}: {name} is not valid UTF-8 text (it holds a lone surrogate)"
        )
    # A one-character search first (memchr speed): the two-character one costs
    # ~10x more on multi-KB text, and most events hold no backslash at all.
    if "\\" in value and "\\u" in value:
        bad = _lone_surrogate_escape(value)
        if bad is not None:
            raise InvalidEvent(
                f"event {_clip(event_id)}: {name} holds a lone surrogate escape ({bad!r}): "
                "it is not valid Unicode text"
            )
    if (
        len(value) > 2 * MAX_JSON_DEPTH
        and more_brackets_than(value, MAX_JSON_DEPTH)
        and json_depth(value) > MAX_JSON_DEPTH
    ):
        raise InvalidEvent(
            f"event {_clip(event_id)}: {name} nests deeper than {MAX_JSON_DEPTH} levels"
        )
    return value


def event_fields(
    event_id: object,
    parent_id: object,
    invocation_id: object,
    event_type: object,
    data: object,
    *,
    check_parent: bool = True,
) -> None:
    """Every field of one new event, each error naming the event and the field.

    On the append's hot path: the usual event (ASCII ids, no NUL, short or
    flat data) passes a handful of C-speed checks; messages are only built
    for an event that fails.
    """
    parent_ok = (
        parent_id is None
        or not check_parent
        or (type(parent_id) is str and parent_id.isascii() and "\x00" not in parent_id)
    )
    if not (
        parent_ok
        and type(event_id) is str
        and type(invocation_id) is str
        and type(event_type) is str
        and event_id.isascii()
        and invocation_id.isascii()
        and event_type.isascii()
        and "\x00" not in event_id
        and "\x00" not in invocation_id
        and "\x00" not in event_type
    ):
        eid = text(event_id, "event id", error=InvalidEvent)
        where = f"event {_clip(eid)}"
        if check_parent:
            optional_text(parent_id, f"{where}: parent_id", error=InvalidEvent)
        text(invocation_id, f"{where}: invocation_id", error=InvalidEvent)
        text(event_type, f"{where}: event_type", error=InvalidEvent)
    event_data(data, event_id)


def append_arguments(
    session_id: object,
    event_id: object,
    parent_id: object,
    invocation_id: object,
    event_type: object,
    data: object,
    *,
    check_parent: bool = True,
) -> None:
    """Every argument of one append (the session id, then :func:`event_fields`), hot path first.

    The usual event -- ``str`` fields of ASCII text without NUL, JSON without
    a ``\\u`` escape, at most ``2 * MAX_JSON_DEPTH`` characters or with few
    brackets -- passes one expression of C-speed checks and no further call.
    Anything else takes the full checks, which raise exactly as they always
    did: this only decides, sooner, that they would pass.
    """
    if (
        type(session_id) is str
        and type(event_id) is str
        and type(invocation_id) is str
        and type(event_type) is str
        and type(data) is str
        and (
            parent_id is None
            or not check_parent
            or (type(parent_id) is str and parent_id.isascii() and "\x00" not in parent_id)
        )
        and session_id.isascii()
        and event_id.isascii()
        and invocation_id.isascii()
        and event_type.isascii()
        and data.isascii()
        and "\x00" not in session_id
        and "\x00" not in event_id
        and "\x00" not in invocation_id
        and "\x00" not in event_type
        and "\x00" not in data
        and ("\\" not in data or "\\u" not in data)
        and (len(data) <= 2 * MAX_JSON_DEPTH or not more_brackets_than(data, MAX_JSON_DEPTH))
    ):
        return
    text(session_id, "session id")
    event_fields(event_id, parent_id, invocation_id, event_type, data, check_parent=check_parent)


def search_query(query: object, *, literal: bool) -> str:
    """A search query within :data:`MAX_QUERY_CHARS` characters and :data:`MAX_QUERY_TERMS` terms.

    FTS5 plans a query in time that grows faster than its number of terms (a
    50,000-word query took ~44 s), so a query is capped before it reaches
    SQLite; the message says how to narrow it.
    """
    if type(query) is not str:
        raise InvalidArgument(f"search query must be a str, got {_kind(query)}")
    _check_text(query, "search query", InvalidArgument)
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidArgument(
            f"search query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}: "
            "search for fewer, more specific words"
        )
    terms = len(query.split())
    if terms > MAX_QUERY_TERMS:
        raise InvalidArgument(
            f"search query has {terms} terms; the limit is {MAX_QUERY_TERMS}: "
            "search for fewer, more specific words"
        )
    return query


def lookup_ids(value: object, name: str = "ids") -> list[str]:
    """A page of ids to look up: an iterable of ``str`` (not one ``str``), as a list.

    An id that could never have been stored (NUL, lone surrogate) is dropped:
    it names nothing, so the answer simply lacks it, as for any unknown id.

    >>> lookup_ids(("s1", "\\ud800"))
    ['s1']
    """
    if isinstance(value, str | bytes | bytearray) or not hasattr(value, "__iter__"):
        raise InvalidArgument(f"{name} must be an iterable of str ids, got {_kind(value)}")
    ids = list(value)
    return [item for item in ids if lookup_text(item, f"{name} item")]

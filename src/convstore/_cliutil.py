"""What the ``convstore`` command needs besides argparse: argument grammars and safe output.

* :func:`parse_when` — the one grammar for a point in time on the command line.
* :func:`bounded_int` — whole-number options with documented bounds.
* :func:`safe_line` / :func:`safe_block` / :func:`safe_json` — stored text
  shown with control characters escaped, so a conversation that contains
  terminal escape sequences (clipboard writes, title changes, screen clears)
  cannot replay them on the reader's terminal.
* :class:`Progress` — a progress bar on stderr when it is a terminal, silent
  when piped.
* :func:`command` / :func:`command_group` — one subcommand that runs a function
  (its help is the function's docstring, :func:`about`), and a command with
  actions (``migrate status``).

Imported by :mod:`convstore.cli` only, never by ``import convstore``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

__all__ = [
    "about",
    "command",
    "command_group",
    "MAX_TIME",
    "MIN_UNIX_SECONDS",
    "Progress",
    "bounded_int",
    "parse_when",
    "plural",
    "safe_block",
    "safe_json",
    "safe_json_text",
    "safe_line",
]

#: Ages: number + unit. ``y`` is 365 days. ``m`` is refused (minutes or months?).
AGE_UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 365 * 86_400}
#: A bare number is Unix seconds and must be at least this (2001-09-09), so that
#: ``30`` (an age without its unit?) is refused instead of meaning 1970.
MIN_UNIX_SECONDS = 1_000_000_000
#: The last second a cutoff may name: 9999-12-31T23:59:59Z.
MAX_TIME = 253_402_300_799

WHEN_GRAMMAR = (
    "an age (30d, 12h, 90min, 45s, 2w, 1y), a date (2024-05-01, 2024-05-01T12:00, "
    "2024-05-01T12:00Z) or Unix seconds (1700000000)"
)

_AGE = re.compile(r"([0-9]{1,15})([a-z]+)")
_DIGITS = re.compile(r"[0-9]+")


def parse_when(text: str, now: float | None = None) -> int:
    """A point in time on the command line, as Unix seconds; ``ValueError`` says why not.

    The grammar (``convstore purge --help`` shows it):

    * an **age**: a whole number and a unit — ``s``, ``min``, ``h``, ``d``,
      ``w``, ``y`` (365 days) — meaning that long before ``now``. ``m`` is
      refused as ambiguous (minutes or months?);
    * a **date**: ISO 8601, ``2024-05-01``, ``2024-05-01T12:00``, with an
      optional zone (``Z``, ``+02:00``); without one it is local time;
    * **Unix seconds**: a bare whole number of at least 1000000000
      (2001-09-09). A smaller bare number (``30``) is refused: it is more
      likely an age without its unit than a date in 1970.

    The result must lie between 1970-01-01 and 9999-12-31.

    >>> parse_when("1700000000"), parse_when("2d", now=1_700_000_000)
    (1700000000, 1699827200)
    >>> parse_when("2023-11-14T22:13:20Z")
    1700000000
    >>> parse_when("30")
    Traceback (most recent call last):
    ...
    ValueError: '30' is not a time: a bare number is Unix seconds and must be at least 1000000000 (2001-09-09); for an age add a unit, e.g. 30d
    """  # noqa: E501
    raw = text
    text = text.strip()
    if _DIGITS.fullmatch(text):
        if len(text) > 15 or not MIN_UNIX_SECONDS <= int(text) <= MAX_TIME:
            if len(text) <= 15 and int(text) < MIN_UNIX_SECONDS:
                raise ValueError(
                    f"{raw!r} is not a time: a bare number is Unix seconds and must be at "
                    f"least {MIN_UNIX_SECONDS} (2001-09-09); for an age add a unit, e.g. {text}d"
                )
            raise ValueError(f"{raw!r} is out of range: Unix seconds end at {MAX_TIME} (9999)")
        return int(text)
    age = _AGE.fullmatch(text)
    if age is not None:
        return _from_age(raw, int(age.group(1)), age.group(2), now)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        seconds = int(when.timestamp())
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{raw!r} is not a time: use {WHEN_GRAMMAR}") from None
    if not 0 <= seconds <= MAX_TIME:
        raise ValueError(f"{raw!r} is out of range: give a time from 1970 to 9999")
    return seconds


def _from_age(raw: str, count: int, unit: str, now: float | None) -> int:
    if unit in ("m", "mo", "mon", "month", "months"):
        raise ValueError(
            f"{raw!r} is ambiguous: write minutes as {count}min, or months in days "
            f"(e.g. {count * 30}d)"
        )
    if unit not in AGE_UNITS:
        raise ValueError(
            f"{raw!r} has an unknown unit {unit!r}: use s, min, h, d, w or y (e.g. 30d)"
        )
    current = int(time.time() if now is None else now)
    when = current - count * AGE_UNITS[unit]
    if when < 0:
        raise ValueError(f"{raw!r} is out of range: that long ago is before 1970")
    return when


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high`` (ASCII digits only).

    >>> bounded_int(1, 100)("42")
    42
    >>> bounded_int(1, 100)("1000")
    Traceback (most recent call last):
    ...
    ValueError: '1000' is out of range: give a whole number from 1 to 100
    """

    def convert(text: str) -> int:
        stripped = text.strip()
        if not _DIGITS.fullmatch(stripped):
            raise ValueError(f"{text!r} is not a whole number (from {low} to {high})")
        if len(stripped) > len(str(high)) or not low <= int(stripped) <= high:
            raise ValueError(f"{text!r} is out of range: give a whole number from {low} to {high}")
        return int(stripped)

    convert.__name__ = "whole number"
    return convert


def plural(count: int, noun: str) -> str:
    """``1 session``, ``2 sessions``, ``1 metadata entry``, ``3 metadata entries``.

    >>> plural(1, "session"), plural(2, "event"), plural(0, "entry")
    ('1 session', '2 events', '0 entries')
    """
    if count == 1:
        return f"1 {noun}"
    if noun.endswith("y"):
        return f"{count} {noun[:-1]}ies"
    return f"{count} {noun}s"


# -- safe output ---------------------------------------------------------------

# C0 (but tab and newline, handled per function), DEL, C1, bidirectional
# overrides and isolates (they reorder what is displayed), and lone
# surrogates (unencodable).
_UNSAFE_IN_BLOCK = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_IN_LINE = re.compile(_UNSAFE_IN_BLOCK.pattern.replace("[", "[\t\n", 1))
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_line(text: str) -> str:
    """``text`` for one line of a terminal: every control character shown escaped.

    >>> print(safe_line("title\\x1b]0;pwned\\x07 and\\nmore"))
    title\\x1b]0;pwned\\x07 and\\x0amore
    """
    return _UNSAFE_IN_LINE.sub(_escape, text)


def safe_block(text: str) -> str:
    """Like :func:`safe_line` but newlines and tabs stay (multi-line message text)."""
    return _UNSAFE_IN_BLOCK.sub(_escape, text)


def safe_json(value: Any) -> str:
    """Indented JSON in which no string can reach the terminal as a control sequence.

    JSON escapes C0 characters itself; DEL, C1, bidirectional controls and lone
    surrogates are escaped here as ``\\uXXXX`` (valid JSON, same value).

    >>> safe_json({"x": "a\\x9b2J\\x1b"})
    '{\\n  "x": "a\\\\u009b2J\\\\u001b"\\n}'
    """
    return safe_json_text(json.dumps(value, ensure_ascii=False, indent=2))


def safe_json_text(text: str) -> str:
    """JSON text (as ``json.dumps`` writes it) with DEL, C1 and bidi controls escaped too.

    The same JSON value, other bytes: ``json.loads`` of the result equals
    ``json.loads(text)``.

    >>> safe_json_text('["\x9b"]')
    '["\\\\u009b"]'
    """
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


# -- progress ------------------------------------------------------------------


class Progress:
    """A progress bar on stderr when it is a terminal; silent otherwise (piped, redirected).

    ``update(done, total)`` redraws at most ten times a second: a bar with a
    percentage when ``total`` is known, a running count when it is not.
    ``finish()`` clears the line so what follows starts clean.
    """

    def __init__(self, label: str, unit: str, stream: IO[str] | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.unit = unit
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError, OSError):
            self.enabled = False
        self.shown = False
        self._last = 0.0

    def render(self, done: int, total: int | None, width: int) -> str:
        """The line for ``done`` of ``total`` (``None``: unknown) in ``width`` columns.

        >>> Progress("importing", "bytes", stream=None).render(50, 200, 60)
        'importing [#######.....................]  25%  50/200 bytes'
        >>> Progress("exporting", "events").render(1234, None, 60)
        'exporting: 1234 events'
        """
        if total is None or total <= 0:
            return f"{self.label}: {done} {self.unit}"[: width - 1]
        done = min(done, total)
        tail = f" {100 * done // total:3d}%  {done}/{total} {self.unit}"
        room = max(10, min(40, width - len(self.label) - len(tail) - 4))
        filled = room * done // total
        return f"{self.label} [{'#' * filled}{'.' * (room - filled)}]{tail}"[: width - 1]

    def update(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Show ``done`` of ``total``; throttled to ten redraws a second unless ``force``."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        width = shutil.get_terminal_size((80, 24)).columns
        self.stream.write("\r\x1b[K" + self.render(done, total, width))
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        """Clear the bar's line (if one was drawn)."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def about(func: Callable[..., Any]) -> tuple[str | None, str | None]:
    """A command's help texts, from its handler's docstring: ``(summary, description)``.

    The docstring's first line is the summary ``convstore --help`` lists the
    command with; the rest, one paragraph however it is wrapped, is the
    description its own ``--help`` starts with (``None`` when there is none).
    Under ``python -OO`` (docstrings stripped) both are ``None``: argparse
    still works, the help only says less.

    >>> def cmd_demo(args):
    ...     \"\"\"do the thing
    ...
    ...     Do the thing, at length,
    ...     over two lines.
    ...     \"\"\"
    >>> about(cmd_demo)
    ('do the thing', 'Do the thing, at length, over two lines.')
    """
    summary, _, rest = (func.__doc__ or "").strip().partition("\n")
    return summary.strip() or None, " ".join(rest.split()) or None


def command(
    commands: Any,
    name: str,
    func: Callable[[argparse.Namespace], int],
    parents: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` that runs ``func(args)``; returns its parser for its options.

    What ``--help`` says comes from ``func``'s docstring (see :func:`about`), so
    a command's help is written once, on its handler. ``commands`` is what
    ``add_subparsers()`` returned (the top level's, or a :func:`command_group`'s);
    ``parents`` lend shared options (``--db``, ``--json``).
    """
    summary, description = about(func)
    parser: argparse.ArgumentParser = commands.add_parser(
        name, parents=list(parents), help=summary, description=description
    )
    parser.set_defaults(func=func)
    return parser


def command_group(commands: Any, name: str, help: str, description: str) -> Any:
    """Add the command ``name`` whose actions (``name ACTION``) are added to what it returns."""
    group = commands.add_parser(name, help=help, description=description)
    return group.add_subparsers(dest="action", metavar="ACTION")

"""Every ``convstore … --help`` text and every parser's options, against a stored snapshot.

The snapshot (``tests/cli_help_snapshot.txt``) was taken from the command line
before its registration was rewritten; it pins what a user reads and how each
command line parses. After an intended change to a help text or an option,
regenerate it and review the diff::

    .venv/bin/python tests/test_cli_help_snapshot.py > tests/cli_help_snapshot.txt
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from convstore import cli

SNAPSHOT = Path(__file__).with_name("cli_help_snapshot.txt")
#: ``bench --help`` is the benchmark suite's own help (tested in test_cli.py).
NOT_HERE = {("bench",)}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield prefix, parser
    for name, child in _subcommands(parser).items():
        if (*prefix, name) not in NOT_HERE:
            yield from _paths(child, (*prefix, name))


def _options(parser: argparse.ArgumentParser) -> str:
    """How ``parser`` parses: each argument's strings, dest, arity, default, type, choices."""
    lines = [f"  defaults: {sorted((k, _name(v)) for k, v in parser._defaults.items())}"]
    for a in parser._actions:
        lines.append(
            f"  {type(a).__name__} {a.option_strings} dest={a.dest} nargs={a.nargs!r} "
            f"default={_name(a.default)} required={a.required} type={_name(a.type)} "
            f"choices={None if a.choices is None else sorted(a.choices)} metavar={a.metavar!r}"
        )
    return "\n".join(lines)


def _name(value: object) -> str:
    if isinstance(value, frozenset):  # its repr's order changes with string hashing
        return f"frozenset({sorted(value)})"
    return getattr(value, "__name__", None) or repr(value)


def _help(path: tuple[str, ...]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main([*path, "--help"])
    assert status == 0, path
    return out.getvalue()


def render() -> str:
    """The snapshot's text: for every command, its ``--help`` and its parser's options."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width
    parts = []
    for path, parser in _paths(cli.build_parser()):
        title = " ".join(("convstore", *path))
        parts.append(f"=== {title} --help\n{_help(path)}--- options\n{_options(parser)}\n")
    return "".join(parts)


def test_help_and_options_match_the_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert render() == SNAPSHOT.read_text(encoding="utf-8")


if __name__ == "__main__":
    sys.stdout.write(render())

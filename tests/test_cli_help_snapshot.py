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
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PYTHON, child_env

from convstore import cli
from convstore._cliutil import WHEN_GRAMMAR, about

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


def test_every_command_has_its_help_on_its_handler() -> None:
    # A command registered with a handler lacking a docstring would be listed bare.
    for path, parser in _paths(cli.build_parser()):
        func = parser.get_default("func")
        if func is not None:
            summary, _ = about(func)
            assert summary is not None and summary[0].islower(), path


def test_purge_help_states_the_when_grammar_parse_when_accepts() -> None:
    # cmd_purge's docstring spells the grammar out (a docstring cannot interpolate).
    _, description = about(cli.cmd_purge)
    assert description is not None and f"WHEN is {WHEN_GRAMMAR};" in description


def test_help_without_docstrings_still_works() -> None:
    # python -OO strips docstrings: the help says less, but nothing breaks.
    for command in (["--help"], ["purge", "--help"], ["server", "migrate", "--help"]):
        proc = subprocess.run(
            [PYTHON, "-OO", "-m", "convstore", *command],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("usage: convstore") and proc.stderr == ""


if __name__ == "__main__":
    sys.stdout.write(render())

"""Collection rules for the whole checkout (tests/, benchmarks/, and the doctests in src/).

The PostgreSQL pieces need the optional ``postgres`` extra (psycopg). Without
it, the modules that import psycopg at the top are not collected (their
doctests and benchmarks), the PostgreSQL tests skip themselves
(``tests/conftest.py``), and the run's header says what to install — so
``pip install -e '.[dev]' && python -m pytest -q`` passes on a machine without
the extra. CI installs it (``.ci/run``).
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

HINT = "PostgreSQL tests skipped: psycopg is not installed (pip install -e '.[postgres]')"


def _postgres_extra_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("psycopg", "psycopg_pool"))


POSTGRES = _postgres_extra_installed()


def _top_level_imports(tree: ast.Module) -> Iterator[str]:
    """Modules imported when the module is (top level, and inside top-level try/if)."""
    body = list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")
        elif isinstance(node, ast.Try | ast.If):
            body += [*node.body, *getattr(node, "orelse", [])]


def _needs_psycopg(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return False
    needs = ("psycopg", "psycopg_pool", "convstore.postgres", ".postgres")
    return any(
        name == need or name.startswith(need + ".")
        for name in _top_level_imports(tree)
        for need in needs
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip collecting a source or benchmark module that imports psycopg at its top."""
    if POSTGRES or collection_path.suffix != ".py" or collection_path.name.startswith("test_"):
        return None
    root = Path(__file__).resolve().parent
    if collection_path.parent.resolve() not in (root / "src" / "convstore", root / "benchmarks"):
        return None
    return True if _needs_psycopg(collection_path) else None


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say up front that the PostgreSQL tests will skip, and how to run them."""
    return None if POSTGRES else HINT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat the hint at the end, where ``pytest -q`` users look."""
    if not POSTGRES:
        terminalreporter.write_line(HINT)

"""Collection rules for the whole checkout (tests/, benchmarks/, and the doctests in src/).

Some modules need an optional extra: the PostgreSQL backend (``postgres``:
psycopg) and the framework integrations (``openai-agents``, ``langgraph``,
``adk``). Without the extra, the source and benchmark modules that import it
at their top are not collected (their doctests and benchmarks), the tests
that need it skip themselves (``tests/conftest.py``, ``importorskip``), and
the run says what to install — so ``pip install -e '.[dev]' && python -m
pytest -q`` passes on a machine without the extras. CI installs them
(``.ci/run``).
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

#: Third-party packages an extra brings, and the extra.
OPTIONAL = {
    "psycopg": "postgres",
    "psycopg_pool": "postgres",
    "agents": "openai-agents",
    "langgraph": "langgraph",
    "langchain_core": "langgraph",
    "google.adk": "adk",
    "matplotlib": "bench",
}
#: convstore modules that need an extra at import time.
NEEDS_EXTRA = {
    "convstore.postgres": "postgres",
    # Old (pre-package) paths of the PostgreSQL modules, still importable.
    "convstore.postgres_migrations": "postgres",
    "convstore.postgres_aio": "postgres",
    "convstore.postgres_lifecycle": "postgres",
    "convstore._pgdeadline": "postgres",
}

HINTS = {
    "postgres": "PostgreSQL tests skipped: psycopg is not installed (pip install -e '.[postgres]')",
    "openai-agents": "framework integration tests skipped: the openai-agents extra is not "
    "installed (pip install -e '.[integrations-test]')",
    "langgraph": "framework integration tests skipped: the langgraph extra is not installed "
    "(pip install -e '.[integrations-test]')",
    "adk": "framework integration tests skipped: the adk extra is not installed "
    "(pip install -e '.[integrations-test]')",
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing
        return False


MISSING = {extra for module, extra in OPTIONAL.items() if not _installed(module)}


def _top_level_imports(tree: ast.Module, package: str) -> Iterator[str]:
    """Absolute names of the modules imported at the top (also inside top-level try/if)."""
    body = list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.module or ""
            else:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield f"{base}.{node.module}" if node.module else base
        elif isinstance(node, ast.Try | ast.If):
            body += [*node.body, *getattr(node, "orelse", [])]


def _package_of(path: Path) -> str:
    parts = path.resolve().relative_to(ROOT).with_suffix("").parts
    parts = parts[1:] if parts[0] == "src" else parts
    return ".".join(parts[:-1])


def missing_extras(path: Path) -> set[str]:
    """The extras ``path`` imports at its top that are not installed."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return set()
    wanted = {**OPTIONAL, **NEEDS_EXTRA}
    found = set()
    for name in _top_level_imports(tree, _package_of(path)):
        for module, extra in wanted.items():
            if extra in MISSING and (name == module or name.startswith(module + ".")):
                found.add(extra)
    return found


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip collecting a source or benchmark module whose extra is not installed."""
    if not MISSING or collection_path.suffix != ".py" or collection_path.name.startswith("test_"):
        return None
    here = collection_path.resolve()
    if not (here.is_relative_to(ROOT / "src") or here.is_relative_to(ROOT / "benchmarks")):
        return None
    # A module inside a package whose __init__ needs the extra (convstore/postgres/)
    # cannot be imported either.
    package_init = here.parent / "__init__.py"
    if package_init != here and package_init.exists() and missing_extras(package_init):
        return True
    return True if missing_extras(here) else None


def _hints() -> list[str]:
    return sorted({HINTS[extra] for extra in MISSING if extra in HINTS})


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say up front which optional tests will skip, and how to run them."""
    return _hints()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat the hints at the end, where ``pytest -q`` users look."""
    for hint in _hints():
        terminalreporter.write_line(hint)

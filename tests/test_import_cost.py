"""A client that starts on every prompt must not pay for modules it does not use.

Checked in a fresh interpreter, by module set (never by timing): ``import
convstore`` and the client's usual imports load neither pypika (SQL is built
ahead of time) nor psycopg (an optional extra), nor the heavier standard
modules the library deliberately avoids on its start-up path.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import PYTHON, child_env

HEAVY = [
    "pypika",
    "psycopg",
    "psycopg_pool",
    "typing",
    "json",
    "pathlib",
    "dataclasses",
    "hashlib",
    "re",
    "threading",
    "importlib.util",
]

PROBE = """
import json, sys
before = set(sys.modules)
{imports}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _loaded_by(imports: str) -> set[str]:
    code = PROBE.replace("{imports}", imports)
    out = subprocess.run(
        [PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


@pytest.mark.parametrize(
    "imports",
    [
        "import convstore",
        "from convstore import SessionStore, StoreError",
        "from convstore import SessionManager, LocalSessionService",
    ],
)
def test_start_up_path_imports_nothing_heavy(imports: str) -> None:
    # `json` is imported by the probe itself before `before` is taken, so a
    # library import of json would not show; it is checked separately below.
    loaded = _loaded_by(imports)
    assert not (loaded & set(HEAVY)), sorted(loaded & set(HEAVY))


def test_library_does_not_import_json_on_start_up() -> None:
    code = (
        "import sys, convstore; from convstore import SessionManager; print('json' in sys.modules)"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_service_protocol_is_still_importable_on_demand() -> None:
    loaded = _loaded_by("from convstore import SessionService")
    assert "convstore.service" in loaded


FRAMEWORKS = ["agents", "openai", "langgraph", "langchain_core", "google.adk", "google.genai"]


@pytest.mark.parametrize(
    "imports",
    ["import convstore", "import convstore.integrations", "from convstore import blobs"],
)
def test_no_agent_framework_is_imported(imports: str) -> None:
    """The integrations are optional extras: each imports its framework only when imported."""
    loaded = _loaded_by(imports)
    assert not (loaded & set(FRAMEWORKS)), sorted(loaded & set(FRAMEWORKS))

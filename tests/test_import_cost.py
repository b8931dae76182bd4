"""A client that starts on every prompt must not pay for modules it does not use.

Checked in a fresh interpreter, by what happens (never by timing): ``import
convstore`` and the client's usual imports load neither pypika (SQL is built
ahead of time) nor psycopg (an optional extra), nor the heavier standard
modules the library deliberately avoids on its start-up path; they load
exactly the modules the store needs, compile no source at run time and look
for no module that is not there.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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


#: Every convstore module ``import convstore`` loads: what ``SessionStore`` needs to
#: open a file and nothing more. A module added to this path costs every shell
#: prompt ~0.1-0.3 ms (finding, reading and running it): import it where it is
#: used instead, or extend this list knowing that.
START_UP_MODULES = {
    "convstore",
    "convstore._common",
    "convstore._lean",
    "convstore._validate",
    "convstore.errors",
    "convstore.models",
    "convstore.sqlite",
    "convstore.sqlite._sql",
    "convstore.sqlite.connection",
    "convstore.sqlite.migrations",
    "convstore.sqlite.store",
}

AUDIT = """
import json, sys
events = []
def hook(event, args):
    if event == "import":
        events.append(["import", args[0]])
    elif event == "compile":
        events.append(["compile", str(args[1])])
sys.addaudithook(hook)
import convstore
print(json.dumps({"events": events, "modules": sorted(sys.modules)}))
"""


def _audit_import() -> tuple[list[list[str]], set[str]]:
    out = subprocess.run(
        [PYTHON, "-c", AUDIT], env=child_env(), capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    return result["events"], set(result["modules"])


def test_start_up_path_loads_exactly_the_store_modules() -> None:
    _, modules = _audit_import()
    loaded = {m for m in modules if m == "convstore" or m.startswith("convstore.")}
    assert loaded == START_UP_MODULES, (
        f"new on the start-up path: {sorted(loaded - START_UP_MODULES)}; "
        f"no longer on it: {sorted(START_UP_MODULES - loaded)}"
    )


def test_start_up_compiles_no_source_at_run_time() -> None:
    """``collections.namedtuple`` ``eval``s a ``__new__`` (~0.1 ms a record class);
    ``_lean.NamedTuple`` builds the same class without. Compiling a module's own
    file (no bytecode cache) is fine; compiling a string is not."""
    events, _ = _audit_import()
    strings = [name for kind, name in events if kind == "compile" and not name.endswith(".py")]
    assert strings == []


def test_start_up_looks_for_no_missing_module() -> None:
    """A failed import searches every ``sys.path`` entry (``_sha2`` on Python 3.11
    cost ~0.1 ms on every start); each module looked for must be found."""
    events, modules = _audit_import()
    missing = sorted({name for kind, name in events if kind == "import"} - modules)
    assert missing == []


FIRST_COMMAND = """
import json, sys
import convstore
path = sys.argv[1]
with convstore.SessionStore(path) as store:
    store.create_session("s1", directory="/p")
    store.append_event("s1", "e1", None, "i1", "user_message", '{"content": "hi"}')
heavy = ("json", "re", "typing", "convstore.lifecycle", "convstore.sqlite.search")
for name in [m for m in sys.modules if m.split(".")[0] in ("re", "typing") or m in heavy]:
    del sys.modules[name]  # what creating the file needed; a later prompt starts without it
before = set(sys.modules)
with convstore.SessionStore(path) as store:
    session = store.find_resumable_session("/p", None, 3600)
    store.history(session.id)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_resume_and_history_of_an_existing_file_load_nothing_heavy(tmp_path: Path) -> None:
    """A shell prompt's usual work on an existing file: resume, then the history.

    A history without a summary is returned as read: :mod:`convstore.lifecycle`
    (json, re, datetime, typing) is imported only to fold one that has a summary.
    """
    out = subprocess.run(
        [PYTHON, "-c", FIRST_COMMAND, str(tmp_path / "s.db")],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(out.stdout))
    assert not (loaded & {*HEAVY, "convstore.lifecycle"}), sorted(loaded)

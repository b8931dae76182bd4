"""Cold start: a new Python process imports, opens the large file, resumes, loads 200 events.

Each variant is a small script run with ``python -c``; the parent times the
whole process (``wall``) and the child reports the time from its first line
to the end (``inproc``: imports + open + query, without interpreter start-up).

* ``convstore`` — ``import convstore``; ``SessionStore``; ``find_resumable_session``;
  ``load_events``.
* ``floor`` — the same steps with bare ``apsw`` and hand-written SQL (the same
  pragmas and statement text, no migration check, no result objects).
* ``reference`` — bare ``apsw`` on Atuin AI's schema with its SQL.
* ``peer`` — ``import agents``; ``SQLiteSession(solo).get_items()`` (the SDK has
  no resume lookup; only the import, open and load are timed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from convstore import _sql

from . import systems

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

_CONVSTORE = """
import time
t0 = time.perf_counter()
import convstore
store = convstore.SessionStore({path!r}, clock=lambda: {now})
session = store.find_resumable_session({dir!r}, {dir!r}, {max_age})
events = store.load_events(session.id)
store.close()
assert len(events) == {n}, len(events)
print(time.perf_counter() - t0)
"""

_FLOOR = """
import time
t0 = time.perf_counter()
import apsw
conn = apsw.Connection({path!r}, flags=apsw.SQLITE_OPEN_READWRITE, statementcachesize=128)
conn.set_busy_timeout(5000)
if str(conn.execute("PRAGMA journal_mode").get).lower() != "wal":
    conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=NORMAL")
conn.execute("PRAGMA foreign_keys=ON")
conn.execute("PRAGMA wal_autocheckpoint=1000")
conn.execute("PRAGMA journal_size_limit=67108864")
cutoff = {now} - {max_age}
best = conn.execute({by_dir!r}, ({dir!r}, cutoff)).fetchone()
other = conn.execute({by_root!r}, ({dir!r}, cutoff)).fetchone()
if other is not None and (best is None or other[6] > best[6]):
    best = other
events = conn.execute({load!r}, (best[0],)).fetchall()
conn.close()
assert len(events) == {n}, len(events)
print(time.perf_counter() - t0)
"""

_REFERENCE = """
import time
t0 = time.perf_counter()
import apsw
conn = apsw.Connection({path!r}, flags=apsw.SQLITE_OPEN_READWRITE, statementcachesize=128)
conn.set_busy_timeout(5000)
if str(conn.execute("PRAGMA journal_mode").get).lower() != "wal":
    conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=NORMAL")
conn.execute("PRAGMA foreign_keys=ON")
conn.execute("PRAGMA wal_autocheckpoint=1000")
conn.execute("PRAGMA journal_size_limit=67108864")
best = conn.execute({resumable!r}, ({now} - {max_age}, {dir!r}, {dir!r})).fetchone()
events = conn.execute({load!r}, (best[0],)).fetchall()
conn.close()
assert len(events) == {n}, len(events)
print(time.perf_counter() - t0)
"""

_PEER = """
import time
t0 = time.perf_counter()
import asyncio
from agents import SQLiteSession
session = SQLiteSession({solo!r}, {path!r})
items = asyncio.run(session.get_items())
session.close()
assert len(items) == {n}, len(items)
print(time.perf_counter() - t0)
"""


def scripts(paths: dict[str, Path], manifest: dict[str, Any]) -> dict[str, str]:
    """The cold-start script of every system whose file exists in ``paths``."""
    common = {
        "now": manifest["now"],
        "dir": manifest["solo_dir"],
        "max_age": systems.MAX_AGE_SECS,
        "n": manifest["target_events"],
    }
    out: dict[str, str] = {}
    if "convstore" in paths:
        p = str(paths["convstore"])
        out["convstore"] = _CONVSTORE.format(path=p, **common)
        out["floor"] = _FLOOR.format(
            path=p,
            by_dir=_sql.SESSION_RESUMABLE_BY_DIRECTORY,
            by_root=_sql.SESSION_RESUMABLE_BY_GIT_ROOT,
            load=_sql.EVENTS_LOAD,
            **common,
        )
    if "reference" in paths:
        out["reference"] = _REFERENCE.format(
            path=str(paths["reference"]),
            resumable=systems.REF_RESUMABLE,
            load=systems.REF_LOAD,
            **common,
        )
    if "peer" in paths:
        out["peer"] = _PEER.format(
            path=str(paths["peer"]), solo=manifest["solo_session"], n=common["n"]
        )
    return out


def child_env() -> dict[str, str]:
    """Environment for a child that must import this checkout's convstore."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    env.pop("PYTHONSTARTUP", None)
    # An installed wheel has its bytecode compiled at install time; a child that
    # recompiled convstore's modules on every start (PYTHONDONTWRITEBYTECODE=1 in
    # the environment) would time the compiler, not the library. Bytecode goes to
    # a cache outside the source tree; the untimed warm-up run writes it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "convstore-bench-pycache")
    return env


def run_once(script: str, env: dict[str, str]) -> tuple[float, float]:
    """Run one cold start; return (wall seconds, in-process seconds)."""
    t = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child failed:\n{proc.stderr}")
    return wall, float(proc.stdout.strip().splitlines()[-1])

"""docs/integrations.md: every ```python and ```sh sample runs as written, in order."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, REPO, child_env

DOC = REPO / "docs" / "integrations.md"

pytest.importorskip("agents", reason="the openai-agents extra is not installed")
pytest.importorskip("langgraph.checkpoint.base", reason="the langgraph extra is not installed")
pytest.importorskip("google.adk", reason="the adk extra is not installed")


def test_integration_samples_run_as_written(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    blocks = re.findall(r"```(python|sh)\n(.*?)```", DOC.read_text(), re.S)
    assert [kind for kind, _ in blocks].count("python") == 4
    env = {**child_env(), "TZ": "UTC", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    try:  # the team-server sample runs on the throwaway cluster (tests/conftest.py)
        env["CONVSTORE_CONNINFO"] = request.getfixturevalue("pg_dsn")
    except pytest.skip.Exception:
        blocks = [(kind, code) for kind, code in blocks if "CONVSTORE_CONNINFO" not in code]
    env["PATH"] = os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")])
    runners = {"python": [PYTHON, "-c"], "sh": ["bash", "-euo", "pipefail", "-c"]}
    outputs = []
    for kind, code in blocks:
        proc = subprocess.run(
            [*runners[kind], code], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, f"{kind} sample failed:\n{code}\n{proc.stderr}"
        outputs.append(proc.stdout)
    text = "\n".join(outputs)
    assert "4 items" in text
    assert "'log': ['start', 'human said yes']" in text
    assert "'trip': 'Porto'" in text and "temp:draft" not in text
    assert "support-42" in text and "langgraph:t-1" in text and "adk:travel/ana/" in text
    if "CONVSTORE_CONNINFO" in env:
        assert "checkpoint step -1" in text and "{'k': 1}" in text
        assert "[{'role': 'user', 'content': 'hi'}]" in text

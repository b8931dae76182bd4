"""README's promises: its test command is what CI runs, and its example runs as written."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import PYTHON, REPO, child_env


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    test_cmd = re.search(r"^(python -m pytest[^\n#]*?)\s*#", readme, re.M)
    assert test_cmd is not None
    ci = (REPO / ".ci" / "run").read_text()
    assert test_cmd.group(1).strip() in ci.splitlines()


def test_readme_examples_run_as_written(tmp_path: object) -> None:
    blocks = _python_blocks()
    assert blocks
    for block in blocks:
        subprocess.run(
            [PYTHON, "-c", block], env=child_env(), check=True, capture_output=True, text=True
        )


def test_readme_shell_sample_runs_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert blocks
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "python"  # `python` in the sample is this interpreter
    wrapper.write_text(f'#!/bin/sh\nexec "{PYTHON}" "$@"\n')
    wrapper.chmod(0o755)
    env = child_env()
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    work = tmp_path / "work"
    work.mkdir()
    for block in blocks:
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
    assert (work / "copy.db").exists()


def test_readme_session_listing_tells_sessions_apart() -> None:
    flow = next(b for b in _python_blocks() if "SessionManager" in b)
    out = subprocess.run(
        [PYTHON, "-c", flow], env=child_env(), check=True, capture_output=True, text=True
    ).stdout.splitlines()
    rows = [line.split() for line in out if line.endswith(("True", "False"))]
    assert len(rows) == 2, out  # the archived session and the new one
    assert rows[0][0] != rows[1][0]  # printed ids differ (UUIDv7 share their time prefix)


def test_readme_says_where_the_postgres_service_lives() -> None:
    readme = (REPO / "README.md").read_text()
    assert "from convstore.postgres import PostgresSessionService" in readme
    assert "pip install 'convstore[postgres]'" in readme
    assert (REPO / "LICENSE").is_file() and "[LICENSE](LICENSE)" in readme

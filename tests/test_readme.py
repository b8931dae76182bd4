"""README's promises: its test command is what CI runs, and its example runs as written."""

from __future__ import annotations

import re
import subprocess

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

"""docs/history-tools.md: every ```python and ```sh sample runs as written, in order."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import PYTHON, REPO, child_env

DOC = REPO / "docs" / "history-tools.md"


def test_history_tools_samples_run_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```(python|sh)\n(.*?)```", DOC.read_text(), re.S)
    assert [kind for kind, _ in blocks].count("sh") >= 5
    env = {**child_env(), "TZ": "UTC", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env["PATH"] = os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")])
    runners = {"python": [PYTHON, "-c"], "sh": ["bash", "-euo", "pipefail", "-c"]}
    for kind, code in blocks:
        cmd = [*runners[kind], code]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{kind} sample failed:\n{code}\n{proc.stderr}"
    assert (tmp_path / "all.jsonl").is_file()
    # The format sample in the doc is exactly what export writes for s1.
    sample = re.search(r"```\n(\{\"kind\":\"session\".*?)```", DOC.read_text(), re.S)
    assert sample is not None
    exported = subprocess.run(
        [PYTHON, "-m", "convstore", "--db", "demo.db", "export", "--session", "s1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert exported.splitlines()[:2] == sample.group(1).splitlines()

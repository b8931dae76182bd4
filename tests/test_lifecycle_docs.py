"""docs/lifecycle.md: every ```python and ```sh sample runs as written, in order."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import PYTHON, REPO, child_env

DOC = REPO / "docs" / "lifecycle.md"


def test_lifecycle_samples_run_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```(python|sh)\n(.*?)```", DOC.read_text(), re.S)
    assert [kind for kind, _ in blocks].count("python") >= 5
    env = {**child_env(), "TZ": "UTC", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env["PATH"] = os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")])
    runners = {"python": [PYTHON, "-c"], "sh": ["bash", "-euo", "pipefail", "-c"]}
    outputs = []
    for kind, code in blocks:
        cmd = [*runners[kind], code]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{kind} sample failed:\n{code}\n{proc.stderr}"
        outputs.append(proc.stdout)
    text = "".join(outputs)
    assert "compacted_through" in text and "gpt-4.1" in text and "[more" not in text
    assert "error: no conversation 'elsewhere' in scope" in text

"""Find a directory's git root without starting a subprocess.

A shell assistant runs this on every prompt, so it only ``stat``s: walking up
from the directory, the first ``.git`` that is a directory, or a file whose
first line is ``gitdir: …`` (worktrees, submodules), marks the root.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / ".git").mkdir(); (root / "src" / "pkg").mkdir(parents=True)
>>> find_git_root(root / "src" / "pkg") == str(root)
True
"""

from __future__ import annotations

import os

__all__ = ["find_git_root"]


def _is_git_marker(path: str) -> bool:
    if os.path.isdir(path):
        return True
    if os.path.isfile(path):
        try:
            with open(path, "rb") as f:
                return f.read(8) == b"gitdir: "
        except OSError:
            return False
    return False


def find_git_root(directory: str | os.PathLike[str]) -> str | None:
    """The nearest directory at or above ``directory`` holding ``.git``, or ``None``."""
    current = os.path.abspath(directory)
    while True:
        if _is_git_marker(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent

"""The plain-string SQL module must be exactly what the pypika builder produces."""

from __future__ import annotations

import subprocess

from conftest import PYTHON, REPO, child_env


def test_generated_sql_matches_pypika_builder() -> None:
    from convstore import _sqlbuild

    on_disk = (REPO / "src" / "convstore" / "_sql.py").read_text()
    assert on_disk == _sqlbuild.render(), (
        "src/convstore/_sql.py is stale: run "
        "`python -m convstore._sqlbuild > src/convstore/_sql.py`"
    )


def test_import_convstore_does_not_import_pypika() -> None:
    code = "import sys, convstore; print('pypika' in sys.modules, 'psycopg' in sys.modules)"
    out = subprocess.run(
        [PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]

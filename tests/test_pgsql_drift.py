"""The PostgreSQL plain-string SQL module must be exactly what its pypika builder produces."""

from __future__ import annotations

import subprocess

import pytest
from conftest import PYTHON, REPO, child_env


def test_generated_pgsql_matches_pypika_builder() -> None:
    pytest.importorskip("psycopg", reason="the postgres extra: pip install -e '.[postgres]'")
    from convstore import _pgsqlbuild

    on_disk = (REPO / "src" / "convstore" / "postgres" / "_pgsql.py").read_text()
    assert on_disk == _pgsqlbuild.render(), (
        "src/convstore/postgres/_pgsql.py is stale: run "
        "`python -m convstore.postgres._pgsqlbuild`"
    )


def test_import_convstore_imports_neither_psycopg_nor_pypika() -> None:
    code = (
        "import sys, convstore\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "bad = sorted(roots & {'psycopg', 'psycopg_pool', 'pypika'})\n"
        "print(bad)"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_import_convstore_postgres_does_not_import_pypika() -> None:
    pytest.importorskip("psycopg")
    code = "import sys, convstore.postgres; print('pypika' in sys.modules)"
    out = subprocess.run(
        [PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"

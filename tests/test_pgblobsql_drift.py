"""The PostgreSQL integrations' plain-string SQL module must be what its pypika builder produces."""

from __future__ import annotations

import pytest
from conftest import REPO


def test_generated_pg_blob_sql_matches_pypika_builder() -> None:
    pytest.importorskip("psycopg", reason="the postgres extra: pip install -e '.[postgres]'")
    from convstore.postgres import _pgblobsqlbuild

    on_disk = (REPO / "src" / "convstore" / "postgres" / "_pgblobsql.py").read_text()
    assert on_disk == _pgblobsqlbuild.render(), (
        "src/convstore/postgres/_pgblobsql.py is stale: run "
        "`python -m convstore.postgres._pgblobsqlbuild`"
    )

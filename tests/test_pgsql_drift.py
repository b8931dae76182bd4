"""The PostgreSQL plain-string SQL module must be exactly what its pypika builder produces."""

from __future__ import annotations

from conftest import REPO


def test_generated_pgsql_matches_pypika_builder() -> None:
    from convstore import _pgsqlbuild

    on_disk = (REPO / "src" / "convstore" / "_pgsql.py").read_text()
    assert on_disk == _pgsqlbuild.render(), (
        "src/convstore/_pgsql.py is stale: run "
        "`python -m convstore._pgsqlbuild > src/convstore/_pgsql.py`"
    )

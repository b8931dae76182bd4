"""The plain-string SQL module must be exactly what the pypika builder produces."""

from __future__ import annotations

from conftest import REPO


def test_generated_sql_matches_pypika_builder() -> None:
    from convstore import _sqlbuild

    on_disk = (REPO / "src" / "convstore" / "sqlite" / "_sql.py").read_text()
    assert on_disk == _sqlbuild.render(), (
        "src/convstore/sqlite/_sql.py is stale: run "
        "`python -m convstore.sqlite._sqlbuild`"
    )

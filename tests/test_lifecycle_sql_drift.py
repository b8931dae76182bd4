"""The lifecycle's plain-string SQL module must be exactly what its pypika builder produces."""

from __future__ import annotations

from conftest import REPO


def test_generated_lifecycle_sql_matches_pypika_builder() -> None:
    from convstore import _lifecycle_sqlbuild

    on_disk = (REPO / "src" / "convstore" / "_lifecycle_sql.py").read_text()
    assert on_disk == _lifecycle_sqlbuild.render(), (
        "src/convstore/_lifecycle_sql.py is stale: run "
        "`python -m convstore._lifecycle_sqlbuild`"
    )

"""The integrations' plain-string SQL module must be exactly what its pypika builder produces."""

from __future__ import annotations

from conftest import REPO


def test_generated_blob_sql_matches_pypika_builder() -> None:
    from convstore import _blobsqlbuild

    on_disk = (REPO / "src" / "convstore" / "sqlite" / "_blobsql.py").read_text()
    assert on_disk == _blobsqlbuild.render(), (
        "src/convstore/sqlite/_blobsql.py is stale: run "
        "`python -m convstore.sqlite._blobsqlbuild`"
    )

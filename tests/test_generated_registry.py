"""Every SQL builder is on the shared registry, and every registered module is fresh.

``_sqlbuild_shared.GENERATED`` names each generated module of statements; its
builder is ``<module>build``. A builder that is not registered would have no
header, no ``python -m`` command and no drift check: this test finds it.
"""

from __future__ import annotations

import pytest
from conftest import REPO

from convstore import _sqlbuild_shared as shared

SRC = REPO / "src" / "convstore"


def test_every_builder_is_registered() -> None:
    builders = {
        ".".join(path.relative_to(SRC).with_suffix("").parts)[: -len("build")]
        for path in SRC.rglob("*build.py")
        if path.name != "_sqlbuild_shared.py"
    }
    assert builders == set(shared.GENERATED)


@pytest.mark.parametrize("module", sorted(shared.GENERATED))
def test_registered_module_matches_its_builder(module: str) -> None:
    if module.startswith("postgres."):
        pytest.importorskip("psycopg", reason="the postgres extra: pip install -e '.[postgres]'")
    on_disk = SRC.joinpath(*module.split(".")).with_suffix(".py").read_text()
    assert on_disk == shared.render(module), f"stale: run `python -m convstore.{module}build`"
    _, test = shared.GENERATED[module]
    assert (REPO / "tests" / test).exists()

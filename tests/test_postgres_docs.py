"""docs/postgres.md: its examples run as written against the cluster command it documents."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import PYTHON, REPO, child_env

DOC = REPO / "docs" / "postgres.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def test_documented_cluster_command_prints_the_examples_default_conninfo() -> None:
    from pgcluster import PgCluster

    sh = "\n".join(_blocks("sh"))
    start = re.search(r"^python -m tests\.pgcluster start (\S+) --port (\d+)$", sh, re.M)
    assert start is not None
    printed = re.search(r"# prints: (.*)$", sh, re.M)
    assert printed is not None
    cluster = PgCluster.__new__(PgCluster)  # conninfo() needs only port and user
    cluster.port, cluster.user = int(start.group(2)), "convstore"
    assert cluster.conninfo() == printed.group(1).strip()
    for block in _blocks("python"):
        assert f'"{printed.group(1).strip()}"' in block


def test_documented_examples_run_as_written(pg_dsn: str) -> None:
    blocks = _blocks("python")
    assert len(blocks) == 3
    env = {**child_env(), "CONVSTORE_PG": pg_dsn}
    for block in blocks:
        out = subprocess.run(
            [PYTHON, "-c", block], env=env, capture_output=True, text=True, cwd=os.getcwd()
        )
        assert out.returncode == 0, out.stderr
    assert (
        "invocation_boundary"
        in subprocess.run(
            [PYTHON, "-c", blocks[0]], env=env, capture_output=True, text=True, check=True
        ).stdout
    )


def test_documented_migrate_command_is_the_deploy_step(pg_cluster: object) -> None:
    import uuid

    sh = "\n".join(_blocks("sh"))
    line = re.search(r'^convstore server migrate --conninfo "([^"]+)"$', sh, re.M)
    assert line is not None
    dsn = pg_cluster.create_database(f"doc_{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    cli = [PYTHON, "-m", "convstore", "server", "migrate", "--conninfo", dsn]
    out = subprocess.run(cli, env=child_env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "applied 0004_row_level_security.sql" in out.stdout

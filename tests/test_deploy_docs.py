"""docs/deploy-server.md, run as written: a TLS + SCRAM cluster built with its commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PYTHON, REPO, child_env

DOC = REPO / "docs" / "deploy-server.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[Any]:
    """A cluster with the documented CA and server certificate: TLS only, SCRAM roles."""
    from conftest import require_postgres
    from pgcluster import PgCluster

    require_postgres()  # server binaries and psycopg, or skip with the install hint
    if shutil.which("openssl") is None:  # pragma: no cover
        pytest.fail("the deployment test needs openssl")
    base = Path(tempfile.mkdtemp(prefix="convstore-tls-"))
    certs = base / "certs"
    certs.mkdir()
    openssl = _blocks("sh")[0]
    assert "openssl req -new -x509" in openssl
    subprocess.run(["bash", "-e", "-c", openssl], cwd=certs, check=True, capture_output=True)
    cluster = PgCluster(base / "data", tls_dir=certs)
    cluster.certs = certs
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop(mode="immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _local(cluster: Any, conninfo: str) -> str:
    """The documented conninfo, pointed at the test cluster's port and CA file."""
    out = conninfo.replace("host=localhost", f"host=localhost port={cluster.port}")
    out = out.replace("sslrootcert=ca.crt", f"sslrootcert={cluster.certs / 'ca.crt'}")
    return out.replace("user=postgres", f"user={cluster.user}")


def _superuser(cluster: Any, dbname: str = "postgres") -> str:
    return _local(
        cluster,
        f"host=localhost dbname={dbname} user=postgres sslmode=verify-full sslrootcert=ca.crt",
    )


def test_the_deployment_guide_runs_as_written(tls_cluster: Any) -> None:
    import psycopg

    from convstore import StoreError
    from convstore.postgres import PostgresSessionService

    cluster = tls_cluster
    # 2. Roles, with SCRAM passwords.
    with psycopg.connect(_superuser(cluster), autocommit=True) as conn:
        assert conn.info.pgconn.ssl_in_use
        for statement in _blocks("sql")[0].strip().split(";\n"):
            conn.execute(statement.strip().rstrip(";").encode())
        verifier = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'alice'"
        ).fetchone()
        assert verifier is not None and verifier[0].startswith("SCRAM-SHA-256$")

    # 3. The deploy step, as the owning role (password from the environment).
    sh = "\n".join(_blocks("sh"))
    line = re.search(r'^convstore server migrate --conninfo "([^"]+)"$', sh, re.M)
    assert line is not None
    env = {**child_env(), "PGPASSWORD": "change-me-owner"}
    cli = [PYTHON, "-m", "convstore", "server", "migrate", "--conninfo"]
    out = subprocess.run(
        [*cli, _local(cluster, line.group(1))], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "applied 0004_row_level_security.sql" in out.stdout

    # 4. Clients: verify-full over TLS, the login role is the owner.
    base = _local(cluster, "host=localhost dbname=convstore sslmode=verify-full sslrootcert=ca.crt")
    alice = f"{base} user=alice password=change-me-alice"
    bob = f"{base} user=bob password=change-me-bob"
    backend = f"{base} user=chat_backend password=change-me-backend"
    out = subprocess.run(
        [PYTHON, "-c", _blocks("python")[0]],
        env={**child_env(), "CONVSTORE_CONNINFO": alice},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["alice", "['deploy-check-1']"]
    with PostgresSessionService(bob) as svc:
        assert svc.get_session("deploy-check") is None
    with pytest.raises(StoreError, match="convstore_service"):
        PostgresSessionService(bob, owner="alice")
    with PostgresSessionService(backend, owner="alice") as svc:
        assert svc.get_session("deploy-check") is not None

    # TLS is required and verified: no plain connections, no unknown CA.
    with pytest.raises(psycopg.OperationalError, match=r"no encryption|reject"):
        psycopg.connect(alice.replace("sslmode=verify-full", "sslmode=disable")).close()
    other_ca = cluster.certs / "other-ca.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-x509",
            "-nodes",
            "-subj",
            "/CN=other",
            "-keyout",
            str(cluster.certs / "other.key"),
            "-out",
            str(other_ca),
        ],
        check=True,
        capture_output=True,
    )
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(alice.replace(str(cluster.certs / "ca.crt"), str(other_ca))).close()

    # 7. Per-role timeouts.
    with psycopg.connect(_superuser(cluster, "convstore"), autocommit=True) as conn:
        for statement in _blocks("sql")[1].strip().split(";\n"):
            conn.execute(statement.strip().rstrip(";").encode())
    with psycopg.connect(alice) as conn:
        assert conn.execute(
            "SELECT current_setting('idle_in_transaction_session_timeout')"
        ).fetchone() == ("30s",)

    # 8. Backups: pg_dump as a superuser over TLS, and the dump lists the tables.
    assert cluster.bindir is not None
    backup = _blocks("sh")[-1]
    dump_dir = Path(tempfile.mkdtemp(prefix="convstore-dump-"))
    try:
        for command in backup.strip().splitlines():
            program, rest = command.split(" ", 1)
            rest = re.sub(r'"([^"]+)"', lambda m: f'"{_local(cluster, m.group(1))}"', rest)
            rest = rest.replace("convstore.dump", str(dump_dir / "convstore.dump"))
            out = subprocess.run(
                f"{cluster.bindir / program} {rest}", shell=True, capture_output=True, text=True
            )
            assert out.returncode == 0, out.stderr
        assert "TABLE DATA public session_events" in out.stdout
    finally:
        shutil.rmtree(dump_dir, ignore_errors=True)
    assert os.path.exists(cluster.certs / "ca.crt")

"""A throwaway PostgreSQL cluster from the installed server binaries.

Used by the test fixture (``tests/conftest.py``), the benchmarks and the
documentation's example. ``initdb`` + ``pg_ctl`` in a directory of its own,
listening on 127.0.0.1 (and a Unix socket inside that directory) only, trust
authentication for the one superuser ``convstore``; every other role logs in
over TCP with a SCRAM-SHA-256 password (:meth:`PgCluster.create_role`). ``initdb`` refuses to run
as root, so when we are root the cluster runs as an unprivileged system user
(``postgres`` when the Debian package created it, else ``nobody``) that owns
the directory.

Command line (what ``docs/postgres.md`` documents)::

    python -m tests.pgcluster start /tmp/convstore-pg --port 54329   # prints the conninfo
    python -m tests.pgcluster stop /tmp/convstore-pg
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PgCluster", "find_bindir", "INSTALL_HINT"]

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them with "
    "`apt-get install postgresql` (or set CONVSTORE_PG_BINDIR to their directory)"
)

#: Fast and unsafe: a throwaway test cluster must not wait on fsync.
TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
}


def _version_key(path: str) -> tuple[int, ...]:
    m = re.search(r"/postgresql/(\d+)(?:\.(\d+))?/bin", path)
    return tuple(int(g) for g in m.groups() if g) if m else (0,)


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: $CONVSTORE_PG_BINDIR, PATH, or Debian's layout."""
    env = os.environ.get("CONVSTORE_PG_BINDIR")
    if env:  # an explicit choice: that directory or nothing
        d = Path(env)
        return d if (d / "initdb").is_file() and (d / "pg_ctl").is_file() else None
    candidates: list[str] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    # Debian/Ubuntu install the server outside PATH; newest version first.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), reverse=True)  # RHEL layout
    for cand in candidates:
        d = Path(cand)
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    """The unprivileged user to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and neither user 'postgres' nor 'nobody' exists")


@dataclass
class PgCluster:
    """One cluster: ``start()`` it, use :attr:`conninfo`, ``stop()`` it."""

    datadir: Path
    port: int = 0
    bindir: Path | None = None
    settings: dict[str, str] = field(default_factory=lambda: dict(TEST_SETTINGS))
    user: str = "convstore"
    #: A directory holding ``server.crt`` and ``server.key`` (made with the
    #: openssl commands of docs/deploy-server.md): the cluster then accepts TLS
    #: connections only (``hostssl`` lines), SCRAM for every role but the harness's.
    tls_dir: Path | None = None

    def __post_init__(self) -> None:
        self.datadir = Path(self.datadir)
        if self.bindir is None:
            self.bindir = find_bindir()
        if self.bindir is None:
            raise FileNotFoundError(INSTALL_HINT)
        if not self.port:
            self.port = free_port()
        self.run_as = _run_as()

    # Where the Unix socket lives: the cluster's own directory, nowhere shared.
    @property
    def socket_dir(self) -> Path:
        return self.datadir.parent / "socket"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def _write_hba(self) -> None:
        """Trust for the superuser (the test harness), SCRAM passwords for every other role."""
        hba = self.datadir / "pg_hba.conf"
        kind = "hostssl" if self.tls_dir is not None else "host"
        hba.write_text(
            "# written by tests/pgcluster.py\n"
            "local all all trust\n"
            f"{kind} all {self.user} 127.0.0.1/32 trust\n"
            f"{kind} all all 127.0.0.1/32 scram-sha-256\n"
            + ("hostnossl all all 0.0.0.0/0 reject\n" if self.tls_dir is not None else "")
        )

    def _install_tls(self) -> None:
        """Copy the server certificate and key into the data directory (0600, server-owned)."""
        assert self.tls_dir is not None
        for name in ("server.crt", "server.key"):
            target = self.datadir / name
            shutil.copyfile(Path(self.tls_dir) / name, target)
            os.chmod(target, 0o600)
            self._chown(target)

    def create_role(
        self,
        name: str,
        password: str | None = None,
        *,
        login: bool = True,
        dbname: str = "postgres",
    ) -> str:
        """A role (non-superuser, SCRAM password); returns a conninfo logging in as it."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute("SET password_encryption = 'scram-sha-256'")
            conn.execute(
                sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                    sql.Identifier(name),
                    sql.SQL("LOGIN" if login else "NOLOGIN"),
                    sql.Literal(password),
                )
            )
        return f"host=127.0.0.1 port={self.port} user={name} password={password} dbname={dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        """Run one statement as the superuser (grants, role changes in tests)."""
        import psycopg

        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            conn.execute(statement.encode())

    def _cmd(self, *args: str) -> list[str]:
        assert self.bindir is not None
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as is None:
            return cmd
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", self.run_as, "--", *cmd]
        return ["su", "-s", "/bin/sh", self.run_as, "-c", " ".join(map(_quote, cmd))]

    def _sh(self, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run(
            self._cmd(*args),
            cwd=self.datadir.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )
        if proc.returncode != 0:
            log = self.datadir.parent / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}"
            )

    def _chown(self, path: Path) -> None:
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def start(self) -> PgCluster:
        """``initdb`` (when the directory has no cluster yet) and start, listening on loopback."""
        base = self.datadir.parent
        base.mkdir(parents=True, exist_ok=True)
        self._chown(base)
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.socket_dir)
        if not (self.datadir / "PG_VERSION").exists():
            self._sh(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            )
            if self.tls_dir is not None:
                self._install_tls()
            self._write_hba()
        if self.tls_dir is not None:
            self.settings.update(
                {"ssl": "on", "ssl_cert_file": "server.crt", "ssl_key_file": "server.key"}
            )
        opts = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-c unix_socket_directories={self.socket_dir}",
            *(f"-c {k}={v}" for k, v in self.settings.items()),
        ]
        self._sh(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(base / "server.log"),
            "-o",
            " ".join(opts),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; quiet when it is not running.

        ``mode="immediate"`` skips the shutdown checkpoint: for a cluster whose
        directory is deleted next.
        """
        if (self.datadir / "postmaster.pid").exists():
            self._sh("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its conninfo."""
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name chosen by the caller's code
        return self.conninfo(name)


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def temporary_cluster(port: int = 0) -> PgCluster:
    """A cluster in a new directory under the system temp dir (not started)."""
    # Not pytest's tmp_path: that is root-only (0700) and the server user must enter it.
    base = Path(tempfile.mkdtemp(prefix="convstore-pg-"))
    return PgCluster(base / "data", port=port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pgcluster", description=__doc__)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("directory", type=Path, help="the cluster's own directory")
    parser.add_argument("--port", type=int, default=54329)
    args = parser.parse_args(argv)
    try:
        cluster = PgCluster(args.directory / "data", port=args.port)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.action == "start":
        cluster.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (cluster.datadir / "postmaster.pid").exists():
            time.sleep(0.05)
        print(cluster.conninfo())
    else:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

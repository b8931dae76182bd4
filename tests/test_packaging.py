"""The built wheel works on its own: migrations and type marker ship inside the package.

Builds the wheel from this checkout, installs it (no dependencies, no index)
into a fresh venv outside the repo, and opens a store from a script that runs
in a temporary directory with no path pointing back at the repo. apsw and
pypika come from the test's own environment (``--system-site-packages``, plus
a ``.pth`` line when that environment is itself a venv), so no network is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import PYTHON, REPO

SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys, tempfile
    from pathlib import Path
    import convstore
    from convstore import SessionStore
    from convstore.migrations import known_migrations, migrations_dir

    db = Path(tempfile.mkdtemp()) / "nested" / "sessions.db"
    with SessionStore(db) as store:
        store.create_session("s1", directory="/p")
        store.append_event("s1", "e1", None, "inv1", "user_message", '{"content": "hi"}')
        applied = store.connection.execute(
            "SELECT name, checksum FROM convstore_migrations ORDER BY version"
        ).fetchall()
    with SessionStore(db) as store:
        events = [e.id for e in store.load_events("s1")]
    print(json.dumps({
        "package": str(Path(convstore.__file__).resolve().parent),
        "migrations_dir": str(Path(migrations_dir()).resolve()),
        "known": [[m.name, m.checksum] for m in known_migrations()],
        "applied": [list(r) for r in applied],
        "events": events,
        "pypika_loaded": "pypika" in sys.modules,
    }))
    """
)


def _parent_site_dirs() -> list[str]:
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(p for p in paths if Path(p).is_dir())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [PYTHON, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    wheels = list(out.glob("convstore-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contains_package_migrations_and_type_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    repo_migrations = sorted(p.name for p in (REPO / "migrations").glob("*.sql"))
    assert repo_migrations
    for name in repo_migrations:
        assert f"convstore/migrations/{name}" in names
    assert "convstore/py.typed" in names
    assert "convstore/sqlite/_sql.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "migrations/")) for n in names)


def test_installed_wheel_opens_a_store_with_its_own_migrations(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=os.name != "nt").create(
        env_dir
    )
    bindir = "Scripts" if os.name == "nt" else "bin"
    py = env_dir / bindir / ("python.exe" if os.name == "nt" else "python")
    site_dir = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The test environment may itself be a venv: make its packages (apsw, pypika) visible.
    (site_dir / "_parent_env.pth").write_text("\n".join(_parent_site_dirs()) + "\n")

    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    clean_env["PIP_NO_INDEX"] = "1"
    clean_env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=clean_env,
        timeout=120,
    )

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = subprocess.run(
        [str(py), "-c", SCRIPT],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=clean_env,
        timeout=60,
    )
    report = json.loads(result.stdout)

    package = Path(report["package"])
    assert package.is_relative_to(site_dir.resolve()), report  # not the repo's src/
    assert not package.is_relative_to(REPO)
    assert Path(report["migrations_dir"]) == package / "migrations"
    repo_files = sorted((REPO / "migrations").glob("*.sql"))
    expected = [[p.name, hashlib.sha256(p.read_bytes()).hexdigest()] for p in repo_files]
    assert report["known"] == expected
    assert report["applied"] == expected
    assert report["events"] == ["e1"]
    assert report["pypika_loaded"] is False

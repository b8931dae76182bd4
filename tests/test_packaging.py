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
import tarfile
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import PYTHON, REPO, child_env

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
    assert "convstore/_sql.py" in names
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

    # The installed command: --version, and `bench` explains that the suite is not here.
    command = str(env_dir / bindir / "convstore")

    def convstore(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *args], cwd=workdir, env=clean_env, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip

    assert convstore("--version").stdout == "convstore 0.1.0\n"
    helped = convstore("bench", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: convstore bench")
    assert "not in the installed package" in helped.stdout and "not found here" in helped.stdout
    ran = convstore("bench")
    assert ran.returncode == 1 and ran.stdout == ""
    assert ran.stderr.startswith("convstore: error: the benchmark suite is not available")
    assert ran.stderr.count("\n") == 1


# -- licence, sdist, optional extras ---------------------------------------------


def test_wheel_carries_the_mit_license(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert len(licenses) == 1, names
        assert zf.read(licenses[0]) == (REPO / "LICENSE").read_bytes()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    subprocess.run(
        [PYTHON, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    (archive,) = out.glob("convstore-*.tar.gz")
    with tarfile.open(archive) as tf:
        tf.extractall(out / "unpacked", filter="data")
    (root,) = (out / "unpacked").iterdir()
    return root


def _tracked_files() -> set[str] | None:
    proc = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=False
    )
    return set(proc.stdout.split()) if proc.returncode == 0 and proc.stdout else None


def test_sdist_ships_everything_its_tests_need(sdist: Path) -> None:
    shipped = {str(p.relative_to(sdist)) for p in sdist.rglob("*") if p.is_file()}
    tracked = _tracked_files()
    if tracked is None:  # this run is itself in an unpacked sdist: compare with the tree
        tracked = {str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()}
        tracked = {f for f in tracked if "__pycache__" not in f and not f.startswith(".")}
    expected = {f for f in tracked if f not in (".gitignore", "PKG-INFO")}
    assert expected - shipped == set()
    for needed in ("docs/reliability.md", "benchmarks/__init__.py", ".ci/run", "conftest.py"):
        assert needed in shipped


def test_tests_collect_in_an_unpacked_sdist(sdist: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
    proc = subprocess.run(
        [PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests", "benchmarks", "src"],
        cwd=sdist, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "error" not in proc.stdout.splitlines()[-1]
    proc = subprocess.run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_readme.py::test_ci_runs_the_readme_test_command",
         "tests/test_packaging.py::test_postgres_without_the_extra_says_what_to_install"],
        cwd=sdist, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


#: Run Python as if the postgres extra were not installed.
_NO_PSYCOPG = "import sys; sys.modules['psycopg'] = sys.modules['psycopg_pool'] = None; "


def test_postgres_without_the_extra_says_what_to_install() -> None:
    for statement in (
        "import convstore.postgres",
        "from convstore.postgres import PostgresSessionService",
        "from convstore import PostgresSessionService",
    ):
        code = (
            _NO_PSYCOPG + "from convstore import StoreError\n"
            f"try:\n    {statement}\nexcept ImportError as exc:\n"
            "    print(isinstance(exc, StoreError), exc)"
        )
        proc = subprocess.run(
            [PYTHON, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60
        )
        assert proc.stdout.startswith("True convstore.postgres needs the 'postgres' extra: "
                                      "pip install 'convstore[postgres]'"), proc  # fmt: skip


def test_without_the_extra_pytest_collects_and_says_why_postgres_skips() -> None:
    code = _NO_PSYCOPG + (
        "import pytest; sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider',"
        " 'benchmarks', 'src/convstore']))"
    )
    env = {k: v for k, v in child_env().items() if k != "CI"}
    proc = subprocess.run(
        [PYTHON, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "postgres_bench.py" not in proc.stdout and "convstore/postgres.py" not in proc.stdout
    assert "test_bench_append.py" in proc.stdout
    assert "pip install -e '.[postgres]'" in proc.stdout  # the header's hint

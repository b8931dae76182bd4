"""Foreign and damaged files: a clear ``StoreError`` naming the path, and the file untouched.

For each kind of bad file the store is opened and then every read the API
offers is run over every session and event of the original database (so that
damage anywhere in the file is reached). The promise checked (SPEC §2):

* every failure is a :class:`~convstore.StoreError` (never a raw ``apsw`` or
  ``UnicodeDecodeError``) whose message names the file -- at open, or at the
  first operation that touches the damage;
* damage never passes silently: at least one call fails, and a call that
  does not fail returns exactly what the undamaged database holds;
* the file's bytes are the same after the attempt as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convstore import SessionStore, StoreError

SESSIONS = 12
EVENTS = 40
PAGE = 4096


def _data(rng: random.Random) -> str:
    # Mostly small events, some spilling onto overflow pages.
    return json.dumps({"text": "z" * rng.choice([5, 120, 900, 6000])})


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A populated, cleanly closed database (no -wal/-shm left): the template for damage."""
    path = tmp_path_factory.mktemp("pristine") / "sessions.db"
    rng = random.Random(7)
    with SessionStore(path) as store:
        for s in range(SESSIONS):
            sid = f"s{s}"
            store.create_session(sid, directory=f"/work/p{s}", git_root="/work")
            batch, prev = [], None
            for e in range(EVENTS):
                batch.append((f"{sid}-e{e}", prev, "inv", "text", _data(rng)))
                prev = f"{sid}-e{e}"
            store.append_events(sid, batch)
            store.set_metadata(sid, "title", f"conversation {s}")
    assert not Path(f"{path}-wal").exists()
    return path


Read = tuple[str, Callable[[SessionStore], object]]


def _reads() -> list[Read]:
    reads: list[Read] = [("list_sessions", lambda st: st.list_sessions(include_archived=True))]
    for s in range(SESSIONS):
        sid = f"s{s}"
        reads += [
            (f"get_session {sid}", lambda st, sid=sid: st.get_session(sid)),
            (
                f"find_resumable {sid}",
                lambda st, s=s: st.find_resumable_session(f"/work/p{s}", None, 10**10),
            ),
            (f"load_events {sid}", lambda st, sid=sid: st.load_events(sid)),
            (f"history {sid}", lambda st, sid=sid: st.history(sid)),
            (f"get_metadata {sid}", lambda st, sid=sid: st.get_metadata(sid, "title")),
        ]
        reads += [
            (f"get_event {sid}-e{e}", lambda st, sid=sid, e=e: st.get_event(sid, f"{sid}-e{e}"))
            for e in range(EVENTS)
        ]
    return reads


@pytest.fixture(scope="module")
def truth(pristine: Path) -> dict[str, object]:
    """What every read returns on the undamaged database."""
    with SessionStore(pristine) as store:
        return {name: read(store) for name, read in _reads()}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _attempt(path: Path, truth: dict[str, object] | None) -> list[StoreError]:
    """Open ``path`` and run every read; return the StoreErrors raised (any other
    exception fails the test). A read that succeeds must return the true answer."""
    try:
        store = SessionStore(path)
    except StoreError as exc:
        return [exc]
    errors: list[StoreError] = []
    try:
        for name, read in _reads():
            try:
                result = read(store)
            except StoreError as exc:
                errors.append(exc)
                continue
            if truth is not None:
                assert result == truth[name], f"{name} returned wrong data silently"
    finally:
        store.close()
    return errors


def _assert_refused(path: Path, truth: dict[str, object] | None) -> list[StoreError]:
    before = _sha(path)
    errors = _attempt(path, truth)
    assert errors, "the damage went unnoticed"
    for exc in errors:
        assert str(path) in str(exc), exc
    assert _sha(path) == before, "the attempt modified the file"
    return errors


# -- foreign files ------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 200)
    [exc] = _assert_refused(path, None)
    assert "not an SQLite database" in str(exc)
    assert not Path(f"{path}-wal").exists()  # SQLite was never let near it


def test_sqlite_magic_followed_by_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.db"
    path.write_bytes(b"SQLite format 3\x00" + random.Random(1).randbytes(3 * PAGE))
    _assert_refused(path, None)


# -- damaged databases ----------------------------------------------------------


@pytest.mark.parametrize("keep", ["50 bytes", "first page", "half", "all but the last page"])
def test_a_truncated_database_is_refused(
    pristine: Path, truth: dict[str, object], tmp_path: Path, keep: str
) -> None:
    path = tmp_path / "truncated.db"
    shutil.copy(pristine, path)
    size = path.stat().st_size
    new_size = {
        "50 bytes": 50,
        "first page": PAGE,
        "half": (size // PAGE // 2) * PAGE,
        "all but the last page": size - PAGE,
    }[keep]
    os.truncate(path, new_size)
    _assert_refused(path, truth)


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_over_pages_in_the_middle_are_detected(
    pristine: Path, truth: dict[str, object], tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    path = tmp_path / "damaged.db"
    shutil.copy(pristine, path)
    pages = path.stat().st_size // PAGE
    first = rng.randrange(pages // 4, 3 * pages // 4)  # the middle of a real, full database
    count = rng.choice([1, 1, 3])
    with open(path, "r+b") as f:
        f.seek(first * PAGE)
        f.write(rng.randbytes(count * PAGE))
    _assert_refused(path, truth)


# -- permissions ------------------------------------------------------------------

NOBODY = 65534


@contextlib.contextmanager
def permissions_enforced() -> Iterator[None]:
    """Run the body with the file permission bits in force.

    CI runs the tests as root, and root ignores permission bits: a 0400 file is
    writable to it. So as root the body runs with the *effective* uid switched
    to ``nobody`` (the real uid stays 0, so it can switch back); as any other
    user the bits already apply.
    """
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory ``nobody`` can reach (pytest's tmp_path is inside a 0700 directory)."""
    base = Path(tempfile.mkdtemp(prefix="convstore-perm-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base)


def _owned_copy(pristine: Path, folder: Path) -> Path:
    folder.mkdir(mode=0o700)
    path = folder / "sessions.db"
    shutil.copy(pristine, path)
    if os.geteuid() == 0:
        os.chown(folder, NOBODY, NOBODY)
        os.chown(path, NOBODY, NOBODY)
    return path


def test_a_read_only_file_reads_but_refuses_writes(
    pristine: Path, truth: dict[str, object], shared_dir: Path
) -> None:
    path = _owned_copy(pristine, shared_dir / "ro-file")
    path.chmod(stat.S_IRUSR)  # 0400
    before = _sha(path)
    with permissions_enforced():
        assert _attempt(path, truth) == []  # every read works, and is right
        with SessionStore(path) as store:
            with pytest.raises(StoreError) as info:
                store.append_event("s0", "new", "s0-e39", "inv", "text", "{}")
            assert str(path) in str(info.value)
            with pytest.raises(StoreError):
                store.create_session("new")
    assert _sha(path) == before


def test_a_read_only_directory_is_refused(pristine: Path, shared_dir: Path) -> None:
    path = _owned_copy(pristine, shared_dir / "ro-dir")
    path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)  # 0500: WAL needs to create -wal/-shm
    before = _sha(path)
    with permissions_enforced():
        errors = _assert_refused(path, None)
        assert "cannot write" in str(errors[0])
        with pytest.raises(StoreError) as info:  # a new database cannot be created there either
            SessionStore(path.parent / "new.db")
        assert str(path.parent / "new.db") in str(info.value)
    assert _sha(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["sessions.db"]


# -- paths that are not files -----------------------------------------------------


def test_a_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a-directory.db"
    path.mkdir()
    (path / "inside").write_text("keep me")
    with pytest.raises(StoreError, match="is a directory") as info:
        SessionStore(path)
    assert str(path) in str(info.value)
    assert [p.name for p in path.iterdir()] == ["inside"]
    assert (path / "inside").read_text() == "keep me"


def test_a_path_below_a_regular_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("plain file")
    with pytest.raises(StoreError) as info:
        SessionStore(blocker / "sessions.db")
    assert str(blocker) in str(info.value)
    assert blocker.read_text() == "plain file"

"""I/O-fault injection, the way SQLite tests itself: fail the Nth write, sync or truncate.

An ``apsw.VFS`` shim that inherits the default VFS counts every ``xWrite``,
``xSync`` and ``xTruncate`` on every file (database, ``-wal``, ``-journal``)
and makes exactly the Nth one fail with ``SQLITE_IOERR`` or ``SQLITE_FULL``
(disk full). A fixed workload -- open and migrate a fresh database, create
sessions, append with every append method, record a server id, archive,
close, reopen, append again -- is replayed once for every N from 1 to the
number of operations a healthy run performs.

For every N the test asserts the promise of SPEC §2:

* the call that hit the fault raises a :class:`~convstore.StoreError`, never a
  raw ``apsw`` exception (any other call may succeed or raise a ``StoreError``);
* after the workload, reopening the file with the healthy default VFS gives a
  database that passes ``PRAGMA integrity_check`` and holds *exactly* what the
  calls that returned normally wrote: nothing acknowledged is missing, nothing
  from a failed call is present.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import pytest

from convstore import CommitUncertain, DuplicateId, SessionStore, StoreError, connection

FIXED_NOW = 1_700_000_000
_vfs_names = itertools.count()


class FaultPlan:
    """Counts write/sync/truncate calls; makes call number ``fail_at`` raise ``exc``.

    ``sticky``: every call from ``fail_at`` on fails too (a disk that stays full).
    """

    def __init__(
        self,
        fail_at: int | None = None,
        exc: type[apsw.Error] = apsw.IOError,
        sticky: bool = False,
    ) -> None:
        self.fail_at = fail_at
        self.exc = exc
        self.sticky = sticky
        self.count = 0
        self.fired: str | None = None

    def hit(self, op: str, name: str) -> None:
        self.count += 1
        if self.fail_at is None:
            return
        if self.count == self.fail_at or (self.sticky and self.count > self.fail_at):
            self.fired = self.fired or f"{op} #{self.count} on {name}"
            # What the default (unix) VFS reports: a failed write is SQLITE_FULL
            # (ENOSPC) or SQLITE_IOERR_WRITE; a failed fsync or ftruncate is
            # SQLITE_IOERR_FSYNC / _TRUNCATE whatever errno the OS gave.
            exc = apsw.IOError() if op != "write" else self.exc()
            exc.extendedresult = _EXTENDED[op] if op != "write" else _EXTENDED[self.exc]
            exc.args = (f"injected {op} failure #{self.count} on {name}",)
            raise exc


_EXTENDED: dict[object, int] = {
    "sync": apsw.SQLITE_IOERR_FSYNC,
    "truncate": apsw.SQLITE_IOERR_TRUNCATE,
    apsw.IOError: apsw.SQLITE_IOERR_WRITE,
    apsw.FullError: apsw.SQLITE_FULL,
}


class FaultFile(apsw.VFSFile):
    def __init__(self, name: str | apsw.URIFilename | None, flags: list[int], vfs: FaultVFS):
        super().__init__("", name, flags)  # type: ignore[arg-type]
        self._vfs = vfs
        self._name = name.filename() if isinstance(name, apsw.URIFilename) else str(name)

    def xWrite(self, data: bytes, offset: int) -> None:
        self._vfs.plan.hit("write", self._name)
        super().xWrite(data, offset)

    def xSync(self, flags: int) -> None:
        # Counted and failed like the others, but never passed down: no power is
        # lost here, so a real fsync would only make hundreds of runs slow.
        self._vfs.plan.hit("sync", self._name)

    def xTruncate(self, newsize: int) -> None:
        self._vfs.plan.hit("truncate", self._name)
        super().xTruncate(newsize)


class FaultVFS(apsw.VFS):
    """The default VFS with a :class:`FaultPlan` consulted on every write/sync/truncate."""

    def __init__(self, name: str) -> None:
        self.plan = FaultPlan()
        self.vfsname = name
        super().__init__(name, "")

    def xOpen(self, name: str | apsw.URIFilename | None, flags: list[int]) -> apsw.VFSFile:
        return FaultFile(name, flags, self)


@pytest.fixture(scope="module")
def fault_vfs() -> Iterator[FaultVFS]:
    vfs = FaultVFS(f"convstore-fault-{next(_vfs_names)}")
    yield vfs
    vfs.unregister()


# -- the workload and its model ------------------------------------------------


@dataclass
class Model:
    """What the database must hold: only the effects of calls that returned normally."""

    events: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    server_ids: dict[str, str | None] = field(default_factory=dict)
    archived: set[str] = field(default_factory=set)

    def copy(self) -> Model:
        return Model(
            {k: list(v) for k, v in self.events.items()}, dict(self.server_ids), set(self.archived)
        )

    def head(self, sid: str) -> str | None:
        events = self.events.get(sid)
        return events[-1][0] if events else None


@dataclass
class Run:
    path: Path
    vfs: str
    synchronous: str
    store: SessionStore | None = None
    model: Model = field(default_factory=Model)


def _no_effect(model: Model) -> None:
    pass


@dataclass(frozen=True)
class Step:
    """One call of the workload and, separately, its effect on the model when it succeeds."""

    name: str
    call: Callable[[SessionStore], object]
    effect: Callable[[Model], None] = _no_effect
    kind: str = "call"  # "open" / "close" manage the store itself


def _create(sid: str, directory: str | None) -> Step:
    def effect(m: Model) -> None:
        m.events[sid], m.server_ids[sid] = [], None

    return Step(f"create {sid}", lambda s: s.create_session(sid, directory=directory), effect)


def _append(sid: str, eid: str, parent: str | None) -> Step:
    data = json.dumps({"n": eid})
    return Step(
        f"append {eid}",
        lambda s: s.append_event(sid, eid, parent, "inv", "text", data),
        lambda m: m.events[sid].append((eid, parent)),
    )


def _append_at_head(sid: str, eid: str) -> Step:
    return Step(
        f"append_at_head {eid}",
        lambda s: s.append_event_at_head(sid, eid, "inv", "text", "[1, 2, 3]"),
        lambda m: m.events[sid].append((eid, m.head(sid))),
    )


def _append_batch(sid: str, ids: list[str], parent: str | None) -> Step:
    parents = [parent, *ids[:-1]]
    big = json.dumps({"big": "x" * 3000})  # overflow pages: more I/O per commit
    batch = [(eid, p, "inv", "tool", big) for eid, p in zip(ids, parents, strict=True)]
    return Step(
        f"append_events {ids}",
        lambda s: s.append_events(sid, batch),
        lambda m: m.events[sid].extend(zip(ids, parents, strict=True)),
    )


def _server_id(sid: str, server: str) -> Step:
    def effect(m: Model) -> None:
        m.server_ids[sid] = server

    return Step(f"server id {sid}", lambda s: s.update_server_session_id(sid, server), effect)


def _archive(sid: str) -> Step:
    return Step(f"archive {sid}", lambda s: s.archive_session(sid), lambda m: m.archived.add(sid))


OPEN = Step("open", lambda s: None, kind="open")
CLOSE = Step("close", lambda s: None, kind="close")

WORKLOAD: list[Step] = [
    OPEN,  # a new database: create the file, switch to WAL, apply every migration
    _create("s1", "/p"),
    _append("s1", "e1", None),
    _append("s1", "e2", "e1"),
    _append_at_head("s1", "e3"),
    _append_batch("s1", ["e4", "e5", "e6"], "e3"),
    _server_id("s1", "srv-1"),
    _create("s2", "/q"),
    _append_at_head("s2", "f1"),
    _archive("s1"),
    CLOSE,  # the last connection checkpoints and removes the WAL
    OPEN,
    _append_at_head("s2", "f2"),
    _append_batch("s2", ["f3", "f4", "f5", "f6"], "f2"),  # crosses the checkpoint threshold
    _append_at_head("s2", "f7"),
    CLOSE,
]


def _open_store(run: Run) -> SessionStore:
    return SessionStore(
        run.path,
        vfs=run.vfs,
        synchronous=run.synchronous,  # type: ignore[arg-type]
        clock=lambda: FIXED_NOW,
    )


@pytest.fixture
def checkpoint_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoint after a few WAL pages instead of 1000, so that the automatic
    checkpoints after commits (and their I/O) happen inside this small workload."""
    monkeypatch.setattr(connection, "CHECKPOINT_PAGES", 8)


def run_workload(run: Run, plan: FaultPlan) -> tuple[list[str], list[Step]]:
    """Run every step. Return the ``StoreError``s raised, and the steps whose outcome is
    still unknown (:class:`CommitUncertain` and not visible: it may reappear on reopen)."""
    failures: list[str] = []
    uncertain: list[Step] = []
    for step in WORKLOAD:
        try:
            if step.kind == "open":
                if run.store is None:
                    run.store = _open_store(run)
                    # Opening recovers the WAL: an uncertain commit shows up now or never.
                    for maybe in list(uncertain):
                        with_it = run.model.copy()
                        maybe.effect(with_it)
                        if _store_matches(run.store, with_it) is None:
                            run.model = with_it
                            uncertain.remove(maybe)
            elif step.kind == "close":
                store, run.store = run.store, None
                if store is not None:
                    store.close()
            elif run.store is not None:  # else an earlier open failed: nothing to call
                step.call(run.store)
                step.effect(run.model)
        except StoreError as exc:
            failures.append(f"{step.name}: {type(exc).__name__}: {exc}")
            if step.kind != "call" or run.store is None:
                continue
            # What does the still-open store show? Exactly the old state, or
            # -- only for a commit whose flush failed -- exactly the new one.
            if _store_matches(run.store, run.model) is None:
                if isinstance(exc, CommitUncertain):
                    uncertain.append(step)
                continue
            with_it = run.model.copy()
            try:
                step.effect(with_it)
            except KeyError:
                raise AssertionError(
                    f"step {step.name!r} raised {exc!r} (fault: {plan.fired}); the store "
                    f"changed: {_store_matches(run.store, run.model)}; failures: {failures}"
                ) from exc
            problem = _store_matches(run.store, with_it)
            if isinstance(exc, CommitUncertain) and problem is None:
                run.model = with_it
                continue
            raise AssertionError(
                f"step {step.name!r} raised {exc!r} (fault: {plan.fired}) but the store "
                f"changed: {_store_matches(run.store, run.model)}; "
                f"with the step applied: {problem or 'identical'}"
            ) from exc
        except Exception as exc:  # a raw apsw error (or anything else) breaks the contract
            raise AssertionError(
                f"step {step.name!r} raised {type(exc).__module__}.{type(exc).__name__} "
                f"(fault: {plan.fired}): {exc}"
            ) from exc
    if run.store is not None:
        run.store.close()
        run.store = None
    return failures, uncertain


def _matches(path: Path, model: Model) -> str | None:
    """Reopen with the healthy default VFS; describe the first difference from ``model``."""
    with SessionStore(path, clock=lambda: FIXED_NOW) as store:
        integrity = store.connection.execute("PRAGMA integrity_check").fetchall()
        assert integrity == [("ok",)], integrity  # never acceptable, whatever the model
        return _store_matches(store, model)


def _store_matches(store: SessionStore, model: Model) -> str | None:
    """Describe the first difference between what ``store`` shows and ``model``."""
    conn = store.connection
    stored = sorted(row[0] for row in conn.execute("SELECT id FROM sessions"))
    if stored != sorted(model.events):
        return f"sessions {stored} != {sorted(model.events)}"
    for sid, expected in model.events.items():
        got = [(e.id, e.parent_id) for e in store.load_events(sid)]
        if got != expected:
            return f"events of {sid}: {got} != {expected}"
        session = store.get_session(sid)
        assert session is not None
        want = (model.head(sid), model.server_ids[sid], sid in model.archived)
        have = (session.head_id, session.server_session_id, session.archived_at is not None)
        if have != want:
            return f"session {sid} (head, server id, archived): {have} != {want}"
    count = conn.execute("SELECT count(*) FROM session_events").get
    if count != sum(len(v) for v in model.events.values()):
        return f"{count} event rows, model has {model.events}"
    return None


def assert_database_matches(path: Path, model: Model, uncertain: Sequence[Step] = ()) -> None:
    """Integrity ok and exactly the acknowledged data -- plus, all or nothing, the one
    call whose commit flush failed (:class:`CommitUncertain`), if any."""
    difference = _matches(path, model)
    if difference is None:
        return
    assert len(uncertain) <= 1, f"{difference}; several uncertain commits: {uncertain}"
    if uncertain:
        with_it = model.copy()
        uncertain[0].effect(with_it)
        if _matches(path, with_it) is None:
            return
    raise AssertionError(difference)


def _healthy_op_count(tmp_path: Path, vfs: FaultVFS, synchronous: str) -> int:
    vfs.plan = FaultPlan()
    run = Run(tmp_path / "healthy" / "s.db", vfs.vfsname, synchronous)
    failures, _ = run_workload(run, vfs.plan)
    assert failures == []
    assert_database_matches(run.path, run.model)
    return vfs.plan.count


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
@pytest.mark.parametrize(
    ("error", "sticky"),
    [(apsw.IOError, False), (apsw.FullError, False), (apsw.FullError, True)],
    ids=["EIO-once", "ENOSPC-once", "ENOSPC-stays-full"],
)
def test_every_failed_write_sync_truncate_is_a_clean_store_error(
    tmp_path: Path,
    fault_vfs: FaultVFS,
    checkpoint_often: None,
    error: type[apsw.Error],
    sticky: bool,
    synchronous: str,
) -> None:
    total = _healthy_op_count(tmp_path, fault_vfs, synchronous)
    assert total > 60  # the workload really exercises journal, WAL and checkpoint I/O
    for n in range(1, total + 1):
        fault_vfs.plan = plan = FaultPlan(fail_at=n, exc=error, sticky=sticky)
        run = Run(tmp_path / f"n{n}" / "s.db", fault_vfs.vfsname, synchronous)
        try:
            failures, uncertain = run_workload(run, plan)
        finally:
            fault_vfs.plan = FaultPlan()  # heal the disk, so that an early failure of
            if run.store is not None:  # this test can still close its store cleanly
                run.store.close()
        assert plan.fired is not None, f"fault #{n} never happened"
        try:
            assert_database_matches(run.path, run.model, uncertain)
        except AssertionError as exc:
            raise AssertionError(
                f"after fault {plan.fired} ({error.__name__}); failures: {failures}"
            ) from exc


def test_disk_full_message_names_the_file_and_the_store_recovers(
    tmp_path: Path, fault_vfs: FaultVFS
) -> None:
    fault_vfs.plan = FaultPlan()
    run = Run(tmp_path / "s.db", fault_vfs.vfsname, "NORMAL")
    store = _open_store(run)
    store.create_session("s1")
    fault_vfs.plan = FaultPlan(fail_at=1, exc=apsw.FullError)
    with pytest.raises(StoreError, match="disk full") as info:
        store.append_event("s1", "e1", None, "inv", "text", "{}")
    assert str(run.path) in str(info.value)
    # Once there is space again the same store works, and the failed call left nothing.
    store.append_event("s1", "e2", None, "inv", "text", "{}")
    store.close()
    assert_database_matches(run.path, Model({"s1": [("e2", None)]}, {"s1": None}))


def test_a_failed_commit_flush_is_reported_as_uncertain_and_a_retry_is_safe(
    tmp_path: Path, fault_vfs: FaultVFS
) -> None:
    """With ``synchronous=FULL`` the commit is written to the WAL, then flushed. When the
    flush fails and the disk stays broken, the bytes are in the file anyway and the
    transaction reappears on the next open: the library must not claim it failed."""
    fault_vfs.plan = FaultPlan()
    path = tmp_path / "s.db"
    store = SessionStore(path, vfs=fault_vfs.vfsname, synchronous="FULL")
    store.create_session("s1")
    # A first append records the session's search watermark; later ones write the same pages.
    store.append_event("s1", "w", None, "inv", "text", "{}")
    fault_vfs.plan = probe = FaultPlan()
    store.append_event("s1", "e0", None, "inv", "text", "{}")
    # A FULL commit writes its frames, then flushes: its last operation is the fsync.
    fault_vfs.plan = FaultPlan(fail_at=probe.count, exc=apsw.IOError, sticky=True)
    try:
        with pytest.raises(CommitUncertain, match="may or may not") as info:
            store.append_event("s1", "e1", "e0", "inv", "text", "{}")
        assert str(path) in str(info.value)
        with pytest.raises(StoreError):
            store.close()  # its checkpoint cannot write either; the connection closes anyway
    finally:
        fault_vfs.plan = FaultPlan()
        store.close()
    # The disk is repaired; the next open finds e1 in the WAL (the "maybe" was a yes) and
    # retrying with the same id and fields is an idempotent replay (SPEC §2.1): it returns
    # the stored event instead of storing it twice. Any differing field is DuplicateId.
    with SessionStore(path) as healthy:
        assert [e.id for e in healthy.load_events("s1")] in (["w", "e0"], ["w", "e0", "e1"])
        if len(healthy.load_events("s1")) == 3:
            stored = healthy.load_events("s1")[2]
            assert healthy.append_event("s1", "e1", "e0", "inv", "text", "{}") == stored
            with pytest.raises(DuplicateId):
                healthy.append_event("s1", "e1", "e0", "inv", "text", '{"other": 1}')
        else:
            healthy.append_event("s1", "e1", "e0", "inv", "text", "{}")
        assert [e.id for e in healthy.load_events("s1")] == ["w", "e0", "e1"]
        assert healthy.connection.execute("PRAGMA integrity_check").get == "ok"

"""The error contract under hostile and careless input (issue 13), one section per defect class.

Every test asserts the three halves of SPEC §2: the error is a typed
:class:`~convstore.StoreError` subclass, its message names the culprit (the
argument, event, line or file), and the database is exactly as before (a full
dump of every table, plus the file's bytes where a file is at stake).
SPEC §2.1 (retries are safe) is the last section.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apsw
import hypothesis.strategies as st
import pytest
from conftest import FakeClock
from hypothesis import HealthCheck, given, settings

from convstore import (
    CommitUncertain,
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    LocalSessionService,
    SessionArchived,
    SessionManager,
    SessionStore,
    StoreClosed,
    StoredEvent,
    StoreError,
)
from convstore import _validate as v
from convstore.connection import read_migration_status
from convstore.exporting import write_export
from convstore.retention import RetentionPolicy
from convstore.tools import RecallTools

FEW = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- helpers -------------------------------------------------------------------


def dump(conn: apsw.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the schema too), in a stable order."""
    tables = [
        name
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table'")
        if not str(sql).upper().startswith("CREATE VIRTUAL")
    ]
    out = {
        "sqlite_master": sorted(map(tuple, conn.execute("SELECT * FROM sqlite_master")), key=repr)
    }
    for name in tables:
        out[name] = sorted(map(tuple, conn.execute(f'SELECT * FROM "{name}"')), key=repr)
    return out


def file_state(path: Path) -> dict[str, tuple[str, int]]:
    """Digest and mode of the database file and its -wal (the data a checkpoint would move)."""
    out = {}
    for name in (str(path), f"{path}-wal"):
        if os.path.exists(name):
            data = Path(name).read_bytes()
            out[name] = (hashlib.sha256(data).hexdigest(), stat.S_IMODE(os.stat(name).st_mode))
    return out


def seeded(store: SessionStore) -> None:
    store.create_session("s1", directory="/work/a", git_root="/work")
    store.create_session("s2", directory="/work/b")
    store.append_event("s1", "e1", None, "inv", "user", '{"content": "hello world"}')
    store.append_event("s1", "e2", "e1", "inv", "text", '{"content": "hi"}')
    store.set_metadata("s1", "title", "greeting")
    store.archive_session("s2")


@pytest.fixture
def full(clock: FakeClock) -> Iterator[SessionStore]:
    with SessionStore(":memory:", clock=clock) as s:
        seeded(s)
        yield s


def expect_refused(
    store: SessionStore,
    call: Callable[[], object],
    error: type[StoreError],
    *names: str,
) -> StoreError:
    """``call`` raises ``error`` naming every one of ``names``, and changes nothing."""
    before = dump(store.connection)
    with pytest.raises(error) as info:
        call()
    for name in names:
        assert name in str(info.value), (name, str(info.value))
    assert not store.connection.in_transaction
    assert dump(store.connection) == before
    return info.value


# -- class 1: another application's database, in every journal mode ----------------------


def _foreign(path: Path, mode: str) -> apsw.Connection | None:
    """Another application's database in ``mode``; for "wal-live" its connection stays open."""
    conn = apsw.Connection(str(path))
    journal = "wal" if mode.startswith("wal") else mode
    conn.execute(f"PRAGMA journal_mode={journal}")
    if mode == "wal-live":
        conn.execute("PRAGMA wal_autocheckpoint=0")  # the data stays in its -wal
    conn.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes(body) VALUES ('mine')")
    if mode == "wal-live":
        return conn
    conn.close()
    return None


@pytest.mark.parametrize("mode", ["delete", "truncate", "persist", "wal", "wal-live"])
def test_another_applications_database_is_refused_byte_for_byte_untouched(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "app.db"
    keep = _foreign(path, mode)
    os.chmod(path, 0o644)
    before = file_state(path)
    try:
        for attempt in (lambda: SessionStore(path), lambda: LocalSessionService(path)):
            with pytest.raises(StoreError, match="another application") as info:
                attempt()
            assert str(path) in str(info.value)
        assert file_state(path) == before  # database and -wal: every byte, and the mode
        status = read_migration_status(str(path))
        assert status.applied == ()
        assert file_state(path) == before
    finally:
        if keep is not None:
            keep.close()
    check = apsw.Connection(str(path))
    names = {r[0] for r in check.execute("SELECT name FROM sqlite_master")}
    assert names == {"notes"}
    check.close()


def test_migrate_status_changes_nothing_on_a_rollback_journal_convstore_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with SessionStore(path) as store:
        store.create_session("s1")
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    os.chmod(path, 0o644)
    before = file_state(path)
    status = read_migration_status(str(path))
    assert status.pending == () and status.applied
    assert file_state(path) == before
    assert not os.path.exists(f"{path}-wal") and not os.path.exists(f"{path}-shm")
    missing = tmp_path / "nope" / "none.db"
    assert read_migration_status(str(missing)).applied == ()
    assert not missing.parent.exists()


# -- class 2: raw Python exceptions; every entry point validates up front ------------------

HOSTILE: list[object] = [
    None, 123, 1.5, b"s1", ["s1"], True, float("nan"), float("inf"), 10**30, -(10**30),
    "\ud800", "a\x00b", object(),
]  # fmt: skip

#: (entry point, the argument it receives, the name its error must carry)
ENTRY_POINTS: list[tuple[str, Callable[[SessionStore, Any], object], str]] = [
    ("create_session", lambda s, x: s.create_session(x), "session id"),
    ("create_session.directory", lambda s, x: s.create_session("n", directory=x), "directory"),
    ("get_session", lambda s, x: s.get_session(x), "session id"),
    ("find_resumable.directory", lambda s, x: s.find_resumable_session(x, None, 60), "directory"),
    ("find_resumable.max_age", lambda s, x: s.find_resumable_session("/w", None, x), "max_age"),
    ("update_server_session_id", lambda s, x: s.update_server_session_id("s1", x), "server"),
    ("append_event.session", lambda s, x: s.append_event(x, "n", None, "i", "t", "{}"), "session"),
    ("append_event.id", lambda s, x: s.append_event("s1", x, None, "i", "t", "{}"), "event id"),
    ("append_event.parent", lambda s, x: s.append_event("s1", "n", x, "i", "t", "{}"), "parent"),
    ("append_event.type", lambda s, x: s.append_event("s1", "n", None, "i", x, "{}"), "event_type"),
    ("append_event.data", lambda s, x: s.append_event("s1", "n", None, "i", "t", x), "event_data"),
    ("append_at_head.inv", lambda s, x: s.append_event_at_head("s1", "n", x, "t", "{}"), "invoc"),
    ("append_events.events", lambda s, x: s.append_events("s1", x), "events"),
    ("append_events.item", lambda s, x: s.append_events("s1", [x]), "events[0]"),
    ("load_events", lambda s, x: s.load_events(x), "session id"),
    ("get_event", lambda s, x: s.get_event("s1", x), "event id"),
    ("history", lambda s, x: s.history(x), "session id"),
    ("set_head", lambda s, x: s.set_head("s1", x), "event"),
    ("set_metadata.key", lambda s, x: s.set_metadata("s1", x, "v"), "metadata key"),
    ("set_metadata.value", lambda s, x: s.set_metadata("s1", "k", x), "metadata value"),
    ("get_metadata.key", lambda s, x: s.get_metadata("s1", x), "metadata key"),
    ("list_sessions.limit", lambda s, x: s.list_sessions(limit=x), "limit"),
    ("list_sessions.before", lambda s, x: s.list_sessions(before=x), "before"),
    ("list_sessions.include", lambda s, x: s.list_sessions(include_archived=x), "include"),
    ("list_sessions.directory", lambda s, x: s.list_sessions(directory=x), "directory"),
    ("search.query", lambda s, x: s.search(x), "query"),
    ("search.limit", lambda s, x: s.search("hi", limit=x), "limit"),
    ("search.markers", lambda s, x: s.search("hi", markers=x), "markers"),
    ("search.event_types", lambda s, x: s.search("hi", event_types=x), "event_types"),
    ("export.session_ids", lambda s, x: list(s.export_jsonl(x)), "session"),
    ("export.include", lambda s, x: list(s.export_jsonl(include_archived=x)), "include"),
    ("import_jsonl.lines", lambda s, x: s.import_jsonl(x), "line"),
    ("import_jsonl.line", lambda s, x: s.import_jsonl([x]), "line 1"),
    ("purge.archived_before", lambda s, x: s.purge(archived_before=x), "archived_before"),
    ("purge.batch_size", lambda s, x: s.purge(archived_before=1, batch_size=x), "batch_size"),
    ("purge.dry_run", lambda s, x: s.purge(archived_before=1, dry_run=x), "dry_run"),
    ("configure_search", lambda s, x: s.configure_search(x), "field"),
    ("import_session", lambda s, x: s.import_session(x, []), "session"),
    # the lifecycle (SPEC §9): compaction, the usage ledger, retention
    ("compact.session", lambda s, x: s.compact(x, {"c": 1}, through_event_id="e1"), "session"),
    ("compact.summary", lambda s, x: s.compact("s1", x, through_event_id="e1"), "summary"),
    ("compact.through", lambda s, x: s.compact("s1", "{}", through_event_id=x), "through"),
    ("compact.event_id", lambda s, x: s.compact("s1", "{}", through_event_id="e1", event_id=x),
     "event_id"),
    ("record_usage.model", lambda s, x: s.record_usage(
        "s1", "e1", model=x, input_tokens=1, output_tokens=1), "model"),
    ("record_usage.tokens", lambda s, x: s.record_usage(
        "s1", "e1", model="m", input_tokens=x, output_tokens=1), "input_tokens"),
    ("record_usage.cost", lambda s, x: s.record_usage(
        "s1", "e1", model="m", input_tokens=1, output_tokens=1, cost=x), "cost"),
    ("usage.session", lambda s, x: s.usage(session_id=x), "session_id"),
    ("usage.since", lambda s, x: s.usage(since=x), "since"),
    ("usage.group_by", lambda s, x: s.usage(group_by=x), "group_by"),
    ("apply_retention.policy", lambda s, x: s.apply_retention(x), "policy"),
    ("apply_retention.dry_run", lambda s, x: s.apply_retention(
        RetentionPolicy(archive_idle_days=1), dry_run=x), "dry_run"),
    ("RetentionPolicy.idle", lambda s, x: RetentionPolicy(archive_idle_days=x), "archive_idle"),
    ("RetentionPolicy.delete", lambda s, x: RetentionPolicy(delete_archived_after_days=x),
     "delete_archived"),
    ("RetentionPolicy.max_bytes", lambda s, x: RetentionPolicy(max_bytes=x), "max_bytes"),
]  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda e: e[0])
def test_every_entry_point_answers_hostile_arguments_with_a_typed_error_and_changes_nothing(
    full: SessionStore,
    entry: tuple[str, Callable[[SessionStore, Any], object], str],
    value: object,
) -> None:
    _, call, name = entry
    before = dump(full.connection)
    try:
        call(full, value)
    except StoreError as exc:
        if isinstance(exc, InvalidArgument) and not isinstance(exc, InvalidEvent):
            assert name.lower() in str(exc).lower(), str(exc)
        assert dump(full.connection) == before  # refused: nothing written
    except BaseException as exc:  # the contract: nothing else escapes
        raise AssertionError(f"raw {type(exc).__name__} escaped: {exc}") from exc
    assert not full.connection.in_transaction


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 10**30}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"clock": 5}, "clock"),
        ({"synchronous": "SOMETIMES"}, "synchronous"),
        ({"vfs": 3}, "vfs"),
    ],
)
def test_a_refused_constructor_creates_no_file_and_no_directory(
    tmp_path: Path, kwargs: dict[str, Any], name: str
) -> None:
    path = tmp_path / "new" / "s.db"
    with pytest.raises(InvalidArgument, match=name):
        SessionStore(path, **kwargs)
    if "synchronous" not in kwargs and "vfs" not in kwargs:
        with pytest.raises(InvalidArgument, match=name):
            LocalSessionService(path, **kwargs)
    assert not path.parent.exists()


@pytest.mark.parametrize("bad", [123, None, 1.5, ["a.db"], object()])
def test_a_path_that_is_not_a_path_is_an_invalid_argument(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="database path"):
        SessionStore(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("returned", [float("nan"), float("inf"), -float("inf"), 2**70, None, "1"])
def test_a_clock_returning_nonsense_is_named_and_nothing_is_written(
    tmp_path: Path, returned: object
) -> None:
    now: list[object] = [1_700_000_000]
    with SessionStore(tmp_path / "s.db", clock=lambda: now[0]) as store:  # type: ignore[arg-type,return-value]
        seeded(store)
        now[0] = returned
        for call in (
            lambda: store.create_session("n"),
            lambda: store.append_event("s1", "n", "e2", "i", "t", "{}"),
            lambda: store.append_event_at_head("s1", "n", "i", "t", "{}"),
            lambda: store.append_events("s1", [("n", "e2", "i", "t", "{}")]),
            lambda: store.set_metadata("s1", "k", "v"),
            lambda: store.archive_session("s1"),
            lambda: store.set_head("s1", "e1"),
            lambda: store.find_resumable_session("/work/a", None, 60),
        ):
            expect_refused(store, call, InvalidArgument, "clock")


def test_use_after_close_is_a_store_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SessionStore(path)
    seeded(store)
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.get_session("s1"),
        lambda: store.create_session("n"),
        lambda: store.append_event("s1", "n", "e2", "i", "t", "{}"),
        lambda: store.append_events("s1", [("n", "e2", "i", "t", "{}")]),
        lambda: store.load_events("s1"),
        lambda: store.history("s1"),
        lambda: store.list_sessions(),
        lambda: store.find_resumable_session("/work/a", None, 60),
        lambda: store.search("hello"),
        lambda: list(store.export_jsonl()),
        lambda: store.import_jsonl([]),
        lambda: store.purge(archived_before=1),
        lambda: store.get_metadata("s1", "title"),
        lambda: store.set_metadata("s1", "k", "v"),
        lambda: store.archive_session("s1"),
    ]
    for call in calls:
        with pytest.raises(StoreClosed) as info:
            call()
        assert str(path) in str(info.value) and "closed" in str(info.value)
    store.close()  # idempotent


@given(
    value=st.one_of(
        st.none(), st.integers(), st.floats(), st.binary(), st.text(), st.lists(st.text())
    )
)
@FEW
def test_property_any_value_for_any_argument_is_a_typed_error_or_a_result(value: object) -> None:
    with SessionStore(":memory:", clock=FakeClock()) as store:
        seeded(store)
        for _, call, _ in ENTRY_POINTS:
            with contextlib.suppress(StoreError):  # anything else fails the test
                call(store, value)
            assert not store.connection.in_transaction


class _BadFspath:
    """An ``os.PathLike`` whose ``__fspath__`` returns neither str nor bytes."""

    def __fspath__(self) -> Any:
        return 5


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"cwd": _BadFspath()}, "cwd"),
        ({"cwd": b"/tmp"}, "cwd"),
        ({"cwd": 5}, "cwd"),
        ({"cwd": ".", "session_continue_minutes": float("nan")}, "session_continue_minutes"),
        ({"cwd": ".", "session_continue_minutes": float("inf")}, "session_continue_minutes"),
        ({"cwd": ".", "session_continue_minutes": -1}, "session_continue_minutes"),
        ({"cwd": ".", "session_continue_minutes": True}, "session_continue_minutes"),
        ({"cwd": ".", "clock": 5}, "clock"),
    ],
)
def test_the_manager_names_a_bad_argument(kwargs: dict[str, Any], name: str) -> None:
    with LocalSessionService(":memory:") as service:
        with pytest.raises(InvalidArgument, match=name):
            SessionManager(service, **kwargs)
        assert service.list_sessions(include_archived=True) == []


def test_a_huge_finite_continue_window_resumes_instead_of_overflowing(tmp_path: Path) -> None:
    # 1e308 minutes is finite, but 1e308 * 60 seconds is not: it means "any age".
    clock = FakeClock()
    with LocalSessionService(":memory:", clock=clock) as service:
        first = SessionManager(service, cwd=tmp_path, session_continue_minutes=1e308, clock=clock)
        assert first.start() is False
        first.append("user", {"content": "hi"})
        clock.advance(10**9)
        again = SessionManager(service, cwd=tmp_path, session_continue_minutes=1e308, clock=clock)
        assert again.start() is True and again.session_id == first.session_id


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_recall_tools_answer_hostile_arguments_with_an_error_line(
    full: SessionStore, value: object
) -> None:
    tools = RecallTools(full)
    calls = {
        "search_conversations": ("query", "limit"),
        "read_conversation": ("session_id", "offset", "full"),
        "list_conversations": ("limit", "before"),
    }
    base: dict[str, dict[str, object]] = {
        "search_conversations": {"query": "hello"},
        "read_conversation": {"session_id": "s1"},
        "list_conversations": {},
    }
    before = dump(full.connection)
    for tool, keys in calls.items():
        for key in keys:
            answer = tools.call(tool, {**base[tool], key: value})  # never raises
            assert isinstance(answer, str)
        assert tools.call(value, {}).startswith("error: unknown tool")  # type: ignore[arg-type]
        assert tools.call(tool, value).startswith("error:") or value is None  # type: ignore[arg-type]
    for key in ("directory", "git_root", "max_chars"):
        with contextlib.suppress(InvalidArgument):
            RecallTools(full, **{key: value}).call("list_conversations", {})
    assert dump(full.connection) == before


# -- class 3: what is accepted can always be read, searched, shown and exported -----------

UNREADABLE = [
    ('{"content": "hello \\ud800"}', "surrogate"),
    ('{"content": "hello \\udc00 x"}', "surrogate"),
    ('{"content": "\\ud83d\\u0041"}', "surrogate"),
    ('{"content": "a"}\x00', "NUL"),
    ("[" * 600 + "]" * 600, "nests deeper"),
    ("[" * 100_000 + "]" * 100_000, "nests deeper"),
    # The cheap pre-checks (bracket count, backslash) must not hide these in long text.
    (
        '{"content": "' + "x" * 8000 + '", "d": ' + '[{"a":' * 300 + "1" + "}]" * 300 + "}",
        "nests deeper",
    ),
    ('{"content": "' + "x" * 8000 + ' \\ok \\ud800"}', "surrogate"),
]


def test_wide_shallow_json_is_accepted(full: SessionStore) -> None:
    """600 brackets side by side (depth 2) pass the bracket pre-check and are stored."""
    data = "[" + ", ".join(["{}"] * 300 + ["[]"] * 300) + "]"
    assert full.append_event("s1", "wide", "e2", "i", "t", data).event_data == data


@pytest.mark.parametrize("data, why", UNREADABLE, ids=lambda x: str(x)[:20])
def test_the_same_event_checks_on_every_way_in(full: SessionStore, data: str, why: str) -> None:
    expect_refused(
        full, lambda: full.append_event("s1", "x", "e2", "i", "t", data), InvalidEvent, "'x'", why
    )
    expect_refused(
        full, lambda: full.append_event_at_head("s1", "x", "i", "t", data), InvalidEvent, why
    )
    expect_refused(
        full,
        lambda: full.append_events(
            "s1", [("ok", "e2", "i", "t", "{}"), ("x", "ok", "i", "t", data)]
        ),
        InvalidEvent,
        "'x'",
    )
    incoming = StoredEvent("x", "s9", None, "i", "t", data, 1)
    session = full.get_session("s1")
    assert session is not None
    expect_refused(
        full,
        lambda: full.import_session(session._replace(id="s9", head_id=None), [incoming]),
        InvalidEvent,
        "'x'",
    )
    lines = [json.dumps({"kind": "session", "id": "s9", "created_at": 1, "updated_at": 1,
                         "event_count": 1}),
             json.dumps({"kind": "event", "id": "x", "invocation_id": "i", "event_type": "t",
                         "event_data": data, "created_at": 1})]  # fmt: skip
    expect_refused(full, lambda: full.import_jsonl(lines), InvalidArgument, "line 2")


def test_a_line_of_100k_nested_brackets_is_refused_without_recursion(full: SessionStore) -> None:
    expect_refused(full, lambda: full.import_jsonl(["[" * 100_000]), InvalidArgument, "line 1")
    line = '{"kind": "event", "event_data": ' + "[" * 5000 + "]" * 5000 + "}"
    expect_refused(full, lambda: full.import_jsonl([line]), InvalidArgument, "line 1")


JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(value=JSON_TEXT, ascii_only=st.booleans())
@FEW
def test_property_what_is_accepted_can_be_searched_exported_and_imported(
    value: object, ascii_only: bool
) -> None:
    data = json.dumps({"content": value}, ensure_ascii=ascii_only)
    with SessionStore(":memory:", clock=FakeClock()) as store:
        store.create_session("s1")
        try:
            store.append_event("s1", "e1", None, "i", "t", data)
        except InvalidEvent:
            return  # refused up front: nothing stored, nothing to break later
        assert [e.event_data for e in store.load_events("s1")] == [data]
        store.search("anything")
        store.search("a", literal=True)
        lines = list(store.export_jsonl())
        with SessionStore(":memory:") as other:
            assert other.import_jsonl(lines).events == 1
            assert other.load_events("s1")[0].event_data == data


# -- class 4: export reads one snapshot ------------------------------------------------


def test_export_is_one_snapshot_even_when_another_connection_purges_midway(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with (
        SessionStore(path, clock=FakeClock()) as store,
        SessionStore(path, clock=FakeClock(1_800_000_000)) as other,
    ):
        seeded(store)
        store.archive_session("s1")
        lines = store.export_jsonl(["s1", "s2"])
        first = next(lines)  # the header of s1 (2 events) is out
        assert json.loads(first)["event_count"] == 2
        assert other.purge(archived_before=1_900_000_000).sessions == 2
        rest = list(lines)
        assert store.get_session("s1") is None
    with SessionStore(tmp_path / "copy.db") as copy:
        report = copy.import_jsonl([first, *rest])
    assert (report.sessions, report.events) == (2, 2)


def test_an_abandoned_export_leaves_the_store_writable(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.db") as store:
        seeded(store)
        lines = store.export_jsonl()
        next(lines)
        store.append_event(
            "s1", "e3", "e2", "i", "t", "{}"
        )  # no "transaction within a transaction"
        lines.close()
        assert [e.id for e in store.load_events("s1")][-1] == "e3"


# -- class 5: files -------------------------------------------------------------------


def test_export_file_never_follows_a_planted_symlink_and_is_owner_only(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out.jsonl"
    for planted in (f"{out}.tmp{os.getpid()}", f"{out}.tmp"):
        os.symlink(victim, planted)
    with SessionStore(":memory:", clock=FakeClock()) as store:
        seeded(store)
        written = write_export(out, store.export_jsonl())
    assert victim.read_text() == "precious"
    assert written == out.stat().st_size > 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    leftovers = {p.name for p in tmp_path.iterdir()} - {"victim.txt", "out.jsonl"}
    assert leftovers == {f"out.jsonl.tmp{os.getpid()}", "out.jsonl.tmp"}  # only the planted links


def test_a_failed_export_leaves_no_file_and_the_old_one_intact(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")

    def lines() -> Iterator[str]:
        yield "partial\n"
        raise InvalidArgument("stopped")

    with pytest.raises(InvalidArgument):
        write_export(out, lines())
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_opening_stores_from_threads_never_touches_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        errors: list[BaseException] = []

        def open_some(n: int) -> None:
            try:
                for i in range(5):
                    with SessionStore(tmp_path / f"t{n}-{i}.db") as s:
                        s.create_session("x")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_some, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert os.umask(0o022) == 0o022  # never left at 077
        for db in tmp_path.glob("*.db"):
            assert stat.S_IMODE(db.stat().st_mode) == 0o600
    finally:
        os.umask(previous)


# -- class 7: a query's cost is capped ---------------------------------------------------


@pytest.mark.parametrize(
    "query, culprit",
    [
        (" ".join(f"w{i}" for i in range(50_000)), "search query"),
        (" OR ".join("hello" for _ in range(v.MAX_QUERY_TERMS)), "terms"),
        ("x" * (v.MAX_QUERY_CHARS + 1), "characters"),
    ],
    ids=["50k-terms", "or-chain", "long-word"],
)
def test_a_query_beyond_the_cap_is_refused_before_sqlite_plans_it(
    full: SessionStore, query: str, culprit: str
) -> None:
    expect_refused(full, lambda: full.search(query), InvalidArgument, culprit)
    expect_refused(full, lambda: full.search(query, literal=True), InvalidArgument, culprit)


def test_a_query_within_the_cap_still_works(full: SessionStore) -> None:
    query = " OR ".join(["hello"] * (v.MAX_QUERY_TERMS // 2))
    assert [h.event_id for h in full.search(query)] == ["e1"]


# -- class 8: the right blame, the right precision ---------------------------------------

BATCHES: list[tuple[list[tuple[Any, ...]], type[StoreError], str]] = [
    # a later item is a duplicate of a stored event of another content
    ([("n1", "e2", "i", "t", "{}"), ("e1", "n1", "i", "t", "{}")], DuplicateId, "'e1'"),
    # the StopIteration: an orphan first, then a child of a stored event
    ([("e1", "nope", "i", "t", "{}"), ("b", "e1", "i", "t", "{}")], DuplicateId, "'e1'"),
    ([("a", "nope", "i", "t", "{}"), ("b", "e1", "i", "t", "{}")], InvalidEvent, "'a'"),
    ([("a", None, "i", "t", "{}"), ("b", "zz", "i", "t", "{}")], InvalidEvent, "'b'"),
    ([("a", None, "i", "t", "{}"), ("a", None, "i", "t", "{}")], DuplicateId, "'a'"),
    ([("a", None, "i", "t", "{}"), ("b", "a", "i", "t", "not json")], InvalidEvent, "'b'"),
    ([("a", None, "i", "t", "{}"), ("b", "a", "i", "t")], InvalidEvent, "events[1]"),
]


@pytest.mark.parametrize("batch, error, culprit", BATCHES)
def test_append_events_blames_the_item_at_fault(
    full: SessionStore, batch: list[tuple[Any, ...]], error: type[StoreError], culprit: str
) -> None:
    expect_refused(full, lambda: full.append_events("s1", batch), error, culprit)


@pytest.mark.parametrize(
    "cutoff, purged",
    [(1_700_000_000, 0), (1_700_000_000.5, 1), (1_700_000_001, 1), (1_699_999_999.9, 0)],
)
def test_a_fractional_purge_cutoff_is_exact(cutoff: float, purged: int) -> None:
    with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
        store.create_session("old")
        store.archive_session("old")  # archived_at = 1_700_000_000
        assert store.purge(archived_before=cutoff, dry_run=True).sessions == purged
        assert store.purge(archived_before=cutoff).sessions == purged


# -- class 9: SessionManager.start() resumes or creates, never raises ----------------------


def test_start_works_in_a_directory_whose_name_is_not_utf8(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9-\xff")
    os.mkdir(raw)
    cwd = os.fsdecode(raw)  # what os.getcwd() gives there: lone surrogates
    with LocalSessionService(tmp_path / "s.db", clock=FakeClock()) as service:
        first = SessionManager(service, cwd=cwd)
        assert first.start() is False
        first.append("user", {"content": "hi"})
        again = SessionManager(service, cwd=cwd)
        assert again.start() is True and again.session_id == first.session_id
        stored = service.get_session(first.session_id)
        assert stored is not None and stored.directory is not None
        assert stored.directory.endswith("caf\\xe9-\\xff")  # the documented normalisation


class ArchivesBetween(LocalSessionService):
    """Another terminal's ``/new``: archives the found session right after the lookup."""

    def find_resumable_session(self, *args: Any) -> Any:
        found = super().find_resumable_session(*args)
        if found is not None:
            self.archive_session(found.id)
        return found


def test_start_creates_a_new_session_when_the_found_one_is_archived_meanwhile(
    tmp_path: Path,
) -> None:
    with ArchivesBetween(tmp_path / "s.db", clock=FakeClock()) as service:
        first = SessionManager(service, cwd=str(tmp_path))
        first.start()
        first.append("user", "{}")
        second = SessionManager(service, cwd=str(tmp_path))
        assert second.start() is False
        assert second.session_id != first.session_id
        assert [e.event_type for e in service.load_events(first.session_id)] == ["user"]
        with pytest.raises(SessionArchived):
            first.append("user", "{}")


# -- SPEC §2.1: retries are safe --------------------------------------------------------


def test_replays_return_the_stored_row_and_write_nothing(
    full: SessionStore, clock: FakeClock
) -> None:
    stored = full.load_events("s1")
    session = full.get_session("s1")
    clock.advance(100)
    before = dump(full.connection)
    assert full.append_event("s1", "e2", "e1", "inv", "text", '{"content": "hi"}') == stored[1]
    assert full.append_event_at_head("s1", "e2", "inv", "text", '{"content": "hi"}') == stored[1]
    assert full.append_events(
        "s1", [("e1", None, "inv", "user", '{"content": "hello world"}')]
    ) == [stored[0]]
    assert full.create_session("s1", directory="/work/a", git_root="/work") == session
    assert dump(full.connection) == before  # nothing written, head and updated_at unmoved
    # in a batch: replayed items are skipped, the rest appended after them
    result = full.append_events(
        "s1", [("e2", "e1", "inv", "text", '{"content": "hi"}'), ("e3", "e2", "i", "t", "{}")]
    )
    assert result[0] == stored[1] and result[1].id == "e3"
    assert full.get_session("s1").head_id == "e3"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "call, culprit",
    [
        (lambda s: s.append_event("s1", "e2", "e1", "inv", "text", '{"content": "other"}'), "'e2'"),
        (lambda s: s.append_event("s1", "e2", None, "inv", "text", '{"content": "hi"}'), "'e2'"),
        (lambda s: s.append_event("s2", "e2", "e1", "inv", "text", '{"content": "hi"}'), "'e2'"),
        (
            lambda s: s.append_event_at_head("s1", "e2", "other", "text", '{"content": "hi"}'),
            "'e2'",
        ),
        (lambda s: s.append_events("s1", [("e1", None, "inv", "user", "{}")]), "'e1'"),
        (lambda s: s.create_session("s1", directory="/elsewhere"), "'s1'"),
    ],
)
def test_a_retry_with_any_differing_field_is_a_duplicate(
    full: SessionStore, call: Callable[[SessionStore], object], culprit: str
) -> None:
    expect_refused(full, lambda: call(full), DuplicateId, culprit)


class LosesAnswers(LocalSessionService):
    """Each write is stored, then its answer is lost once (``CommitUncertain``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lost = 0

    def _lose(self, result: Any) -> Any:
        self.lost += 1
        if self.lost % 2 == 1:
            raise CommitUncertain("the answer was lost")
        return result

    def create_session(self, *args: Any, **kwargs: Any) -> Any:
        return self._lose(super().create_session(*args, **kwargs))

    def append_event_at_head(self, *args: Any) -> Any:
        return self._lose(super().append_event_at_head(*args))


def test_the_manager_resolves_commit_uncertain_without_doubling(tmp_path: Path) -> None:
    with LosesAnswers(tmp_path / "s.db", clock=FakeClock()) as service:
        manager = SessionManager(service, cwd=str(tmp_path))
        assert manager.start() is False
        eid = manager.append("user", {"content": "once"})
        events = service.load_events(manager.session_id)
        assert [e.id for e in events] == [eid]
        assert len(service.list_sessions(include_archived=True)) == 1

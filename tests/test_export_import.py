"""JSON Lines export/import: exact round trips, streaming, and all-or-nothing refusals."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FakeClock

from convstore import (
    DuplicateId,
    ImportReport,
    InvalidArgument,
    InvalidEvent,
    SessionNotFound,
    SessionStore,
)


def _populate(store: SessionStore, clock: FakeClock) -> None:
    store.create_session("s1", directory="/p", git_root="/g")
    store.append_event("s1", "e1", None, "i1", "user", '{"content":  "spaced  out",\n "n": 1.50}')
    clock.advance(7)
    store.append_event("s1", "e2", "e1", "i1", "text", '{"content": "ünïcödé ✓ \\u00e9"}')
    store.append_event("s1", "e3", "e1", "i2", "text", '{"content": "a branch"}')
    store.set_head("s1", "e2")  # head is not the last event appended
    store.set_metadata("s1", "title", "Round trip")
    clock.advance(3)
    store.set_metadata("s1", "model", "m-1")
    store.update_server_session_id("s1", "srv-9")
    clock.advance(100)
    store.create_session("s2", directory="/q")
    store.append_event("s2", "f1", None, "i", "user", "[]")
    store.archive_session("s2")
    store.create_session("s3")  # empty, no directory


def _snapshot(store: SessionStore) -> list[object]:
    out: list[object] = []
    for summary in store.list_sessions(include_archived=True, limit=100):
        meta = store.connection.execute(
            "SELECT key, value, m.updated_at FROM session_metadata m JOIN sessions s "
            "ON s.sid = m.sid WHERE s.id = ? ORDER BY key",
            (summary.id,),
        ).fetchall()
        out.append((summary, store.load_events(summary.id), store.history(summary.id), meta))
    return out


def test_round_trip_is_exact(clock: FakeClock, tmp_path: Path) -> None:
    with SessionStore(":memory:", clock=clock) as src:
        _populate(src, clock)
        lines = list(src.export_jsonl())
        before = _snapshot(src)
    clock.advance(10_000)  # nothing on import may take "now"
    path = tmp_path / "export.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    with SessionStore(":memory:", clock=clock) as dst, path.open("rb") as f:
        assert dst.import_jsonl(f) == ImportReport(sessions=3, events=4)
        assert _snapshot(dst) == before
        assert list(dst.export_jsonl()) == lines  # byte for byte
        assert [h.event_id for h in dst.search("branch")] == ["e3"]


def test_format_is_a_header_then_one_line_per_event(clock: FakeClock) -> None:
    with SessionStore(":memory:", clock=clock) as src:
        _populate(src, clock)
        rows = [json.loads(line) for line in src.export_jsonl(["s1"])]
    header, *events = rows
    assert header == {
        "kind": "session", "format": 2, "id": "s1", "head_id": "e2",
        "server_session_id": "srv-9", "directory": "/p", "git_root": "/g",
        "created_at": 1_700_000_000, "updated_at": 1_700_000_007, "archived_at": None,
        "event_count": 3,
        "metadata": {"model": {"value": "m-1", "updated_at": 1_700_000_010},
                     "title": {"value": "Round trip", "updated_at": 1_700_000_007}},
    }  # fmt: skip
    assert [e["id"] for e in events] == ["e1", "e2", "e3"]
    assert events[0]["event_data"] == '{"content":  "spaced  out",\n "n": 1.50}'
    assert {e["kind"] for e in events} == {"event"}
    assert {e["session_id"] for e in events} == {"s1"}


def test_filters_pick_sessions(clock: FakeClock) -> None:
    with SessionStore(":memory:", clock=clock) as src:
        _populate(src, clock)

        def ids(lines: Iterator[str]) -> list[str]:
            return [r["id"] for r in map(json.loads, lines) if r["kind"] == "session"]

        assert ids(src.export_jsonl()) == ["s1", "s2", "s3"]
        assert ids(src.export_jsonl(include_archived=False)) == ["s1", "s3"]
        assert ids(src.export_jsonl(directory="/q")) == ["s2"]
        assert ids(src.export_jsonl(git_root="/g")) == ["s1"]
        assert ids(src.export_jsonl(["s3", "s1"])) == ["s3", "s1"]
        assert ids(src.export_jsonl("s2")) == ["s2"]
        with pytest.raises(SessionNotFound, match="'nope'"):
            src.export_jsonl(["s1", "nope"])  # refused before a line is produced
        with pytest.raises(InvalidArgument):
            src.export_jsonl(directory=3)  # type: ignore[arg-type]


def test_export_is_a_consistent_snapshot_of_each_session(store: SessionStore) -> None:
    store.create_session("s")
    store.append_event("s", "a", None, "i", "t", "{}")
    lines = store.export_jsonl(["s"])
    header = json.loads(next(lines))
    store.append_event("s", "b", "a", "i", "t", "{}")  # arrives mid-export
    rest = list(lines)
    assert header["event_count"] == len(rest) == 1
    assert header["head_id"] == "a"


def test_export_streams_without_holding_the_events(store: SessionStore) -> None:
    store.create_session("big")
    payload = json.dumps({"content": "x" * 200})
    for start in range(0, 12_000, 4000):
        store.append_events(
            "big", [(f"e{n}", None, "i", "t", payload) for n in range(start, start + 4000)]
        )
    tracemalloc.start()
    try:
        total = 0
        for line in store.export_jsonl():
            total += len(line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 12_000 * 200  # about 3 MB went through
    assert peak < 1_000_000  # never more than a few rows at a time


def test_import_reads_lazily_and_reports_progress(clock: FakeClock) -> None:
    with SessionStore(":memory:", clock=clock) as src:
        src.create_session("s")
        src.append_events("s", [(f"e{n}", None, "i", "t", "{}") for n in range(2500)])
        lines = src.export_jsonl()
        calls: list[tuple[int, int]] = []
        with SessionStore(":memory:", clock=clock) as dst:
            report = dst.import_jsonl(lines, progress=lambda s, e: calls.append((s, e)))
            assert report == ImportReport(1, 2500)
    assert calls == [(1, 1000), (1, 2000), (1, 2500)]


def _export(clock: FakeClock) -> list[str]:
    with SessionStore(":memory:", clock=clock) as src:
        _populate(src, clock)
        return list(src.export_jsonl())


def _assert_untouched(dst: SessionStore) -> None:
    assert [s.id for s in dst.list_sessions(include_archived=True)] == ["existing"]
    assert [e.id for e in dst.load_events("existing")] == ["x1"]
    assert dst.search("branch") == []


@pytest.fixture
def dst(clock: FakeClock) -> Iterator[SessionStore]:
    with SessionStore(":memory:", clock=clock) as store:
        store.create_session("existing")
        store.append_event("existing", "x1", None, "i", "t", "{}")
        yield store


def test_conflicting_session_id_refuses_the_whole_file(clock: FakeClock, dst: SessionStore) -> None:
    lines = _export(clock)
    lines[-1] = lines[-1].replace('"id":"s3"', '"id":"existing"')
    with pytest.raises(DuplicateId, match=r"line 7: session id 'existing' is already used"):
        dst.import_jsonl(lines)
    _assert_untouched(dst)


def test_conflicting_event_id_refuses_the_whole_file(clock: FakeClock, dst: SessionStore) -> None:
    lines = _export(clock)
    lines[5] = lines[5].replace('"id":"f1"', '"id":"x1"').replace('"event_count":1', "")
    with pytest.raises(DuplicateId, match=r"line 6: event id 'x1' is already used"):
        dst.import_jsonl(lines)
    _assert_untouched(dst)


def test_importing_the_same_file_twice_is_refused(clock: FakeClock) -> None:
    lines = _export(clock)
    with SessionStore(":memory:", clock=clock) as store:
        store.import_jsonl(lines)
        with pytest.raises(DuplicateId, match="nothing was imported"):
            store.import_jsonl(lines)
        assert len(store.list_sessions(include_archived=True)) == 3


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda ls: [*ls[:3], *ls[4:]], InvalidArgument, r"line 1: .*declares 3 events .* has 2"),
        (lambda ls: ls[:-2], InvalidArgument, r"declares 1 events but the file has 0"),
        (lambda ls: ls[1:], InvalidArgument, r"line 1: an event line comes before any session"),
        (lambda ls: [*ls[:2], "{not json\n", *ls[2:]], InvalidArgument, r"line 3: not JSON"),
        (lambda ls: [*ls, "[1, 2]\n"], InvalidArgument, r"line 8: expected a JSON object"),
        (lambda ls: [*ls, '{"kind": "trailer"}'], InvalidArgument, r"line 8: unknown kind"),
        (lambda ls: [ls[0].replace('"format":2', '"format":3'), *ls[1:]], InvalidArgument,
         r"unknown export format 3"),
        (lambda ls: [ls[0].replace('"created_at":1700000000', '"created_at":"x"'), *ls[1:]],
         InvalidArgument, r"line 1: field 'created_at' must be an integer"),
        (lambda ls: [ls[0].replace('"head_id":"e2"', '"head_id":"f1"'), *ls[1:]],
         InvalidArgument, r"head_id 'f1' is not an event of session 's1'"),
        (lambda ls: [ls[0], ls[1], ls[2].replace('"parent_id":"e1"', '"parent_id":"e3"'),
                     *ls[3:]], InvalidEvent, r"line 3: .*parent 'e3' is not an earlier event"),
        (lambda ls: [ls[0], ls[1].replace('"event_data":"', '"event_data":"}'), *ls[2:]],
         InvalidEvent, r"line 2: .*not valid JSON"),
        (lambda ls: [ls[0], ls[1].replace('"session_id":"s1"', '"session_id":"s2"'), *ls[2:]],
         InvalidArgument, r"line 2: event of session 's2' inside session 's1'"),
        (lambda ls: [ls[0], b"\xff\xfe\n", *ls[1:]], InvalidArgument, r"line 2: not UTF-8"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_its_line_and_nothing_written(
    clock: FakeClock,
    dst: SessionStore,
    edit: object,
    error: type[Exception],
    message: str,
) -> None:
    lines = edit(_export(clock))  # type: ignore[operator]
    with pytest.raises(error, match=message):
        dst.import_jsonl(lines)
    _assert_untouched(dst)


def test_blank_lines_and_object_event_data_are_accepted(store: SessionStore) -> None:
    lines = [
        '{"kind":"session","id":"h","created_at":5,"updated_at":6,"event_count":1,'
        '"head_id":"a","metadata":{"title":"plain string"}}\n',
        "\n",
        '{"kind":"event","id":"a","invocation_id":"i","event_type":"t",'
        '"event_data":{"content":"hand written"},"created_at":5}\n',
    ]
    assert store.import_jsonl(lines) == ImportReport(1, 1)
    assert store.get_metadata("h", "title") == "plain string"
    assert store.load_events("h")[0].event_data == '{"content":"hand written"}'
    assert [h.event_id for h in store.search("hand")] == ["a"]

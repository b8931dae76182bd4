"""``ExtendedSessionService`` on both backends: the local store and the PostgreSQL team server.

The framework adapters stand on these methods (blobs, deletion, head moves,
atomic state writes). Each contract test runs on ``LocalSessionService`` and on
``PostgresSessionService`` (the throwaway cluster of ``tests/conftest.py``); a
seeded differential drives both with the same random calls and requires the
same results and the same typed errors; real threads race the check-then-write
calls (exactly one winner); row-level security hides another owner's blobs.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock, unique_owner

from convstore import (
    DuplicateId,
    InvalidArgument,
    LocalSessionService,
    SessionArchived,
    SessionNotFound,
    StoreError,
)
from convstore.service import ExtendedSessionService
from convstore.sqlite.blobs import ANY_HEAD, HeadMoved

BACKENDS = ["local", "postgres"]


def _open(name: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    if name == "local":
        return LocalSessionService(tmp_path / f"ext-{unique_owner()}.db", clock=clock)
    dsn: str = request.getfixturevalue("pg_dsn")
    from convstore.postgres import PostgresSessionService

    return PostgresSessionService(dsn, owner=unique_owner(), clock=clock, max_size=8)


@pytest.fixture(params=BACKENDS)
def ext(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Any]:
    service = _open(request.param, clock, tmp_path, request)
    service.create_session("a")
    service.create_session("b")
    yield service
    service.close()


def test_both_backends_are_extended_services(ext: Any) -> None:
    assert isinstance(ext, ExtendedSessionService)


def test_blobs_are_bytes_replaced_or_kept(ext: Any) -> None:
    ext.put_blobs("a", "ns", [("k1", '{"n": 1}', b"\x00\xff"), ("k2", "{}", b"two")])
    blob = ext.get_blob("a", "ns", "k1")
    assert blob is not None and blob.data == b"\x00\xff" and blob.meta == '{"n": 1}'
    assert isinstance(blob.data, bytes)
    ext.put_blobs("a", "ns", [("k1", "{}", b"kept?")], replace=False)
    assert ext.get_blob("a", "ns", "k1").data == b"\x00\xff"
    ext.put_blobs("a", "ns", [("k1", "{}", b"new")])
    assert ext.get_blob("a", "ns", "k1").data == b"new"
    ext.put_blobs("a", "ns", [("k3", "{}", b"first"), ("k3", "{}", b"last")])
    assert ext.get_blob("a", "ns", "k3").data == b"last"  # a key twice: the last wins
    assert ext.latest_blob("a", "ns").key == "k3"
    assert ext.get_blob("nope", "ns", "k1") is None
    assert ext.get_blob("a", "ns", "\x00") is None  # never storable: not found


def test_listing_by_prefix_and_session_in_code_point_order(ext: Any) -> None:
    ext.put_blobs("a", "x:1", [("p1", "{}", b""), ("q1", "{}", b""), ("P0", "{}", b"")])
    ext.put_blobs("a", "x:2", [("p2", "{}", b""), ("p\U0001f600", "{}", b"")])
    ext.put_blobs("b", "x:1", [("p3", "{}", b"")])
    ext.put_blobs("b", "y", [("p4", "{}", b"")])
    assert [b.key for b in ext.list_blobs("a", "x:")] == ["P0", "p1", "q1", "p2", "p\U0001f600"]
    assert [b.key for b in ext.list_blobs("a", "x:", "p")] == ["p1", "p2", "p\U0001f600"]
    assert [(b.session_id, b.key) for b in ext.list_blobs(None, "x:1")] == [
        ("a", "P0"),
        ("a", "p1"),
        ("a", "q1"),
        ("b", "p3"),
    ]
    assert [b.key for b in ext.list_blobs("a", "x:1", exact=True)] == ["P0", "p1", "q1"]
    newest = ext.list_blobs("a", "x:1", exact=True, newest_first=True, limit=2)
    assert [b.key for b in newest] == ["q1", "p1"]
    older = ext.list_blobs("a", "x:1", exact=True, newest_first=True, before_key="p1")
    assert [b.key for b in older] == ["P0"]
    ext.delete_blobs("a", "x:1")
    assert [b.key for b in ext.list_blobs("a")] == ["p2", "p\U0001f600"]


def test_blob_errors_are_typed(ext: Any) -> None:
    with pytest.raises(SessionNotFound):
        ext.put_blobs("ghost", "ns", [("k", "{}", b"")])
    with pytest.raises(InvalidArgument, match="JSON"):
        ext.put_blobs("a", "ns", [("k", "not json", b"")])
    with pytest.raises(InvalidArgument, match="bytes"):
        ext.put_blobs("a", "ns", [("k", "{}", "text")])
    assert ext.list_blobs("a") == []  # all or nothing


def test_blob_with_children_reads_a_checkpoint_and_its_writes_at_once(ext: Any) -> None:
    ext.put_blobs("a", "c", [("1", "{}", b"one"), ("2", "{}", b"two")])
    ext.put_blobs("a", "w", [("1\tt\t0", "{}", b"w1"), ("2\tt\t0", "{}", b"w2")])
    ext.put_blobs("a", "w", [("2\tt\t1", "{}", b"w3"), ("20\tt\t0", "{}", b"other")])
    blob, children = ext.get_blob_with_children("a", "c", None, "w")
    assert blob is not None and blob.key == "2"
    assert [c.data for c in children] == [b"w2", b"w3"]
    blob, children = ext.get_blob_with_children("a", "c", "1", "w")
    assert blob is not None and blob.data == b"one" and [c.data for c in children] == [b"w1"]
    assert ext.get_blob_with_children("a", "c", "9", "w") == (None, [])
    assert ext.get_blob_with_children("ghost", "c", None, "w") == (None, [])


def test_delete_session_frees_its_ids(ext: Any) -> None:
    ext.append_event_at_head("a", "e1", "i", "t", "{}")
    ext.set_metadata("a", "k", "v")
    ext.put_blobs("a", "ns", [("k", "{}", b"x")])
    assert ext.delete_session("a") is True
    assert ext.delete_session("a") is False
    assert ext.get_session("a") is None
    ext.create_session("a")
    ext.append_event_at_head("a", "e1", "i", "t", "{}")  # the event id is free too
    assert ext.get_blob("a", "ns", "k") is None
    assert ext.get_metadata("a", "k") is None


def test_pop_head_and_clear_head_keep_events(ext: Any) -> None:
    ext.append_events_at_head("a", [("e1", "i", "t", "{}"), ("e2", "i", "t", "{}")])
    assert [e.parent_id for e in ext.load_events("a")] == [None, "e1"]
    assert ext.pop_head("a").id == "e2"
    assert [e.id for e in ext.history("a")] == ["e1"]
    assert ext.pop_head("a").id == "e1"
    assert ext.history("a") == [] and ext.pop_head("a") is None
    assert len(ext.load_events("a")) == 2  # nothing destroyed
    ext.append_events_at_head("a", [("e3", "i", "t", "{}")])
    assert ext.get_event("a", "e3").parent_id is None
    ext.clear_head("a")
    assert ext.get_session("a").head_id is None
    assert ext.pop_head("ghost") is None
    with pytest.raises(SessionNotFound):
        ext.clear_head("ghost")
    ext.archive_session("b")
    with pytest.raises(SessionArchived):
        ext.pop_head("b")
    with pytest.raises(SessionArchived):
        ext.clear_head("b")


def test_batch_append_is_all_or_nothing(ext: Any) -> None:
    ext.append_event_at_head("b", "taken", "i", "t", "{}")
    with pytest.raises(DuplicateId, match="taken"):
        ext.append_events_at_head("a", [("new", "i", "t", "{}"), ("taken", "i", "t", "{}")])
    with pytest.raises(DuplicateId):
        ext.append_events_at_head("a", [("twice", "i", "t", "{}"), ("twice", "i", "t", "{}")])
    assert ext.load_events("a") == []
    with pytest.raises(SessionNotFound):
        ext.append_events_at_head("ghost", [("x", "i", "t", "{}")])
    ext.archive_session("b")
    with pytest.raises(SessionArchived):
        ext.append_events_at_head("b", [("y", "i", "t", "{}")])


def test_event_with_metadata_checks_the_head(ext: Any) -> None:
    first = ext.append_event_with_metadata(
        "a", None, ("e1", "i", "t", "{}"), [("a", "k", "1"), ("shared", "k", "2")]
    )
    assert first is not None and first.parent_id is None
    assert ext.get_metadata("shared", "k") == "2"  # the shared-state session was created
    with pytest.raises(HeadMoved):
        ext.append_event_with_metadata("a", None, ("e2", "i", "t", "{}"), [("a", "k", "3")])
    assert ext.get_metadata("a", "k") == "1"  # nothing written
    ext.append_event_with_metadata("a", "e1", ("e2", "i", "t", "{}"))
    assert ext.append_event_with_metadata("a", ANY_HEAD, None, [("a", "k", "4")]) is None
    assert ext.get_all_metadata("a") == {"k": "4"}
    assert [e.id for e in ext.history("a")] == ["e1", "e2"]
    with pytest.raises(SessionNotFound):
        ext.append_event_with_metadata("ghost", ANY_HEAD, None, [])


def test_create_and_archive_with_metadata(ext: Any) -> None:
    created = ext.create_session_with_metadata(
        "c", "/d", "/g", [("c", "k", "1"), ("shared", "s", "2")]
    )
    assert (created.id, created.directory, created.git_root) == ("c", "/d", "/g")
    assert ext.get_all_metadata("c") == {"k": "1"} and ext.get_all_metadata("shared") == {"s": "2"}
    with pytest.raises(DuplicateId):  # no idempotent replay: exactly one creator wins
        ext.create_session_with_metadata("c", "/d", "/g", [("c", "k", "changed")])
    assert ext.get_metadata("c", "k") == "1"
    ext.archive_session_with_metadata("c", [("c", "k", "3"), ("a", "next", "x")])
    assert ext.get_session("c").archived_at is not None
    assert ext.get_metadata("a", "next") == "x"
    with pytest.raises(SessionArchived):
        ext.archive_session_with_metadata("c", [("a", "next", "y")])
    assert ext.get_metadata("a", "next") == "x"  # nothing written
    with pytest.raises(SessionNotFound):
        ext.archive_session_with_metadata("ghost")


def test_history_tail_folds_compaction_like_history(ext: Any) -> None:
    ext.append_events_at_head("a", [(f"e{i}", "i", "t", "{}") for i in range(6)])
    ext.compact("a", {"content": "summary"}, through_event_id="e3", event_id="sum")
    ext.append_events_at_head("a", [("e6", "i", "t", "{}")])
    folded = ext.history("a")
    assert [e.id for e in folded] == ["sum", "e4", "e5", "e6"]
    assert ext.history_tail("a", None) == folded
    for limit in (1, 2, 3, 4, 10):
        assert ext.history_tail("a", limit) == folded[-limit:], limit
    assert [e.id for e in ext.history_tail("a", 3, full=True)] == ["e5", "sum", "e6"]


def _timeless(value: Any) -> Any:
    """Results without their timestamps: the server stamps rows with its own clock (SPEC 6.1)."""
    from convstore.models import StoredEvent, StoredSession
    from convstore.sqlite.blobs import Blob

    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return type(value)(_timeless(v) for v in value)
    if isinstance(value, StoredEvent | Blob):
        return value._replace(created_at=0)
    if isinstance(value, StoredSession):
        return value._replace(
            created_at=0, updated_at=0, archived_at=None if value.archived_at is None else 0
        )
    return value


@pytest.mark.parametrize("seed", range(8))
def test_same_results_on_both_backends(
    seed: int, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A seeded differential: the same random calls, the same answers and errors."""
    local = _open("local", clock, tmp_path, request)
    pg = _open("postgres", clock, tmp_path, request)
    rng = random.Random(seed)
    n = 0

    def both(name: str, *args: Any, **kwargs: Any) -> Any:
        out = []
        for service in (local, pg):
            try:
                out.append(_timeless(getattr(service, name)(*args, **kwargs)))
            except StoreError as exc:
                out.append(type(exc).__name__)
        assert out[0] == out[1], (seed, name, args, kwargs)
        return out[0]

    try:
        for _ in range(150):
            sid = rng.choice(["s1", "s2", "s3"])
            op = rng.randrange(12)
            if op == 0:
                both("create_session", sid)
            elif op in (1, 2):
                items = [
                    (f"e{n + i}", "i", "t", f'{{"n": {n + i}}}') for i in range(rng.randint(1, 3))
                ]
                n += len(items)
                both("append_events_at_head", sid, items)
            elif op == 3:
                both("pop_head", sid)
            elif op == 4:
                keys = [(rng.choice("abc"), f'{{"v": {n}}}', bytes([n % 256])) for _ in range(2)]
                both(
                    "put_blobs", sid, rng.choice(["ns:1", "ns:2"]), keys, replace=rng.random() < 0.7
                )
            elif op == 5:
                both("list_blobs", rng.choice([sid, None]), rng.choice(["", "ns:", "ns:1"]))
                both("get_blob_with_children", sid, "ns:1", rng.choice([None, "a"]), "ns:2")
            elif op == 6:
                limit = rng.choice([None, 1, 2, 5])
                tail = both("history_tail", sid, limit)
                both("history", sid)
                values = both("history_tail_values", sid, limit)
                if isinstance(tail, list) and values is not None:
                    assert values == [json.loads(e.event_data) for e in tail], seed
            elif op == 7:
                both("delete_session", sid)
            elif op == 8:
                md = [(sid, "k", str(n)), ("shared", rng.choice("xy"), str(n))]
                both("append_event_with_metadata", sid, ANY_HEAD, (f"e{n}", "i", "t", "{}"), md)
                n += 1
                both("get_all_metadata", sid)
            elif op == 9:
                both("create_session_with_metadata", sid, None, None, [(sid, "k", "c")])
            elif op == 10:
                both("archive_session_with_metadata", sid, [("shared", "archived", sid)])
            else:
                events = local.history(sid, full=True)
                if events:
                    target = rng.choice(events).id
                    both(
                        "compact", sid, {"content": "s"}, through_event_id=target, event_id=f"c{n}"
                    )
                    n += 1
            clock.advance(rng.choice([0, 1]))
        for sid in ("s1", "s2", "s3", "shared"):
            both("get_session", sid)
            both("load_events", sid)
            both("get_all_metadata", sid)
    finally:
        local.close()
        pg.close()


# -- races: real threads, exactly one winner ---------------------------------------------------


def _race(calls: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except StoreError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("backend", BACKENDS)
def test_racing_creators_and_archivers_have_one_winner(
    backend: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    service = _open(backend, clock, tmp_path, request)
    try:
        for round_ in range(5):
            sid = f"race{round_}"
            results = _race(
                [
                    lambda i=i, sid=sid: service.create_session_with_metadata(
                        sid, None, None, [(sid, "w", str(i))]
                    )
                    for i in range(6)
                ]
            )
            winners = [r for r in results if not isinstance(r, BaseException)]
            assert len(winners) == 1, results
            assert all(isinstance(r, DuplicateId) for r in results if r not in winners)
            results = _race(
                [
                    lambda i=i, sid=sid: service.archive_session_with_metadata(
                        sid, [(sid, "by", str(i))]
                    )
                    for i in range(6)
                ]
            )
            assert sum(not isinstance(r, BaseException) for r in results) == 1, results
            assert all(isinstance(r, SessionArchived) for r in results if r is not None)
    finally:
        service.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_racing_compare_and_sets_have_one_winner(
    backend: str, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Racers that read the same pointer and move it: exactly one moves it, in
    every round, and the value is the winner's (``set_metadata_if``)."""
    service = _open(backend, clock, tmp_path, request)
    try:
        service.create_session("p")
        seen: str | None = None
        for round_ in range(5):
            results = _race(
                [
                    lambda i=i, seen=seen, r=round_: service.set_metadata_if(
                        "p", "ptr", seen, [("p", "ptr", f"{r}.{i}"), ("p", "by", str(i))]
                    )
                    for i in range(6)
                ]
            )
            assert results.count(True) == 1 and results.count(False) == 5, results
            winner = results.index(True)
            seen = service.get_metadata("p", "ptr")
            assert seen == f"{round_}.{winner}"
            assert service.get_metadata("p", "by") == str(winner)
    finally:
        service.close()


def test_another_owner_never_sees_blobs(pg_dsn: str, clock: FakeClock) -> None:
    from convstore.postgres import PostgresSessionService

    with (
        PostgresSessionService(pg_dsn, owner=unique_owner("alice"), clock=clock) as alice,
        PostgresSessionService(pg_dsn, owner=unique_owner("bob"), clock=clock) as bob,
    ):
        alice.create_session("t")
        alice.put_blobs("t", "ns", [("k", "{}", b"secret")])
        assert bob.get_blob("t", "ns", "k") is None
        assert (
            bob.list_blobs(None) == []
            and bob.get_blob_with_children("t", "ns", None, "w")[0] is None
        )
        with pytest.raises(SessionNotFound):
            bob.put_blobs("t", "ns", [("k", "{}", b"mine")])
        assert bob.delete_session("t") is False
        bob.delete_blobs("t")
        assert alice.get_blob("t", "ns", "k").data == b"secret"


def test_history_tail_values_is_the_tail_or_says_to_walk(ext: Any) -> None:
    """One row for the usual tail; ``None`` (walk with history_tail) for a fork or a summary."""
    assert ext.history_tail_values("a", 5) == [] and ext.history_tail_values("ghost", 5) == []
    ext.append_events_at_head("a", [(f"e{i}", "i", "t", f'{{"n": {i}}}') for i in range(6)])
    assert ext.history_tail_values("a", 3) == [{"n": 3}, {"n": 4}, {"n": 5}]
    assert ext.history_tail_values("a", None) == [{"n": i} for i in range(6)]
    assert ext.history_tail_values("a", 50) == [{"n": i} for i in range(6)]
    ext.set_head("a", "e2")  # a fork: the newest rows are no longer the chain
    assert ext.history_tail_values("a", 3) is None
    assert [e.id for e in ext.history_tail("a", 3)] == ["e0", "e1", "e2"]
    ext.append_events_at_head("a", [("x", "i", "t", '"branch"')])
    assert ext.history_tail_values("a", 1) == ["branch"]  # the newest row chains again
    assert ext.history_tail_values("a", 2) is None
    ext.compact("a", {"content": "s"}, through_event_id="x")
    assert ext.history_tail_values("a", 5) is None  # a summary: the caller presents it
    ext.clear_head("a")
    assert ext.history_tail_values("a", 5) is None and ext.history_tail("a", 5) == []
    ext.append_events_at_head("b", [("id\x1fwith\x1fseparators", "i", "t", "1")])
    assert ext.history_tail_values("b", None) in ([1], None)


def test_malformed_items_are_invalid_arguments(ext: Any) -> None:
    for call in (
        lambda: ext.put_blobs("a", "ns", [("k", "{}")]),
        lambda: ext.put_blobs("a", "ns", "kv"),
        lambda: ext.append_events_at_head("a", [("e1", "i", "t")]),
        lambda: ext.append_events_at_head("a", 5),
        lambda: ext.append_event_with_metadata("a", ANY_HEAD, None, [("a", "k")]),
        lambda: ext.create_session_with_metadata("c", None, None, [None]),
        lambda: ext.archive_session_with_metadata("a", [("a", "k", 1)]),
        lambda: ext.put_blobs("a", "ns\x00", [("k", "{}", b"")]),
    ):
        with pytest.raises(InvalidArgument):
            call()
    assert ext.load_events("a") == [] and ext.list_blobs("a") == []
    # A generator is read once, and fully.
    ext.append_event_with_metadata("a", ANY_HEAD, None, ((t, "k", "v") for t in ("a", "b")))
    assert ext.get_metadata("b", "k") == "v"

"""Retention: archived sessions go for good, in bounded batches; live ones are never touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeClock

from convstore import InvalidArgument, PurgeReport, SessionStore
from convstore.search import check_index

DAY = 86_400


def _setup(store: SessionStore, clock: FakeClock) -> int:
    """old1 (5 events, metadata) and old2 (empty) archived long ago; recent archived
    a day ago; live untouched. Returns the cutoff between them."""
    for sid in ("old1", "old2", "recent", "live"):
        store.create_session(sid)
    store.append_events(
        "old1", [(f"o{n}", None, "i", "t", f'{{"content": "old word {n}"}}') for n in range(5)]
    )
    store.set_metadata("old1", "title", "old")
    store.append_event("recent", "r1", None, "i", "t", '{"content": "old but recent"}')
    store.append_event("live", "l1", None, "i", "t", '{"content": "old yet live"}')
    store.archive_session("old1")
    store.archive_session("old2")
    clock.advance(30 * DAY)
    store.archive_session("recent")
    clock.advance(DAY)
    return int(clock.now) - 7 * DAY


def test_purge_removes_old_archived_sessions_with_everything_they_own(
    store: SessionStore, clock: FakeClock
) -> None:
    cutoff = _setup(store, clock)
    report = store.purge(archived_before=cutoff)
    assert report == PurgeReport(
        sessions=2, events=5, metadata=1, batches=1, dry_run=False, bytes_freed=0
    )
    assert store.get_session("old1") is None and store.get_session("old2") is None
    assert store.load_events("old1") == []
    assert {h.event_id for h in store.search("old")} == {"r1", "l1"}
    assert store.connection.execute("SELECT count(*) FROM session_metadata").fetchall() == [(0,)]
    assert [e.id for e in store.load_events("recent")] == ["r1"]
    assert [e.id for e in store.load_events("live")] == ["l1"]
    check_index(store)
    assert store.purge(archived_before=cutoff).sessions == 0  # idempotent


def test_dry_run_counts_and_changes_nothing(store: SessionStore, clock: FakeClock) -> None:
    cutoff = _setup(store, clock)
    report = store.purge(archived_before=cutoff, dry_run=True)
    assert report == PurgeReport(2, 5, 1, 0, True, 0)
    assert store.get_session("old1") is not None
    assert len(store.search("word")) == 5


def test_live_sessions_are_never_purged_whatever_the_cutoff(
    store: SessionStore, clock: FakeClock
) -> None:
    _setup(store, clock)
    store.purge(archived_before=int(clock.now) + 10 * DAY)
    assert [s.id for s in store.list_sessions(include_archived=True)] == ["live"]


def test_batches_are_bounded_by_batch_size(store: SessionStore, clock: FakeClock) -> None:
    store.create_session("big")
    store.append_events("big", [(f"e{n}", None, "i", "t", '{"content": "w"}') for n in range(10)])
    for n in range(4):
        store.create_session(f"small{n}")
        store.append_event(f"small{n}", f"s{n}", None, "i", "t", '{"content": "w"}')
    for s in store.list_sessions(limit=100):
        store.archive_session(s.id)
    clock.advance(1)
    seen: list[PurgeReport] = []
    report = store.purge(archived_before=int(clock.now), batch_size=3, progress=seen.append)
    assert (report.sessions, report.events) == (5, 14)
    assert report.batches == len(seen) >= 14 // 3
    steps = [b.events - a.events for a, b in zip([PurgeReport(0, 0, 0, 0, False, 0), *seen],
                                                 seen, strict=False)]  # fmt: skip
    assert max(steps) <= 3
    assert store.list_sessions(include_archived=True) == []
    check_index(store)


def test_an_interrupted_purge_continues_where_it_stopped(
    store: SessionStore, clock: FakeClock
) -> None:
    store.create_session("big")
    store.append_events("big", [(f"e{n}", None, "i", "t", '{"content": "w"}') for n in range(10)])
    store.archive_session("big")
    clock.advance(1)

    def stop(report: PurgeReport) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.purge(archived_before=int(clock.now), batch_size=4, progress=stop)
    assert len(store.load_events("big")) == 6  # the first batch was committed
    check_index(store)
    report = store.purge(archived_before=int(clock.now), batch_size=4)
    assert (report.sessions, report.events) == (1, 6)
    assert store.get_session("big") is None


def test_vacuum_gives_space_back(db_path: Path, clock: FakeClock) -> None:
    with SessionStore(db_path, clock=clock) as store:
        store.create_session("big")
        text = '{"content": "%s"}' % ("lorem ipsum dolor " * 50)
        store.append_events("big", [(f"e{n}", None, "i", "t", text) for n in range(2000)])
        store.archive_session("big")
        clock.advance(1)
        report = store.purge(archived_before=int(clock.now), vacuum=True)
        assert report.events == 2000
        assert report.bytes_freed > 1_000_000
        check_index(store)


@pytest.mark.parametrize(
    "kwargs",
    [{"archived_before": "yesterday"}, {"archived_before": True},
     {"archived_before": 1, "batch_size": 0}, {"archived_before": 1, "batch_size": 2.5}],
)  # fmt: skip
def test_bad_arguments(store: SessionStore, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        store.purge(**kwargs)  # type: ignore[arg-type]

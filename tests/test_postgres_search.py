"""Server search (tsvector + GIN): the local search() API and result shape, owner-scoped."""

from __future__ import annotations

import json

import pytest
from conftest import unique_owner

from convstore import InvalidArgument, SessionStore
from convstore.search import InvalidQuery, SearchHit

EVENTS = [
    ("s1", "/work/a", "user_message", "why is the build red"),
    ("s1", "/work/a", "text", "a missing import in ci.py breaks the build"),
    ("s2", "/work/b", "user_message", "deploy the build to staging"),
    ("s2", "/work/b", "text", "staging deploy done"),
]


def _fill(side: object) -> None:
    made: set[str] = set()
    for i, (sid, directory, etype, text) in enumerate(EVENTS):
        if sid not in made:
            side.create_session(sid, directory)  # type: ignore[attr-defined]
            made.add(sid)
        data = json.dumps({"content": text})
        side.append_event_at_head(sid, f"{sid}-e{i}", "inv", etype, data)  # type: ignore[attr-defined]
    # Stored and never found: no content, not an object. A NUL escape is a space
    # on the server (PostgreSQL text cannot hold NUL), a separator locally.
    side.append_event_at_head("s2", "odd1", "inv", "text", '{"other": "build"}')  # type: ignore[attr-defined]
    side.append_event_at_head("s2", "odd2", "inv", "text", '["build"]')  # type: ignore[attr-defined]
    side.append_event_at_head("s2", "odd3", "inv", "text", '{"content": "build \\u0000"}')  # type: ignore[attr-defined]


def test_server_search_matches_the_local_search(pg_dsn: str) -> None:
    from convstore.postgres import PostgresSessionService

    with (
        PostgresSessionService(pg_dsn, owner=unique_owner()) as svc,
        PostgresSessionService(pg_dsn, owner=unique_owner()) as stranger,
        SessionStore(":memory:") as local,
    ):
        _fill(svc)
        _fill(local)
        hits = svc.search("build")
        assert all(isinstance(h, SearchHit) for h in hits)
        ids = {h.event_id for h in hits}
        assert ids == {"s1-e0", "s1-e1", "s2-e2", "odd3"}
        assert ids == {h.event_id for h in local.search("build")}
        assert all(isinstance(h.rank, float) and "[build]" in h.snippet for h in hits)
        assert [h.event_id for h in svc.search("missing import")] == ["s1-e1"]
        assert {h.event_id for h in svc.search("build", directory="/work/b")} == {"s2-e2", "odd3"}
        assert {h.event_id for h in svc.search("build", event_types=["text"])} == {"s1-e1", "odd3"}
        recent = svc.search("build", order="recent")
        assert [h.event_id for h in recent] == ["odd3", "s2-e2", "s1-e1", "s1-e0"]
        assert svc.search("build", limit=1, order="recent")[0].event_id == "odd3"
        assert [h.event_id for h in svc.search('"staging deploy"')] == ["s2-e3"]
        assert {h.event_id for h in svc.search("build NOT staging")} == {"s1-e0", "s1-e1", "odd3"}
        assert {h.event_id for h in svc.search("stag*")} == {"s2-e2", "s2-e3"}
        with pytest.raises(InvalidQuery, match="no such column: staging"):
            svc.search("build -staging")  # FTS5's syntax: -x is a column filter, as locally
        # literal: "-" is text, not an operator
        assert [h.event_id for h in svc.search("ci.py -missing", literal=True)] == ["s1-e1"]
        assert svc.search("build", markers=("<b>", "</b>"))[0].snippet.count("<b>build</b>") >= 1
        assert stranger.search("build") == []
        for bad in ("", "   "):
            with pytest.raises(InvalidArgument, match="empty"):
                svc.search(bad)
        with pytest.raises(InvalidArgument):
            svc.search("build", order="oldest")
        with pytest.raises(InvalidArgument):
            svc.search("build", limit=-1)
        with pytest.raises(InvalidArgument):
            svc.search(42)  # type: ignore[arg-type]

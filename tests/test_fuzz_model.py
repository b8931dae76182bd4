"""Model-based fuzzing: a hypothesis state machine against a plain-Python model of the store.

Every rule calls the store with arbitrary text -- empty strings, NUL, lone
surrogates (which cannot be stored as UTF-8), very long data, odd directory
names -- and applies the same operation to :class:`Model`, a few dicts that
say what SPEC §1/§2/§4 promise. For a bad input the model lists the errors
that apply (several may, e.g. an archived session *and* a duplicate id); the
store must raise one of them -- a typed :class:`~convstore.StoreError`, never
anything else -- and change nothing. After every step the whole store is
compared with the model: sessions, events, history, metadata and listing.

Deterministic in CI: ``derandomize=True`` and no example database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from conftest import FakeClock
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from convstore import (
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    SessionArchived,
    SessionNotFound,
    SessionStore,
    StoredEvent,
    StoredSession,
    StoreError,
)

# -- strategies ----------------------------------------------------------------

ODD = [
    "", " ", "\x00", "a\x00b", "\t\n", "/", "//", "/a/../b", "C:\\Users\\me", "~", "..",
    "dir with spaces", "\u202eevil", "日本語", "😀", "\ufeff", "%s%n", "' OR 1=1 --",
]  # fmt: skip
SURROGATE = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
TEXT = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=12),
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), SURROGATE, st.text(max_size=3)),
    st.integers(200, 5000).map(lambda n: "/very/long" + "x" * n),
)
NAMES = ["s1", "s2", "s3", "", "\x00", "日本"]  # a small pool, so that names collide
EVENT_NAMES = ["e1", "e2", "e3", "e4", "", "\x00"]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
BAD_JSON = ["", "{", "NaN", "[1,]", "{'a': 1}", "01", "1 2", '{"a":1}\x00junk', "\x00", "[1] ["]
EVENT_DATA = st.one_of(
    st.builds(json.dumps, JSON_VALUES),
    st.sampled_from(BAD_JSON),
    st.builds(lambda v: json.dumps(v, ensure_ascii=False), JSON_VALUES),  # may hold surrogates
    st.integers(50_000, 300_000).map(lambda n: json.dumps({"content": "y" * n})),  # very long
    st.text(max_size=20),
)


def _storable(*values: object) -> bool:
    """Can every str among ``values`` be stored: UTF-8 (no lone surrogates), no NUL?

    NUL is refused in every stored text (PostgreSQL cannot store it, and what
    one backend accepts the other must too).
    """
    try:
        for value in values:
            if isinstance(value, str):
                value.encode("utf-8")
                if "\x00" in value:
                    return False
    except UnicodeEncodeError:
        return False
    return True


def _json_ok(text: str) -> bool:
    """RFC 8259 JSON text (Python's parser without its NaN/Infinity extension)."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return True


# -- the model -----------------------------------------------------------------


@dataclass
class MSession:
    id: str
    directory: str | None
    git_root: str | None
    created_at: int
    order: int  # creation order: the tie-break of "newest"
    updated_at: int
    head_id: str | None = None
    server_session_id: str | None = None
    archived_at: int | None = None
    events: list[StoredEvent] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def stored(self) -> StoredSession:
        return StoredSession(
            self.id, self.head_id, self.server_session_id, self.directory, self.git_root,
            self.created_at, self.updated_at, self.archived_at,
        )  # fmt: skip

    def history(self) -> list[StoredEvent]:
        by_id = {e.id: e for e in self.events}
        chain, current = [], self.head_id
        while current is not None:
            event = by_id[current]
            chain.append(event)
            current = event.parent_id
        return chain[::-1]


class Model:
    def __init__(self) -> None:
        self.sessions: dict[str, MSession] = {}
        self.created = 0

    def event_ids(self) -> set[str]:
        return {e.id for s in self.sessions.values() for e in s.events}

    def event(self, eid: str) -> StoredEvent | None:
        for s in self.sessions.values():
            for e in s.events:
                if e.id == eid:
                    return e
        return None

    def replay(
        self,
        sid: str,
        eid: str,
        parent: str | None,
        inv: str,
        kind: str,
        data: str,
        *,
        compare_parent: bool = True,
    ) -> StoredEvent | None:
        """The stored event when this append is an idempotent replay (SPEC §2.1)."""
        stored = self.event(eid)
        if stored is None or (
            stored.session_id,
            stored.invocation_id,
            stored.event_type,
            stored.event_data,
        ) != (sid, inv, kind, data):
            return None
        if compare_parent and stored.parent_id != parent:
            return None
        return stored

    def session_errors(self, sid: str, *, writable: bool = True) -> set[type[StoreError]]:
        if sid not in self.sessions:
            return {SessionNotFound}
        if writable and self.sessions[sid].archived_at is not None:
            return {SessionArchived}
        return set()


# -- the machine -----------------------------------------------------------------


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.store = SessionStore(":memory:", clock=self.clock)
        self.model = Model()

    def teardown(self) -> None:
        self.store.close()

    def now(self) -> int:
        return int(self.clock())

    @initialize()
    def two_sessions(self) -> None:
        """Start from sessions sharing a git root, so that rules reach deep states soon."""
        self.create_session_named("s1", "/work/a", "/work")
        self.create_session_named("s2", "/work/b", "/work")

    # Names: usually one the model knows (so rules reach deep states), else anything.
    def _pick(self, data: st.DataObject, known: list[str], pool: list[str]) -> str:
        if known and data.draw(st.integers(0, 9)) < 7:
            return data.draw(st.sampled_from(known))
        return data.draw(st.sampled_from(pool) | TEXT)

    def _session_name(self, data: st.DataObject) -> str:
        return self._pick(data, sorted(self.model.sessions), NAMES)

    def _event_name(self, data: st.DataObject) -> str:
        if data.draw(st.integers(0, 2)) == 0:  # a new id, most likely to be accepted
            return data.draw(st.sampled_from(EVENT_NAMES) | TEXT)
        return self._pick(data, sorted(self.model.event_ids()), EVENT_NAMES)

    def _expect(self, errors: set[type[StoreError]], call: Any) -> Any:
        """Run ``call``: it must raise one of ``errors`` (changing nothing) or, if there
        are none, succeed. Returns the call's result, or None after an expected error."""
        if errors:
            try:
                call()
            except tuple(errors):
                return None  # the invariants check that nothing changed
            except StoreError as exc:
                raise AssertionError(f"raised {exc!r}, expected one of {errors}") from exc
            raise AssertionError(f"succeeded, expected one of {errors}")
        return call()

    # -- rules -------------------------------------------------------------------

    @rule(seconds=st.integers(0, 100_000))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule(data=st.data(), directory=st.none() | TEXT, git_root=st.none() | TEXT)
    def create_session(
        self, data: st.DataObject, directory: str | None, git_root: str | None
    ) -> None:
        self.create_session_named(self._session_name(data), directory, git_root)

    def create_session_named(self, sid: str, directory: str | None, git_root: str | None) -> None:
        errors: set[type[StoreError]] = set()
        existing = self.model.sessions.get(sid)
        if not _storable(sid, directory, git_root):
            errors.add(InvalidArgument)
        elif existing is not None and (existing.directory, existing.git_root) == (
            directory,
            git_root,
        ):  # a retried create (SPEC §2.1): the stored session, nothing written
            assert self.store.create_session(sid, directory, git_root) == existing.stored()
            return
        elif existing is not None:
            errors.add(DuplicateId)
        result = self._expect(
            errors, lambda: self.store.create_session(sid, directory=directory, git_root=git_root)
        )
        if not errors:
            now = self.now()
            self.model.created += 1
            self.model.sessions[sid] = MSession(
                sid, directory, git_root, now, self.model.created, now
            )
            assert result == self.model.sessions[sid].stored()

    def _append_errors(
        self, sid: str, eid: str, parent: str | None, texts: tuple[str, ...], data: str
    ) -> set[type[StoreError]]:
        errors: set[type[StoreError]] = set()
        if not _storable(sid, eid, parent, *texts, data):
            errors.add(InvalidArgument)
        errors |= self.model.session_errors(sid)
        session = self.model.sessions.get(sid)
        siblings = {e.id for e in session.events} if session is not None else set()
        if not errors and parent is not None and parent not in siblings:
            errors.add(InvalidEvent)
        if not _json_ok(data):
            errors.add(InvalidEvent)
        if eid in self.model.event_ids():
            errors.add(DuplicateId)
        return errors

    def _record(self, sid: str, event: StoredEvent) -> None:
        session = self.model.sessions[sid]
        session.events.append(event)
        session.head_id = event.id
        session.updated_at = event.created_at

    @rule(data=st.data(), kind=TEXT, payload=EVENT_DATA, explicit_parent=st.booleans())
    def append_event(
        self, data: st.DataObject, kind: str, payload: str, explicit_parent: bool
    ) -> None:
        sid = self._session_name(data)
        eid = self._event_name(data)
        session = self.model.sessions.get(sid)
        if explicit_parent:
            parent = self._event_name(data)
        else:  # the usual case: the current head
            parent = session.head_id if session is not None else None
        errors = self._append_errors(sid, eid, parent, ("inv", kind), payload)
        replay = self.model.replay(sid, eid, parent, "inv", kind, payload)
        if replay is not None:
            assert self.store.append_event(sid, eid, parent, "inv", kind, payload) == replay
            return
        result = self._expect(
            errors, lambda: self.store.append_event(sid, eid, parent, "inv", kind, payload)
        )
        if not errors:
            event = StoredEvent(eid, sid, parent, "inv", kind, payload, self.now())
            assert result == event
            self._record(sid, event)

    @rule(data=st.data(), invocation=TEXT, payload=EVENT_DATA)
    def append_event_at_head(self, data: st.DataObject, invocation: str, payload: str) -> None:
        sid = self._session_name(data)
        eid = self._event_name(data)
        errors = self._append_errors(sid, eid, None, (invocation, "text"), payload)
        replay = self.model.replay(
            sid, eid, None, invocation, "text", payload, compare_parent=False
        )
        if replay is not None:
            assert self.store.append_event_at_head(sid, eid, invocation, "text", payload) == replay
            return
        result = self._expect(
            errors,
            lambda: self.store.append_event_at_head(sid, eid, invocation, "text", payload),
        )
        if not errors:
            head = self.model.sessions[sid].head_id
            event = StoredEvent(eid, sid, head, invocation, "text", payload, self.now())
            assert result == event
            self._record(sid, event)

    @rule(data=st.data(), size=st.integers(0, 4))
    def append_events(self, data: st.DataObject, size: int) -> None:
        sid = self._session_name(data)
        session = self.model.sessions.get(sid)
        parent = session.head_id if session is not None else None
        batch: list[tuple[str, str | None, str, str, str]] = []
        for _ in range(size):
            eid = self._event_name(data)
            if data.draw(st.integers(0, 9)) == 0:
                parent = self._event_name(data)  # sometimes a parent from elsewhere
            batch.append((eid, parent, "inv", "tool", data.draw(EVENT_DATA)))
            parent = eid
        errors: set[type[StoreError]] = set()
        if not _storable(sid):
            errors.add(InvalidArgument)
        expected: list[StoredEvent] = []
        fresh: list[StoredEvent] = []
        if batch:
            if not _storable(sid, *(v for item in batch for v in item)):
                errors.add(InvalidArgument)
            seen = {e.id for e in session.events} if session is not None else set()
            taken = self.model.event_ids()
            stored_before = set(taken)
            for eid, par, inv, kind, payload in batch:
                replay = self.model.replay(sid, eid, par, inv, kind, payload)
                if replay is not None:  # a retried element: skipped (SPEC §2.1)
                    expected.append(replay)
                    continue
                if eid in stored_before or eid in {e.id for e in fresh}:
                    errors.add(DuplicateId)
                if session is not None and par is not None and par not in seen:
                    errors.add(InvalidEvent)
                if not _json_ok(payload):
                    errors.add(InvalidEvent)
                event = StoredEvent(eid, sid, par, inv, kind, payload, self.now())
                expected.append(event)
                fresh.append(event)
                seen.add(eid)
                taken.add(eid)
            if fresh:
                errors |= self.model.session_errors(sid)
        result = self._expect(errors, lambda: self.store.append_events(sid, batch))
        if not errors:
            assert result == expected
            for event in fresh:
                self._record(sid, event)

    @rule(data=st.data())
    def archive_session(self, data: st.DataObject) -> None:
        sid = self._session_name(data)
        errors = self.model.session_errors(sid, writable=False)
        self._expect(errors, lambda: self.store.archive_session(sid))
        if not errors and self.model.sessions[sid].archived_at is None:
            self.model.sessions[sid].archived_at = self.now()

    @rule(data=st.data(), server=TEXT)
    def update_server_session_id(self, data: st.DataObject, server: str) -> None:
        sid = self._session_name(data)
        errors = self.model.session_errors(sid, writable=False)
        if not _storable(sid, server):
            errors = {InvalidArgument, SessionNotFound}
        self._expect(errors, lambda: self.store.update_server_session_id(sid, server))
        if not errors:
            self.model.sessions[sid].server_session_id = server

    @precondition(lambda self: any(s.events for s in self.model.sessions.values()))
    @rule(data=st.data())
    def fork(self, data: st.DataObject) -> None:
        """``set_head``: move the head back to an earlier event; the next append branches."""
        sid = self._session_name(data)
        eid = self._event_name(data)
        errors: set[type[StoreError]] = set()
        if not _storable(sid, eid):
            errors.add(InvalidArgument)
        errors |= self.model.session_errors(sid)
        if not errors and eid not in {e.id for e in self.model.sessions[sid].events}:
            errors.add(InvalidEvent)
        self._expect(errors, lambda: self.store.set_head(sid, eid))
        if not errors:
            self.model.sessions[sid].head_id = eid
            self.model.sessions[sid].updated_at = self.now()

    @rule(data=st.data(), key=TEXT, value=TEXT)
    def set_metadata(self, data: st.DataObject, key: str, value: str) -> None:
        sid = self._session_name(data)
        errors = self.model.session_errors(sid, writable=False)
        if not _storable(sid, key, value):
            errors = {InvalidArgument, SessionNotFound}
        self._expect(errors, lambda: self.store.set_metadata(sid, key, value))
        if not errors:
            self.model.sessions[sid].metadata[key] = value

    @rule(data=st.data(), key=TEXT)
    def get_metadata(self, data: st.DataObject, key: str) -> None:
        sid = self._session_name(data)
        errors = self.model.session_errors(sid, writable=False)
        result = self._expect(errors, lambda: self.store.get_metadata(sid, key))
        if not errors:
            assert result == self.model.sessions[sid].metadata.get(key)

    @rule(
        data=st.data(),
        use_directory=st.booleans(),
        use_git_root=st.booleans(),
        max_age=st.one_of(
            st.integers(0, 10**6),
            st.integers(-10, 10**12),
            st.sampled_from([10**20, -(10**20), float("inf")]),  # beyond 64 bits: "any age"
        ),
    )
    def find_resumable_session(
        self, data: st.DataObject, use_directory: bool, use_git_root: bool, max_age: float
    ) -> None:
        known = [s for s in self.model.sessions.values()]
        dirs = [s.directory for s in known if s.directory is not None]
        roots = [s.git_root for s in known if s.git_root is not None]
        directory = (
            data.draw(st.sampled_from(dirs) | TEXT if dirs else TEXT) if use_directory else None
        )
        git_root = (
            data.draw(st.sampled_from(roots) | TEXT if roots else TEXT) if use_git_root else None
        )
        cutoff = self.now() - max_age

        def newest(matches: list[MSession]) -> MSession | None:
            live = [s for s in matches if s.archived_at is None and s.updated_at > cutoff]
            return max(live, key=lambda s: (s.updated_at, s.order), default=None)

        by_dir = newest([s for s in known if directory is not None and s.directory == directory])
        by_root = newest([s for s in known if git_root is not None and s.git_root == git_root])
        best = by_dir
        if by_root is not None and (best is None or by_root.updated_at > best.updated_at):
            best = by_root
        result = self.store.find_resumable_session(directory, git_root, max_age)
        assert result == (best.stored() if best is not None else None)

    # -- the whole state, after every step ---------------------------------------

    @invariant()
    def store_equals_model(self) -> None:
        store, model = self.store, self.model
        for sid, session in model.sessions.items():
            assert store.get_session(sid) == session.stored()
            assert store.load_events(sid) == session.events
            assert store.history(sid) == session.history()
            assert store.get_all_metadata(sid) == session.metadata
        listing = store.list_sessions(include_archived=True, limit=10**6)
        expected = sorted(
            model.sessions.values(), key=lambda s: (s.updated_at, s.order), reverse=True
        )
        assert [(s.id, s.event_count) for s in listing] == [(s.id, len(s.events)) for s in expected]
        total = store.connection.execute("SELECT count(*) FROM session_events").get
        assert total == sum(len(s.events) for s in model.sessions.values())


StoreMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_store_against_model = StoreMachine.TestCase


def test_what_the_model_found_stays_fixed() -> None:
    """The bugs the machine (or writing its model) found, pinned as plain examples."""
    with SessionStore(":memory:", clock=FakeClock()) as store:
        store.create_session("s1", directory="/work/a", git_root="/work")
        store.set_metadata("s1", "title", "t")
        # json_valid() stops at NUL: '{"a":1}\x00junk' used to be stored.
        try:
            store.append_event("s1", "e1", None, "inv", "text", '{"a":1}\x00junk')
        except InvalidEvent:
            pass
        else:
            raise AssertionError("event_data with a NUL was accepted")
        assert store.load_events("s1") == []
        # An unstorable key was never set; it used to raise SessionNotFound for s1.
        assert store.get_metadata("s1", "\ud800") is None
        # An unstorable directory used to hide the git-root match.
        found = store.find_resumable_session("/\ud800", "/work", 3600)
        assert found is not None and found.id == "s1"
        # A window beyond 64 bits used to raise OverflowError.
        for window in (10**20, float("inf")):
            found = store.find_resumable_session("/work/a", None, window)
            assert found is not None and found.id == "s1"

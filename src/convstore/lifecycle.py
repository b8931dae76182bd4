"""The conversation lifecycle (SPEC §9): compaction that keeps the originals, a token ledger.

**Compaction.** Long conversations outgrow the model's context window; a client
then asks the model for a summary and wants to continue from it.
:meth:`~convstore.SessionStore.compact` *appends* that summary as an event of
type ``"compaction"`` whose ``event_data`` is the caller's JSON object plus
one key, ``"compacted_through"``: the id of the last event it stands for.
Nothing is overwritten: :meth:`~convstore.SessionStore.load_events`, search and
export still see every original, and ``history(full=True)`` returns the whole
chain. ``history()`` (what the model sees) returns the newest summary on the
current branch first, then the events after the one it covers::

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
    ...     _ = store.create_session("s1")
    ...     for i in range(1, 5):
    ...         _ = store.append_event_at_head("s1", f"e{i}", "inv", "user", '{"content": "hi"}')
    ...     summary = store.compact("s1", '{"content": "we said hi thrice"}', through_event_id="e3")
    ...     [e.id for e in store.history("s1")][1:], len(store.history("s1", full=True))
    (['e4'], 5)

Compacting again folds the earlier summary into the new one (the new summary
must cover an event ``history()`` still shows); forking to an event before a
summary leaves that summary off the new branch, so the originals come back;
resuming a compacted session appends after the summary, which stays first.

**Token usage ledger.** :meth:`~convstore.SessionStore.record_usage` records
what a model call cost against the event it produced (one row per event and
model; repeating an identical record is a no-op, a different one is
:class:`~convstore.DuplicateId`). :meth:`~convstore.SessionStore.usage` sums
it per ``"model"``, ``"day"`` (UTC, ``YYYY-MM-DD``) or ``"session"`` from a
rollup of per (session, model, day) sums that triggers keep in step with the
ledger (migration ``0009_usage_rollup.sql``), so totals cost what the number
of groups costs, not the number of records. Rows are keyed by the event, so
compaction leaves them alone; export/import and sync carry them.

    >>> with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
    ...     _ = store.create_session("s1")
    ...     _ = store.append_event("s1", "e1", None, "inv", "assistant", '{"content": "ok"}')
    ...     store.record_usage("s1", "e1", model="gpt-x", input_tokens=120, output_tokens=8)
    ...     total = store.usage()[0]
    >>> total.key, total.input_tokens, total.output_tokens, total.cost, total.events
    ('gpt-x', 120, 8, None, 1)
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import apsw

from . import _lifecycle_sql as L
from . import _validate as _v
from ._common import COMPACTION_EVENT_TYPE
from .errors import (
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    SessionArchived,
    SessionNotFound,
    StoreError,
)
from .ids import new_id
from .models import StoredEvent
from .sqlite import _sql

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from .sqlite.store import SessionStore

__all__ = [
    "COMPACTION_EVENT_TYPE",
    "COMPACTED_THROUGH_KEY",
    "GROUP_BY",
    "UsageTotal",
    "UsageRecord",
    "compact",
    "fold_history",
    "summary_event_data",
    "compaction_through",
    "record_usage",
    "usage",
    "check_usage_args",
    "check_compact_args",
    "CompactRequest",
    "check_usage_query",
    "usage_day_key",
]

#: The key ``compact`` adds to the summary's JSON object: the last event it covers.
COMPACTED_THROUGH_KEY = "compacted_through"
#: What ``usage`` can group by.
GROUP_BY = ("model", "day", "session")
#: Largest token count one record may carry (2**48: far beyond any model call,
#: small enough that sums over millions of records stay 64-bit integers).
MAX_TOKENS = 1 << 48
#: Largest cost one record may carry.
MAX_COST = 1e12
_INT64_MIN = -(1 << 63)
_new_tuple = tuple.__new__
_INT64_MAX = (1 << 63) - 1


class UsageTotal(NamedTuple):
    """Summed usage for one group: a model name, a UTC day (``YYYY-MM-DD``) or a session id.

    ``cost`` is ``None`` when no record of the group carried a cost;
    ``events`` counts the records summed.
    """

    key: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float | None
    events: int


class UsageRecord(NamedTuple):
    """One ledger row as exported: the event it belongs to and what the call cost."""

    event_id: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float | None


# -- compaction ----------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def summary_event_data(summary_data: object, through_event_id: str) -> str:
    """The ``event_data`` of a summary: the caller's JSON object plus ``compacted_through``.

    ``summary_data`` is JSON text of an object, or a mapping. A
    ``compacted_through`` key already present must name the same event.

    >>> summary_event_data('{"content": "short"}', "e9")
    '{"content": "short", "compacted_through": "e9"}'
    """
    if isinstance(summary_data, str):
        try:
            obj = json.loads(summary_data, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise InvalidEvent(f"summary_data is not valid JSON ({exc})") from None
    elif isinstance(summary_data, dict):
        obj = dict(summary_data)
    else:
        raise InvalidEvent(
            f"summary_data must be JSON text of an object (str) or a dict, "
            f"got {type(summary_data).__name__}"
        )
    if not isinstance(obj, dict):
        raise InvalidEvent("summary_data must be a JSON object (e.g. {\"content\": \"…\"})")
    previous = obj.get(COMPACTED_THROUGH_KEY, through_event_id)
    if previous != through_event_id:
        raise InvalidEvent(
            f"summary_data has {COMPACTED_THROUGH_KEY}={previous!r} but through_event_id is "
            f"{through_event_id!r}"
        )
    obj[COMPACTED_THROUGH_KEY] = through_event_id
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidEvent(f"summary_data cannot be stored as JSON ({exc})") from None


def compaction_through(event: StoredEvent) -> str | None:
    """The id a summary event covers through, or ``None`` when ``event`` is not a summary."""
    if event.event_type != COMPACTION_EVENT_TYPE:
        return None
    try:
        data = json.loads(event.event_data)
    except (ValueError, RecursionError):
        return None
    through = data.get(COMPACTED_THROUGH_KEY) if isinstance(data, dict) else None
    return through if isinstance(through, str) else None


def fold_history(chain: Sequence[StoredEvent]) -> list[StoredEvent]:
    """What the model sees of ``chain`` (root → head): the newest summary, then what follows.

    The newest summary on the chain whose covered event is earlier on the
    chain stands for everything up to and including that event; older
    summaries between them are folded into it. Without one, the chain as is.
    """
    for i in range(len(chain) - 1, -1, -1):
        through = compaction_through(chain[i])
        if through is None:
            continue
        for j in range(i - 1, -1, -1):
            if chain[j].id == through:
                break
        else:
            continue  # covers an event not on this branch: not a summary of it
        tail = [
            e
            for k, e in enumerate(chain[j + 1 :], start=j + 1)
            if k != i and (k > i or compaction_through(e) is None)
        ]
        return [chain[i], *tail]
    return list(chain)


def _optional_str(value: object, what: str) -> str | None:
    """``None`` or a storable ``str``: :func:`convstore._validate.optional_text`."""
    return _v.optional_text(value, what)


class CompactRequest(NamedTuple):
    """``compact``'s arguments, checked (:func:`check_compact_args`)."""

    session_id: str
    event_data: str
    event_id: str  # the caller's, or a new one
    invocation_id: str | None
    through_event_id: str
    retry: bool  # the caller passed ``event_id``: a stored summary with it is a replay


def check_compact_args(
    session_id: object,
    summary_data: object,
    through_event_id: object,
    event_id: object,
    invocation_id: object,
) -> CompactRequest:
    """Validate ``compact``'s arguments (every backend runs this before reading)."""
    sid = _v.text(session_id, "session_id")
    through = _v.text(through_event_id, "through_event_id", error=InvalidEvent)
    eid = _optional_str(event_id, "event_id")
    inv = _optional_str(invocation_id, "invocation_id")
    data = summary_event_data(summary_data, through)
    if eid is None:
        return CompactRequest(sid, data, new_id(), inv, through, False)
    return CompactRequest(sid, data, eid, inv, through, True)


def is_replay(stored: StoredEvent | None, event_data: str) -> bool:
    """Whether ``stored`` is the summary a retried ``compact`` with the same id would write."""
    return (
        stored is not None
        and stored.event_type == COMPACTION_EVENT_TYPE
        and stored.event_data == event_data
    )


def check_compaction_target(
    session_id: str, chain: Sequence[StoredEvent], through_event_id: str
) -> StoredEvent:
    """Refuse a ``through_event_id`` the model no longer sees; return the head event."""
    if not chain:
        raise InvalidEvent(f"session {session_id!r} has no events to compact")
    if any(e.id == through_event_id for e in fold_history(chain)):
        return chain[-1]
    if any(e.id == through_event_id for e in chain):
        raise InvalidEvent(
            f"event {through_event_id!r} of session {session_id!r} is already covered by a "
            "summary: compact through the summary or a later event"
        )
    raise InvalidEvent(
        f"event {through_event_id!r} is not on the current branch of session {session_id!r}"
    )


def compact(
    store: SessionStore,
    session_id: str,
    summary_data: str | Mapping[str, Any],
    *,
    through_event_id: str,
    event_id: str | None = None,
    invocation_id: str | None = None,
) -> StoredEvent:
    """Append a summary that stands, in ``history()``, for the chain it covers (``store.compact``).

    The summary covers the current branch up to and including
    ``through_event_id``, which must be an event ``history()`` still shows.
    ``summary_data`` is a JSON object (text or dict); the stored summary is an
    event of type ``"compaction"`` with ``"compacted_through"`` added. The
    originals stay (``load_events``, search, export, ``history(full=True)``).
    ``event_id`` defaults to a new id (pass one to make a retry safe: a retry
    of a stored summary returns it); ``invocation_id`` to the head's. Errors,
    nothing written: :class:`SessionNotFound`, :class:`SessionArchived`,
    :class:`InvalidEvent` (bad JSON, a hidden or foreign event),
    :class:`DuplicateId`.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     _ = store.create_session("s1")
    ...     _ = store.append_event("s1", "e1", None, "i", "user", '{"content": "long"}')
    ...     _ = store.compact("s1", '{"content": "short"}', through_event_id="e1")
    ...     [e.event_type for e in store.history("s1")]
    ['compaction']
    """
    sid_text, data, eid, inv, _, retry = check_compact_args(
        session_id, summary_data, through_event_id, event_id, invocation_id
    )
    doing = f"compacting session {sid_text!r} through {through_event_id!r}"
    with store.atomic(doing, eid) as conn:
        if retry:  # a retry of a compaction that was stored: return it (§2.1)
            stored = store.get_event(sid_text, eid)
            if is_replay(stored, data):
                return cast(StoredEvent, stored)
        state = store.session_state(sid_text)
        if state is None:
            raise SessionNotFound(f"session {sid_text!r} does not exist")
        if state[1] is not None:
            raise SessionArchived(
                f"session {sid_text!r} is archived; start a new session to continue"
            )
        head = check_compaction_target(
            sid_text, store.history(sid_text, full=True), through_event_id
        )
        head_inv = head.invocation_id if inv is None else inv
        now = store.now()
        conn.execute(
            _sql.EVENT_APPEND,
            {
                "session_id": sid_text,
                "event_id": eid,
                "parent_id": head.id,
                "invocation_id": head_inv,
                "event_type": COMPACTION_EVENT_TYPE,
                "event_data": data,
                "now": now,
            },
        )
        if conn.changes() == 0:  # pragma: no cover - the head was read in this transaction
            raise InvalidEvent(f"summary {eid!r} could not be appended to session {sid_text!r}")
        store.move_head(eid, now, 1, sid_text)  # like every append: indexed in bulk later
    return StoredEvent(eid, sid_text, head.id, head_inv, COMPACTION_EVENT_TYPE, data, now)


# -- usage ledger --------------------------------------------------------------


def _tokens(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{what} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_TOKENS:
        raise InvalidArgument(f"{what} must be between 0 and {MAX_TOKENS}, got {value}")
    return int(value)


#: The named parameters of ``check_usage_args``' values, in its order.
_USAGE_KEYS = (
    "session_id",
    "event_id",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost",
)


def usage_params(args: tuple[object, ...]) -> dict[str, object]:
    """``check_usage_args``' values, by the names the ledger statements of both backends bind."""
    return dict(zip(_USAGE_KEYS, args, strict=True))


#: ``record_usage``'s arguments, checked (:func:`check_usage_args`).
UsageArgs = tuple[str, str, str, int, int, int, float | None]


def check_usage_args(
    session_id: object,
    event_id: object,
    model: object,
    input_tokens: object,
    output_tokens: object,
    cached_tokens: object,
    cost: object,
) -> UsageArgs:
    """Validate ``record_usage``'s arguments (every backend runs this before writing)."""
    sid = _v.text(session_id, "session_id")
    eid = _v.text(event_id, "event_id")
    name = _v.text(model, "model")
    if not name or len(name) > 200:
        raise InvalidArgument(f"model must be a non-empty name of at most 200 characters: {name!r}")
    if cost is not None:
        if isinstance(cost, bool) or not isinstance(cost, int | float):
            raise InvalidArgument(f"cost must be a number or None, got {type(cost).__name__}")
        if not (math.isfinite(cost) and 0 <= cost <= MAX_COST):
            raise InvalidArgument(
                f"cost must be a finite number between 0 and {MAX_COST:g}: {cost!r}"
            )
        cost = float(cost)
    return (
        sid,
        eid,
        name,
        _tokens(input_tokens, "input_tokens"),
        _tokens(output_tokens, "output_tokens"),
        _tokens(cached_tokens, "cached_tokens"),
        cost,
    )


def check_usage_query(
    session_id: object, since: object, group_by: object
) -> tuple[str | None, int, str]:
    """Validate ``usage``'s arguments; ``since`` becomes an int (``None``: the beginning)."""
    sid = _optional_str(session_id, "session_id")
    if group_by not in GROUP_BY or type(group_by) is not str:
        raise InvalidArgument(f"group_by must be one of {', '.join(GROUP_BY)}: {group_by!r}")
    if since is None:
        start = _INT64_MIN
    elif isinstance(since, bool) or not isinstance(since, int | float):
        raise InvalidArgument(f"since must be Unix seconds (int) or None, got {since!r}")
    elif isinstance(since, float) and not math.isfinite(since):
        raise InvalidArgument(f"since must be a finite number of Unix seconds: {since!r}")
    else:
        start = min(max(math.ceil(since), _INT64_MIN), _INT64_MAX)
    return sid, start, group_by


def usage_day_key(day: int) -> str:
    """``YYYY-MM-DD`` (UTC) of a day number (Unix seconds // 86400)."""
    try:
        return datetime.fromtimestamp(day * 86400, UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return str(day)


def _describe_missing(store: SessionStore, session_id: str, event_id: str) -> StoreError:
    if store.session_state(session_id) is None:
        return SessionNotFound(f"session {session_id!r} does not exist")
    return InvalidEvent(f"event {event_id!r} is not an event of session {session_id!r}")


def record_usage(
    store: SessionStore,
    session_id: str,
    event_id: str,
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    cost: float | None = None,
) -> None:
    """Record a model call's token usage (and optional cost) against the event it produced.

    ``store.record_usage(session_id, event_id, model=…, input_tokens=…,
    output_tokens=…, cached_tokens=0, cost=None)``. One record per event and
    model: an identical retry is a no-op, other values are
    :class:`DuplicateId`. Errors, nothing written: :class:`SessionNotFound`,
    :class:`InvalidEvent` (not an event of that session),
    :class:`InvalidArgument` (bad counts or cost). Archived sessions accept
    late records.
    """
    args = check_usage_args(
        session_id, event_id, model, input_tokens, output_tokens, cached_tokens, cost
    )
    sid, eid, name = args[0], args[1], args[2]
    conn = store.connection
    params = usage_params(args)
    doing = f"recording usage of event {eid!r} in session {sid!r}"
    try:
        try:
            conn.execute(L.USAGE_RECORD, params)
        except apsw.ConstraintError:
            stored = conn.execute(L.USAGE_GET, params).fetchone()
            if stored is not None and tuple(stored) == args[3:]:
                return  # an identical retry: nothing to do
            raise DuplicateId(
                f"usage of event {eid!r} for model {name!r} is already recorded with other "
                "values; nothing was changed"
            ) from None
        if conn.changes() == 0:
            raise _describe_missing(store, sid, eid)
    except (UnicodeError, apsw.Error) as exc:
        raise store.translate_error(exc, doing) from None


def usage(
    store: SessionStore,
    *,
    session_id: str | None = None,
    since: int | None = None,
    group_by: str = "model",
) -> list[UsageTotal]:
    """Token usage totals grouped by ``"model"``, ``"day"`` (UTC) or ``"session"``.

    ``store.usage(session_id=None, since=None, group_by="model")``: optionally
    one session's, or only events since ``since`` (Unix seconds). Reads the
    per (session, model, day) rollup for the days after ``since``'s own day
    (an ordered scan of a covering index) and the ledger only for that day.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     store.usage(group_by="day")
    []
    """
    sid, start, group = check_usage_query(session_id, since, group_by)
    name = {"model": "USAGE_BY_MODEL", "day": "USAGE_BY_DAY", "session": "USAGE_BY_SESSION"}[group]
    params: dict[str, Any] = {"since": start}
    if sid is not None:
        name, params = name + "_SESSION", {"since": start, "session_id": sid}
    try:
        rows = store.connection.execute(getattr(L, name), params).fetchall()
    except (UnicodeError, apsw.Error) as exc:
        store.read_failed(exc, "summing usage")  # an id that cannot be stored matches nothing
        return []
    if group == "day":
        rows = [(usage_day_key(cast(int, r[0])), *r[1:]) for r in rows]
    return [_new_tuple(UsageTotal, r) for r in rows]


def export_usage(
    store: SessionStore, sid: int, conn: apsw.Connection | None = None
) -> list[UsageRecord]:
    """Every ledger row of the session with storage key ``sid`` (for export and sync).

    ``conn``: read through this connection instead (an export's snapshot).
    """
    source = store.connection if conn is None else conn
    return [UsageRecord(*row) for row in source.execute(L.USAGE_EXPORT, {"sid": sid})]


def import_usage(store: SessionStore, sid: int, record: UsageRecord) -> bool:
    """Insert one exported ledger row into session ``sid`` (inside the caller's write).

    Returns ``False`` when the event is not in the session. An identical row
    already stored is kept; one with other values is :class:`DuplicateId`.
    """
    args = check_usage_args(
        "-",
        record.event_id,
        record.model,
        record.input_tokens,
        record.output_tokens,
        record.cached_tokens,
        record.cost,
    )
    conn = store.connection
    params = {**usage_params(args), "sid": sid}
    conn.execute(L.USAGE_IMPORT, params)
    if conn.changes():
        return True
    if not conn.execute(L.EVENT_IN_SESSION_SID, params).fetchall():
        return False
    stored = conn.execute(L.USAGE_GET, params).fetchone()
    if stored is not None and tuple(stored) != args[3:]:
        raise DuplicateId(
            f"usage of event {record.event_id!r} for model {record.model!r} is already "
            "recorded with other values"
        )
    return True


# -- export / import (format 2) ---------------------------------------------------


def export_usage_lines(
    store: SessionStore, sid: int, session_id: str, conn: apsw.Connection | None = None
) -> Iterator[str]:
    """The ``usage`` lines of one session for :func:`convstore.sqlite.exporting.export_jsonl`."""
    for rec in export_usage(store, sid, conn):
        yield (
            json.dumps(
                {"kind": "usage", "session_id": session_id, **rec._asdict()},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            + "\n"
        )


def import_usage_line(store: SessionStore, sid: int, session_id: str, line: Any) -> None:
    """Import one ``usage`` line into the session being imported (``line``: a parsed line)."""
    data = line.data
    owner = data.get("session_id", session_id)
    if owner != session_id:
        raise line.fail(
            f"usage of session {owner!r} inside session {session_id!r}: usage lines must "
            "follow their own session's events"
        )
    try:
        record = UsageRecord(
            line.text("event_id"),
            line.text("model"),
            line.integer("input_tokens"),
            line.integer("output_tokens"),
            line.integer("cached_tokens"),
            data.get("cost"),
        )
        found = import_usage(store, sid, record)
    except InvalidArgument as exc:
        if "nothing was imported" in str(exc):
            raise
        raise line.fail(str(exc)) from None
    except DuplicateId as exc:
        raise line.fail(str(exc)) from None
    if not found:
        raise line.fail(
            f"usage of event {record.event_id!r}, which is not an event of session "
            f"{session_id!r}"
        )


# -- sync (push / pull of the ledger) ------------------------------------------------


def usage_counts(store: SessionStore, ids: Sequence[str]) -> dict[str, int]:
    """Ledger rows per session for a page of session ids."""
    rows = store.connection.execute(L.USAGE_COUNTS, {"ids": json.dumps(list(ids))})
    return {cast(str, r[0]): cast(int, r[1]) for r in rows}


def session_usage(store: SessionStore, session_id: str) -> list[UsageRecord]:
    """Every ledger row of a session, by its id (empty for an unknown session)."""
    row = store.connection.execute(L.SESSION_SID, {"session_id": session_id}).fetchone()
    return [] if row is None else export_usage(store, cast(int, row[0]))


def import_usage_records(
    store: SessionStore, session_id: str, records: Sequence[UsageRecord]
) -> int:
    """Add ledger rows to a session in one transaction; identical rows already stored are kept.

    Records for events the session lacks are skipped. Returns rows added.
    """
    doing = f"importing usage of session {session_id!r}"
    added = 0
    with store.atomic(doing) as conn:
        row = conn.execute(L.SESSION_SID, {"session_id": session_id}).fetchone()
        if row is None:
            raise SessionNotFound(f"session {session_id!r} does not exist")
        for rec in records:
            args = check_usage_args(session_id, *rec)
            conn.execute(L.USAGE_IMPORT, {**usage_params(args), "sid": row[0]})
            added += conn.changes()
    return added


def sync_usage(
    store: SessionStore, service: Any, ids: Sequence[str], *, direction: str
) -> int:
    """Make the ledger of sessions ``ids`` match (``"push"``: local → server, ``"pull"``).

    Called by :mod:`convstore.sync` once per page of sessions: one batched
    count on each side, then only sessions whose counts differ are compared
    row by row. Rows are keyed by (event, model); the receiving side keeps a
    row it already has. A server without a ledger (no ``usage_counts``) is
    skipped. Returns rows written.
    """
    counts = getattr(service, "usage_counts", None)
    if counts is None or not ids:
        return 0
    here, there = usage_counts(store, ids), counts(ids)
    written = 0
    for sid in ids:
        if here.get(sid, 0) == there.get(sid, 0):
            continue
        local = session_usage(store, sid)
        remote = service.export_usage(sid)
        if direction == "push":
            have = {(r.event_id, r.model) for r in remote}
            missing = [r for r in local if (r.event_id, r.model) not in have]
            if missing and service.get_session(sid) is not None:
                written += service.import_usage(sid, missing)
        else:
            have = {(r.event_id, r.model) for r in local}
            missing = [r for r in remote if (r.event_id, r.model) not in have]
            if missing and store.get_session(sid) is not None:
                written += import_usage_records(store, sid, missing)
    return written

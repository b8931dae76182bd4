"""Export sessions to JSON Lines and import them back, exactly, streaming both ways.

Format (one JSON object per line, UTF-8):

* a **session header** — ``{"kind": "session", "format": 1, "id": …,
  "head_id": …, "server_session_id": …, "directory": …, "git_root": …,
  "created_at": …, "updated_at": …, "archived_at": …, "event_count": N,
  "metadata": {key: {"value": …, "updated_at": …}}}``;
* then its **N events** in append order — ``{"kind": "event", "session_id":
  …, "id": …, "parent_id": …, "invocation_id": …, "event_type": …,
  "event_data": "<the JSON text, as a string>", "created_at": …}``;
* then (format 2) its **usage records** — ``{"kind": "usage", "session_id":
  …, "event_id": …, "model": …, "input_tokens": …, "output_tokens": …,
  "cached_tokens": …, "cost": …}`` (see :mod:`convstore.lifecycle`).

``event_data`` is carried as a string so the stored text comes back byte for
byte (key order, spacing, number spelling). Any number of sessions follow one
another in a file. Exporting never holds more than one row in memory; an
import reads one line at a time and writes everything in **one transaction**:
a conflicting id, a bad line or a truncated session refuses the whole file
and leaves the database as it was.

>>> import io
>>> from convstore import SessionStore
>>> with SessionStore(":memory:", clock=lambda: 1_700_000_000) as a:
...     _ = a.create_session("s1", directory="/p")
...     _ = a.append_event("s1", "e1", None, "i", "user", '{"content": "hi"}')
...     lines = list(a.export_jsonl())
>>> len(lines)
2
>>> with SessionStore(":memory:") as b:
...     report = b.import_jsonl(lines)
...     report, b.get_session("s1").head_id
(ImportReport(sessions=1, events=1), 'e1')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import apsw

from . import _sql
from . import lifecycle as _lifecycle
from .errors import DuplicateId, InvalidArgument, InvalidEvent, SessionNotFound

if TYPE_CHECKING:
    from .store import SessionStore

__all__ = ["FORMAT_VERSION", "ImportReport", "export_jsonl", "import_jsonl"]

#: The ``format`` field of a session header this code writes. Version 2 added
#: ``usage`` lines (the token ledger); files of every version in
#: :data:`READABLE_FORMATS` still import.
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
#: Progress callbacks are called every this many events (and at the end).
PROGRESS_EVERY = 1000

#: ``(sessions, events)`` done so far.
Progress = Callable[[int, int], None]


class ImportReport(NamedTuple):
    """What an import wrote."""

    sessions: int
    events: int


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_jsonl(
    store: SessionStore,
    session_ids: Iterable[str] | None = None,
    *,
    directory: str | None = None,
    git_root: str | None = None,
    include_archived: bool = True,
    progress: Progress | None = None,
) -> Iterator[str]:
    """Stream sessions as JSON Lines: a header line per session, then one line per event.

    ``session_ids`` picks sessions (all must exist: :class:`SessionNotFound`
    otherwise, before anything is produced); without it every session
    matching ``directory``/``git_root`` (``include_archived`` by default)
    is exported, oldest first. A generator: one row in memory at a time.
    Format: :mod:`convstore.exporting`. ``progress(sessions, events)``, when
    given, is called every :data:`PROGRESS_EVERY` events and once at the end
    with the totals.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
    ...     _ = store.create_session("s1")
    ...     [json.loads(line)["kind"] for line in store.export_jsonl(["s1"])]
    ['session']
    """
    for what, value in (("directory", directory), ("git_root", git_root)):
        if value is not None and type(value) is not str:
            raise InvalidArgument(f"{what} must be a str or None, got {type(value).__name__}")
    conn = store.connection
    if session_ids is not None:
        if isinstance(session_ids, str):
            session_ids = [session_ids]
        rows: list[tuple[Any, ...]] = []
        try:
            for sid in session_ids:
                row = conn.execute(_sql.EXPORT_SESSION, {"session_id": sid}).fetchone()
                if row is None:
                    raise SessionNotFound(f"session {sid!r} does not exist; nothing exported")
                rows.append(row)
        except (apsw.Error, UnicodeError) as exc:
            raise store.translate_error(exc, "reading sessions to export") from None
        return _generate(store, iter(rows), progress)
    try:
        cursor = conn.execute(
            _sql.EXPORT_SESSIONS,
            {
                "directory": directory,
                "git_root": git_root,
                "include_archived": 1 if include_archived else 0,
            },
        )
    except (apsw.Error, UnicodeError) as exc:
        raise store.translate_error(exc, "reading sessions to export") from None
    return _generate(store, cursor, progress)


def _generate(
    store: SessionStore, sessions: Iterator[tuple[Any, ...]], progress: Progress | None = None
) -> Iterator[str]:
    conn = store.connection
    done_sessions = done_events = 0
    try:
        for row in sessions:
            (
                sid_text,
                head,
                server,
                directory,
                git_root,
                created,
                updated,
                archived,
                count,
                sid,
            ) = row
            meta = {
                key: {"value": value, "updated_at": at}
                for key, value, at in conn.execute(_sql.EXPORT_METADATA, {"sid": sid})
            }
            yield _dumps(
                {
                    "kind": "session",
                    "format": FORMAT_VERSION,
                    "id": sid_text,
                    "head_id": head,
                    "server_session_id": server,
                    "directory": directory,
                    "git_root": git_root,
                    "created_at": created,
                    "updated_at": updated,
                    "archived_at": archived,
                    "event_count": count,
                    "metadata": meta,
                }
            )
            events = conn.execute(_sql.EXPORT_EVENTS, {"sid": sid, "event_count": count})
            for eid, parent, inv, etype, data, at in events:
                yield _dumps(
                    {
                        "kind": "event",
                        "session_id": sid_text,
                        "id": eid,
                        "parent_id": parent,
                        "invocation_id": inv,
                        "event_type": etype,
                        "event_data": data,
                        "created_at": at,
                    }
                )
                done_events += 1
                if progress is not None and done_events % PROGRESS_EVERY == 0:
                    progress(done_sessions, done_events)
            yield from _lifecycle.export_usage_lines(store, sid, sid_text)
            done_sessions += 1
    except apsw.Error as exc:
        raise store.translate_error(exc, "exporting sessions") from None
    if progress is not None:
        progress(done_sessions, done_events)


# -- import ------------------------------------------------------------------


class _Line:
    """Field access on one parsed line, with errors that name the line."""

    __slots__ = ("data", "number")

    def __init__(self, number: int, data: dict[str, Any]) -> None:
        self.number = number
        self.data = data

    def fail(self, message: str) -> InvalidArgument:
        return InvalidArgument(f"line {self.number}: {message}; nothing was imported")

    def text(self, key: str, *, optional: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if type(value) is not str:
            need = "a string or null" if optional else "a string"
            raise self.fail(f"field {key!r} must be {need}, got {value!r}")
        return value

    def integer(self, key: str, *, optional: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if type(value) is not int or not -(2**63) <= value < 2**63:
            need = "an integer or null" if optional else "an integer"
            raise self.fail(f"field {key!r} must be {need}, got {value!r}")
        return value


def _parse(number: int, raw: str | bytes) -> _Line | None:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgument(
                f"line {number}: not UTF-8 ({exc}); nothing was imported"
            ) from None
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"line {number}: not JSON ({exc}); nothing was imported") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"line {number}: expected a JSON object; nothing was imported")
    return _Line(number, data)


class _Importer:
    def __init__(self, store: SessionStore, progress: Progress | None) -> None:
        self.store = store
        self.conn = store.connection
        self.progress = progress
        self.sessions = 0
        self.events = 0
        # The session being filled: (header line, sid, id, head, expected count, seen).
        self.header: _Line | None = None
        self.sid = 0
        self.session_id = ""
        self.seen = 0

    def start_session(self, line: _Line) -> None:
        self.finish_session()
        fmt = line.data.get("format", FORMAT_VERSION)
        if fmt not in READABLE_FORMATS or type(fmt) is not int:
            raise line.fail(
                f"unknown export format {fmt!r} (this convstore reads "
                f"{', '.join(map(str, READABLE_FORMATS))})"
            )
        session_id = line.text("id")
        fields = {
            "session_id": session_id,
            "head_id": line.text("head_id", optional=True),
            "server_session_id": line.text("server_session_id", optional=True),
            "directory": line.text("directory", optional=True),
            "git_root": line.text("git_root", optional=True),
            "created_at": line.integer("created_at"),
            "updated_at": line.integer("updated_at"),
            "archived_at": line.integer("archived_at", optional=True),
            "event_count": line.integer("event_count"),
        }
        if fields["event_count"] < 0:
            raise line.fail(f"event_count must not be negative: {fields['event_count']}")
        metadata = line.data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise line.fail("field 'metadata' must be an object")
        try:
            self.conn.execute(_sql.SESSION_INSERT_EXPORTED, fields)
        except apsw.ConstraintError:
            raise DuplicateId(
                f"line {line.number}: session id {session_id!r} is already used; "
                "nothing was imported"
            ) from None
        self.sid = self.conn.last_insert_rowid()
        for key, entry in metadata.items():
            if isinstance(entry, dict):
                value, at = entry.get("value"), entry.get("updated_at")
            else:
                value, at = entry, fields["updated_at"]
            if type(value) is not str or type(at) is not int:
                raise line.fail(
                    f"metadata {key!r} must be a string or {{'value': str, 'updated_at': int}}"
                )
            row = {"sid": self.sid, "key": key, "value": value, "updated_at": at}
            self.conn.execute(_sql.METADATA_IMPORT, row)
        self.header, self.session_id, self.seen = line, session_id, 0
        self.sessions += 1

    def add_event(self, line: _Line) -> None:
        if self.header is None:
            raise line.fail("an event line comes before any session header")
        owner = line.data.get("session_id", self.session_id)
        if owner != self.session_id:
            raise line.fail(
                f"event of session {owner!r} inside session {self.session_id!r}: "
                "events must follow their own session's header"
            )
        event_id = line.text("id")
        parent = line.text("parent_id", optional=True)
        data = line.data.get("event_data")
        if isinstance(data, dict | list):
            data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        elif type(data) is not str:
            raise line.fail(f"field 'event_data' must be JSON text (a string), got {data!r}")
        self.seen += 1
        row = {
            "sid": self.sid,
            "seq": self.seen,
            "event_id": event_id,
            "parent_id": parent,
            "invocation_id": line.text("invocation_id"),
            "event_type": line.text("event_type"),
            "event_data": data,
            "created_at": line.integer("created_at"),
        }
        try:
            self.conn.execute(_sql.EVENT_APPEND_BATCH_ROW, row)
        except apsw.ConstraintError as exc:
            text = str(exc)
            if "UNIQUE" in text or "PRIMARY KEY" in text:
                raise DuplicateId(
                    f"line {line.number}: event id {event_id!r} is already used; "
                    "nothing was imported"
                ) from None
            raise InvalidEvent(
                f"line {line.number}: event {event_id!r}: event_data is not valid JSON; "
                "nothing was imported"
            ) from None
        if self.conn.changes() == 0:
            raise InvalidEvent(
                f"line {line.number}: event {event_id!r}: parent {parent!r} is not an earlier "
                f"event of session {self.session_id!r}; nothing was imported"
            )
        self.events += 1
        if self.progress is not None and self.events % PROGRESS_EVERY == 0:
            self.progress(self.sessions, self.events)

    def finish_session(self) -> None:
        line = self.header
        if line is None:
            return
        expected = line.data["event_count"]
        if self.seen != expected:
            raise line.fail(
                f"session {self.session_id!r} declares {expected} events but the file has "
                f"{self.seen} (truncated or edited file?)"
            )
        head = line.data.get("head_id")
        if (
            head is not None
            and not self.conn.execute(
                _sql.EVENT_IN_SESSION, {"event_id": head, "sid": self.sid}
            ).get
        ):
            raise line.fail(f"head_id {head!r} is not an event of session {self.session_id!r}")
        self.header = None


def import_jsonl(
    store: SessionStore,
    lines: Iterable[str | bytes],
    *,
    progress: Progress | None = None,
) -> ImportReport:
    """Import JSON Lines written by :meth:`export_jsonl`, exactly, in one transaction.

    Ids, parents, timestamps, head, archived state, server id and
    metadata come back as they were. Any problem — an id already used
    (:class:`DuplicateId`), a malformed line or a truncated session
    (:class:`InvalidArgument` naming the line), a bad parent
    (:class:`InvalidEvent`) — refuses the whole input and writes nothing.
    ``lines`` is read lazily (an open file works); ``progress(sessions,
    events)`` is called every 1000 events and at the end.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as a, SessionStore(":memory:") as b:
    ...     _ = a.create_session("s1")
    ...     b.import_jsonl(a.export_jsonl()).sessions
    1
    """
    importer = _Importer(store, progress)
    write = store.atomic("importing sessions")
    with write:
        for number, raw in enumerate(lines, start=1):
            line = _parse(number, raw)
            if line is None:
                continue
            kind = line.data.get("kind")
            if kind == "session":
                importer.start_session(line)
            elif kind == "event":
                importer.add_event(line)
            elif kind == "usage":
                if importer.header is None:
                    raise line.fail("a usage line comes before any session header")
                _lifecycle.import_usage_line(store, importer.sid, importer.session_id, line)
            else:
                raise line.fail(
                    f"unknown kind {kind!r} (expected 'session', 'event' or 'usage')"
                )
        importer.finish_session()
        write.catch_up_search()  # the search index catches up in bulk, same transaction
    if progress is not None:
        progress(importer.sessions, importer.events)
    return ImportReport(importer.sessions, importer.events)

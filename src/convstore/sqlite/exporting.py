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

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import apsw

from .. import _validate as _v
from .. import lifecycle as _lifecycle
from ..errors import DuplicateId, InvalidArgument, InvalidEvent, SessionNotFound, StoreError
from . import _sql
from .connection import FILE_MODE, MEMORY

if TYPE_CHECKING:
    from .store import SessionStore

__all__ = ["FORMAT_VERSION", "ImportReport", "export_jsonl", "import_jsonl", "write_export"]

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
    Format: :mod:`convstore.sqlite.exporting`. ``progress(sessions, events)``, when
    given, is called every :data:`PROGRESS_EVERY` events and once at the end
    with the totals.

    Everything is read from **one snapshot**: a read transaction on a
    connection of its own, held until the last line is produced (or the
    generator is closed). A purge, append or archive committed by another
    connection meanwhile is not seen, so a header's ``event_count`` always
    matches the events that follow it, and the file always imports.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
    ...     _ = store.create_session("s1")
    ...     [json.loads(line)["kind"] for line in store.export_jsonl(["s1"])]
    ['session']
    """
    _v.optional_lookup_text(directory, "directory")
    _v.optional_lookup_text(git_root, "git_root")
    _v.boolean(include_archived, "include_archived")
    ids: list[str] | None = None
    if session_ids is not None:
        ids = _v.str_items(
            session_ids,
            "session_ids",
            "an iterable of str",
            lambda sid: _v.lookup_text(sid, "session id to export"),
        )
    conn = _snapshot(store)
    try:
        if ids is not None:
            rows: list[tuple[Any, ...]] = []
            for sid in ids:
                row = conn.execute(_sql.EXPORT_SESSION, {"session_id": sid}).fetchone()
                if row is None:
                    raise SessionNotFound(f"session {sid!r} does not exist; nothing exported")
                rows.append(row)
            return _generate(store, conn, iter(rows), progress)
        cursor = conn.execute(
            _sql.EXPORT_SESSIONS,
            {
                "directory": directory,
                "git_root": git_root,
                "include_archived": 1 if include_archived else 0,
            },
        )
        return _generate(store, conn, cursor, progress)
    except (apsw.Error, UnicodeError) as exc:
        _release(store, conn)
        raise store.translate_error(exc, "reading sessions to export") from None
    except BaseException:
        _release(store, conn)
        raise


def _snapshot(store: SessionStore) -> apsw.Connection:
    """A connection in a read transaction of its own: the export's one snapshot.

    A file gets a second, read-only connection (WAL: it never blocks writers,
    and the caller may keep using the store while the export runs). An
    in-memory database has no other writer, so its own connection serves.
    """
    main = store.connection
    if store.path == MEMORY:
        try:
            main.execute(_sql.SEARCH_FIELDS_GET)  # raises for a closed store
        except apsw.Error as exc:
            raise store.translate_error(exc, "reading sessions to export") from None
        return main
    try:
        conn = apsw.Connection(main.filename, flags=apsw.SQLITE_OPEN_READONLY, vfs=main.open_vfs)
    except apsw.Error as exc:
        raise store.translate_error(exc, "opening a snapshot to export") from None
    try:
        conn.set_busy_timeout(int(store.timeout * 1000))
        conn.execute(_sql.BEGIN_DEFERRED)
        conn.execute(_sql.SEARCH_FIELDS_GET).fetchall()  # the snapshot starts here
    except apsw.Error as exc:
        conn.close()
        raise store.translate_error(exc, "opening a snapshot to export") from None
    return conn


def _release(store: SessionStore, conn: apsw.Connection) -> None:
    """End the snapshot: close the export's own connection (never the store's)."""
    if conn is store.connection:
        return
    with contextlib.suppress(apsw.Error):  # read-only: nothing to lose
        conn.close()


def _generate(
    store: SessionStore,
    conn: apsw.Connection,
    sessions: Iterator[tuple[Any, ...]],
    progress: Progress | None = None,
) -> Iterator[str]:
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
            # From the same snapshot: a usage row never names an event the file lacks.
            yield from _lifecycle.export_usage_lines(store, sid, sid_text, conn)
            done_sessions += 1
    except (apsw.Error, UnicodeError) as exc:
        raise store.translate_error(exc, "exporting sessions") from None
    finally:
        _release(store, conn)
    if progress is not None:
        progress(done_sessions, done_events)


def write_export(path: str | os.PathLike[str], lines: Iterable[str]) -> int:
    """Write ``lines`` to ``path`` atomically, owner-only (0600); return the bytes written.

    The lines go to a temporary file created *exclusively* (``O_EXCL``, a
    random name from :func:`tempfile.mkstemp`) in the target's directory,
    so a symlink planted at a predictable name is never followed; the file
    is 0600 from its first byte (the mode is given to ``open``, the process
    umask is never changed, so this is safe with threads); it is flushed to
    disk and renamed over ``path`` only when complete. On any error the
    temporary file is removed and ``path`` is left as it was.
    """
    import tempfile

    target = os.fspath(path)
    if type(target) is not str:
        raise InvalidArgument(f"export path must be a str path, got {type(target).__name__}")
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(
            prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=folder
        )
    except OSError as exc:
        raise StoreError(f"cannot write export {target!r}: {exc.strerror}") from None
    written = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            if hasattr(os, "fchmod"):  # mkstemp made it 0600 already; say so on every OS
                os.fchmod(f.fileno(), FILE_MODE)
            for line in lines:
                written += f.write(line)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise StoreError(f"cannot write export {target!r}: {exc.strerror or exc}") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return written


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


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
            raise self.fail(f"field {key!r} must be {need}, got {_v._clip(value)}")
        return self.checked(_v.text, value, f"field {key!r}")

    def checked(self, check: Callable[..., Any], *args: Any) -> Any:
        """Run a :mod:`convstore._validate` check; its error names this line too."""
        try:
            return check(*args)
        except InvalidArgument as exc:
            raise type(exc)(f"line {self.number}: {exc}; nothing was imported") from None

    def integer(self, key: str, *, optional: bool = False, time: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        low, high = (1 - _v.TIME_LIMIT, _v.TIME_LIMIT - 1) if time else (-(2**63), 2**63 - 1)
        if type(value) is not int or not low <= value <= high:
            need = "an integer or null" if optional else "an integer"
            if time:
                need += " (Unix seconds within ±2**62)"
            raise self.fail(f"field {key!r} must be {need}, got {_v._clip(value)}")
        return value


#: ``json.loads`` without its wrapper: the object and where it ended (no leading blanks).
_raw_decode = json.JSONDecoder().raw_decode
#: What JSON counts as whitespace around a value (``str.strip()`` would take more).
_JSON_BLANKS = " \t\n\r"


def _parse(number: int, raw: str | bytes) -> _Line | None:
    """Line ``number`` as a JSON object (``None`` if blank); errors name the line."""
    # The usual line: an object from its first character, parsed once, nothing after
    # it but JSON blanks (a newline). Anything else takes the careful path below,
    # which gives json.loads's verdict and message.
    if (
        type(raw) is str
        and raw[:1] == "{"
        and (
            len(raw) <= 2 * _v.MAX_JSON_DEPTH
            or not _v.more_brackets_than(raw, _v.MAX_JSON_DEPTH + 2)
        )
    ):
        try:
            data, end = _raw_decode(raw)
        except (ValueError, RecursionError):
            pass
        else:
            if type(data) is dict and (end == len(raw) or not raw[end:].strip(_JSON_BLANKS)):
                return _Line(number, data)
    if not isinstance(raw, str | bytes):
        raise InvalidArgument(
            f"line {number}: expected str or bytes, got {type(raw).__name__}; nothing was imported"
        )
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgument(
                f"line {number}: not UTF-8 ({exc}); nothing was imported"
            ) from None
    if not raw.strip():
        return None
    # The line is an object holding event_data: two levels above the event's own limit.
    # Checked without recursion, before json.loads could raise RecursionError.
    # (Deeper nesting needs more opening brackets than that: counted first, cheaply.)
    if (
        len(raw) > 2 * _v.MAX_JSON_DEPTH
        and _v.more_brackets_than(raw, _v.MAX_JSON_DEPTH + 2)
        and _v.json_depth(raw) > _v.MAX_JSON_DEPTH + 2
    ):
        raise InvalidArgument(
            f"line {number}: JSON nested deeper than {_v.MAX_JSON_DEPTH} levels; "
            "nothing was imported"
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(
            f"line {number}: not JSON ({_v._clip(str(exc))}); nothing was imported"
        ) from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"line {number}: expected a JSON object; nothing was imported")
    return _Line(number, data)


#: At most this many ids of one imported session are kept in memory (~25 MB).
_KNOWN_IDS = 200_000
#: Event rows are inserted by one ``executemany`` per this many.
_FLUSH_EVERY = 1000
#: An event's key is ``sid * 2**32 + seq`` (migration 0006).
_EVENT_KEY_FACTOR = 4294967296
#: The times :meth:`_Line.integer` accepts (``time=True``).
_TIME_LOW, _TIME_HIGH = 1 - _v.TIME_LIMIT, _v.TIME_LIMIT - 1


def _refused(message: str, number: int, event_id: str) -> StoreError:
    """The typed error for an event row the table refused (its constraint's ``message``)."""
    if "UNIQUE" in message or "PRIMARY KEY" in message:
        return DuplicateId(
            f"line {number}: event id {event_id!r} is already used; nothing was imported"
        )
    return InvalidEvent(
        f"line {number}: event {event_id!r}: event_data is not valid JSON; nothing was imported"
    )


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
        # The ids of the session's events so far: a parent must be one of them (the
        # session is new), so no parent is looked up in the database -- up to
        # _KNOWN_IDS of them; past that, parents and head are looked up.
        self.ids: set[str] = set()
        # Rows read but not inserted yet (one executemany per _FLUSH_EVERY), with the
        # line number of each, and the key before the session's first event.
        self.rows: list[tuple[Any, ...]] = []
        self.lines: list[int] = []
        self.key = 0

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
            "created_at": line.integer("created_at", time=True),
            "updated_at": line.integer("updated_at", time=True),
            "archived_at": line.integer("archived_at", optional=True, time=True),
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
        self.key = self.sid * _EVENT_KEY_FACTOR
        for key, entry in metadata.items():
            if isinstance(entry, dict):
                value, at = entry.get("value"), entry.get("updated_at")
            else:
                value, at = entry, fields["updated_at"]
            if type(value) is not str or type(at) is not int:
                raise line.fail(
                    f"metadata {key!r} must be a string or {{'value': str, 'updated_at': int}}"
                )
            line.checked(_v.text, key, "metadata key")
            line.checked(_v.text, value, f"metadata {key!r}")
            line.checked(_v.integer, at, f"metadata {key!r}: updated_at")
            row = {"sid": self.sid, "key": key, "value": value, "updated_at": at}
            self.conn.execute(_sql.METADATA_IMPORT, row)
        self.header, self.session_id, self.seen = line, session_id, 0
        self.ids = set()
        self.sessions += 1

    def add_event(self, line: _Line) -> None:
        data = line.data
        eid = data.get("id")
        parent = data.get("parent_id")
        invocation = data.get("invocation_id")
        etype = data.get("event_type")
        event_data = data.get("event_data")
        created = data.get("created_at")
        # The usual line, checked at C speed: every field of the right type, ids
        # ASCII without NUL, a time within range, the parent an earlier event --
        # everything the careful path below checks but event_data (checked here
        # too, with the same error) and the table's constraints (at the flush).
        if (
            self.header is not None
            and data.get("session_id", self.session_id) == self.session_id
            and type(eid) is str
            and type(invocation) is str
            and type(etype) is str
            and type(event_data) is str
            and type(created) is int
            and eid.isascii()
            and invocation.isascii()
            and etype.isascii()
            and "\x00" not in eid
            and "\x00" not in invocation
            and "\x00" not in etype
            and _TIME_LOW <= created <= _TIME_HIGH
            and (parent is None or (type(parent) is str and parent in self.ids))
        ):
            line.checked(_v.event_data, event_data, eid)
            self.seen += 1
            self.rows.append((self.key + self.seen, eid, parent, invocation, etype, event_data,
                              created))  # fmt: skip
            self.lines.append(line.number)
            if len(self.ids) < _KNOWN_IDS:
                self.ids.add(eid)
            self.events += 1
            if len(self.rows) >= _FLUSH_EVERY:
                self.flush()
            if self.progress is not None and self.events % PROGRESS_EVERY == 0:
                self.progress(self.sessions, self.events)
            return
        self.flush()  # an earlier line's error (a duplicate id, bad JSON) is reported first
        self._add_event_checked(line)

    def flush(self) -> None:
        """Insert the rows read so far (one ``executemany``); a refused row names its line."""
        rows = self.rows
        if not rows:
            return
        try:
            self.conn.executemany(_sql.EVENT_INSERT_ROW, rows)
        except apsw.ConstraintError as exc:
            # The rows before the refused one are in: the first key missing is the culprit.
            for (key, event_id, *_), number in zip(rows, self.lines, strict=True):
                if not self.conn.execute(_sql.EVENT_KEY_STORED, {"key": key}).get:
                    raise _refused(str(exc), number, event_id) from None
            raise
        finally:
            self.rows = []
            self.lines = []

    def _add_event_checked(self, line: _Line) -> None:
        """:meth:`add_event` for any line, field by field: each error names the line."""
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
            raise line.fail(
                f"field 'event_data' must be JSON text (a string), got {_v._clip(data)}"
            )
        # The same checks as an append: what is imported can be read, searched, exported.
        line.checked(_v.event_data, data, event_id)
        row = (
            self.key + self.seen + 1,
            event_id,
            parent,
            line.text("invocation_id"),
            line.text("event_type"),
            data,
            line.integer("created_at", time=True),
        )
        if parent is not None and parent not in self.ids and not self._stored(parent):
            raise InvalidEvent(
                f"line {line.number}: event {event_id!r}: parent {parent!r} is not an earlier "
                f"event of session {self.session_id!r}; nothing was imported"
            )
        self.seen += 1
        try:
            self.conn.execute(_sql.EVENT_INSERT_ROW, row)
        except apsw.ConstraintError as exc:
            raise _refused(str(exc), line.number, event_id) from None
        if len(self.ids) < _KNOWN_IDS:
            self.ids.add(event_id)
        self.events += 1
        if self.progress is not None and self.events % PROGRESS_EVERY == 0:
            self.progress(self.sessions, self.events)

    def _stored(self, event_id: str) -> bool:
        """Whether ``event_id`` is an event of the session being filled (past the id set)."""
        if len(self.ids) < _KNOWN_IDS:
            return False  # every event so far is in the set
        self.flush()  # the rows read so far are looked up too
        found = self.conn.execute(_sql.EVENT_IN_SESSION, {"event_id": event_id, "sid": self.sid})
        return bool(found.get)

    def finish_session(self) -> None:
        self.flush()
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
        if head is not None and head not in self.ids and not self._stored(head):
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
    if isinstance(lines, str | bytes) or not hasattr(lines, "__iter__"):
        raise InvalidArgument(
            "lines must be an iterable of lines (an open file, a list of str or bytes), "
            f"got {type(lines).__name__}"
        )
    if progress is not None and not callable(progress):
        raise InvalidArgument(f"progress must be a callable or None, got {type(progress).__name__}")
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
                importer.flush()  # usage names events: they must be in
                if importer.header is None:
                    raise line.fail("a usage line comes before any session header")
                _lifecycle.import_usage_line(store, importer.sid, importer.session_id, line)
            else:
                raise line.fail(f"unknown kind {kind!r} (expected 'session', 'event' or 'usage')")
        importer.finish_session()
        write.catch_up_search()  # the search index catches up in bulk, same transaction
    if progress is not None:
        progress(importer.sessions, importer.events)
    return ImportReport(importer.sessions, importer.events)

"""Full-text search over event content, with SQLite FTS5.

What is indexed
    For every event, the text found at the configured JSON paths of its
    ``event_data`` — by default ``$.content`` only (the user's message, the
    model's text, a tool's output in the usual event shapes). Several paths
    are joined with a newline; a value that is not a string (a number, an
    array of content blocks) is indexed as its JSON text; an event with none
    of the paths is not indexed. :func:`configure_search` changes the paths
    and rebuilds the index.

How it is kept
    An external-content FTS5 table (``event_search``) holds tokens only; the
    text is read back from ``session_events`` for snippets. Appends do not
    write it: a trigger on the session's ``event_count`` records, once per
    session and once per write (not per event), the watermark above which
    that session's events are not indexed yet (table ``search_pending``, in
    the write's own transaction), and the index catches up in bulk -- one
    range statement -- before every search, inside imports and purges, and in
    :meth:`~convstore.SessionStore.index_pending`. So a
    search sees every event whose append has returned, in any process, and a
    crash between an append and the catch-up loses nothing. Deletions (purge)
    catch up first, then triggers remove the rows, in the same transaction:
    code that deletes events by hand must do the same (``index_pending()``
    first), or the delete trigger removes index entries that were never added;
    code that inserts events by hand must raise ``event_count`` with them (as
    every append does: the next key depends on it).

Ranking
    ``order="rank"`` (default) sorts by bm25, which scores *every* match: fast
    for specific words, slower for words in a large share of events (see the
    numbers in ``docs/history-tools.md``). ``order="recent"`` returns the
    newest matches (newest session first) and costs the same whatever the
    number of matches; ``rank`` is then ``0.0`` (bm25 would read every match).

Query syntax
    FTS5's: words (``sqlite wal``: both words), ``"exact phrase"``,
    ``prefix*``, ``a OR b``, ``a NOT b``, ``NEAR(a b, 5)``. Pass
    ``literal=True`` to search plain text as typed (every word must occur,
    punctuation is no operator).

>>> from convstore import SessionStore
>>> with SessionStore(":memory:", clock=lambda: 1_700_000_000) as store:
...     _ = store.create_session("s1", directory="/p")
...     _ = store.append_event("s1", "e1", None, "i", "user", '{"content": "enable WAL mode"}')
...     _ = store.append_event("s1", "e2", "e1", "i", "text", '{"content": "done"}')
...     [(h.event_id, h.snippet) for h in store.search("wal")]
[('e1', 'enable [WAL] mode')]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import apsw

from .. import _validate as _v
from ..errors import InvalidArgument, StoreError
from . import _sql

if TYPE_CHECKING:
    from .store import SessionStore

__all__ = [
    "SearchHit",
    "InvalidQuery",
    "DEFAULT_FIELDS",
    "search",
    "check_search",
    "SearchRequest",
    "search_fields",
    "configure_search",
    "body_expression",
    "literal_query",
]

#: The JSON paths indexed by a new database.
DEFAULT_FIELDS: tuple[str, ...] = ("$.content",)
#: Words of context around the match in :attr:`SearchHit.snippet`.
SNIPPET_TOKENS = 16
_MAX_LIMIT = 10_000
#: The largest ``seq`` a search key can hold (it packs ``sid * 2**32 + seq``).
_LAST_SEQ = 2**32 - 1


class SearchHit(NamedTuple):
    """One matching event, best first. ``rank`` is FTS5's bm25: lower is better."""

    session_id: str
    event_id: str
    event_type: str
    snippet: str
    rank: float
    created_at: int


def literal_query(text: str) -> str:
    """Turn plain text into an FTS5 query matching every word as typed.

    >>> print(literal_query("foo-bar it's"))
    "foo-bar" "it's"
    """
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


class InvalidQuery(InvalidArgument):
    """A search query FTS5 cannot parse; ``query`` and ``reason`` say which and why."""

    def __init__(self, query: str, reason: str) -> None:
        super().__init__(
            f'invalid search query {query!r}: {reason}. FTS5 syntax: words, "exact phrase", '
            "prefix*, a OR b, a NOT b; quote text with punctuation, or pass literal=True "
            "to search the text as typed"
        )
        self.query = query
        self.reason = reason


def _bad_query(query: str, exc: apsw.Error) -> InvalidQuery:
    reason = str(exc).removeprefix("SQLError: ").removeprefix("fts5: ")
    return InvalidQuery(query, reason)


#: An empty table with the index's column and tokenizer (migrations/0004_create_event_search.sql).
_PROBE_TABLE = (
    "CREATE VIRTUAL TABLE event_search USING fts5 "
    "(body, tokenize = 'unicode61 remove_diacritics 2')"
)
_probe = threading.local()


def _fts5_probe() -> apsw.Connection:
    """This thread's private in-memory connection holding an empty FTS5 table.

    One per thread: cheap (an empty table), and no apsw connection is shared
    between threads, so a check never waits on another thread's.
    """
    conn: apsw.Connection | None = getattr(_probe, "conn", None)
    if conn is None:
        conn = apsw.Connection(":memory:")
        conn.execute(_PROBE_TABLE)
        _probe.conn = conn
        _probe.tokenize = conn.fts5_tokenizer("unicode61", ["remove_diacritics", "2"])
    return conn


def fts5_words(text: str) -> list[str]:
    """``text``'s words as the index folds them (FTS5's own tokenizer).

    >>> fts5_words("Café ci.py")
    ['cafe', 'ci', 'py']
    """
    _fts5_probe()
    return [t[2] for t in _probe.tokenize(text.encode(), apsw.FTS5_TOKENIZE_QUERY, None)]


def check_query(query: str, match: str | None = None) -> None:
    """Raise :class:`InvalidQuery` if FTS5 cannot parse ``match`` (default: ``query``).

    Parsed by FTS5 itself on an empty table, so the verdict and the message
    are the index's own, whatever the database holds (an empty index would
    never parse the query) and on either backend.

    >>> try:
    ...     check_query("fix AND")
    ... except InvalidQuery as exc:
    ...     print(exc.reason)
    syntax error near ""
    """
    try:
        _fts5_probe().execute(
            "SELECT rowid FROM event_search WHERE event_search MATCH ?",
            (query if match is None else match,),
        )
    except apsw.SQLError as exc:
        raise _bad_query(query, exc) from None


class SearchRequest(NamedTuple):
    """``search``'s arguments, checked (:func:`check_search`)."""

    query: str
    directory: str | None
    git_root: str | None
    event_types: list[str] | None  # None: any type
    limit: int
    literal: bool
    markers: tuple[str, str]
    order: str
    storable: bool  # False: a filter that could never have been stored, so nothing matches


def check_search(
    query: object,
    directory: object,
    git_root: object,
    event_types: object,
    limit: object,
    literal: object,
    markers: object,
    order: object,
) -> SearchRequest:
    """Validate ``search``'s arguments (every backend runs this before searching).

    Raises :class:`InvalidArgument` naming the argument, in the order the
    parameters come; the query's syntax is each backend's to check.
    """
    # Arguments first; the query's cost is capped before the database plans it.
    as_typed = _v.boolean(literal, "literal")
    text = _v.search_query(query, literal=as_typed)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _MAX_LIMIT:
        raise InvalidArgument(f"limit must be an int from 0 to {_MAX_LIMIT}: {limit!r}")
    storable = _v.optional_lookup_text(directory, "directory")
    storable &= _v.optional_lookup_text(git_root, "git_root")
    if not isinstance(markers, tuple | list) or len(markers) != 2:
        raise InvalidArgument(f"markers must be a pair of strings: {_v._clip(markers)}")
    pair = (_v.text(markers[0], "markers[0]"), _v.text(markers[1], "markers[1]"))
    types = _v.event_types(event_types)
    if not text.strip():
        raise InvalidArgument("search query is empty")
    if order not in ("rank", "recent"):
        raise InvalidArgument(f"order must be 'rank' or 'recent': {order!r}")
    values = (text, directory, git_root, types, limit, as_typed, pair, order, storable)
    return SearchRequest._make(values)  # the types were checked above


def search(
    store: SessionStore,
    query: str,
    *,
    directory: str | None = None,
    git_root: str | None = None,
    event_types: Iterable[str] | None = None,
    limit: int = 20,
    literal: bool = False,
    markers: tuple[str, str] = ("[", "]"),
    order: str = "rank",
) -> list[SearchHit]:
    """Full-text search over event content, best match first.

    ``query`` uses FTS5 syntax (words, ``"a phrase"``, ``prefix*``,
    ``OR``, ``NOT``, ``NEAR``); ``literal=True`` searches the words as
    typed instead. Filters: sessions in ``directory`` and/or under
    ``git_root`` (both must match when both are given), events whose
    type is in ``event_types``. Archived sessions are searched too.
    ``order="rank"`` sorts by relevance (bm25, which scores every match);
    ``order="recent"`` returns the newest matches, newest session first, at
    a cost that does not grow with the number of matches. Each
    :class:`~convstore.sqlite.search.SearchHit` has the session and event ids,
    the event type, a snippet with every match wrapped in ``markers``,
    the bm25 ``rank`` (lower is better) and ``created_at``. What is
    indexed: :mod:`convstore.sqlite.search`. Bad syntax raises
    :class:`InvalidArgument` explaining it.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     _ = store.create_session("s1")
    ...     _ = store.append_event("s1", "e1", None, "i", "user", '{"content": "fix the WAL"}')
    ...     [h.snippet for h in store.search("wal OR journal")]
    ['fix the [WAL]']
    """
    types = check_search(
        query, directory, git_root, event_types, limit, literal, markers, order
    ).event_types
    match = literal_query(query) if literal else query
    types_json = None if types is None else json.dumps(types)
    if not store.search_indexing():  # the stored setting: another process may switch it
        raise InvalidArgument(
            f"search indexing is off for database {store.path!r}: turn it on with "
            "set_search_indexing(True) (rebuilds the index)"
        )
    store.index_pending()  # read-your-writes: index what was appended since the last search
    params = {
        "query": match,
        "open": markers[0],
        "close": markers[1],
        "ellipsis": "…",
        "tokens": SNIPPET_TOKENS,
        "limit": limit,
        "directory": directory,
        "git_root": git_root,
        "event_types": types_json,
    }
    sql = _sql.SEARCH_EVENTS
    if order == "recent":
        sql = _sql.SEARCH_EVENTS_RECENT
    elif directory is not None or git_root is not None or types_json is not None:
        sql = _sql.SEARCH_EVENTS_FILTERED
    try:
        rows = store.connection.execute(sql, params).fetchall()
    except apsw.SQLError as exc:
        raise _bad_query(query, exc) from None
    except (apsw.Error, UnicodeError) as exc:
        raise store.translate_error(exc, f"searching for {query!r}") from None
    if not rows:
        # FTS5 parses a query only when it has rows to match: check it anyway,
        # so an unparseable query is refused on an empty index as on a full one.
        check_query(query, match)
    return [SearchHit._make(row) for row in rows]


def search_fields(store: SessionStore) -> tuple[str, ...]:
    """The JSON paths of ``event_data`` the search index covers.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     store.search_fields()
    ('$.content',)
    """
    try:
        value = store.connection.execute(_sql.SEARCH_FIELDS_GET).get
    except apsw.Error as exc:
        raise store.translate_error(exc, "reading the search configuration") from None
    if not isinstance(value, str):
        raise StoreError(f"database {store.path!r}: the search configuration is missing")
    return tuple(json.loads(value))


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def body_expression(fields: Sequence[str], column: str) -> str:
    """The SQL expression giving an event's indexed text, for validated JSON paths.

    >>> body_expression(["$.content"], "new.event_data")
    "json_extract(new.event_data, '$.content')"
    >>> body_expression(["$.content", "$.input.command"], "event_data")
    "nullif(concat_ws(char(10), json_extract(event_data, '$.content'), json_extract(event_data, '$.input.command')), '')"
    """  # noqa: E501
    parts = [f"json_extract({column}, {_sql_string(path)})" for path in fields]
    if len(parts) == 1:
        return parts[0]
    return f"nullif(concat_ws(char(10), {', '.join(parts)}), '')"


def _validate_fields(store: SessionStore, fields: Sequence[str]) -> list[str]:
    if isinstance(fields, str | bytes) or not hasattr(fields, "__iter__"):
        raise InvalidArgument(
            f"fields must be a list of JSON paths like '$.content', got {_v._clip(fields)}"
        )
    out = list(fields)
    if not out:
        raise InvalidArgument("fields must name at least one JSON path, e.g. '$.content'")
    for path in out:
        if type(path) is not str or not path.startswith("$") or "\x00" in path:
            raise InvalidArgument(f"search field {path!r} is not a JSON path like '$.content'")
        try:
            store.connection.execute(_sql.SEARCH_CHECK_PATH, {"path": path}).fetchall()
        except apsw.SQLError as exc:
            raise InvalidArgument(
                f"search field {path!r} is not a valid JSON path: {exc}"
            ) from None
    if len(set(out)) != len(out):
        raise InvalidArgument(f"search fields repeat a path: {out!r}")
    return out


def configure_search(
    store: SessionStore,
    fields: Sequence[str],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Index the text at ``fields`` (JSON paths into ``event_data``) and rebuild the index.

    One write transaction: the view and triggers are rewritten for the new
    paths and every stored event is re-indexed (on a large database this
    takes a while, like the migration that first built the index). Missing
    triggers, view or key index are recreated, so calling it with the
    current fields also repairs a damaged index. ``progress(done, total)``,
    when given, is called with events re-indexed so far, session by session.

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     _ = store.create_session("s1")
    ...     data = '{"input": {"cmd": "ls -la"}}'
    ...     _ = store.append_event("s1", "e1", None, "i", "tool", data)
    ...     before = len(store.search("ls"))
    ...     store.configure_search(["$.content", "$.input.cmd"])
    ...     before, [h.event_id for h in store.search("ls")]
    (0, ['e1'])
    """
    paths = _validate_fields(store, fields)
    with store.atomic(f"configuring search fields {paths!r}") as conn:
        _create_search_objects(conn, paths, indexing=True)
        conn.execute(_sql.SEARCH_FIELDS_SET, {"fields": json.dumps(paths)})
        conn.execute(_sql.SEARCH_INDEXING_SET, {"indexing": "on"})
        _rebuild(store, progress)
        conn.execute(_sql.SEARCH_PENDING_CLEAR)  # the rebuild covered every event
    store.search_indexing()  # the store picks the new setting up


def _create_search_objects(conn: apsw.Connection, paths: Sequence[str], *, indexing: bool) -> None:
    """(Re)create the view the index reads and, when indexing, the triggers that keep it.

    Inside the caller's transaction. Drops what exists first, so it also
    repairs a damaged setup (and drops 0004's obsolete expression index).
    """
    for drop in (
        _sql.SEARCH_DROP_TRIGGER_INSERT,
        _sql.SEARCH_DROP_TRIGGER_DELETE,
        _sql.SEARCH_DROP_TRIGGER_UPDATE,
        _sql.SEARCH_DROP_TRIGGER_PENDING,
        _sql.SEARCH_DROP_TRIGGER_PENDING_COUNT,
        _sql.SEARCH_DROP_TRIGGER_PENDING_SESSION,
        _sql.SEARCH_DROP_VIEW,
        _sql.SEARCH_DROP_KEY_INDEX,
    ):
        conn.execute(drop)
    bodies = {
        "body": body_expression(paths, "event_data"),
        "new_body": body_expression(paths, "new.event_data"),
        "old_body": body_expression(paths, "old.event_data"),
    }
    conn.execute(_sql.SEARCH_CREATE_VIEW.format(**bodies))
    if indexing:
        conn.execute(_sql.SEARCH_CREATE_TRIGGER_DELETE.format(**bodies))
        conn.execute(_sql.SEARCH_CREATE_TRIGGER_UPDATE.format(**bodies))
        conn.execute(_sql.SEARCH_CREATE_TRIGGER_PENDING_COUNT)
        conn.execute(_sql.SEARCH_CREATE_TRIGGER_PENDING_SESSION)


def after_rowid_migration(conn: apsw.Connection) -> None:
    """Migration 0006's Python half: the database's own search setup on the new table.

    The migration's SQL recreates the view and triggers for the default field
    with indexing on; a database configured otherwise (other fields, or
    indexing off) gets its configuration back here, in the same transaction.
    """
    value = conn.execute(_sql.SEARCH_FIELDS_GET).get
    paths = json.loads(value) if isinstance(value, str) else ["$.content"]
    indexing = conn.execute(_sql.SEARCH_INDEXING_GET).get != "off"
    if paths != ["$.content"] or not indexing:
        _create_search_objects(conn, paths, indexing=indexing)


def after_pending_migration(conn: apsw.Connection) -> None:
    """Migration 0010's Python half: a database whose indexing is off keeps no trigger.

    The migration's SQL replaces the per-event watermark trigger with the
    per-write ones (``search_pending_count``, ``search_pending_session``); with
    indexing off no watermark is recorded at all, so they go again here, in
    the same transaction.
    """
    if conn.execute(_sql.SEARCH_INDEXING_GET).get == "off":
        conn.execute(_sql.SEARCH_DROP_TRIGGER_PENDING_COUNT)
        conn.execute(_sql.SEARCH_DROP_TRIGGER_PENDING_SESSION)


def _rebuild(store: SessionStore, progress: Callable[[int, int], None] | None) -> None:
    """Re-index every event (inside the caller's transaction); session by session with progress."""
    conn = store.connection
    if progress is None:
        conn.execute(_sql.SEARCH_REBUILD)
        return
    every = {"directory": None, "git_root": None, "include_archived": 1}
    sessions = [(row[-1], row[-2]) for row in conn.execute(_sql.EXPORT_SESSIONS, every)]
    total = sum(count for _, count in sessions)
    conn.execute(_sql.SEARCH_DELETE_ALL)
    done = 0
    progress(0, total)
    for sid, count in sessions:
        conn.execute(_sql.SEARCH_INDEX_RANGE, {"sid": sid, "after_seq": 0, "last_seq": _LAST_SEQ})
        done += count
        progress(done, total)


def set_search_indexing(
    store: SessionStore,
    enabled: bool,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Turn full-text indexing of new events on or off for this database.

    Off: the index is emptied and its triggers dropped, so appends no longer
    record a watermark and batches and imports skip the catch-up;
    :func:`search` raises :class:`InvalidArgument`.
    On: the index is rebuilt over every stored event (as long as the
    migration that first built it) and kept in step again. The setting is
    stored in the database; other processes pick it up when they next open it,
    so switch while no other process is writing. ``progress`` is as for
    :func:`configure_search` (turning on rebuilds the index).

    >>> from convstore import SessionStore
    >>> with SessionStore(":memory:") as store:
    ...     store.set_search_indexing(False)
    ...     _ = store.create_session("s1")
    ...     _ = store.append_event("s1", "e1", None, "i", "user", '{"content": "hi"}')
    ...     store.set_search_indexing(True)
    ...     [h.event_id for h in store.search("hi")]
    ['e1']
    """
    if type(enabled) is not bool:
        raise InvalidArgument(f"enabled must be a bool: {enabled!r}")
    if enabled:
        configure_search(store, search_fields(store), progress=progress)
        return
    with store.atomic("turning search indexing off") as conn:
        conn.execute(_sql.SEARCH_DROP_TRIGGER_DELETE)
        conn.execute(_sql.SEARCH_DROP_TRIGGER_UPDATE)
        conn.execute(_sql.SEARCH_DROP_TRIGGER_PENDING)
        conn.execute(_sql.SEARCH_DROP_TRIGGER_PENDING_COUNT)
        conn.execute(_sql.SEARCH_DROP_TRIGGER_PENDING_SESSION)
        conn.execute(_sql.SEARCH_DELETE_ALL)
        conn.execute(_sql.SEARCH_PENDING_CLEAR)
        conn.execute(_sql.SEARCH_INDEXING_SET, {"indexing": "off"})
    store.search_indexing()  # the store picks the new setting up


def search_indexing(store: SessionStore) -> bool:
    """Whether this database indexes new events for search (stored setting, default on)."""
    return store.search_indexing()


def check_index(store: SessionStore) -> None:
    """Raise :class:`StoreError` when the index disagrees with the stored events.

    Pending events are indexed first: an event not indexed *yet* is no damage.
    """
    store.index_pending()
    try:
        store.connection.execute(_sql.SEARCH_INTEGRITY_CHECK)
    except apsw.Error as exc:
        raise StoreError(
            f"database {store.path!r}: the search index does not match the events ({exc}); "
            "run configure_search with the current fields to rebuild it"
        ) from None

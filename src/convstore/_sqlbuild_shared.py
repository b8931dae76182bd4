"""What every SQL builder shares (build time only: imports pypika).

The builders (``sqlite._sqlbuild``, ``sqlite._blobsqlbuild``,
``_lifecycle_sqlbuild``, ``postgres._pgsqlbuild``, ``postgres._pgblobsqlbuild``)
differ in dialect and parameter syntax, not in the shapes they build. Written
here once:

* the schema's tables (``sessions``, ``events`` …) and the columns of a record:
  :func:`session_fields`, :func:`event_record_fields`, :data:`BLOB_COLUMNS`;
* the migrations bookkeeping table: :func:`migrations_create_table`,
  :func:`migrations_select_applied`, :func:`migrations_insert`;
* a session's history, ``WITH RECURSIVE`` by hand: :func:`history_chain`;
* retention's batch of sessions to purge: :func:`purge_candidates`;
* the session listing: :func:`listing_statements` (the filter choice of
  :data:`convstore._common.LIST_FILTERS`, the archive condition, the keyset
  order and the limit);
* the generated modules: :data:`GENERATED` (what each is), :func:`render_module`
  (one header for all), :func:`layout` (a statement over lines) and
  :class:`Builder` (a builder's ``build``, ``render`` and regenerate command).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from pypika import Column, Order, Parameter, Query, Table, Tuple
from pypika.queries import QueryBuilder

from convstore._common import EVENT_COLUMNS, LIST_FILTERS, SESSION_COLUMNS

#: The schema's tables, named once for every builder.
sessions = Table("sessions")
events = Table("session_events")
metadata = Table("session_metadata")
blobs = Table("session_blobs")
ledger = Table("usage_ledger")
migrations = Table("convstore_migrations")

#: A blob's own columns, in the order of a ``Blob`` after its session id.
BLOB_COLUMNS = ("namespace", "key", "meta", "data", "created_at")

#: Makes the parameter of a name in a dialect (``:name``, ``%(name)s`` …).
Param = Callable[[str], Parameter]

#: The columns of the migrations bookkeeping table, in the order of an ``AppliedMigration``.
MIGRATION_COLUMNS = ("version", "name", "checksum", "applied_at", "duration_ms")


def session_fields(table: Table) -> list[Any]:
    """The columns of a :class:`~convstore.StoredSession`, in order."""
    return [table.field(c) for c in SESSION_COLUMNS]


def event_record_fields(events: Table, session_id: Any) -> list[Any]:
    """The columns of a :class:`~convstore.StoredEvent`: the event's, its session id second."""
    return [events.id, session_id, *(events.field(c) for c in EVENT_COLUMNS[1:])]


def migrations_create_table(table: Table, types: tuple[str, ...]) -> str:
    """``CREATE TABLE IF NOT EXISTS`` the bookkeeping table, with the dialect's column types."""
    columns = (Column(c, t, nullable=False) for c, t in zip(MIGRATION_COLUMNS, types, strict=True))
    create = Query.create_table(table).if_not_exists().columns(*columns)
    return create.primary_key("version").get_sql()


def migrations_select_applied(table: Table) -> str:
    """Every applied migration, oldest first."""
    fields = (table.field(c) for c in MIGRATION_COLUMNS)
    return Query.from_(table).select(*fields).orderby(table.version).get_sql()


def migrations_insert(table: Table, param: Param) -> str:
    """Record one applied migration."""
    values = (param(c) for c in MIGRATION_COLUMNS)
    return Query.into(table).columns(*MIGRATION_COLUMNS).insert(*values).get_sql()


#: What the recursive history walks with: the event's position, then a StoredEvent's own columns.
_CHAIN_COLUMNS = ("sid", "seq", *EVENT_COLUMNS)


def history_chain(head: str, step: str, session_id: str, limit: str = "") -> str:
    """A session's history, head back, oldest first; by hand (pypika has no ``WITH RECURSIVE``).

    The chain from the head back through ``parent_id`` in one query: ``head``
    joins ``sessions s`` to its head event ``e`` and picks the session,
    ``step`` joins ``chain c`` to its parent ``e`` (``e.seq < c.seq`` holds for
    every real parent and guarantees termination), ``limit`` may stop the
    recursion, and ``session_id`` is the text id each row reports.
    """
    columns = ", ".join(f"e.{c}" for c in _CHAIN_COLUMNS)
    return (
        f"WITH RECURSIVE chain({', '.join(_CHAIN_COLUMNS)}) AS ("
        f"SELECT {columns} FROM sessions s JOIN session_events e ON {head} "
        f"UNION ALL SELECT {columns} FROM chain c JOIN session_events e ON {step}{limit}) "
        f"SELECT id, {session_id}, parent_id, invocation_id, event_type, event_data, created_at "
        "FROM chain ORDER BY seq"
    )


def history_tail(
    query: type[Query],
    on: Any,
    session: Any,
    newest_first: Any,
    limit: Parameter,
    *,
    data_only: bool = False,
) -> QueryBuilder:
    """The newest events of one session by append order, newest first, each with the head.

    When they chain from the head (the usual, unforked case) they are the
    history's tail: one range read instead of a recursive walk. ``on`` joins
    a session to its events, ``session`` picks it, ``newest_first`` is the
    append-order key; ``data_only`` selects just what ``HISTORY_TAIL_DATA``
    sums up (id, parent, type, data). Both dialects build it here.
    """
    if data_only:
        fields = [events.id, events.parent_id, events.event_type, events.event_data]
    else:
        fields = event_record_fields(events, sessions.id)
    return (
        query.from_(sessions)
        .join(events)
        .on(on)
        .select(sessions.head_id, *fields)
        .where(session)
        .orderby(newest_first, order=Order.desc)
        .limit(limit)
    )


def history_tail_data(tail: QueryBuilder, summaries: str, concat: str, char: str) -> str:
    """``HISTORY_TAIL_DATA``: :func:`history_tail` (``data_only``) summed up in one row.

    The row holds the number of events, of summaries among them
    (``summaries``, the dialect's count of ``event_type = 'compaction'``), the
    head, their ids, their parents (``char(30)`` for none) and their
    ``event_data``, each list in one same row order (``concat`` is the
    dialect's string aggregate, ``char`` its code-point function). The caller
    checks that the ids chain from the head through the parents: then that
    order is the chain's, and the data is the history's tail as one JSON
    array (newest first) — one row to fetch, one parse, instead of a row
    object per event. A subquery, not a CTE used twice, so it streams (no
    copy of the rows); no window, no ordered aggregate.
    """
    return (
        f"SELECT count(*), {summaries}, max(head_id), "
        f"{concat}(id, {char}(31)), {concat}(coalesce(parent_id, {char}(30)), {char}(31)), "
        f"'[' || coalesce({concat}(event_data, ','), '') || ']' FROM ({tail.get_sql()})"
    )


def purge_candidates(
    query: type[Query], purgeable: Any, column: Any, after: Parameter, limit: Parameter
) -> QueryBuilder:
    """Retention's next batch: up to ``limit`` ``purgeable`` sessions after the ``sid`` ``after``.

    Each row is the session's ``sid`` and ``column``, in ``sid`` order (a
    keyset page: the caller passes the last ``sid`` it got as ``after``).
    """
    return (
        query.from_(sessions)
        .select(sessions.sid, column)
        .where(purgeable)
        .where(sessions.sid > after)
        .orderby(sessions.sid)
        .limit(limit)
    )


def listing_statements(
    query: type[Query], sessions: Table, param: Param, value: Param, scope: Any = None
) -> dict[str, str]:
    """``LIST_SESSIONS_<FILTER>[_WITH_ARCHIVED]``: newest activity first, keyset-paginated.

    ``cursor_updated_at``/``cursor_sid`` are the row to start below (a
    sentinel above every row for the first page). ``scope`` narrows every
    statement first (PostgreSQL: the caller's own sessions).
    """
    out: dict[str, str] = {}
    for filt in LIST_FILTERS:
        for with_archived in (False, True):
            q = query.from_(sessions).select(*session_fields(sessions), sessions.event_count)
            if scope is not None:
                q = q.where(scope)
            q = q.where(
                Tuple(sessions.updated_at, sessions.sid)
                < Tuple(param("cursor_updated_at"), param("cursor_sid"))
            )
            q = narrow_listing(q, sessions, filt, with_archived, value, param)
            suffix = "_WITH_ARCHIVED" if with_archived else ""
            out[f"LIST_SESSIONS_{filt}{suffix}"] = q.get_sql()
    return out


def narrow_listing(
    q: QueryBuilder,
    sessions: Table,
    filt: str,
    with_archived: bool,
    value: Callable[[str], Parameter],
    param: Callable[[str], Parameter],
) -> QueryBuilder:
    """``q`` filtered by ``filt``, without archived sessions unless asked, newest first.

    ``value`` makes the parameter of a filter value (it may be ``NULL``),
    ``param`` any other parameter (here ``limit``).
    """
    if filt == "DIRECTORY":
        q = q.where(sessions.directory == value("directory"))
    elif filt == "GIT_ROOT":
        q = q.where(sessions.git_root == value("git_root"))
    elif filt == "EITHER":
        q = q.where(
            (sessions.directory == value("directory")) | (sessions.git_root == value("git_root"))
        )
    if not with_archived:
        q = q.where(sessions.archived_at.isnull())
    return (
        q.orderby(sessions.updated_at, order=Order.desc)
        .orderby(sessions.sid, order=Order.desc)
        .limit(param("limit"))
    )


#: Clauses that start a new line in a generated statement (outside parentheses and quotes).
_BREAK_BEFORE = (
    "FROM",
    "JOIN",
    "LEFT JOIN",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "LIMIT",
    "SET",
    "VALUES",
    "SELECT",
    "ON CONFLICT",
    "DO UPDATE",
    "RETURNING",
    "UNION ALL",
)


def layout(sql: str) -> str:
    """Break a one-line statement before its main clauses, so a reviewer reads it top-down.

    Only at the top level: text inside parentheses (subqueries, column lists)
    and inside quotes stays on its line. SQLite and PostgreSQL ignore the
    line breaks; the statement's meaning is unchanged.

    >>> print(layout('SELECT "a" FROM "t" WHERE "b"=(SELECT 1 FROM "u") ORDER BY "a"'))
    SELECT "a"
    FROM "t"
    WHERE "b"=(SELECT 1 FROM "u")
    ORDER BY "a"
    """
    out: list[str] = []
    depth, quote, i = 0, "", 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == " " and depth == 0 and i > 0:
            rest = sql[i + 1 :]
            word = next((w for w in _BREAK_BEFORE if rest.startswith(w + " ")), None)
            if word is not None and not (word == "SELECT" and sql[:i].endswith("AS")):
                out.append("\n")
                i += 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


#: Every generated module of statements: its builder's title for it and its drift test.
GENERATED = {
    "sqlite._sql": ("Every SQL statement convstore runs, as plain strings.", "test_sql_drift.py"),
    "sqlite._blobsql": (
        "The SQL of the framework-integration extensions, as plain strings.",
        "test_blobsql_drift.py",
    ),
    "_lifecycle_sql": (
        "The conversation lifecycle's SQL statements, as plain strings.",
        "test_lifecycle_sql_drift.py",
    ),
    "postgres._pgsql": (
        "Every PostgreSQL statement convstore.postgres runs, as plain strings.",
        "test_pgsql_drift.py",
    ),
    "postgres._pgblobsql": (
        "The PostgreSQL SQL of the framework-integration extensions, as plain strings.",
        "test_pgblobsql_drift.py",
    ),
}


def render_module(statements: dict[str, str], module: str, *, readable: bool = False) -> str:
    """The text of the generated ``module`` (a key of :data:`GENERATED`): one constant a statement.

    It imports nothing at run time but ``TYPE_CHECKING`` from :mod:`convstore._lean`
    (loaded already): ``Final`` is for type checkers only.
    ``readable=True`` lays every statement out over several lines
    (:func:`layout`), one Python string piece per line.
    """
    title, test = GENERATED[module]
    lines = [
        f'"""{title}',
        f'GENERATED by ``python -m convstore.{module}build``: edit that (tests/{test})."""',
        "",
        "from __future__ import annotations",
        "",
        "from convstore._lean import TYPE_CHECKING",
        "",
        "if TYPE_CHECKING:",
        "    from typing import Final",
        "",
    ]
    for name, sql in statements.items():
        parts = layout(sql).splitlines(keepends=True) if readable else [sql]
        if len(parts) == 1:
            lines.append(f"{name}: Final = {sql!r}")
        else:
            lines.append(f"{name}: Final = (")
            lines.extend(f"    {part!r}" for part in parts)
            lines.append(")")
    return "\n".join(lines) + "\n"


def render(module: str) -> str:
    """The text of the generated ``module`` (a key of :data:`GENERATED`) as its builder
    (``convstore.<module>build``) renders it: what the drift tests compare with the file.
    """
    from importlib import import_module

    builder: Any = import_module(f"convstore.{module}build")
    return cast(str, builder.render())


class Builder:
    """One generated module's builder: its statement groups and what is done with them.

    Every builder module ends the same way::

        _BUILDER = shared.Builder("sqlite._sql", _pragmas, _session_statements, ...)
        build, render = _BUILDER.build, _BUILDER.render

        if __name__ == "__main__":  # pragma: no cover
            _BUILDER.main()

    ``module`` is a key of :data:`GENERATED`; each group returns its
    statements by constant name, and the module lists them group after group.
    """

    def __init__(self, module: str, *groups: Callable[[], dict[str, str]]) -> None:
        if module not in GENERATED:
            raise KeyError(f"{module!r} is not in GENERATED: add it there (and its drift test)")
        self.module = module
        self.groups = groups

    def build(self) -> dict[str, str]:
        """Return every statement, by constant name, in the order they are written out."""
        return {name: sql for group in self.groups for name, sql in group().items()}

    def render(self) -> str:
        """The text of the generated module, exactly as it must be on disk."""
        return render_module(self.build(), self.module, readable=True)

    def main(self) -> None:  # pragma: no cover
        """The command line of every SQL builder: regenerate its module in place.

        ``python -m convstore.sqlite._sqlbuild`` (or ``postgres._pgsqlbuild``,
        ``sqlite._blobsqlbuild``, ``_lifecycle_sqlbuild``) renders the text first and
        then replaces the file atomically. A shell redirect (``... > _sql.py``) would
        empty the file before rendering, and rendering imports convstore, which
        imports that very file. ``--stdout`` prints the text instead.
        """
        import os
        import sys
        from pathlib import Path

        text = self.render()
        if sys.argv[1:] == ["--stdout"]:
            sys.stdout.write(text)
            return
        parts = self.module.split(".")
        target = Path(__file__).resolve().parent.joinpath(*parts).with_suffix(".py")
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(text)
        os.replace(temporary, target)
        print(f"wrote {target}")

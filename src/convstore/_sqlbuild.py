"""Every SQLite statement convstore runs, built with pypika — ahead of time.

``import pypika`` costs tens of milliseconds, which a shell assistant that
starts on every prompt cannot afford, so the statements are built here once,
written as plain strings to :mod:`convstore._sql`, and that module is what the
library imports. ``tests/test_sql_drift.py`` rebuilds them and fails if the
two differ, so the strings can never drift from their pypika definitions.

Regenerate after editing this file::

    python -m convstore._sqlbuild > src/convstore/_sql.py

Parameters are numbered (``?1``, ``?2`` …) and always bound, never formatted
into the text. Statements pypika cannot express (``PRAGMA``, ``WITH
RECURSIVE``) are written out by hand at the end of :func:`build` so that a
reader still finds every statement in one place.
"""

from __future__ import annotations

from pypika import Column, Order, Parameter, Query, Table, Tuple
from pypika import functions as fn
from pypika.dialects import PostgreSQLQuery
from pypika.terms import Case, ExistsCriterion, Function, Star

__all__ = ["build", "render"]

sessions = Table("sessions")
events = Table("session_events")
migrations = Table("convstore_migrations")
metadata = Table("session_metadata")

SESSION_COLUMNS = (
    "id",
    "head_id",
    "server_session_id",
    "directory",
    "git_root",
    "created_at",
    "updated_at",
    "archived_at",
)
EVENT_COLUMNS = ("id", "parent_id", "invocation_id", "event_type", "event_data", "created_at")
EVENT_STORAGE_COLUMNS = ("sid", "seq", *EVENT_COLUMNS)


def P(n: int) -> Parameter:
    """Numbered positional parameter ``?n``."""
    return Parameter(f"?{n}")


def _session_fields(table: Table = sessions) -> list[object]:
    return [table.field(c) for c in SESSION_COLUMNS]


def _migration_statements() -> dict[str, str]:
    return {
        "MIGRATIONS_CREATE_TABLE": Query.create_table(migrations)
        .if_not_exists()
        .columns(
            Column("version", "INTEGER", nullable=False),
            Column("name", "TEXT", nullable=False),
            Column("checksum", "TEXT", nullable=False),
            Column("applied_at", "INTEGER", nullable=False),
            Column("duration_ms", "REAL", nullable=False),
        )
        .primary_key("version")
        .get_sql(),
        "MIGRATIONS_TABLE_EXISTS": Query.from_(Table("sqlite_master"))
        .select(fn.Count(Star()))
        .where(Table("sqlite_master").type == "table")
        .where(Table("sqlite_master").name == "convstore_migrations")
        .get_sql(),
        "MIGRATIONS_SELECT_APPLIED": Query.from_(migrations)
        .select(
            migrations.version,
            migrations.name,
            migrations.checksum,
            migrations.applied_at,
            migrations.duration_ms,
        )
        .orderby(migrations.version)
        .get_sql(),
        "MIGRATIONS_INSERT": Query.into(migrations)
        .columns("version", "name", "checksum", "applied_at", "duration_ms")
        .insert(P(1), P(2), P(3), P(4), P(5))
        .get_sql(),
    }


def _session_statements() -> dict[str, str]:
    def live_newest(column: str) -> str:
        # One partial index serves both the filter and the order: no sort.
        return (
            Query.from_(sessions)
            .select(*_session_fields())
            .where(sessions.field(column) == P(1))
            .where(sessions.archived_at.isnull())
            .where(sessions.updated_at > P(2))
            .orderby(sessions.updated_at, order=Order.desc)
            .orderby(sessions.sid, order=Order.desc)
            .limit(1)
            .get_sql()
        )

    return {
        "SESSION_INSERT": Query.into(sessions)
        .columns("id", "directory", "git_root", "created_at", "updated_at")
        .insert(P(1), P(2), P(3), P(4), P(4))
        .get_sql(),
        "SESSION_GET": Query.from_(sessions)
        .select(*_session_fields())
        .where(sessions.id == P(1))
        .get_sql(),
        "SESSION_STATE": Query.from_(sessions)
        .select(sessions.sid, sessions.archived_at, sessions.event_count)
        .where(sessions.id == P(1))
        .get_sql(),
        "SESSION_RESUMABLE_BY_DIRECTORY": live_newest("directory"),
        "SESSION_RESUMABLE_BY_GIT_ROOT": live_newest("git_root"),
        "SESSION_SET_SERVER_ID": Query.update(sessions)
        .set(sessions.server_session_id, P(1))
        .where(sessions.id == P(2))
        .get_sql(),
        "SESSION_ARCHIVE": Query.update(sessions)
        .set(sessions.archived_at, P(1))
        .where(sessions.id == P(2))
        .where(sessions.archived_at.isnull())
        .get_sql(),
        "SESSION_MOVE_HEAD": Query.update(sessions)
        .set(sessions.head_id, P(1))
        .set(sessions.updated_at, P(2))
        .set(sessions.event_count, sessions.event_count + P(3))
        .where(sessions.id == P(4))
        .get_sql(),
    }


def _event_statements() -> dict[str, str]:
    parent_in_session = ExistsCriterion(
        Query.from_(events).select(1).where((events.id == P(2)) & (events.sid == sessions.sid))
    )
    # Fast path of append_event: one statement checks that the session exists,
    # is not archived and owns the parent, and inserts. If it inserts nothing,
    # the store diagnoses why with SESSION_STATE / EVENT_IN_SESSION.
    append = (
        Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .from_(sessions)
        .select(sessions.sid, sessions.event_count + 1, P(1), P(2), P(3), P(4), P(5), P(6))
        .where(sessions.id == P(7))
        .where(sessions.archived_at.isnull())
        .where(P(2).isnull() | parent_in_session)
    )
    # The client's append: the parent is the head as read inside the write
    # transaction, so concurrent appenders form one chain.
    append_at_head = (
        Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .from_(sessions)
        .select(
            sessions.sid, sessions.event_count + 1, P(1), sessions.head_id, P(2), P(3), P(4), P(5)
        )
        .where(sessions.id == P(6))
        .where(sessions.archived_at.isnull())
    )
    parent_in_batch_session = ExistsCriterion(
        Query.from_(events).select(1).where((events.id == P(4)) & (events.sid == P(1)))
    )
    batch_row = (
        Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .select(P(1), P(2), P(3), P(4), P(5), P(6), P(7), P(8))
        .where(P(4).isnull() | parent_in_batch_session)
    )
    return {
        "EVENT_APPEND": append.get_sql(),
        "EVENT_APPEND_AT_HEAD": append_at_head.get_sql() + ' RETURNING "parent_id"',
        "EVENT_APPEND_BATCH_ROW": batch_row.get_sql(),
        "EVENT_IN_SESSION": Query.from_(events)
        .select(1)
        .where(events.id == P(1))
        .where(events.sid == P(2))
        .get_sql(),
        "EVENT_ID_EXISTS": Query.from_(events).select(1).where(events.id == P(1)).get_sql(),
        "EVENTS_LOAD": Query.from_(sessions)
        .join(events)
        .on(events.sid == sessions.sid)
        .select(
            events.id,
            sessions.id,
            events.parent_id,
            events.invocation_id,
            events.event_type,
            events.event_data,
            events.created_at,
        )
        .where(sessions.id == P(1))
        .orderby(events.seq)
        .get_sql(),
    }


#: ``list_sessions`` filters; each gets its own statement so each can use its index.
LIST_FILTERS = ("ALL", "DIRECTORY", "GIT_ROOT", "EITHER")


def _listing_statements() -> dict[str, str]:
    """``LIST_SESSIONS_<FILTER>[_WITH_ARCHIVED]``: newest activity first, keyset-paginated.

    Parameters: ``?1``/``?2`` the cursor ``(updated_at, sid)`` to start below
    (the caller passes a sentinel above every row for the first page), ``?3``
    the limit, then the filter values (directory, git root) from ``?4``.
    """
    out: dict[str, str] = {}
    for filt in LIST_FILTERS:
        for with_archived in (False, True):
            q = (
                Query.from_(sessions)
                .select(*_session_fields(), sessions.event_count)
                .where(Tuple(sessions.updated_at, sessions.sid) < Tuple(P(1), P(2)))
            )
            if filt == "DIRECTORY":
                q = q.where(sessions.directory == P(4))
            elif filt == "GIT_ROOT":
                q = q.where(sessions.git_root == P(4))
            elif filt == "EITHER":
                q = q.where((sessions.directory == P(4)) | (sessions.git_root == P(5)))
            if not with_archived:
                q = q.where(sessions.archived_at.isnull())
            q = (
                q.orderby(sessions.updated_at, order=Order.desc)
                .orderby(sessions.sid, order=Order.desc)
                .limit(P(3))
            )
            suffix = "_WITH_ARCHIVED" if with_archived else ""
            out[f"LIST_SESSIONS_{filt}{suffix}"] = q.get_sql()
    out["SESSION_CURSOR"] = (
        Query.from_(sessions)
        .select(sessions.updated_at, sessions.sid)
        .where(sessions.id == P(1))
        .get_sql()
    )
    return out


def _metadata_and_branch_statements() -> dict[str, str]:
    head_in_session = ExistsCriterion(
        Query.from_(events).select(1).where((events.id == P(1)) & (events.sid == sessions.sid))
    )
    return {
        # Upsert; inserts nothing when the session does not exist (caller reports it).
        "METADATA_SET": PostgreSQLQuery.into(metadata)
        .columns("sid", "key", "value", "updated_at")
        .from_(sessions)
        .select(sessions.sid, P(2), P(3), P(4))
        .where(sessions.id == P(1))
        .on_conflict("sid", "key")
        .do_update("value")
        .do_update("updated_at")
        .get_sql(),
        # One row when the session exists; its value is NULL when the key is unset.
        "METADATA_GET": Query.from_(sessions)
        .left_join(metadata)
        .on((metadata.sid == sessions.sid) & (metadata.key == P(2)))
        .select(metadata.value)
        .where(sessions.id == P(1))
        .get_sql(),
        "EVENT_GET": Query.from_(events)
        .join(sessions)
        .on(sessions.sid == events.sid)
        .select(
            events.id,
            sessions.id,
            events.parent_id,
            events.invocation_id,
            events.event_type,
            events.event_data,
            events.created_at,
        )
        .where(events.id == P(1))
        .where(sessions.id == P(2))
        .get_sql(),
        # fork: move the head back to one of the session's own events.
        "SESSION_SET_HEAD": Query.update(sessions)
        .set(sessions.head_id, P(1))
        .set(sessions.updated_at, P(2))
        .where(sessions.id == P(3))
        .where(sessions.archived_at.isnull())
        .where(head_in_session)
        .get_sql(),
    }


def _import_statements() -> dict[str, str]:
    """Writing sessions and events with their original ids and timestamps (import, sync)."""
    return {
        "SESSION_IMPORT_INSERT": Query.into(sessions)
        .columns(*SESSION_COLUMNS)
        .insert(P(1), P(2), P(3), P(4), P(5), P(6), P(7), P(8))
        .get_sql(),
        # Merge an imported session's state into the stored row: the newer
        # activity decides the head; archiving and server ids are never undone.
        "SESSION_IMPORT_MERGE": Query.update(sessions)
        .set(
            sessions.head_id,
            Case().when(P(3) >= sessions.updated_at, P(1)).else_(sessions.head_id),
        )
        .set(sessions.updated_at, Function("MAX", sessions.updated_at, P(3)))
        .set(sessions.server_session_id, fn.Coalesce(P(2), sessions.server_session_id))
        .set(sessions.archived_at, fn.Coalesce(sessions.archived_at, P(4)))
        .set(sessions.event_count, P(5))
        .where(sessions.sid == P(6))
        .get_sql(),
        "EVENT_GET_BY_ID": Query.from_(events)
        .join(sessions)
        .on(sessions.sid == events.sid)
        .select(
            events.id,
            sessions.id,
            events.parent_id,
            events.invocation_id,
            events.event_type,
            events.event_data,
            events.created_at,
        )
        .where(events.id == P(1))
        .get_sql(),
        "METADATA_IMPORT": PostgreSQLQuery.into(metadata)
        .columns("sid", "key", "value", "updated_at")
        .insert(P(1), P(2), P(3), P(4))
        .on_conflict("sid", "key")
        .do_update("value")
        .do_update("updated_at")
        .get_sql(),
        "METADATA_ALL": Query.from_(metadata)
        .join(sessions)
        .on(sessions.sid == metadata.sid)
        .select(metadata.key, metadata.value)
        .where(sessions.id == P(1))
        .orderby(metadata.key)
        .get_sql(),
    }


def _history_statement() -> dict[str, str]:
    # pypika cannot express WITH RECURSIVE: the chain from head back through
    # parent_id, in one query. `e.seq < c.seq` holds for every real parent (a
    # parent is always appended before its child) and guarantees termination.
    cols = (
        "e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at"
    )
    return {
        "EVENTS_HISTORY": (
            "WITH RECURSIVE chain(sid, seq, id, parent_id, invocation_id, event_type, "
            "event_data, created_at) AS ("
            f"SELECT {cols} FROM sessions s JOIN session_events e "
            "ON e.id = s.head_id AND e.sid = s.sid WHERE s.id = ?1 "
            "UNION ALL "
            f"SELECT {cols} FROM chain c JOIN session_events e "
            "ON e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq"
            ") SELECT id, ?1, parent_id, invocation_id, event_type, event_data, created_at "
            "FROM chain ORDER BY seq"
        )
    }


def _pragmas() -> dict[str, str]:
    # pypika has no PRAGMA builder; these are the connection's settings.
    return {
        "PRAGMA_JOURNAL_MODE": "PRAGMA journal_mode",
        "PRAGMA_JOURNAL_MODE_WAL": "PRAGMA journal_mode=WAL",
        "PRAGMA_SYNCHRONOUS_NORMAL": "PRAGMA synchronous=NORMAL",
        "PRAGMA_SYNCHRONOUS_FULL": "PRAGMA synchronous=FULL",
        "PRAGMA_FOREIGN_KEYS_ON": "PRAGMA foreign_keys=ON",
        "PRAGMA_USER_VERSION": "PRAGMA user_version",
        "PRAGMA_WAL_AUTOCHECKPOINT": "PRAGMA wal_autocheckpoint=1000",
        "PRAGMA_JOURNAL_SIZE_LIMIT": "PRAGMA journal_size_limit=67108864",
        "PRAGMA_SET_USER_VERSION": "PRAGMA user_version={version:d}",
        "PRAGMA_INTEGRITY_CHECK": "PRAGMA integrity_check",
        # Transaction control. Writes always take the lock up front (IMMEDIATE), so
        # they wait on the busy timeout instead of failing mid-transaction.
        "BEGIN_IMMEDIATE": "BEGIN IMMEDIATE",
        "BEGIN_DEFERRED": "BEGIN",
        "COMMIT": "COMMIT",
        "ROLLBACK": "ROLLBACK",
    }


def build() -> dict[str, str]:
    """Return every statement, by constant name, in the order they are written out."""
    out: dict[str, str] = {}
    out.update(_pragmas())
    out.update(_migration_statements())
    out.update(_session_statements())
    out.update(_event_statements())
    out.update(_listing_statements())
    out.update(_metadata_and_branch_statements())
    out.update(_import_statements())
    out.update(_history_statement())
    return out


def render() -> str:
    """The text of :mod:`convstore._sql`, exactly as it must be on disk."""
    lines = [
        '"""Every SQL statement convstore runs, as plain strings.',
        "",
        "GENERATED by ``python -m convstore._sqlbuild > src/convstore/_sql.py`` from the",
        "pypika definitions in :mod:`convstore._sqlbuild`; do not edit by hand.",
        "``tests/test_sql_drift.py`` fails if this file and its builder disagree.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "TYPE_CHECKING = False",
        "if TYPE_CHECKING:",
        "    from typing import Final",
        "",
    ]
    for name, sql in build().items():
        lines.append(f"{name}: Final = {sql!r}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(render())

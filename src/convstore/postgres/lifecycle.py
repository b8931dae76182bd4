"""The conversation lifecycle (SPEC §9) on the PostgreSQL team server.

A mixin of :class:`convstore.postgres.PostgresSessionService`: compaction,
the token usage ledger (``migrations/postgres/0006``) and retention (the
service's own ``search`` serves :class:`convstore.tools.RecallTools`). Same
semantics, validation and errors as the local store (the shared checks live
in :mod:`convstore.lifecycle` and :mod:`convstore.sqlite.retention`); every
statement is scoped by the service's owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _lifecycle_sql as L
from .. import lifecycle
from .._common import front
from ..errors import DuplicateId, InvalidArgument, InvalidEvent, SessionArchived, SessionNotFound
from ..lifecycle import (
    COMPACTION_EVENT_TYPE,
    CompactRequest,
    UsageArgs,
    UsageRecord,
    UsageTotal,
    check_compact_args,
    check_compaction_target,
    check_usage_args,
    check_usage_query,
    is_replay,
    usage_day_key,
    usage_params,
)
from ..models import StoredEvent
from ..sqlite.retention import (
    DatabaseStats,
    DayGrowth,
    RetentionPolicy,
    RetentionReport,
    SessionSize,
    check_policy,
    cutoff,
)
from . import _pgsql
from ._host import ServiceHost
from .blobs import read_history

if TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = ["PostgresLifecycleMixin"]

_INT64_MAX = (1 << 63) - 1
_DAY = 86_400
#: Events per statement when retention deletes a session (bounded transactions).
_DELETE_BATCH = 2_000


class PostgresLifecycleMixin(ServiceHost):
    """Compaction, usage ledger and retention for the PostgreSQL service."""

    __slots__ = ()

    # -- compaction ----------------------------------------------------------------

    @front(lifecycle.compact, check_compact_args)
    def compact(self, args: CompactRequest) -> StoredEvent:
        """See :meth:`convstore.SessionStore.compact` (one transaction, session row locked)."""
        sid, data, eid, inv, through_event_id, retry = args
        doing = f"compacting session {sid!r} through {through_event_id!r}"
        params: dict[str, Any] = self._mine(sid)
        mapper = lambda exc: self._event_error(exc, eid)  # noqa: E731
        with self._conn(doing, write=True, mapper=mapper) as conn, conn.transaction():
            if retry:  # a retry of a stored compaction (§2.1)
                row = conn.execute(
                    _pgsql.EVENT_GET, {**params, "event_id": eid}
                ).fetchone()
                stored = None if row is None else StoredEvent._make(row)
                if stored is not None and is_replay(stored, data):
                    return stored
            state = conn.execute(L.PG_SESSION_LOCK, params).fetchone()
            if state is None:
                raise SessionNotFound(f"session {sid!r} does not exist")
            if state[0] is not None:
                raise SessionArchived(
                    f"session {sid!r} is archived; start a new session to continue"
                )
            chain = read_history(conn, params, full=True)
            head = check_compaction_target(sid, chain, through_event_id)
            inv = head.invocation_id if inv is None else inv
            row = conn.execute(
                _pgsql.EVENT_APPEND,
                {
                    **params,
                    "event_id": eid,
                    "parent_id": head.id,
                    "invocation_id": inv,
                    "event_type": COMPACTION_EVENT_TYPE,
                    "event_data": data,
                },
            ).fetchone()
            if row is None:  # pragma: no cover - the row is locked
                raise InvalidEvent(f"summary {eid!r} could not be appended to {sid!r}")
        return StoredEvent(eid, sid, head.id, inv, COMPACTION_EVENT_TYPE, data, int(row[-1]))

    # -- usage ledger ----------------------------------------------------------------

    def _usage_row(self, args: tuple[object, ...]) -> dict[str, Any]:
        """The parameters of one usage-ledger row of this owner (``check_usage_args``' values)."""
        return {"owner": self._owner, **usage_params(args)}

    @front(lifecycle.record_usage, check_usage_args)
    def record_usage(self, args: UsageArgs) -> None:
        """See :meth:`convstore.SessionStore.record_usage`."""
        sid, eid, name = args[0], args[1], args[2]
        params = self._usage_row(args)
        doing = f"recording usage of event {eid!r} in session {sid!r}"
        with self._conn(doing, write=True) as conn:
            if conn.execute(L.PG_USAGE_RECORD, params).fetchone() is not None:
                return
        if self._one(L.PG_EVENT_IN_SESSION, params, doing) is None:
            if self._one(L.PG_SESSION_EXISTS, params, doing) is None:
                raise SessionNotFound(f"session {sid!r} does not exist")
            raise InvalidEvent(f"event {eid!r} is not an event of session {sid!r}")
        stored = self._one(L.PG_USAGE_GET, params, doing)
        if stored is not None and tuple(stored) == args[3:]:
            return
        raise DuplicateId(
            f"usage of event {eid!r} for model {name!r} is already recorded with other "
            "values; nothing was changed"
        )

    def usage(
        self,
        *,
        session_id: str | None = None,
        since: int | None = None,
        group_by: str = "model",
    ) -> list[UsageTotal]:
        """See :meth:`convstore.SessionStore.usage` (one indexed query, this owner's rows)."""
        sid, start, group = check_usage_query(session_id, since, group_by)
        sql = {
            "model": L.PG_USAGE_BY_MODEL,
            "day": L.PG_USAGE_BY_DAY,
            "session": L.PG_USAGE_BY_SESSION,
        }[group]
        rows = self._all(
            sql, {"owner": self._owner, "since": start, "session_id": sid}, "summing usage"
        )
        out = []
        for r in rows:
            key = usage_day_key(int(r[0])) if group == "day" else str(r[0])
            cost = None if r[4] is None else float(r[4])
            out.append(UsageTotal(key, int(r[1]), int(r[2]), int(r[3]), cost, int(r[5])))
        return out

    def export_usage(self, session_id: str) -> list[UsageRecord]:
        """Every ledger row of one session (used by sync)."""
        rows = self._all(
            L.PG_USAGE_EXPORT,
            self._mine(session_id),
            f"reading usage of session {session_id!r}",
        )
        return [UsageRecord(*r) for r in rows]

    def usage_counts(self, ids: Sequence[str]) -> dict[str, int]:
        """Ledger rows per session for a page of session ids (sync compares these)."""
        from .. import _validate

        rows = self._all(
            L.PG_USAGE_COUNTS,
            {"owner": self._owner, "ids": _validate.lookup_ids(ids)},
            "counting usage",
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def import_usage(self, session_id: str, records: Sequence[UsageRecord]) -> int:
        """Add ledger rows to a session (one transaction); rows already stored are kept.

        Records whose event the session lacks are skipped. Returns rows added.
        """
        rows = []
        for rec in records:
            rows.append(self._usage_row(check_usage_args(session_id, *rec)))
        added = 0
        doing = f"importing usage of session {session_id!r}"
        with self._conn(doing, write=True) as conn, conn.transaction():
            for params in rows:
                added += conn.execute(L.PG_USAGE_IMPORT, params).rowcount
        return added

    # -- retention ----------------------------------------------------------------------

    def _plan_retention(
        self, policy: RetentionPolicy, now: int
    ) -> tuple[list[tuple[int, str]], list[tuple[int, str, int, int]], int, int, bool]:
        """What ``apply_retention`` would do, read in one snapshot.

        Returns the sessions to archive ``(sid, id)``, those to delete ``(sid,
        id, bytes, events)``, the idle cutoff, the owner's total bytes, and
        whether ``max_bytes`` stays exceeded.
        """
        owner = self._owner
        doing = "planning retention"
        archive: list[tuple[int, str]] = []
        delete: list[tuple[int, str, int, int]] = []
        idle = 0
        with self._conn(doing) as conn, conn.transaction():
            conn.execute(_pgsql.TX_SNAPSHOT)

            def add(sid: int, name: str) -> int:
                size, count = conn.execute(L.PG_RETENTION_SESSION_BYTES, {"sid": sid}).fetchone()
                delete.append((sid, name, int(size or 0), int(count or 0)))
                return int(size or 0)

            if policy.archive_idle_days is not None:
                idle = cutoff(now, policy.archive_idle_days)
                archive = [
                    (int(r[0]), str(r[1]))
                    for r in conn.execute(
                        L.PG_RETENTION_IDLE_LIVE, {"owner": owner, "cutoff": idle}
                    ).fetchall()
                ]
            if policy.delete_archived_after_days is not None:
                before = cutoff(now, policy.delete_archived_after_days) + 1
                for r in conn.execute(
                    L.PG_RETENTION_ARCHIVED, {"owner": owner, "cutoff": before}
                ).fetchall():
                    add(int(r[0]), str(r[1]))
            total = int(conn.execute(L.PG_OWNER_BYTES, {"owner": owner}).fetchone()[0])
            over = False
            if policy.max_bytes is not None:
                remaining = total - sum(d[2] for d in delete)
                chosen = {d[0] for d in delete}
                if remaining > policy.max_bytes:
                    for r in conn.execute(
                        L.PG_RETENTION_ARCHIVED, {"owner": owner, "cutoff": _INT64_MAX}
                    ).fetchall():
                        if int(r[0]) in chosen:
                            continue
                        remaining -= add(int(r[0]), str(r[1]))
                        if remaining <= policy.max_bytes:
                            break
                    over = remaining > policy.max_bytes
        return archive, delete, idle, total, over

    def apply_retention(self, policy: RetentionPolicy, *, dry_run: bool = True) -> RetentionReport:
        """See :meth:`convstore.SessionStore.apply_retention`; ``max_bytes``: the owner's data."""
        policy = check_policy(policy, dry_run)
        # The server's clock decides (SPEC 6.1), read once for the plan and its execution.
        now = int(self._one(L.PG_NOW, {}, "reading the server's clock")[0])
        archive, delete, idle, total, over = self._plan_retention(policy, now)
        owner = self._owner
        if dry_run:
            return RetentionReport(
                True,
                tuple(a[1] for a in archive),
                tuple(d[1] for d in delete),
                sum(d[3] for d in delete),
                sum(d[2] for d in delete),
                total,
                over,
            )
        archived: list[str] = []
        deleted: list[str] = []
        events = freed = 0
        with self._conn("applying retention", write=True) as conn:
            for sid, name in archive:
                cur = conn.execute(
                    L.PG_RETENTION_ARCHIVE,
                    {"owner": owner, "sid": sid, "now": now, "cutoff": idle},
                )
                if cur.rowcount:
                    archived.append(name)
            for sid, name, size, count in delete:
                step = {"owner": owner, "sid": sid, "budget": _DELETE_BATCH}
                for _ in range(count // _DELETE_BATCH):  # each its own short transaction
                    row = conn.execute(L.PG_RETENTION_DELETE_CHUNK, step).fetchone()
                    if row is None or not row[0]:
                        break  # no longer archived (or already empty)
                cur = conn.execute(L.PG_RETENTION_DELETE, {"owner": owner, "sid": sid})
                if cur.rowcount:
                    deleted.append(name)
                    events += count
                    freed += size
        return RetentionReport(
            False, tuple(archived), tuple(deleted), events, freed, total, over
        )

    # -- statistics (convstore stats --conninfo) ---------------------------------------

    def database_stats(self, *, top: int = 10, days: int = 7) -> DatabaseStats:
        """This owner's sessions on the server: counts, ``top`` largest, ``days`` of growth.

        The server twin of :func:`convstore.sqlite.retention.database_stats`
        (``convstore stats --conninfo …``), read from one snapshot and scoped
        to the owner like every call: ``data_bytes`` is the stored size of the
        owner's events (as retention counts it), ``file_bytes`` the size of
        the whole database on the server (``pg_database_size``). Days are UTC,
        by the server's clock. Scans the owner's events once.
        """
        for what, value, high in (("top", top, 10_000), ("days", days, 36_500)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
                raise InvalidArgument(f"{what} must be an int between 0 and {high}: {value!r}")
        owner = {"owner": self._owner}
        with self._conn("reading database statistics") as conn, conn.transaction():
            conn.execute(_pgsql.TX_SNAPSHOT)
            now = int(conn.execute(L.PG_NOW).fetchone()[0])
            sessions, archived, events = conn.execute(L.PG_STATS_COUNTS, owner).fetchone()
            largest = tuple(
                SessionSize(str(r[0]), int(r[1]), int(r[2]), int(r[3]), r[4])
                for r in conn.execute(L.PG_STATS_LARGEST, {**owner, "top": top}).fetchall()
            )
            since = {**owner, "since": (now // _DAY - days + 1) * _DAY}
            made = {
                int(d): int(n)
                for d, n in conn.execute(L.PG_STATS_GROWTH_SESSIONS, since).fetchall()
            }
            added = {
                int(d): (int(n), int(b))
                for d, n, b in conn.execute(L.PG_STATS_GROWTH_EVENTS, since).fetchall()
            }
            size = int(conn.execute(L.PG_OWNER_BYTES, owner).fetchone()[0])
            on_disk = int(conn.execute(L.PG_DATABASE_BYTES).fetchone()[0])
        growth = tuple(
            DayGrowth(usage_day_key(d), made.get(d, 0), *added.get(d, (0, 0)))
            for d in sorted(set(made) | set(added))
        )
        return DatabaseStats(
            on_disk, size, int(sessions), int(archived), int(events), largest, growth
        )

"""``convstore stats``, ``convstore usage`` and ``convstore retention`` (SPEC §9).

Each command is one self-contained function; :func:`add_commands` registers
them on the main parser (:func:`convstore.cli.build_parser` calls it).

``retention`` only *reports* unless ``--apply`` is given::

    convstore retention --archive-idle-days 30 --delete-archived-after-days 90
    convstore retention --max-bytes 2G --apply

With ``--conninfo CONNINFO`` (and optionally ``--owner``) each works on the
PostgreSQL team server instead, scoped to the owner like every server call::

    convstore stats --conninfo "host=db.internal dbname=convstore user=alice"
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import cli as _cli
from ._cliutil import command
from .cli_server import add_server_target, open_server
from .sqlite.retention import RetentionPolicy, database_stats

__all__ = ["add_commands", "cmd_stats", "cmd_usage", "cmd_retention", "parse_size"]

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from ``123``, ``500K``, ``20M``, ``2G``, ``1T`` (binary units, ``B``/``iB`` optional).

    >>> parse_size("2G"), parse_size("512"), parse_size("1.5MiB")
    (2147483648, 512, 1572864)
    """
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else ""
    number = cleaned[: len(cleaned) - len(unit)]
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (e.g. 500M, 2G, 1048576)"
        ) from None
    if not 0 <= value <= 1 << 50:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size between 0 and 1P")
    return int(value * _UNITS[unit])


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not 0 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1000000 days")
    return value


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


@contextmanager
def _target(args: argparse.Namespace) -> Iterator[tuple[Any, str]]:
    """The local store (``--db``) or the team server (``--conninfo``), and how to name it."""
    if args.conninfo is None:
        with _cli._open(args) as store:
            yield store, _cli._db(args)
        return
    with open_server(args) as service:
        yield service, f"{service.where} (owner {service.owner})"


def cmd_stats(args: argparse.Namespace) -> int:
    """database size, largest sessions and growth

    Show the database's size on disk and in use, its largest sessions and what
    each recent day added. Reads only (scans the event log once).
    """
    with _target(args) as (backend, name):
        if args.conninfo is None:
            stats = database_stats(backend, top=args.top, days=args.days)
        else:
            stats = backend.database_stats(top=args.top, days=args.days)
    if args.json:
        where = {"path": name} if args.conninfo is None else {"server": name}
        _cli._print_json(
            {
                **where,
                "file_bytes": stats.file_bytes,
                "data_bytes": stats.data_bytes,
                "sessions": stats.sessions,
                "archived_sessions": stats.archived_sessions,
                "events": stats.events,
                "largest": [s._asdict() for s in stats.largest],
                "growth": [g._asdict() for g in stats.growth],
            }
        )
        return 0
    out = sys.stdout
    disk = "on disk" if args.conninfo is None else "in the server's database"
    use = "in use" if args.conninfo is None else "this owner's"
    out.write(
        f"{name}: {_human(stats.file_bytes)} {disk}, {_human(stats.data_bytes)} "
        f"{use}; {stats.sessions} sessions ({stats.archived_sessions} archived), "
        f"{stats.events} events\n"
    )
    if stats.largest:
        out.write("\nlargest sessions:\n")
        _cli._table(
            ["SESSION", "EVENTS", "SIZE", "UPDATED", "ARCHIVED"],
            [
                [
                    s.id,
                    str(s.events),
                    _human(s.bytes),
                    _cli._fmt_time(s.updated_at),
                    _cli._fmt_time(s.archived_at),
                ]
                for s in stats.largest
            ],
        )
    if stats.growth:
        out.write(f"\ngrowth (last {args.days} days, UTC):\n")
        _cli._table(
            ["DAY", "NEW SESSIONS", "EVENTS", "SIZE"],
            [[g.day, str(g.sessions), str(g.events), _human(g.bytes)] for g in stats.growth],
        )
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    """token usage totals per model, day or session

    Sum the token usage ledger (input, output, cached tokens and cost).
    """
    with _target(args) as (backend, _name):
        totals = backend.usage(session_id=args.session, since=args.since, group_by=args.by)
    if _cli._answered_without_table(totals, args.json, "no usage recorded"):
        return 0
    rows = [
        [
            t.key,
            str(t.input_tokens),
            str(t.output_tokens),
            str(t.cached_tokens),
            "-" if t.cost is None else f"{t.cost:.4f}",
            str(t.events),
        ]
        for t in totals
    ]
    if len(totals) > 1:
        costs = [t.cost for t in totals if t.cost is not None]
        rows.append(
            [
                "TOTAL",
                str(sum(t.input_tokens for t in totals)),
                str(sum(t.output_tokens for t in totals)),
                str(sum(t.cached_tokens for t in totals)),
                f"{sum(costs):.4f}" if costs else "-",
                str(sum(t.events for t in totals)),
            ]
        )
    _cli._table([args.by.upper(), "INPUT", "OUTPUT", "CACHED", "COST", "RECORDS"], rows)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """archive idle and delete old archived sessions (dry run by default)

    Apply a retention policy. Without --apply it only reports exactly which
    sessions it would archive or delete and the bytes that frees. Live sessions
    are never deleted.
    """
    policy = RetentionPolicy(
        archive_idle_days=args.archive_idle_days,
        delete_archived_after_days=args.delete_archived_after_days,
        max_bytes=args.max_bytes,
    )
    with _target(args) as (backend, _name):
        report = backend.apply_retention(policy, dry_run=not args.apply)
    if args.json:
        data: dict[str, Any] = report._asdict()
        data["archived"], data["deleted"] = list(report.archived), list(report.deleted)
        _cli._print_json(data)
        return 0
    out = sys.stdout
    if report.dry_run:
        out.write("dry run (nothing changed; pass --apply to do it):\n")
    verb_a, verb_d = ("archived", "deleted")
    if report.dry_run:
        verb_a, verb_d = "would archive", "would delete"
    out.write(f"{verb_a} {len(report.archived)} idle sessions")
    out.write(": " + ", ".join(report.archived[:20]) if report.archived else "")
    out.write("\n" if len(report.archived) <= 20 else f" … (+{len(report.archived) - 20})\n")
    out.write(
        f"{verb_d} {len(report.deleted)} archived sessions, {report.events_deleted} events, "
        f"freeing {_human(report.bytes_freed)} of {_human(report.database_bytes)}"
    )
    out.write(": " + ", ".join(report.deleted[:20]) if report.deleted else "")
    out.write("\n" if len(report.deleted) <= 20 else f" … (+{len(report.deleted) - 20})\n")
    if report.over_budget:
        out.write(
            "still above --max-bytes: the rest is live sessions, which retention never deletes\n"
        )
    if not args.apply and not any(
        (args.archive_idle_days, args.delete_archived_after_days, args.max_bytes is not None)
    ):
        out.write("(no rule given: see `convstore retention --help`)\n")
    return 0


def add_commands(
    commands: Any, common: argparse.ArgumentParser, as_json: argparse.ArgumentParser
) -> None:
    """Register ``stats``, ``usage`` and ``retention`` on the main parser's subcommands."""
    for add in (add_stats, add_usage, add_retention):
        add_server_target(add(commands, [common, as_json]))


def add_stats(commands: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """``stats [--top N] [--days N]``."""
    p = command(commands, "stats", cmd_stats, parents)
    p.add_argument(
        "--top", type=_cli.count(0, 10_000), default=10, help="how many largest sessions (10)"
    )
    p.add_argument(
        "--days", type=_cli.count(0, 36_500), default=7, help="days of growth to show (7)"
    )
    return p


def add_usage(commands: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """``usage [--by model|day|session] [--session ID] [--since WHEN]``."""
    p = command(commands, "usage", cmd_usage, parents)
    p.add_argument(
        "--by", choices=("model", "day", "session"), default="model", help="group by (model)"
    )
    p.add_argument("--session", metavar="ID", default=None, help="only this session")
    p.add_argument(
        "--since",
        type=_cli._when,
        default=None,
        metavar="WHEN",
        help="only events since: Unix seconds, a date or an age (30d, 12h, 2w)",
    )
    return p


def add_retention(
    commands: Any, parents: list[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    """``retention [--archive-idle-days N] [--delete-archived-after-days N] [--max-bytes SIZE]``."""
    p = command(commands, "retention", cmd_retention, parents)
    for option, meta, kind, text in (
        ("--archive-idle-days", "DAYS", _days, "archive live sessions idle this long"),
        ("--delete-archived-after-days", "DAYS", _days, "delete sessions archived this long ago"),
        (
            "--max-bytes",
            "SIZE",
            parse_size,
            "also delete the oldest archived sessions until the data fits (e.g. 2G)",
        ),
    ):
        p.add_argument(option, type=kind, default=None, metavar=meta, help=text)
    p.add_argument("--apply", action="store_true", help="do it (default: report only)")
    return p

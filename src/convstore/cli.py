"""The ``convstore`` command: inspect, search, export, import and prune a session store.

Run ``convstore --help`` (or ``python -m convstore --help``) for the commands;
each has its own ``--help``. Every command works on one database: ``--db
PATH``, by default ``$XDG_DATA_HOME/convstore/sessions.db`` (falling back to
``~/.local/share/convstore/sessions.db``).

Exit status: 0 success, 1 an error (one line on stderr, no traceback), 2 a
usage error. Listing commands print a table, or JSON with ``--json``. Long
work (export, import, purge) reports progress on stderr when it is a terminal.

Everything this command needs is imported here, inside the CLI, so ``import
convstore`` stays lean.

>>> main(["--db", ":memory:", "sessions", "list"])
no sessions
0
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, NoReturn

import apsw

from . import migrations
from .connection import check_file_header, normalize_path, open_connection
from .errors import SessionNotFound, StoreError
from .store import SessionStore

__all__ = ["main", "default_db_path", "parse_when"]

PROG = "convstore"


# -- helpers -----------------------------------------------------------------


class UsageError(Exception):
    """A bad command line: exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def default_db_path(environ: dict[str, str] | None = None) -> str:
    """``$XDG_DATA_HOME/convstore/sessions.db``, else ``~/.local/share/convstore/sessions.db``.

    A relative ``XDG_DATA_HOME`` is ignored, as the XDG specification says.

    >>> default_db_path({"XDG_DATA_HOME": "/data", "HOME": "/home/me"})
    '/data/convstore/sessions.db'
    >>> default_db_path({"XDG_DATA_HOME": "rel", "HOME": "/home/me"})
    '/home/me/.local/share/convstore/sessions.db'
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".local", "share")
    return os.path.join(base, "convstore", "sessions.db")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_when(text: str, now: float | None = None) -> int:
    """A point in time as Unix seconds: ``1700000000``, ``2024-05-01``, ``2024-05-01T12:00Z``,
    or an age such as ``30d`` / ``12h`` / ``2w`` (that long before ``now``).

    Dates without a zone are local time.

    >>> parse_when("1700000000"), parse_when("2d", now=1_700_000_000)
    (1700000000, 1699827200)
    >>> parse_when("2023-11-14T22:13:20Z")
    1700000000
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    if len(text) > 1 and text[-1] in _UNITS and text[:-1].isdigit():
        current = time.time() if now is None else now
        return int(current) - int(text[:-1]) * _UNITS[text[-1]]
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use Unix seconds, a date like 2024-05-01 "
            "(optionally with a time), or an age like 30d, 12h, 2w"
        ) from None
    return int(when.timestamp())


def _when(text: str) -> int:
    try:
        return parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _fmt_time(ts: int | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in (headers, *rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        sys.stdout.write(line.rstrip() + "\n")


class Progress:
    """A one-line progress display on a terminal (stderr); silent otherwise."""

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.enabled = self.stream.isatty()
        self.shown = False
        self._last = 0.0

    def update(self, text: str, *, force: bool = False) -> None:
        """Show ``label: text``, at most ten times a second unless ``force``."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        self.stream.write(f"\r\x1b[K{self.label}: {text}")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        """Clear the line so the final output starts clean."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _db(args: argparse.Namespace) -> str:
    return normalize_path(args.db if args.db is not None else default_db_path())


def _open(args: argparse.Namespace) -> SessionStore:
    return SessionStore(_db(args))


# -- migrate -----------------------------------------------------------------


def _status_rows(
    st: migrations.MigrationStatus,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "version": m.version,
            "name": m.name,
            "state": "applied",
            "applied_at": m.applied_at,
            "duration_ms": round(m.duration_ms, 3),
        }
        for m in st.applied
    ]
    rows += [
        {"version": m.version, "name": m.name, "state": "pending", "applied_at": None}
        for m in st.pending
    ]
    return rows


def _read_status(path: str) -> migrations.MigrationStatus:
    """Status without creating or changing anything (a missing file: all pending)."""
    if path != ":memory:" and not check_file_header(path):
        return migrations.MigrationStatus(applied=(), pending=migrations.known_migrations())
    conn = open_connection(path, timeout=5.0)
    try:
        return migrations.status(conn, repr(path))
    finally:
        conn.close()


def cmd_migrate_status(args: argparse.Namespace) -> int:
    path = _db(args)
    try:
        st = _read_status(path)
    except apsw.Error as exc:
        raise StoreError(f"database {path!r}: cannot read the migration status: {exc}") from None
    rows = _status_rows(st)
    if args.json:
        _print_json({"database": path, "version": st.current_version, "migrations": rows})
        return 0
    sys.stdout.write(
        f"database {path}: schema version {st.current_version}, {len(st.pending)} pending\n"
    )
    _table(
        ["VERSION", "NAME", "STATE", "APPLIED"],
        [[str(r["version"]), r["name"], r["state"], _fmt_time(r["applied_at"])] for r in rows],
    )
    return 0


def cmd_migrate_apply(args: argparse.Namespace) -> int:
    path = _db(args)
    try:
        before = {m.version for m in _read_status(path).applied}
    except apsw.Error as exc:
        raise StoreError(f"database {path!r}: cannot read the migration status: {exc}") from None
    with SessionStore(path) as store:
        st = migrations.status(store.connection, repr(path))
    applied = [m for m in st.applied if m.version not in before]
    if args.json:
        _print_json(
            {
                "database": path,
                "version": st.current_version,
                "applied": [m.name for m in applied],
            }
        )
        return 0
    for m in applied:
        sys.stdout.write(f"applied {m.name} ({m.duration_ms:.1f} ms)\n")
    sys.stdout.write(f"database {path} is up to date (schema version {st.current_version})\n")
    return 0


# -- sessions ----------------------------------------------------------------


def cmd_sessions_list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        rows = store.list_sessions(
            directory=args.directory,
            git_root=args.git_root,
            include_archived=args.archived,
            limit=args.limit,
        )
    if args.json:
        _print_json([r._asdict() for r in rows])
        return 0
    if not rows:
        sys.stdout.write("no sessions\n")
        return 0
    _table(
        ["ID", "UPDATED", "EVENTS", "STATE", "DIRECTORY"],
        [
            [
                r.id,
                _fmt_time(r.updated_at),
                str(r.event_count),
                "archived" if r.archived_at is not None else "live",
                r.directory or r.git_root or "-",
            ]
            for r in rows
        ],
    )
    return 0


def _event_text(event_data: str) -> str:
    """The readable part of an event: its ``content`` string, else compact JSON."""
    try:
        data = json.loads(event_data)
    except ValueError:
        return event_data
    if isinstance(data, dict) and isinstance(data.get("content"), str):
        return str(data["content"])
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def cmd_sessions_show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        session = store.get_session(args.id)
        if session is None:
            raise SessionNotFound(f"session {args.id!r} does not exist")
        events = store.load_events(args.id) if args.all else store.history(args.id)
        metadata = store.get_all_metadata(args.id)
    if args.json:
        _print_json(
            {
                "session": session._asdict(),
                "metadata": metadata,
                "events": [e._asdict() for e in events],
            }
        )
        return 0
    out = sys.stdout
    out.write(f"session    {session.id}\n")
    out.write(f"directory  {session.directory or '-'}\n")
    out.write(f"git root   {session.git_root or '-'}\n")
    out.write(f"created    {_fmt_time(session.created_at)}\n")
    out.write(f"updated    {_fmt_time(session.updated_at)}\n")
    if session.archived_at is not None:
        out.write(f"archived   {_fmt_time(session.archived_at)}\n")
    if session.server_session_id is not None:
        out.write(f"server id  {session.server_session_id}\n")
    for key, value in metadata.items():
        out.write(f"{key:<10} {value}\n")
    which = "every event" if args.all else "the chain from head"
    out.write(f"head       {session.head_id or '-'} ({len(events)} events, {which})\n")
    for e in events:
        out.write(f"\n{_fmt_time(e.created_at)}  {e.event_type}  {e.id}\n")
        for text_line in _event_text(e.event_data).splitlines() or [""]:
            out.write(f"    {text_line}\n")
    return 0


# -- search ------------------------------------------------------------------


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    color = sys.stdout.isatty() and not args.json and "NO_COLOR" not in os.environ
    markers = ("\x1b[1;31m", "\x1b[0m") if color else ("[", "]")
    with _open(args) as store:
        hits = store.search(
            query,
            directory=args.directory,
            git_root=args.git_root,
            event_types=args.type or None,
            limit=args.limit,
            literal=args.literal,
            markers=markers,
            order="recent" if args.recent else "rank",
        )
    if args.json:
        _print_json([h._asdict() for h in hits])
        return 0
    if not hits:
        sys.stdout.write("no matches\n")
        return 0
    for h in hits:
        sys.stdout.write(
            f"{h.session_id}  {h.event_id}  {h.event_type}  {_fmt_time(h.created_at)}"
            f"  rank {h.rank:.3g}\n"
        )
        sys.stdout.write(f"    {' '.join(h.snippet.split())}\n")
    return 0


# -- export / import -----------------------------------------------------------


def _counting(lines: Iterable[str], progress: Progress) -> Iterator[str]:
    sessions = events = 0
    for line in lines:
        if line.startswith('{"kind":"session"'):
            sessions += 1
        else:
            events += 1
            if events % 1000 == 0:
                progress.update(f"{sessions} sessions, {events} events")
        yield line
    progress.update(f"{sessions} sessions, {events} events", force=True)


def cmd_export(args: argparse.Namespace) -> int:
    with _open(args) as store:
        lines = store.export_jsonl(
            args.session or None,
            directory=args.directory,
            git_root=args.git_root,
            include_archived=not args.live_only,
        )
        progress = Progress("exporting")
        try:
            if args.output in (None, "-"):
                sys.stdout.writelines(_counting(lines, progress))
                sys.stdout.flush()
            else:
                _write_atomically(args.output, _counting(lines, progress))
        finally:
            progress.done()
    return 0


def _write_atomically(path: str, lines: Iterable[str]) -> None:
    """Write to ``path.tmp`` then rename: a failed export never leaves half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cmd_import(args: argparse.Namespace) -> int:
    progress = Progress("importing")

    def report(sessions: int, events: int) -> None:
        progress.update(f"{sessions} sessions, {events} events")

    with _open(args) as store:
        try:
            if args.file == "-":
                result = store.import_jsonl(sys.stdin.buffer, progress=report)
            else:
                with open(args.file, "rb") as f:
                    result = store.import_jsonl(f, progress=report)
        finally:
            progress.done()
    if args.json:
        _print_json(result._asdict())
    else:
        sys.stdout.write(f"imported {result.sessions} sessions, {result.events} events\n")
    return 0


# -- purge -------------------------------------------------------------------


def cmd_purge(args: argparse.Namespace) -> int:
    progress = Progress("purging")
    with _open(args) as store:
        try:
            report = store.purge(
                archived_before=args.archived_before,
                dry_run=args.dry_run,
                batch_size=args.batch_size,
                vacuum=args.vacuum,
                progress=lambda r: progress.update(
                    f"{r.sessions} sessions, {r.events} events ({r.batches} batches)"
                ),
            )
        finally:
            progress.done()
    if args.json:
        _print_json({**report._asdict(), "archived_before": args.archived_before})
        return 0
    verb = "would delete" if report.dry_run else "deleted"
    sys.stdout.write(
        f"{verb} {report.sessions} sessions archived before "
        f"{_fmt_time(args.archived_before)}: {report.events} events, "
        f"{report.metadata} metadata entries"
    )
    if not report.dry_run:
        sys.stdout.write(f" in {report.batches} batches")
    if args.vacuum and not report.dry_run:
        sys.stdout.write(f"; vacuum freed {report.bytes_freed} bytes")
    sys.stdout.write("\n")
    return 0


# -- bench -------------------------------------------------------------------


def _find_benchmarks() -> str | None:
    """The directory holding the ``benchmarks`` package (a convstore checkout), or None."""
    import importlib.util

    def ours(root: str) -> bool:  # not some other project's "benchmarks" package
        try:
            with open(os.path.join(root, "benchmarks", "__init__.py"), encoding="utf-8") as f:
                return "convstore" in f.read()
        except OSError:
            return False

    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.dirname(os.path.dirname(here))]  # src/convstore -> the checkout
    spec = importlib.util.find_spec("benchmarks")
    if spec is not None and spec.origin is not None:
        candidates.insert(0, os.path.dirname(os.path.dirname(spec.origin)))
    return next((root for root in candidates if ours(root)), None)


def cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    root = _find_benchmarks()
    if root is None:
        raise StoreError(
            "the benchmark suite is not available: it lives in the benchmarks/ folder of a "
            "convstore source checkout and is not installed with the package; run "
            "`convstore bench` from a checkout (or `python -m benchmarks` there)"
        )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    forwarded = [a for a in args.args if a != "--"]
    return subprocess.run([sys.executable, "-m", "benchmarks", *forwarded], env=env).returncode


# -- the parser ----------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, with help for every command."""
    db_help = "database file (default: $XDG_DATA_HOME/convstore/sessions.db)"
    common = _Parser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=db_help)
    as_json = _Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of a table")

    parser = _Parser(
        prog=PROG,
        description="Inspect, search, export, import and prune a convstore session database.",
        epilog="Run `convstore COMMAND --help` for a command's options.",
    )
    parser.add_argument("--db", metavar="PATH", default=None, help=db_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    mig = commands.add_parser(
        "migrate", help="show or apply schema migrations", description="Schema migrations."
    )
    mig_cmds = mig.add_subparsers(dest="action", metavar="ACTION")
    p = mig_cmds.add_parser(
        "status",
        parents=[common, as_json],
        help="list applied and pending migrations (changes nothing)",
        description="List applied and pending migrations. Changes nothing, creates nothing.",
    )
    p.set_defaults(func=cmd_migrate_status)
    p = mig_cmds.add_parser(
        "apply",
        parents=[common, as_json],
        help="apply pending migrations",
        description="Apply pending migrations (creating the database if needed).",
    )
    p.set_defaults(func=cmd_migrate_apply)

    ses = commands.add_parser(
        "sessions", help="list sessions or show one", description="Browse sessions."
    )
    ses_cmds = ses.add_subparsers(dest="action", metavar="ACTION")
    p = ses_cmds.add_parser(
        "list",
        parents=[common, as_json],
        help="sessions, newest activity first",
        description="Sessions, newest activity first (live ones unless --archived).",
    )
    p.add_argument("--directory", help="only sessions started in this directory")
    p.add_argument("--git-root", help="only sessions under this git root")
    p.add_argument("--archived", action="store_true", help="include archived sessions")
    p.add_argument("--limit", type=_positive, default=20, help="at most N rows (default 20)")
    p.set_defaults(func=cmd_sessions_list)
    p = ses_cmds.add_parser(
        "show",
        parents=[common, as_json],
        help="one session's conversation",
        description="A session's details and its conversation: the chain from the head "
        "back to the first event, oldest first (--all: every event, all branches).",
    )
    p.add_argument("id", metavar="ID", help="session id")
    p.add_argument("--all", action="store_true", help="every event in append order")
    p.set_defaults(func=cmd_sessions_show)

    p = commands.add_parser(
        "search",
        parents=[common, as_json],
        help="full-text search over event content",
        description="Full-text search (SQLite FTS5) over the indexed text of events "
        "(event_data's $.content by default), best match first. Query syntax: words "
        '(all must match), "exact phrase", prefix*, a OR b, a NOT b, NEAR(a b).',
    )
    p.add_argument("query", nargs="+", metavar="QUERY", help="search terms")
    p.add_argument("--directory", help="only sessions started in this directory")
    p.add_argument("--git-root", help="only sessions under this git root")
    p.add_argument(
        "--type", action="append", metavar="EVENT_TYPE", help="only this event type (repeatable)"
    )
    p.add_argument("--limit", type=_positive, default=20, help="at most N hits (default 20)")
    p.add_argument(
        "--literal", action="store_true", help="search the words as typed, no query syntax"
    )
    p.add_argument(
        "--recent",
        action="store_true",
        help="newest matches first instead of best (fast even for very common words)",
    )
    p.set_defaults(func=cmd_search)

    p = commands.add_parser(
        "export",
        parents=[common],
        help="write sessions as JSON Lines",
        description="Write sessions as JSON Lines: one header line per session, then one "
        "line per event. All sessions (archived too) unless filtered.",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--session", action="append", metavar="ID", help="this session (repeatable)")
    p.add_argument("--directory", help="only sessions started in this directory")
    p.add_argument("--git-root", help="only sessions under this git root")
    p.add_argument("--live-only", action="store_true", help="leave archived sessions out")
    p.set_defaults(func=cmd_export)

    p = commands.add_parser(
        "import",
        parents=[common, as_json],
        help="read sessions from a JSON Lines export",
        description="Import an export, exactly, in one transaction: if any id is already "
        "used or any line is bad, nothing is imported.",
    )
    p.add_argument("file", metavar="FILE", help="the export file ('-' for stdin)")
    p.set_defaults(func=cmd_import)

    p = commands.add_parser(
        "purge",
        parents=[common, as_json],
        help="delete archived sessions for good",
        description="Delete sessions archived before a time, with their events, metadata "
        "and search entries, in short batches. Live sessions are never touched.",
    )
    p.add_argument(
        "--archived-before",
        type=_when,
        required=True,
        metavar="WHEN",
        help="Unix seconds, a date (2024-05-01[T12:00][Z]) or an age (30d, 12h, 2w)",
    )
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.add_argument(
        "--batch-size", type=_positive, default=2000, help="events per transaction (2000)"
    )
    p.add_argument("--vacuum", action="store_true", help="then give the space back (VACUUM)")
    p.set_defaults(func=cmd_purge)

    p = commands.add_parser(
        "bench",
        help="run the benchmark suite (python -m benchmarks)",
        description="Run the benchmark suite of a convstore checkout; arguments after "
        "`bench` are passed on (e.g. `convstore bench -- --help`).",
        prefix_chars="\x00",  # pass every option through to the suite
    )
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for python -m benchmarks")
    p.set_defaults(func=cmd_bench)

    from .cli_server import add_server_commands  # the team server's deploy step (issue 17)

    add_server_commands(commands)

    from .cli_lifecycle import add_commands as add_lifecycle_commands  # stats, usage, retention

    add_lifecycle_commands(commands, common, as_json)
    return parser


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``convstore`` command; return its exit status (0 ok, 1 error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        where = f"{PROG} {args.command}" if args.command else PROG
        missing = "ACTION" if args.command else "COMMAND"
        sys.stderr.write(f"{where}: missing {missing} (see `{where} --help`)\n")
        return 2
    try:
        return func(args)
    except StoreError as exc:
        _fail(str(exc))
    except BrokenPipeError:
        # The reader went away (`convstore export | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError as exc:
        name = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{name}{exc.strerror or exc}")
    except apsw.Error as exc:  # defensive: the library translates these
        _fail(f"database error: {exc}")
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    return 1

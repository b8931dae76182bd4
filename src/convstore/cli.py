"""The ``convstore`` command: inspect, search, export, import and prune a session store.

Run ``convstore --help`` (or ``python -m convstore --help``) for the commands;
each has its own ``--help``. Every command works on one database: ``--db
PATH``, by default ``$XDG_DATA_HOME/convstore/sessions.db`` (falling back to
``~/.local/share/convstore/sessions.db``).

Exit status: 0 success, 1 an error (one line on stderr, never a traceback), 2
a usage error (a bad option or value). Commands that only read (``sessions``,
``search``, ``export``, ``index status``) and ``purge`` refuse a database that
does not exist instead of creating it; ``import`` creates the database, and
removes it again if the import fails. Listing commands print a table, or JSON
with ``--json``; stored text is shown with control characters escaped. Long
work (export, import, purge, index rebuild) shows a progress bar on stderr
when it is a terminal, nothing when it is not.

Everything this command needs is imported here, inside the CLI, so ``import
convstore`` stays lean.

>>> main(["--db", ":memory:", "sessions", "list"])
no sessions
0
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, Any, NoReturn

import apsw

from . import __version__
from ._cliutil import (
    Progress,
    about,
    bounded_int,
    command,
    command_group,
    parse_when,
    plural,
    safe_block,
    safe_json,
    safe_json_text,
    safe_line,
)
from .errors import SessionNotFound, StoreError
from .sqlite import _sql, exporting, migrations, search
from .sqlite.connection import (
    check_file_header,
    close_quietly,
    normalize_path,
    open_probe,
    read_migration_status,
)
from .sqlite.store import SessionStore

__all__ = ["main", "build_parser", "default_db_path", "parse_when", "Progress"]

PROG = "convstore"
#: ``--limit`` of every listing: from 1 to this many rows.
MAX_LIMIT = 10_000
#: ``purge --batch-size``: events per transaction, from 1 to this.
MAX_BATCH_SIZE = 1_000_000


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


def _argtype(convert: Callable[[str], int], name: str) -> Callable[[str], int]:
    """An argparse ``type`` whose ``ValueError`` message reaches the user (exit 2)."""

    def checked(text: str) -> int:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    checked.__name__ = name
    return checked


def count(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number from ``low`` to ``high``; else exit 2."""
    return _argtype(bounded_int(low, high), "whole number")


_when = _argtype(parse_when, "time")
_limit = _argtype(bounded_int(1, MAX_LIMIT), "limit")
_batch_size = _argtype(bounded_int(1, MAX_BATCH_SIZE), "batch size")


def _fmt_time(ts: int | None) -> str:
    if ts is None:
        return "-"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _print_json(value: Any) -> None:
    sys.stdout.write(safe_json(value) + "\n")


def _answered_without_table(rows: Sequence[Any], as_json: bool, none: str) -> bool:
    """What every listing does before its table: print ``rows`` (named tuples) as JSON
    under ``--json``, or the line ``none`` when there are no rows; ``True`` if it did.
    """
    if as_json:
        _print_json([row._asdict() for row in rows])
    elif not rows:
        sys.stdout.write(none + "\n")
    return as_json or not rows


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    cells = [[safe_line(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for row in [list(headers), *cells]:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        sys.stdout.write(line.rstrip() + "\n")


def _db(args: argparse.Namespace) -> str:
    return normalize_path(args.db if args.db is not None else default_db_path())


def _existing_db(args: argparse.Namespace) -> str:
    """The database path, refusing one that does not exist (nothing is created)."""
    path = _db(args)
    if path != ":memory:" and not check_file_header(path):
        raise StoreError(
            f"database {path!r} does not exist (mistyped --db? `convstore --db PATH migrate "
            "apply` creates an empty one)"
        )
    return path


def _open(args: argparse.Namespace) -> SessionStore:
    """Open an existing database for a command that must not create one."""
    return SessionStore(_existing_db(args))


@contextmanager
def _removed_on_failure(path: str) -> Iterator[None]:
    """If the block fails, remove the database ``path`` and the folders it created.

    A no-op for a database that already existed (the store's own transaction
    leaves it as it was).
    """
    if path == ":memory:" or check_file_header(path):
        yield
        return
    missing: list[str] = []
    folder = os.path.dirname(os.path.abspath(path))
    while folder and not os.path.exists(folder) and folder != os.path.dirname(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    try:
        yield
    except BaseException:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with suppress(OSError):
                os.unlink(path + suffix)
        for folder in missing:  # deepest first
            with suppress(OSError):
                os.rmdir(folder)
        raise


# -- migrate -----------------------------------------------------------------


def _status_rows(st: migrations.MigrationStatus) -> list[dict[str, Any]]:
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


def _read_status(path: str) -> tuple[bool, migrations.MigrationStatus]:
    """(exists, status) without creating or changing anything (missing: all pending).

    Read through :func:`~convstore.sqlite.connection.read_migration_status`
    (read-only, no journal-mode switch, no chmod), so even another
    application's WAL database and its ``-wal`` keep every byte. A database
    holding tables but no convstore bookkeeping is refused, as opening it is.
    """
    if path != ":memory:" and not check_file_header(path):
        return False, migrations.MigrationStatus(applied=(), pending=migrations.known_migrations())
    st = read_migration_status(path)
    if not st.applied and path != ":memory:" and _has_user_objects(path):
        raise StoreError(
            f"database {path!r} already holds another application's tables and is not a "
            "convstore database; nothing was changed"
        )
    return True, st


def _has_user_objects(path: str) -> bool:
    """Whether the existing database at ``path`` holds any table, index, view or trigger."""
    try:
        conn = open_probe(path, timeout=5.0)
    except apsw.Error as exc:
        raise StoreError(f"database {path!r}: cannot read the migration status: {exc}") from None
    try:
        return bool(conn.execute(_sql.SCHEMA_USER_OBJECT_COUNT).get)
    except apsw.Error as exc:
        raise StoreError(f"database {path!r}: cannot read the migration status: {exc}") from None
    finally:
        close_quietly(conn)


def cmd_migrate_status(args: argparse.Namespace) -> int:
    """list applied and pending migrations (changes nothing)

    List applied and pending migrations. Changes nothing, creates nothing.
    """
    path = _db(args)
    exists, st = _read_status(path)
    rows = _status_rows(st)
    if args.json:
        _print_json(
            {"database": path, "exists": exists, "version": st.current_version, "migrations": rows}
        )
        return 0
    where = f"database {path}" if exists else f"database {path} does not exist yet"
    sys.stdout.write(
        safe_line(f"{where}: schema version {st.current_version}, {len(st.pending)} pending") + "\n"
    )
    _table(
        ["VERSION", "NAME", "STATE", "APPLIED"],
        [[str(r["version"]), r["name"], r["state"], _fmt_time(r["applied_at"])] for r in rows],
    )
    return 0


def cmd_migrate_apply(args: argparse.Namespace) -> int:
    """apply pending migrations

    Apply pending migrations (creating the database if needed).
    """
    path = _db(args)
    before = {m.version for m in _read_status(path)[1].applied}
    with SessionStore(path) as store:
        st = migrations.status(store.connection, repr(path))
    applied = [m for m in st.applied if m.version not in before]
    if args.json:
        _print_json(
            {"database": path, "version": st.current_version, "applied": [m.name for m in applied]}
        )
        return 0
    for m in applied:
        sys.stdout.write(f"applied {m.name} ({m.duration_ms:.1f} ms)\n")
    sys.stdout.write(
        safe_line(f"database {path} is up to date (schema version {st.current_version})") + "\n"
    )
    return 0


# -- sessions ----------------------------------------------------------------


def cmd_sessions_list(args: argparse.Namespace) -> int:
    """sessions, newest activity first

    Sessions, newest activity first (live ones unless --archived).
    """
    with _open(args) as store:
        rows = store.list_sessions(
            directory=args.directory,
            git_root=args.git_root,
            include_archived=args.archived,
            limit=args.limit,
        )
    if _answered_without_table(rows, args.json, "no sessions"):
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
    import json

    try:
        data = json.loads(event_data)
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            return str(data["content"])
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to re-format
        return event_data


def cmd_sessions_show(args: argparse.Namespace) -> int:
    """one session's conversation

    A session's details and its conversation: the chain from the head back to
    the first event, oldest first (--all: every event, all branches). Control
    characters in stored text are shown escaped (\\x1b).
    """
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
    fields = [
        ("session", session.id),
        ("directory", session.directory or "-"),
        ("git root", session.git_root or "-"),
        ("created", _fmt_time(session.created_at)),
        ("updated", _fmt_time(session.updated_at)),
    ]
    if session.archived_at is not None:
        fields.append(("archived", _fmt_time(session.archived_at)))
    if session.server_session_id is not None:
        fields.append(("server id", session.server_session_id))
    fields += list(metadata.items())
    which = "every event" if args.all else "the chain from head"
    fields.append(("head", f"{session.head_id or '-'} ({len(events)} events, {which})"))
    out = sys.stdout
    for key, value in fields:
        out.write(f"{safe_line(key):<10} {safe_line(value)}\n")
    for e in events:
        out.write("\n" + safe_line(f"{_fmt_time(e.created_at)}  {e.event_type}  {e.id}") + "\n")
        for text_line in safe_block(_event_text(e.event_data)).split("\n"):
            out.write(f"    {text_line}\n")
    return 0


# -- search ------------------------------------------------------------------


def _query_error(exc: search.InvalidQuery, literal: bool) -> StoreError:
    """The FTS5 error in the command line's terms, with the fix to type."""
    dashes = "-- " if exc.query.startswith("-") else ""
    hint = (
        'search syntax: words, "exact phrase", prefix*, a OR b, a NOT b, NEAR(a b); '
        f"to search the text as typed: convstore search --literal {dashes}"
        f"{shlex.quote(exc.query)}"
    )
    if literal:
        hint = "the text could not be searched as typed"
    return StoreError(f"invalid search query {exc.query!r}: {exc.reason}; {hint}")


_MARK = ("\ufdd0", "\ufdd1")  # noncharacters: where the snippet's match starts and ends


def cmd_search(args: argparse.Namespace) -> int:
    """full-text search over event content

    Full-text search (SQLite FTS5) over the indexed text of events (event_data's
    $.content by default), best match first. Query syntax: words (all must
    match), "exact phrase", prefix*, a OR b, a NOT b, NEAR(a b). Text with
    punctuation (journal_mode=WAL) needs --literal or double quotes; a term
    starting with '-' goes after --: convstore search -- -x.
    """
    query = " ".join(args.query)
    color = sys.stdout.isatty() and not args.json and "NO_COLOR" not in os.environ
    with _open(args) as store:
        try:
            hits = store.search(
                query,
                directory=args.directory,
                git_root=args.git_root,
                event_types=args.type or None,
                limit=args.limit,
                literal=args.literal,
                markers=("[", "]") if args.json else _MARK,
                order="recent" if args.recent else "rank",
            )
        except search.InvalidQuery as exc:
            raise _query_error(exc, args.literal) from None
    if _answered_without_table(hits, args.json, "no matches"):
        return 0
    start, end = ("\x1b[1;31m", "\x1b[0m") if color else ("[", "]")
    for h in hits:
        head = f"{h.session_id}  {h.event_id}  {h.event_type}  {_fmt_time(h.created_at)}"
        snippet = safe_line(" ".join(h.snippet.split()))
        sys.stdout.write(safe_line(head) + "\n")
        sys.stdout.write(f"    {snippet.replace(_MARK[0], start).replace(_MARK[1], end)}\n")
    return 0


# -- export / import -----------------------------------------------------------


def _check_output(path: str) -> None:
    """Refuse an export target that cannot be a file, before anything is read."""
    if os.path.isdir(path):
        raise StoreError(f"cannot export to {path!r}: it is a directory (give a file name)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StoreError(f"cannot export to {path!r}: folder {folder!r} does not exist")


def _write_atomically(path: str, lines: Iterable[str]) -> None:
    """Write a private temporary file next to ``path``, then rename it into place.

    The temporary name is random and created exclusively (no planted file or
    symlink is followed), owner-only like the database; a failed export never
    leaves half a file, and an error names ``path``, not the temporary file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StoreError(f"cannot export to {path!r}: {exc.strerror or exc}") from None
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise StoreError(f"cannot export to {path!r}: {exc.strerror or exc}") from None
        raise


def cmd_export(args: argparse.Namespace) -> int:
    """write sessions as JSON Lines

    Write sessions as JSON Lines: one header line per session, then one line
    per event. All sessions (archived too) unless filtered. With --output, the
    file is written whole or not at all (owner-only), and a summary is printed.
    """
    path = _existing_db(args)
    to_file = args.output not in (None, "-")
    if to_file:
        _check_output(args.output)
    progress = Progress("exporting", "events")
    done = [0, 0]

    def report(sessions: int, events: int) -> None:
        done[:] = [sessions, events]
        progress.update(events)

    with SessionStore(path) as store:
        lines = exporting.export_jsonl(
            store,
            args.session or None,
            directory=args.directory,
            git_root=args.git_root,
            include_archived=not args.live_only,
            progress=report,
        )
        try:
            if to_file:
                _write_atomically(args.output, lines)
            else:  # on a terminal, stored control characters are escaped (same JSON values)
                tty = sys.stdout.isatty()
                sys.stdout.writelines(map(safe_json_text, lines) if tty else lines)
                sys.stdout.flush()
        finally:
            progress.finish()
    summary = f"exported {plural(done[0], 'session')}, {plural(done[1], 'event')}"
    if to_file:
        sys.stdout.write(safe_line(f"{summary} to {args.output}") + "\n")
    elif progress.enabled:  # stdout holds the export: the summary goes to the terminal
        sys.stderr.write(summary + "\n")
    return 0


def _reading(source: IO[bytes], progress: Progress) -> Iterator[bytes]:
    """The lines of ``source``, moving the progress bar by bytes read."""
    try:
        total: int | None = os.fstat(source.fileno()).st_size or None
    except (OSError, ValueError):
        total = None
    read = 0
    for line in source:
        read += len(line)
        progress.update(read, total)
        yield line


def cmd_import(args: argparse.Namespace) -> int:
    """read sessions from a JSON Lines export

    Import an export, exactly, in one transaction: if any id is already used or
    any line is bad, nothing is imported (and a database the import created is
    removed again).
    """
    path = _db(args)
    progress = Progress("importing", "bytes")
    source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    try:
        with _removed_on_failure(path), SessionStore(path) as store:
            try:
                result = store.import_jsonl(_reading(source, progress))
            finally:
                progress.finish()
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    if args.json:
        _print_json(result._asdict())
    else:
        sys.stdout.write(
            f"imported {plural(result.sessions, 'session')}, {plural(result.events, 'event')}\n"
        )
    return 0


# -- purge -------------------------------------------------------------------


def cmd_purge(args: argparse.Namespace) -> int:
    """delete archived sessions for good

    Delete sessions archived before a time, with their events, metadata and
    search entries, in short batches. Live sessions are never touched. WHEN is
    an age (30d, 12h, 90min, 45s, 2w, 1y), a date (2024-05-01, 2024-05-01T12:00,
    2024-05-01T12:00Z) or Unix seconds (1700000000); a date without a zone is
    local time, y is 365 days, m is refused as ambiguous (write 90min, or 30d),
    and a bare number must be at least 1000000000 (2001-09-09): 30 is refused,
    write 30d.
    """
    progress = Progress("purging", "events")
    with _open(args) as store:
        total = None
        if progress.enabled and not args.dry_run:
            total = store.purge(archived_before=args.archived_before, dry_run=True).events
        try:
            report = store.purge(
                archived_before=args.archived_before,
                dry_run=args.dry_run,
                batch_size=args.batch_size,
                vacuum=args.vacuum,
                progress=lambda r: progress.update(r.events, total),
            )
        finally:
            progress.finish()
    if args.json:
        _print_json({**report._asdict(), "archived_before": args.archived_before})
        return 0
    verb = "would delete" if report.dry_run else "deleted"
    text = (
        f"{verb} {plural(report.sessions, 'session')} archived before "
        f"{_fmt_time(args.archived_before)}: {plural(report.events, 'event')}, "
        f"{plural(report.metadata, 'metadata entry')}"
    )
    if not report.dry_run:
        text += f" in {plural(report.batches, 'batch')}"
    if args.vacuum and not report.dry_run:
        text += f"; vacuum freed {plural(report.bytes_freed, 'byte')}"
    sys.stdout.write(text + "\n")
    return 0


# -- index ---------------------------------------------------------------------


def cmd_index_status(args: argparse.Namespace) -> int:
    """indexing on or off, and the indexed fields"""
    with _open(args) as store:
        enabled, fields = search.search_indexing(store), search.search_fields(store)
    if args.json:
        _print_json({"indexing": enabled, "fields": list(fields)})
    else:
        state = "on" if enabled else "off"
        sys.stdout.write(safe_line(f"search indexing {state}; fields: {', '.join(fields)}") + "\n")
    return 0


def cmd_index_rebuild(args: argparse.Namespace) -> int:
    """re-index every event (and turn indexing on)

    Re-index every stored event in one transaction, for the current fields or
    the --field paths given; also turns indexing on and repairs a damaged index.
    """
    progress = Progress("indexing", "events")
    done = [0]

    def report(events: int, total: int) -> None:
        done[0] = total
        progress.update(events, total)

    with _open(args) as store:
        fields = args.field or list(search.search_fields(store))
        try:
            search.configure_search(store, fields, progress=report)
        finally:
            progress.finish()
    sys.stdout.write(
        safe_line(f"rebuilt the search index of {plural(done[0], 'event')}; fields: "
                  f"{', '.join(fields)}") + "\n"
    )  # fmt: skip
    return 0


def cmd_index_off(args: argparse.Namespace) -> int:
    """stop indexing new events (empties the index)"""
    with _open(args) as store:
        search.set_search_indexing(store, False)
    sys.stdout.write("search indexing off (the index is emptied; `index rebuild` turns it on)\n")
    return 0


# -- bench -------------------------------------------------------------------


def _find_benchmarks() -> str | None:
    """The directory holding convstore's ``benchmarks`` package (a checkout or sdist), or None."""
    import importlib.util

    def ours(root: str) -> bool:  # not some other project's "benchmarks" package
        try:
            with open(os.path.join(root, "benchmarks", "__init__.py"), encoding="utf-8") as f:
                return "convstore" in f.read()
        except OSError:
            return False

    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.dirname(os.path.dirname(here)), os.getcwd()]  # src/convstore -> root
    spec = importlib.util.find_spec("benchmarks")
    if spec is not None and spec.origin is not None:
        candidates.insert(0, os.path.dirname(os.path.dirname(spec.origin)))
    return next((root for root in candidates if ours(root)), None)


_BENCH_ABOUT = (
    "usage: convstore bench [SUITE OPTIONS]\n\n"
    "Run convstore's benchmark suite (`python -m benchmarks`): append, resume lookup,\n"
    "get_session and load_events latency against a raw-APSW floor. Every option is\n"
    "passed on to the suite. The suite lives in the benchmarks/ folder of a source\n"
    "checkout or sdist, not in the installed package: run this command from there.\n"
)


def _renamed_usage(
    text: str, old: str = "python -m benchmarks", new: str = "convstore bench"
) -> str:
    r"""The suite's help with its usage block naming this command, continuation lines aligned.

    >>> print(_renamed_usage("usage: python -m benchmarks [-h]\n" + " " * 28 + "[--x]\n\nmore"))
    usage: convstore bench [-h]
                           [--x]
    <BLANKLINE>
    more
    """
    head, sep, rest = text.partition("\n\n")
    if not head.startswith(f"usage: {old}"):
        return text
    shift = len(old) - len(new)
    lines = head.split("\n")
    lines[0] = lines[0].replace(old, new, 1)
    lines[1:] = [line[shift:] if line.startswith(" " * shift) else line for line in lines[1:]]
    return "\n".join(lines) + sep + rest


def _bench_help(root: str | None, env: dict[str, str]) -> int:
    import subprocess

    sys.stdout.write(_BENCH_ABOUT)
    if root is None:
        sys.stdout.write("\nThe suite was not found here, so its options cannot be listed.\n")
        return 0
    suite = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], env=env, capture_output=True, text=True
    )
    sys.stdout.write("\nThe suite's options:\n\n" + _renamed_usage(suite.stdout))
    return suite.returncode


def cmd_bench(args: argparse.Namespace) -> int:
    """run the benchmark suite of a source checkout

    Hands the whole command line over to ``python -m benchmarks``; its
    ``--help`` is the suite's own (:func:`_bench_help`).
    """
    import subprocess

    root = _find_benchmarks()
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    forwarded = [a for a in args.args if a != "--"]
    if forwarded[:1] in (["-h"], ["--help"]):
        return _bench_help(root, env)
    if root is None:
        raise StoreError(
            "the benchmark suite is not available: it lives in the benchmarks/ folder of a "
            "convstore source checkout or sdist and is not installed with the package; run "
            "`convstore bench` from there (see `convstore bench --help`)"
        )
    return subprocess.run([sys.executable, "-m", "benchmarks", *forwarded], env=env).returncode


# -- the parser ----------------------------------------------------------------


class _Shared:
    """Parent parsers every command reuses: ``--db`` after the command, and ``--json``."""

    def __init__(self) -> None:
        self.db = _Parser(add_help=False)
        self.db.add_argument(
            "--db",
            metavar="PATH",
            default=argparse.SUPPRESS,
            help="database file (default: $XDG_DATA_HOME/convstore/sessions.db)",
        )
        self.json = _Parser(add_help=False)
        self.json.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def both(self) -> list[argparse.ArgumentParser]:
        return [self.db, self.json]


_Commands = Any  # argparse's private _SubParsersAction


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--directory", help="only sessions started in this directory")
    p.add_argument("--git-root", help="only sessions under this git root")


def _add_limit(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--limit", type=_limit, default=20, help=f"at most N {what}, 1 to {MAX_LIMIT} (default 20)"
    )


def add_migrate(commands: _Commands, shared: _Shared) -> None:
    """``migrate status`` and ``migrate apply``."""
    actions = command_group(
        commands, "migrate", "show or apply schema migrations", "Schema migrations."
    )
    command(actions, "status", cmd_migrate_status, shared.both())
    command(actions, "apply", cmd_migrate_apply, shared.both())


def add_sessions(commands: _Commands, shared: _Shared) -> None:
    """``sessions list`` and ``sessions show``."""
    actions = command_group(commands, "sessions", "list sessions or show one", "Browse sessions.")
    p = command(actions, "list", cmd_sessions_list, shared.both())
    _add_filters(p)
    p.add_argument("--archived", action="store_true", help="include archived sessions")
    _add_limit(p, "rows")
    p = command(actions, "show", cmd_sessions_show, shared.both())
    p.add_argument("id", metavar="ID", help="session id")
    p.add_argument("--all", action="store_true", help="every event in append order")


def add_search(commands: _Commands, shared: _Shared) -> argparse.ArgumentParser:
    """``search QUERY``; returns its parser (main uses its options for a hint)."""
    p = command(commands, "search", cmd_search, shared.both())
    p.add_argument("query", nargs="+", metavar="QUERY", help="search terms")
    _add_filters(p)
    p.add_argument(
        "--type", action="append", metavar="EVENT_TYPE", help="only this event type (repeatable)"
    )
    _add_limit(p, "hits")
    p.add_argument(
        "--literal", action="store_true", help="search the words as typed, no query syntax"
    )
    p.add_argument(
        "--recent",
        action="store_true",
        help="newest matches first instead of best (fast even for very common words)",
    )
    return p


def add_export_import(commands: _Commands, shared: _Shared) -> None:
    """``export`` and ``import``."""
    p = command(commands, "export", cmd_export, [shared.db])
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--session", action="append", metavar="ID", help="this session (repeatable)")
    _add_filters(p)
    p.add_argument("--live-only", action="store_true", help="leave archived sessions out")
    p = command(commands, "import", cmd_import, shared.both())
    p.add_argument("file", metavar="FILE", help="the export file ('-' for stdin)")


def add_purge(commands: _Commands, shared: _Shared) -> None:
    """``purge --archived-before WHEN``."""
    p = command(commands, "purge", cmd_purge, shared.both())
    p.add_argument(
        "--archived-before",
        type=_when,
        required=True,
        metavar="WHEN",
        help="delete sessions archived before this time (see above)",
    )
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.add_argument(
        "--batch-size",
        type=_batch_size,
        default=2000,
        help=f"events per transaction, 1 to {MAX_BATCH_SIZE} (default 2000)",
    )
    p.add_argument("--vacuum", action="store_true", help="then give the space back (VACUUM)")


def add_index(commands: _Commands, shared: _Shared) -> None:
    """``index status``, ``index rebuild`` and ``index off``."""
    actions = command_group(
        commands,
        "index",
        "the full-text search index",
        "The full-text search index: show, rebuild, or turn off.",
    )
    command(actions, "status", cmd_index_status, shared.both())
    p = command(actions, "rebuild", cmd_index_rebuild, [shared.db])
    p.add_argument(
        "--field", action="append", metavar="PATH", help="a JSON path to index, e.g. $.content"
    )
    command(actions, "off", cmd_index_off, [shared.db])


def add_bench(commands: _Commands, shared: _Shared) -> None:
    """``bench …``: everything after it goes to the benchmark suite."""
    p = commands.add_parser(
        "bench",
        help=about(cmd_bench)[0],
        add_help=False,  # `convstore bench --help` is answered by cmd_bench
        prefix_chars="\x00",  # pass every option through to the suite
    )
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)


def add_server(commands: _Commands, shared: _Shared) -> None:
    """``server migrate``: the team server's deploy step (:mod:`convstore.cli_server`)."""
    from .cli_server import add_server_commands

    add_server_commands(commands)


def add_lifecycle(commands: _Commands, shared: _Shared) -> None:
    """``stats``, ``usage``, ``retention`` (:mod:`convstore.cli_lifecycle`)."""
    from .cli_lifecycle import add_commands

    add_commands(commands, shared.db, shared.json)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, with help for every command."""
    parser = _Parser(
        prog=PROG,
        description="Inspect, search, export, import and prune a convstore session database.",
        epilog="Run `convstore COMMAND --help` for a command's options. Exit status: 0 ok, "
        "1 error, 2 bad command line.",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help="database file (default: $XDG_DATA_HOME/convstore/sessions.db)",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    shared = _Shared()
    add_migrate(commands, shared)
    add_sessions(commands, shared)
    search_parser = add_search(commands, shared)
    add_export_import(commands, shared)
    add_purge(commands, shared)
    add_index(commands, shared)
    add_bench(commands, shared)
    add_server(commands, shared)
    add_lifecycle(commands, shared)
    parser.set_defaults(search_options=frozenset(search_parser._option_string_actions))
    return parser


# -- main ----------------------------------------------------------------------


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {safe_line(message)}\n")


def _dash_hint(argv: Sequence[str], options: frozenset[str]) -> str:
    """For ``search -x``: say that a term starting with '-' goes after ``--``."""
    if "search" not in argv:
        return ""
    after = list(argv)[list(argv).index("search") + 1 :]
    if "--" in after:
        return ""
    unknown = [a for a in after if a.startswith("-") and a.split("=")[0] not in options]
    if not unknown:
        return ""
    return (
        f"; to search for {unknown[0]!r}, put it after --: "
        f"convstore search -- {shlex.quote(unknown[0])}"
    )


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    """The parsed command line, or the exit status when there is nothing to run."""
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        options = parser.get_default("search_options")
        sys.stderr.write(safe_line(f"{exc}{_dash_hint(argv, options)}") + "\n")
        return 2
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    if getattr(args, "func", None) is None:
        where = f"{PROG} {args.command}" if args.command else PROG
        missing = "ACTION" if args.command else "COMMAND"
        sys.stderr.write(f"{where}: missing {missing} (see `{where} --help`)\n")
        return 2
    return args


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command; every failure becomes one line on stderr and exit status 1."""
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
    except RecursionError:
        _fail("the input is nested too deeply to process")
    except ImportError as exc:  # an optional extra the command needs
        psycopg = (exc.name or "").startswith("psycopg") and "pip install" not in str(exc)
        hint = " (pip install 'convstore[postgres]')" if psycopg else ""
        _fail(f"{exc}{hint}")
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as exc:  # never a traceback: the last line of defence
        _fail(f"unexpected {type(exc).__name__}: {exc} (a convstore bug: please report it)")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``convstore`` command; return its exit status (0 ok, 1 error, 2 usage)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:  # unencodable text is escaped, never a traceback
            reconfigure(errors="backslashreplace")
    args = _parse(build_parser(), sys.argv[1:] if argv is None else argv)
    if isinstance(args, int):
        return args
    return _run(args.func, args)

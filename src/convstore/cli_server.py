"""``convstore server ...``: the team server's deploy commands (SPEC 6.1).

Kept apart from :mod:`convstore.cli` so the PostgreSQL commands stay one
self-contained piece: :func:`add_server_commands` registers them on the main
parser. psycopg is imported only when a server command runs.

``convstore server migrate --conninfo CONNINFO`` is the deploy step. Run it as
the role that owns (or will own) the convstore tables, before starting
upgraded clients: it applies the pending PostgreSQL migrations under an
advisory lock (several at once are safe), creates the NOLOGIN role
``convstore_service`` when it may, and otherwise prints the ``CREATE ROLE``
statement for someone with CREATEROLE to run. Clients never migrate.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._cliutil import command, command_group
from .errors import StoreError

__all__ = ["add_server_commands", "add_server_target", "cmd_server_migrate", "open_server"]

#: Where ``--conninfo`` falls back to: keeps passwords off the command line.
CONNINFO_ENV = "CONVSTORE_PG_CONNINFO"


def _conninfo(given: str | None) -> str:
    conninfo = given or os.environ.get(CONNINFO_ENV)
    if not conninfo:
        raise StoreError(f"no server given: pass --conninfo CONNINFO or set ${CONNINFO_ENV}")
    return conninfo


def add_server_target(parser: argparse.ArgumentParser) -> None:
    """``--conninfo [CONNINFO]`` and ``--owner``: run a local command against the team server.

    ``--conninfo`` alone takes the connection string from ``$CONVSTORE_PG_CONNINFO``
    (keeps passwords off the command line); without ``--conninfo`` the
    command works on the local database as before.
    """
    parser.add_argument(
        "--conninfo",
        metavar="CONNINFO",
        nargs="?",
        const="",
        default=None,
        help=f"work on the PostgreSQL team server instead of --db (alone: ${CONNINFO_ENV})",
    )
    parser.add_argument(
        "--owner",
        metavar="NAME",
        default=None,
        help="with --conninfo: whose sessions (default: the login role; another owner "
        "needs membership in convstore_service)",
    )


def _from_postgres(module: str, name: str) -> Any:
    """``name`` from ``convstore.<module>``; without the postgres extra, a StoreError saying so.

    It also keeps psycopg's pool from printing its retry warnings above the
    command's one-line error: with no logging configured, Python prints a
    library's warnings to stderr (``logging.lastResort``), so a server that is
    down would show "error connecting in 'convstore:…'" paragraphs first. A
    discarding handler on the ``psycopg`` logger stops that.
    """
    import importlib
    import logging

    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    try:
        return getattr(importlib.import_module(f"convstore.{module}"), name)
    except ImportError:  # pragma: no cover - the extra is not installed
        raise StoreError(
            "the PostgreSQL extra is not installed: pip install 'convstore[postgres]'"
        ) from None


def open_server(args: argparse.Namespace) -> Any:
    """The :class:`~convstore.postgres.PostgresSessionService` ``--conninfo``/``--owner`` name."""
    conninfo = _conninfo(args.conninfo)
    service = _from_postgres("postgres", "PostgresSessionService")
    return service(conninfo, owner=args.owner, max_size=1)


def cmd_server_migrate(args: argparse.Namespace) -> int:
    """apply pending schema migrations to the server (the deploy step)

    Apply pending PostgreSQL migrations, as the role owning the schema, and
    create the NOLOGIN role convstore_service when allowed. Clients never migrate.
    """
    conninfo = _conninfo(args.conninfo)
    applied, hint = _from_postgres("postgres.migrations", "migrate_server")(conninfo)
    if applied:
        for mig in applied:
            print(f"applied {mig.name}")
    else:
        print("the schema is up to date; nothing to apply")
    if hint is not None:
        print(
            "this role may not create roles; to let a trusted backend act for other "
            f"owners, run as a role with CREATEROLE:\n  {hint}\n  "
            "GRANT convstore_service TO <backend_role>;"
        )
    return 0


def add_server_commands(commands: Any) -> None:
    """Register ``server migrate`` on the main parser's subcommands."""
    actions = command_group(
        commands,
        "server",
        "deploy the PostgreSQL team server",
        "The PostgreSQL team server's deploy commands.",
    )
    p = command(actions, "migrate", cmd_server_migrate)
    p.add_argument(
        "--conninfo",
        metavar="CONNINFO",
        default=None,
        help=f"libpq connection string or URI (default: ${CONNINFO_ENV})",
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `convstore server migrate --conninfo ...`")

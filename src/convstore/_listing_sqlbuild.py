"""The session listing's shape, shared by both SQL builders (build time only: imports pypika).

:func:`convstore.sqlite._sqlbuild._listing_statements` and
:func:`convstore.postgres._pgsqlbuild._listing_statements` differ only in
their base query (PostgreSQL adds the owner) and their parameter syntax;
the filter choice (:data:`convstore._common.LIST_FILTERS`), the archive
condition, the keyset order and the limit are written here once.
"""

from __future__ import annotations

from collections.abc import Callable

from pypika import Order, Parameter, Table
from pypika.queries import QueryBuilder


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

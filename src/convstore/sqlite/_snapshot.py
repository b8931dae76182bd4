"""One read snapshot on an APSW connection: the pattern every multi-read check shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import apsw

from . import _sql


@contextmanager
def read_snapshot(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """Every read inside sees one snapshot of the database; nothing is locked for writing.

    A deferred transaction of its own, committed on the way out (also after
    an error: it only read). Inside a caller's transaction the reads already
    share that one's snapshot, and nothing is begun or ended here.

    >>> conn = apsw.Connection(":memory:")
    >>> with read_snapshot(conn):
    ...     conn.in_transaction
    True
    >>> conn.in_transaction
    False
    """
    own = not conn.in_transaction
    if own:
        conn.execute(_sql.BEGIN_DEFERRED)
    try:
        yield conn
    finally:
        if own and conn.in_transaction:
            conn.execute(_sql.COMMIT)

"""Deterministic large datasets for the benchmarks, built fast and cached by size.

One *plan* (sessions, their directories, how many events each holds) is drawn
from a seeded RNG; one *event stream* is then simulated from it: sessions start
one after another, ``CONCURRENCY`` of them are active at any time and their
events interleave in time order, as they do when a user runs several
assistants at once. Ids are time-ordered (UUIDv7-style). The same stream is
loaded into every schema under test, so all systems see the same data:

* ``convstore`` — the project's own migrations (a ``SessionStore`` creates the
  file), loaded with raw ``executemany``;
* ``floor`` — the leanest schema that serves the same lookups, for the
  hand-written raw-APSW floor (:data:`FLOOR_SCHEMA`: no search index, events
  in a rowid table keyed by ``sid * 2**32 + seq``);
* ``reference`` — Atuin AI's original schema (TEXT primary keys, eight
  single-column indexes);
* ``peer`` — the OpenAI Agents SDK ``SQLiteSession`` schema (only when the SDK
  is importable; the SDK creates the tables itself).

Loading runs one transaction per ``BATCH`` rows with journaling and syncing
off, then switches the file to WAL. Secondary indexes are dropped before the
load and re-created afterwards from their own DDL (``index_after=True``, the
default: see ``benchmarks/RESULTS.md`` for the measurement), so the schema
that results is byte-for-byte the one the migrations create.

Special sessions every benchmark relies on:

* ``solo``: the only session in its directory (and git root), 200 events, the
  last session to start, so it is the freshest;
* ``crowded``: up to 1000 live sessions sharing one directory and git root;
* ``targets``: sessions of exactly ``TARGET_EVENTS`` (200) events, spread
  through the file, for ``load_events``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw

from convstore import _sql

from .ids import uuid7

GEN_VERSION = 2  # 2: convstore's events keyed by rid (migration 0006)
SEED = 20_240_601
#: "now" for every benchmark: the stream's last event is one second before it.
T_END = 1_750_000_000
SECONDS_PER_EVENT = 1.5
CONCURRENCY = 32
TARGET_EVENTS = 200
CROWDED_MAX = 1000
BATCH = 100_000
KINDS = ("convstore", "floor", "reference", "peer")

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO / "migrations"

SOLO_DIR = "/home/dev/src/solo"
CROWDED_DIR = "/home/dev/src/crowded"

#: Payload shapes of a streaming assistant; sizes are typical (60 B to 1 KB).
_PAYLOADS: tuple[tuple[str, str], ...] = (
    (
        "user_message",
        json.dumps({"content": "why does the build fail on CI but not locally? " * 2}),
    ),
    ("text", json.dumps({"content": "Let me look at the workflow file and the lockfile. " * 4})),
    ("text", json.dumps({"content": "The difference is the Python version."})),
    (
        "tool_call",
        json.dumps(
            {"name": "read_file", "arguments": {"path": ".github/workflows/ci.yml"}, "id": "c1"}
        ),
    ),
    (
        "tool_result",
        json.dumps({"id": "c1", "output": "jobs:\n  test:\n    runs-on: ubuntu-latest\n" * 12}),
    ),
    ("text", json.dumps({"content": "ok"})),
)


def default_sessions(events: int) -> int:
    """Sessions for a table of ``events`` events: 50 events each on average (10M -> 200k),
    but enough at small sizes that the crowded directory can hold 1000 sessions."""
    return max(events // 50, min(CROWDED_MAX + 100, events // 4))


def migrations_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(MIGRATIONS.glob("*.sql")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


@dataclass
class Plan:
    """Everything about a dataset except its event rows (which the stream regenerates)."""

    events: int
    sessions: int
    seed: int = SEED
    t_end: int = T_END
    session_ids: list[str] = field(default_factory=list, repr=False)
    counts: list[int] = field(default_factory=list, repr=False)
    directories: list[str] = field(default_factory=list, repr=False)
    git_roots: list[str | None] = field(default_factory=list, repr=False)
    archived: list[bool] = field(default_factory=list, repr=False)
    targets: list[int] = field(default_factory=list)
    crowded: list[int] = field(default_factory=list, repr=False)
    solo: int = -1

    @property
    def key(self) -> str:
        return f"e{self.events}-s{self.sessions}-g{GEN_VERSION}-r{self.seed}"

    def manifest(self) -> dict[str, Any]:
        """What the benchmarks need to know about the data (JSON-able)."""
        return {
            "events": self.events,
            "sessions": self.sessions,
            "seed": self.seed,
            "gen_version": GEN_VERSION,
            "now": self.t_end,
            "solo_dir": SOLO_DIR,
            "crowded_dir": CROWDED_DIR,
            "crowded_count": len(self.crowded),
            "solo_session": self.session_ids[self.solo],
            "target_sessions": [self.session_ids[i] for i in self.targets],
            "target_events": TARGET_EVENTS,
        }


def make_plan(events: int, sessions: int | None = None, seed: int = SEED) -> Plan:
    """Draw the dataset's shape. Raises ``ValueError`` when ``events`` cannot fill it."""
    n_sessions = default_sessions(events) if sessions is None else sessions
    if n_sessions < 4:
        raise ValueError("need at least 4 sessions")
    rng = random.Random(seed)
    n_targets = max(1, min(50, events // 2000))
    if n_targets * TARGET_EVENTS + (n_sessions - n_targets) > events:
        raise ValueError(
            f"{events} events cannot fill {n_sessions} sessions with {n_targets} of "
            f"{TARGET_EVENTS} events each; use more events or fewer sessions"
        )
    solo = n_sessions - 1
    crowded_n = max(1, min(CROWDED_MAX, n_sessions - 2 - n_targets))
    # Evenly spread through time, the newest starting just before the solo session.
    crowded = sorted(
        {(n_sessions - 2) - (k * (n_sessions - 2)) // crowded_n for k in range(crowded_n)}
    )
    special = set(crowded) | {solo}
    # Targets: the solo session, and others spread through the file.
    targets = [solo]
    step = max(1, n_sessions // n_targets)
    i = step // 2
    while len(targets) < n_targets and i < n_sessions:
        if i in special:
            i += 1
            continue
        targets.append(i)
        i += step
    target_set = set(targets)

    rest = [i for i in range(n_sessions) if i not in target_set]
    remaining = events - TARGET_EVENTS * len(targets)
    base, extra = divmod(remaining, len(rest))
    counts = [0] * n_sessions
    for t in targets:
        counts[t] = TARGET_EVENTS
    for k, i in enumerate(rest):
        counts[i] = base + (1 if k < extra else 0)
    # Spread the sizes (1 .. ~2x mean) without changing the total.
    for i in rest:
        if counts[i] > 1:
            d = rng.randrange(counts[i])
            j = rest[rng.randrange(len(rest))]
            counts[i] -= d
            counts[j] += d

    projects = max(1, n_sessions // 4)
    directories: list[str] = []
    git_roots: list[str | None] = []
    archived: list[bool] = []
    for i in range(n_sessions):
        if i == solo:
            directories.append(SOLO_DIR)
            git_roots.append(SOLO_DIR)
            archived.append(False)
        elif i in special:
            directories.append(CROWDED_DIR)
            git_roots.append(CROWDED_DIR)
            archived.append(False)
        else:
            p = rng.randrange(projects)
            root = f"/home/dev/src/p{p:07d}"
            in_git = p % 10 < 7
            sub = rng.randrange(4)
            directories.append(root if sub == 0 else f"{root}/pkg{sub}")
            git_roots.append(root if in_git else None)
            archived.append(i not in target_set and rng.random() < 0.3)
    t0_ms = (T_END - int(events * SECONDS_PER_EVENT)) * 1000
    session_ids = [
        uuid7(t0_ms + (i * int(events * SECONDS_PER_EVENT * 1000)) // n_sessions, rng)
        for i in range(n_sessions)
    ]
    return Plan(
        events=events,
        sessions=n_sessions,
        seed=seed,
        session_ids=session_ids,
        counts=counts,
        directories=directories,
        git_roots=git_roots,
        archived=archived,
        targets=targets,
        crowded=crowded,
        solo=solo,
    )


# (session index, seq, id, parent_id, invocation_id, event_type, event_data, created_at)
EventRow = tuple[int, int, str, str | None, str, str, str, int]


@dataclass
class SessionFinal:
    """Per-session state after the stream: head, first/last times."""

    head: list[str | None]
    created: list[int]
    updated: list[int]


def stream(plan: Plan, batch: int = BATCH) -> Iterator[list[EventRow]]:
    """The plan's events in time order, ``batch`` rows at a time (deterministic).

    Hot loop: ids are cut from one block of random hex per batch (formatting a
    UUID per event with ``getrandbits`` costs twice as much).
    """
    rng = random.Random(plan.seed + 1)
    rnd = rng.random
    n = plan.events
    span_ms = int(n * SECONDS_PER_EVENT * 1000)
    t0_ms = plan.t_end * 1000 - span_ms - 1000
    payloads = _PAYLOADS
    n_payloads = len(payloads)
    remaining = list(plan.counts)
    last: list[str | None] = [None] * plan.sessions
    seqs = [0] * plan.sessions
    invocation: list[str] = [""] * plan.sessions
    pool: list[int] = []
    next_session = 0
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        # 18 hex digits of randomness per id, two ids (event + maybe invocation) per row.
        hexes = rng.randbytes(18 * (stop - start)).hex()
        h = 0
        out: list[EventRow] = []
        append = out.append
        for k in range(start, stop):
            while len(pool) < CONCURRENCY and next_session < plan.sessions:
                pool.append(next_session)
                next_session += 1
            slot = int(rnd() * len(pool))
            s = pool[slot]
            ms = t0_ms + (k * span_ms) // n
            p = f"{ms:012x}"
            seq = seqs[s] + 1
            seqs[s] = seq
            if seq == 1 or rnd() < 0.08:
                x = hexes[h : h + 18]
                invocation[s] = f"{p[:8]}-{p[8:]}-7{x[:3]}-9{x[3:6]}-{x[6:]}"
            etype, data = payloads[int(rnd() * n_payloads)]
            h += 18
            x = hexes[h : h + 18]
            eid = f"{p[:8]}-{p[8:]}-7{x[:3]}-8{x[3:6]}-{x[6:]}"
            h += 18
            append((s, seq, eid, last[s], invocation[s], etype, data, ms // 1000))
            last[s] = eid
            remaining[s] -= 1
            if remaining[s] == 0:
                pool[slot] = pool[-1]
                pool.pop()
        yield out


# -- loading ------------------------------------------------------------------

#: The floor: the leanest schema serving the library's lookups -- session by id,
#: resume by directory or git root (live, newest), a session's events in append
#: order, an event by id (duplicates, parents) -- and nothing else: no search
#: index, no listing index. Events sit in a rowid table whose key is
#: ``sid * 2**32 + seq``: clustered by session like convstore's, with large
#: payloads in overflow pages as SQLite expects of a rowid table.
FLOOR_SCHEMA = """
CREATE TABLE sessions (
    sid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    head_id TEXT,
    server_session_id TEXT,
    directory TEXT,
    git_root TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    archived_at INTEGER,
    event_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_live_directory ON sessions (directory, updated_at)
    WHERE archived_at IS NULL;
CREATE INDEX sessions_live_git_root ON sessions (git_root, updated_at)
    WHERE archived_at IS NULL AND git_root IS NOT NULL;
CREATE TABLE events (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    parent_id TEXT,
    invocation_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (id);
"""

REFERENCE_SCHEMA = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    head_id TEXT,
    server_session_id TEXT,
    directory TEXT,
    git_root TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    archived_at INTEGER
);
CREATE INDEX idx_sessions_directory ON sessions(directory);
CREATE INDEX idx_sessions_git_root ON sessions(git_root);
CREATE INDEX idx_sessions_updated_at ON sessions(updated_at);
CREATE INDEX idx_sessions_created_at ON sessions(created_at);
CREATE TABLE session_events (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    parent_id TEXT,
    invocation_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_session_events_session_id ON session_events(session_id);
CREATE INDEX idx_session_events_parent_id ON session_events(parent_id);
CREATE INDEX idx_session_events_invocation_id ON session_events(invocation_id);
CREATE INDEX idx_session_events_created_at ON session_events(created_at);
"""


def peer_available() -> bool:
    try:
        import agents  # noqa: F401
    except Exception:
        return False
    return True


def _create_convstore(path: Path) -> None:
    sys.path.insert(0, str(REPO / "src"))
    from convstore import SessionStore

    SessionStore(path).close()


def _create_reference(path: Path) -> None:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.execute(REFERENCE_SCHEMA)
    conn.close()


def _create_floor(path: Path) -> None:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.execute(FLOOR_SCHEMA)
    conn.close()


def _create_peer(path: Path) -> None:
    from agents import SQLiteSession

    SQLiteSession("schema-only", str(path)).close()


_CREATE = {
    "convstore": _create_convstore,
    "floor": _create_floor,
    "reference": _create_reference,
    "peer": _create_peer,
}

_EVENT_INSERT = {
    "convstore": "INSERT INTO session_events (rid, id, parent_id, invocation_id, event_type, "
    "event_data, created_at) VALUES (?,?,?,?,?,?,?)",
    "floor": "INSERT INTO events (key, id, parent_id, invocation_id, event_type, event_data, "
    "created_at) VALUES (?,?,?,?,?,?,?)",
    "reference": "INSERT INTO session_events (id, session_id, parent_id, invocation_id, "
    "event_type, event_data, created_at) VALUES (?,?,?,?,?,?,?)",
    "peer": "INSERT INTO agent_messages (session_id, message_data, created_at) VALUES (?,?,?)",
}
#: The events table of each kind: its secondary indexes are the ones re-created after the load.
_EVENT_TABLE = {
    "convstore": "session_events",
    "floor": "events",
    "reference": "session_events",
    "peer": "agent_messages",
}


def _rows_for(kind: str, ids: list[str]) -> Callable[[list[EventRow]], list[tuple[Any, ...]]]:
    if kind in ("convstore", "floor"):  # both keyed by sid * 2**32 + seq (migration 0006)
        return lambda rows: [((r[0] + 1) * 4294967296 + r[1], *r[2:]) for r in rows]
    if kind == "reference":
        return lambda rows: [(r[2], ids[r[0]], r[3], r[4], r[5], r[6], r[7]) for r in rows]

    def peer_rows(rows: list[EventRow]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        last_t, last_s = -1, ""
        for r in rows:
            if r[7] != last_t:  # times only grow: format each second once
                last_t, last_s = r[7], time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r[7]))
            out.append((ids[r[0]], r[6], last_s))
        return out

    return peer_rows


def _sessions_for(kind: str, plan: Plan, final: SessionFinal) -> tuple[str, list[tuple[Any, ...]]]:
    p = plan
    if kind in ("convstore", "floor"):
        sql = (
            "INSERT INTO sessions (sid, id, head_id, server_session_id, directory, git_root, "
            "created_at, updated_at, archived_at, event_count) VALUES (?,?,?,?,?,?,?,?,?,?)"
        )
        rows: list[tuple[Any, ...]] = [
            (
                i + 1,
                p.session_ids[i],
                final.head[i],
                None,
                p.directories[i],
                p.git_roots[i],
                final.created[i],
                final.updated[i],
                final.updated[i] + 60 if p.archived[i] else None,
                p.counts[i],
            )
            for i in range(p.sessions)
        ]
        return sql, rows
    if kind == "reference":
        sql = (
            "INSERT INTO sessions (id, head_id, server_session_id, directory, git_root, "
            "created_at, updated_at, archived_at) VALUES (?,?,?,?,?,?,?,?)"
        )
        rows = [
            (
                p.session_ids[i],
                final.head[i],
                None,
                p.directories[i],
                p.git_roots[i],
                final.created[i],
                final.updated[i],
                final.updated[i] + 60 if p.archived[i] else None,
            )
            for i in range(p.sessions)
        ]
        return sql, rows

    def ts(t: int) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))

    sql = "INSERT INTO agent_sessions (session_id, created_at, updated_at) VALUES (?,?,?)"
    rows = [
        (p.session_ids[i], ts(final.created[i]), ts(final.updated[i])) for i in range(p.sessions)
    ]
    return sql, rows


class Progress:
    """A plain stderr progress bar (no dependency).

    Drawn only when stderr is a terminal (and ``enabled``): piped or logged
    output gets no carriage-return noise.
    """

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label = total, label
        self.enabled = enabled and sys.stderr.isatty()
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.25 or self.done >= self.total):
            self._last = now
            frac = self.done / self.total if self.total else 1.0
            elapsed = now - self.start
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            bar = "#" * int(frac * 30)
            sys.stderr.write(
                f"\r{self.label} [{bar:<30}] {frac:6.1%} {self.done:,}/{self.total:,} "
                f"{rate / 1000:,.0f}k rows/s eta {eta:4.0f}s "
            )
            sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def build(
    plan: Plan,
    paths: dict[str, Path],
    *,
    index_after: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Build one database per ``paths`` entry from one pass over the event stream.

    Each file is written under a temporary name and renamed when complete, so
    an interrupted build is never mistaken for a cached one. Returns timings.
    """
    kinds = list(paths)
    tmp = {k: paths[k].with_name(paths[k].name + ".building") for k in kinds}
    conns: dict[str, apsw.Connection] = {}
    deferred: dict[str, list[str]] = {}
    timings: dict[str, Any] = {"index_after": index_after, "events": plan.events}
    for k in kinds:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(str(tmp[k]) + suffix)
        _CREATE[k](tmp[k])
        conn = apsw.Connection(str(tmp[k]))
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA cache_size=-262144")  # 256 MiB per file
        conn.execute("PRAGMA temp_store=MEMORY")
        deferred[k] = []
        if index_after:
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? "
                "AND sql IS NOT NULL",
                (_EVENT_TABLE[k],),
            ).fetchall():
                deferred[k].append(sql)
                conn.execute(f'DROP INDEX "{name}"')
        conns[k] = conn
    load_time = dict.fromkeys(kinds, 0.0)
    gen_time = 0.0
    final = SessionFinal(
        head=[None] * plan.sessions, created=[0] * plan.sessions, updated=[0] * plan.sessions
    )
    bar = Progress(plan.events, f"building {plan.events:,} events x {len(kinds)}", progress)
    shape = {k: _rows_for(k, plan.session_ids) for k in kinds}
    t = time.perf_counter()
    for rows in stream(plan):
        for r in rows:
            s = r[0]
            if r[1] == 1:
                final.created[s] = r[7]
            final.head[s] = r[2]
            final.updated[s] = r[7]
        gen_time += time.perf_counter() - t
        for k in kinds:
            t = time.perf_counter()
            conn = conns[k]
            shaped = shape[k](rows)
            with conn:
                conn.executemany(_EVENT_INSERT[k], shaped)
            load_time[k] += time.perf_counter() - t
        bar.update(len(rows))
        t = time.perf_counter()
    bar.finish()
    timings["generate_s"] = round(gen_time, 2)
    for k in kinds:
        conn = conns[k]
        t = time.perf_counter()
        sql, srows = _sessions_for(k, plan, final)
        with conn:
            conn.executemany(sql, srows)
        sessions_s = time.perf_counter() - t
        t = time.perf_counter()
        for ddl in deferred[k]:
            if progress:
                sys.stderr.write(f"{k}: {ddl.split(' ON ')[0]} ...\n")
            with conn:
                conn.execute(ddl)
        index_s = time.perf_counter() - t
        if k == "convstore":
            # Appends index their own text; a bulk load does not, so the search
            # index is built once here, as migration 0004 does for old files.
            t = time.perf_counter()
            if progress:
                sys.stderr.write("convstore: building the search index ...\n")
            with conn:
                conn.execute(_sql.SEARCH_REBUILD)
                conn.execute(_sql.SEARCH_PENDING_CLEAR)  # the bulk load's watermarks
            timings["convstore_search_index_s"] = round(time.perf_counter() - t, 2)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(str(tmp[k]) + suffix)
        os.replace(tmp[k], paths[k])
        timings[k] = {
            "load_events_s": round(load_time[k], 2),
            "load_sessions_s": round(sessions_s, 2),
            "create_indexes_s": round(index_s, 2),
            "bytes": paths[k].stat().st_size,
        }
    return timings


@dataclass
class Dataset:
    """Built databases for one plan, plus the manifest the benchmarks read."""

    plan: Plan
    directory: Path
    paths: dict[str, Path]
    manifest: dict[str, Any]
    build: dict[str, Any]


def dataset_paths(directory: Path, kinds: list[str]) -> dict[str, Path]:
    digest = migrations_digest()
    names = {
        "convstore": f"convstore-{digest}.db",
        "floor": f"floor-{hashlib.sha256(FLOOR_SCHEMA.encode()).hexdigest()[:8]}.db",
        "reference": "reference.db",
        "peer": "peer.db",
    }
    return {k: directory / names[k] for k in kinds}


def ensure_dataset(
    events: int,
    sessions: int | None,
    cache_dir: Path,
    *,
    kinds: list[str] | None = None,
    index_after: bool = True,
    progress: bool = True,
    db: Path | None = None,
) -> Dataset:
    """The dataset of this size under ``cache_dir`` (built now if missing or incomplete).

    ``db`` names the convstore file explicitly; the baselines go next to it.
    """
    wanted = list(kinds or [k for k in KINDS if k != "peer" or peer_available()])
    plan = make_plan(events, sessions)
    directory = cache_dir / plan.key if db is None else db.parent
    directory.mkdir(parents=True, exist_ok=True)
    paths = dataset_paths(directory, wanted)
    if db is not None:
        paths["convstore"] = db
        for k in wanted:
            if k != "convstore":
                paths[k] = db.with_name(f"{db.name}.{k}.db")
    manifest_path = directory / (f"{plan.key}.json" if db is None else f"{db.name}.json")
    info: dict[str, Any] = {}
    if manifest_path.exists():
        info = json.loads(manifest_path.read_text())
        if info.get("manifest", {}).get("events") != events or info.get("key") != plan.key:
            info = {}
    missing = {k: p for k, p in paths.items() if not p.exists() or k not in info.get("built", {})}
    if missing:
        t = time.perf_counter()
        timings = build(plan, missing, index_after=index_after, progress=progress)
        timings["total_s"] = round(time.perf_counter() - t, 2)
        info.setdefault("builds", []).append(timings)
        built = info.setdefault("built", {})
        for k in missing:
            built[k] = str(paths[k].name)
        info["key"] = plan.key
        info["manifest"] = plan.manifest()
        manifest_path.write_text(json.dumps(info, indent=1))
    return Dataset(plan, directory, paths, plan.manifest(), info)


def remove_dataset(ds: Dataset) -> None:
    shutil.rmtree(ds.directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.dataset``: build (or reuse) one dataset and print its timings."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmarks.dataset", description=main.__doc__)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--cache-dir", type=Path, default=REPO / "benchmarks" / ".cache")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: " + ",".join(KINDS))
    ap.add_argument(
        "--index-before",
        action="store_true",
        help="keep secondary indexes during the load (to compare with the default)",
    )
    args = ap.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k != "peer" or peer_available()]
    t = time.perf_counter()
    ds = ensure_dataset(
        args.events, args.sessions, args.cache_dir, kinds=kinds, index_after=not args.index_before
    )
    print(json.dumps(ds.build.get("builds", []), indent=1))
    print(f"ready in {time.perf_counter() - t:.1f}s: {ds.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

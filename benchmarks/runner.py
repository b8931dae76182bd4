"""Run every operation on every system for one or more table sizes.

Timing: ``time.perf_counter_ns`` around each call (untimed preparation before
it), so p50/p95/p99 come from per-call samples. Rounds are interleaved: each
round runs every operation on every system (in a rotating order) for
``count / repeat`` calls, so a noisy minute on the machine hits all systems
alike instead of one.

Appends and the reads timed against the floor (:data:`PAIRED_OPS`) are
measured in pairs: each ratio the targets name -- convstore / floor,
convstore / reference, peer / convstore -- comes from its own pair of systems
interleaved call by call in the same round (:func:`measure_pairs`).
Interleaving all four systems together puts ~1 ms of the other systems' work
between two of our calls (3-5 ms: the reference's sort of a crowded
directory), which evicts the caches of whichever code path is longer; the
pairs compare each system with ours alone. The all-systems interleaving (the
method before) runs in the same
round too, and its ratios are reported beside the pairs' (keys ``name~all``).
"""

from __future__ import annotations

import gc
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import coldstart, dataset, systems
from .ids import IdClock

#: (name, description, calls per run at full scale). Counts are totals over all rounds.
OPERATIONS: list[tuple[str, str, int]] = [
    # Appends are cheap and their p99 is the rare slow call (a checkpoint, a stall):
    # thousands per round, so a 1% tail holds tens of samples and does not flip.
    ("append", "append_event of a ~200 B event, one transaction", 15000),
    ("append_1k", "the same with a 1 KB event", 7500),
    ("append_8k", "the same with an 8 KB event", 7500),
    ("append_batch100", "append_events, 100 events in one transaction", 300),
    ("ingest1000", "bulk ingest: 1000 events in one transaction, search index included", 60),
    ("import1000", "import_jsonl of a 1000-event session, search index included", 60),
    ("get_session", "get_session by id", 5000),
    ("resume_1", "find_resumable_session, 1 session in the directory", 5000),
    ("resume_1000", "find_resumable_session, 1000 sessions in the directory", 5000),
    ("load_warm", "load_events of a 200-event session, warm connection", 1000),
    ("load_cold", "load_events of a 200-event session, freshly opened store", 200),
    (
        "load_uncached",
        "load_cold with the file evicted from the OS page cache (reads hit the disk)",
        30,
    ),
    ("open", "open an up-to-date database (SessionStore(path); raw connect for the floor)", 300),
    ("search_recent", "search one word, newest 20 matches with snippets (FTS5)", 1000),
    ("cold_start", "new process: import, open, resume, load 200 events (wall)", 20),
    ("cold_start_inproc", "the same, timed inside the process (no interpreter start-up)", 0),
]
OP_NAMES = [o[0] for o in OPERATIONS]
#: Every system ``--systems`` accepts (``systems.register`` adds to it).
SYSTEM_NAMES = systems.SYSTEMS.keys()
#: The peer is ~10x slower per call: fewer calls keep the run short (its target is
#: on p50, which a few hundred calls per round settle).
PEER_SHARE = {"append": 0.2, "append_1k": 0.2, "append_8k": 0.2, "cold_start": 0.25}
#: Operations whose ratios come from pairs of systems (see the module docstring).
PAIRED_OPS = (
    "append",
    "append_1k",
    "append_8k",
    "append_batch100",
    "get_session",
    "resume_1",
    "resume_1000",
    "load_warm",
    "load_cold",
)
#: Suffix of the samples of the all-systems interleaving of a paired operation.
ALL = "~all"


def pair_key(system: str, partner: str) -> str:
    """The stats key of ``system``'s samples in its pair with ``partner``.

    The primary keys (``convstore``, ``floor``, ``reference``, ``peer``) hold
    convstore's samples from its pair with the floor, and each other system's
    from its pair with convstore; convstore's samples in its other pairs are
    ``convstore~reference`` and ``convstore~peer``.
    """
    if system == "convstore" and partner != "floor":
        return f"convstore~{partner}"
    return system


def percentile(sorted_samples: list[float], q: float) -> float:
    """Nearest-rank percentile of already-sorted samples."""
    if not sorted_samples:
        return math.nan
    k = max(0, min(len(sorted_samples) - 1, math.ceil(q * len(sorted_samples)) - 1))
    return sorted_samples[k]


def summarize(samples_ns: list[float], rounds: list[list[float]] | None = None) -> dict[str, Any]:
    """p50/p95/p99 over every sample, and p50/p99 of each round (for the spread)."""
    s = sorted(samples_ns)
    us = 1e-3
    per_round = [sorted(r) for r in (rounds or []) if r]
    return {
        "round_p50_us": [percentile(r, 0.50) * us for r in per_round],
        "round_p99_us": [percentile(r, 0.99) * us for r in per_round],
        "n": len(s),
        "p50_us": percentile(s, 0.50) * us,
        "p95_us": percentile(s, 0.95) * us,
        "p99_us": percentile(s, 0.99) * us,
        "mean_us": (sum(s) / len(s)) * us if s else math.nan,
        "min_us": s[0] * us if s else math.nan,
        "max_us": s[-1] * us if s else math.nan,
    }


def measure(op: systems.Op, n: int, warmup: int) -> list[float]:
    prepare, call, finish = op.prepare, op.call, op.finish
    for _ in range(warmup):
        a = prepare()
        call(a)
        if finish is not None:
            finish(a)
    clock = time.perf_counter_ns
    out: list[float] = []
    for _ in range(n):
        a = prepare()
        t0 = clock()
        call(a)
        t1 = clock()
        if finish is not None:
            finish(a)
        out.append(t1 - t0)
    return out


def uncached(op: systems.Op | None, path: Path) -> systems.Op | None:
    """``op`` with ``path`` (and its WAL) evicted from the OS page cache before each call."""
    if op is None:
        return None
    prepare = op.prepare

    def evicting() -> Any:
        prepared = prepare()
        evict_from_os_cache(path)
        return prepared

    return systems.Op(evicting, op.call, op.finish)


def evict_from_os_cache(path: Path) -> None:
    """Drop this file's pages from the OS page cache (no root needed, nothing else touched)."""
    for suffix in ("", "-wal"):
        try:
            fd = os.open(f"{path}{suffix}", os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def measure_interleaved(
    ops: dict[str, systems.Op], counts: dict[str, int], warmup: int
) -> dict[str, list[float]]:
    """Time every system's calls of one operation alternately, call by call.

    System A's call i, then B's call i, ... in an order shuffled anew for each
    i (seeded: the same orders every run): a noisy moment on the machine hits
    every system alike, so per-round ratios compare like with like. Shuffled,
    not rotated: rotating a fixed list by one puts every system always right
    after the same other one (convstore after the peer, whose 2-5 ms asyncio
    calls leave the CPU caches cold; the floor after convstore), which cost
    convstore 5-7 % of load_warm against the floor (1.23-1.29 rotated,
    1.16-1.19 shuffled, same code, same minute).
    """
    for op in ops.values():
        for _ in range(warmup):
            a = op.prepare()
            op.call(a)
            if op.finish is not None:
                op.finish(a)
    clock = time.perf_counter_ns
    out: dict[str, list[float]] = {name: [] for name in ops}
    names = list(ops)
    shuffle = random.Random(len(names)).shuffle
    for i in range(max(counts.values(), default=0)):
        order = names.copy()
        shuffle(order)
        for name in order:
            if i >= counts[name]:
                continue
            op = ops[name]
            a = op.prepare()
            t0 = clock()
            op.call(a)
            t1 = clock()
            if op.finish is not None:
                op.finish(a)
            out[name].append(t1 - t0)
    return out


def measure_pairs(
    ops: dict[str, systems.Op],
    counts: dict[str, int],
    owners: dict[str, systems.System],
    *,
    rotate: int = 0,
    warmup: int = 5,
) -> dict[str, list[float]]:
    """One round of a paired operation: convstore with each other system, then all together.

    Each pair alternates call by call, both systems making the same number of
    calls (the peer's share for the peer's pair); then every system runs
    interleaved as in :func:`measure_interleaved` (keys ``name~all``). Every
    file is checkpointed and the garbage collected before each group, and the
    groups' order rotates with ``rotate`` (the round), so no group always
    follows the same one. Returns samples by stats key (:func:`pair_key`).
    """
    partners = [name for name in ops if name != "convstore"]
    groups: list[tuple[str, list[str]]] = [(p, ["convstore", p]) for p in partners]
    groups.append(("all", list(ops)))
    k = rotate % len(groups)
    groups = groups[k:] + groups[:k]
    out: dict[str, list[float]] = {}
    for label, names in groups:
        for name in names:
            owners[name].settle()
        gc.collect()
        if label == "all":
            got = measure_interleaved({n: ops[n] for n in names}, counts, warmup)
            out.update({f"{name}{ALL}": values for name, values in got.items()})
            continue
        n = min(counts[label], counts["convstore"])  # strictly alternating
        pair = {name: ops[name] for name in names}
        got = measure_interleaved(pair, dict.fromkeys(names, n), min(n, warmup))
        out[pair_key("convstore", label)] = got["convstore"]
        out[label] = got[label]
    return out


def op_of(system: systems.System, name: str) -> systems.Op | None:
    getters: dict[str, Callable[[], systems.Op | None]] = {
        "append": lambda: system.op_append(systems.PAYLOADS["append"]),
        "append_1k": lambda: system.op_append(systems.PAYLOADS["append_1k"]),
        "append_8k": lambda: system.op_append(systems.PAYLOADS["append_8k"]),
        "ingest1000": system.op_ingest,
        "import1000": system.op_import,
        "open": system.op_open,
        "search_recent": system.op_search_recent,
        "append_batch100": system.op_append_batch,
        "get_session": system.op_get_session,
        "resume_1": lambda: system.op_resume(False),
        "resume_1000": lambda: system.op_resume(True),
        "load_warm": system.op_load_warm,
        "load_cold": system.op_load_cold,
        "load_uncached": lambda: uncached(system.op_load_cold(), system.path),
    }
    return getters[name]()


@dataclass
class SizeResult:
    events: int
    sessions: int
    crowded: int
    build: dict[str, Any]
    stats: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # op -> system


def run_size(
    ds: dataset.Dataset,
    *,
    repeat: int,
    scale: float,
    systems_wanted: list[str],
    log: Callable[[str], None],
    ops: list[str] | None = None,
) -> SizeResult:
    """Every operation (or those in ``ops``) on every system for one dataset."""
    wanted_ops = set(OP_NAMES if ops is None else ops)
    manifest = ds.manifest
    systems.remove_leftover_scratch(ds.paths)
    active: dict[str, systems.System] = {}
    ids = IdClock(manifest["now"] * 1000 + 10_000)
    for name in systems_wanted:
        kind = systems.FILE_OF[name]
        if kind not in ds.paths:
            continue
        targets = systems.Targets(manifest, systems.all_session_ids(ds.paths[kind], kind))
        active[name] = systems.SYSTEMS[name](ds.paths[kind], targets, ids)
    samples: dict[str, dict[str, list[float]]] = {op: {} for op in OP_NAMES}
    rounds: dict[str, dict[str, list[list[float]]]] = {op: {} for op in OP_NAMES}
    try:
        order = list(active)
        for r in range(repeat):
            log(f"  round {r + 1}/{repeat}")
            for system in active.values():  # untimed: session tables in the OS cache, alike
                system.warm()
                if "load_warm" in wanted_ops:  # and the sessions load_warm reads
                    system.warm_loads()
            for op_name, _desc, count in OPERATIONS:
                if op_name.startswith("cold_start") or op_name == "load_uncached":
                    continue
                if op_name not in wanted_ops:
                    continue
                ops: dict[str, systems.Op] = {}
                counts: dict[str, int] = {}
                for name in order:
                    op = op_of(active[name], op_name)
                    if op is None:
                        continue
                    share = PEER_SHARE.get(op_name, 1.0) if name == "peer" else 1.0
                    ops[name] = op
                    counts[name] = max(1, round(count * scale * share / repeat))
                if not ops:
                    continue
                if op_name in PAIRED_OPS and "convstore" in ops and len(ops) > 1:
                    got = measure_pairs(
                        ops, counts, {n: active[n] for n in ops}, rotate=r, warmup=5
                    )
                else:
                    for name in ops:  # every file checkpointed: each operation starts alike
                        active[name].settle()
                    gc.collect()
                    warm = 60 if op_name == "load_warm" else 5
                    got = measure_interleaved(ops, counts, warmup=min(min(counts.values()), warm))
                for name, values in got.items():
                    samples[op_name].setdefault(name, []).extend(values)
                    rounds[op_name].setdefault(name, []).append(values)
            # cold start: whole processes, the same rounds
            if "cold_start" not in wanted_ops:
                order = order[1:] + order[:1]
                continue
            scripts = coldstart.scripts({k: p for k, p in ds.paths.items()}, manifest)
            env = coldstart.child_env()
            count = dict((o[0], o[2]) for o in OPERATIONS)["cold_start"]
            for name in order:
                if name not in scripts:
                    continue
                share = PEER_SHARE.get("cold_start", 1.0) if name == "peer" else 1.0
                n = max(1, round(count * scale * share / repeat))
                coldstart.run_once(scripts[name], env)  # warm the OS cache like the others
                walls, inprocs = [], []
                for _ in range(n):
                    wall, inproc = coldstart.run_once(scripts[name], env)
                    walls.append(wall * 1e9)
                    inprocs.append(inproc * 1e9)
                for op_name, values in (("cold_start", walls), ("cold_start_inproc", inprocs)):
                    samples[op_name].setdefault(name, []).extend(values)
                    rounds[op_name].setdefault(name, []).append(values)
            order = order[1:] + order[:1]
        # Last, so the evictions cannot slow any other operation: one call per system
        # in turn, the file evicted from the OS page cache before each.
        count = dict((o[0], o[2]) for o in OPERATIONS)["load_uncached"]
        evicting = {name: op_of(active[name], "load_uncached") for name in order}
        if "load_uncached" in wanted_ops:
            log("  load_uncached")
            for _ in range(max(1, round(count * scale))):
                for name, op in evicting.items():
                    if op is not None:
                        samples["load_uncached"].setdefault(name, []).extend(measure(op, 1, 0))
    finally:
        for s in active.values():
            s.close()
    result = SizeResult(
        events=manifest["events"],
        sessions=manifest["sessions"],
        crowded=manifest["crowded_count"],
        build=ds.build,
    )
    for op_name in OP_NAMES:
        result.stats[op_name] = {
            name: summarize(v, rounds[op_name].get(name))
            for name, v in samples[op_name].items()
            if v
        }
    return result


def sanity_check(ds: dataset.Dataset) -> dict[str, Any]:
    """The data is what the operations assume (resume finds the right session, loads hold 200)."""
    from convstore import SessionStore

    m = ds.manifest
    now = m["now"]
    with SessionStore(ds.paths["convstore"], clock=lambda: now) as store:
        solo = store.find_resumable_session(m["solo_dir"], m["solo_dir"], systems.MAX_AGE_SECS)
        crowded = store.find_resumable_session(
            m["crowded_dir"], m["crowded_dir"], systems.MAX_AGE_SECS
        )
        n = len(store.load_events(m["target_sessions"][0]))
    problems = []
    if solo is None or solo.id != m["solo_session"]:
        problems.append("resume_1 does not find the solo session")
    if crowded is None:
        problems.append("resume_1000 finds no session within the window")
    if n != m["target_events"]:
        problems.append(f"target session holds {n} events, not {m['target_events']}")
    return {"problems": problems}


def cache_path(arg: Path | None) -> Path:
    return arg if arg is not None else Path(__file__).resolve().parent / ".cache"

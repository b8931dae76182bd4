"""Markdown table, target check, JSON and PNG for a benchmark run."""

from __future__ import annotations

import json
import math
import platform
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .runner import OP_NAMES, OPERATIONS, SizeResult

_DESC = {o[0]: o[1] for o in OPERATIONS}


def _fmt(us: float | None) -> str:
    if us is None or math.isnan(us):
        return "-"
    if us >= 100_000:
        return f"{us / 1000:,.0f} ms"
    if us >= 10_000:
        return f"{us / 1000:,.1f} ms"
    if us >= 100:
        return f"{us:,.0f}"
    return f"{us:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}"


def _p(res: SizeResult, op: str, system: str, key: str = "p50_us") -> float | None:
    s = res.stats.get(op, {}).get(system)
    return None if s is None else s[key]


def table(res: SizeResult) -> str:
    """One size: absolute times (µs unless marked) and the three ratios (on p50)."""
    lines = [
        f"### {res.events:,} events, {res.sessions:,} sessions "
        f"({res.crowded} in the crowded directory)",
        "",
        "| operation | n | convstore p50 | p95 | p99 | floor p50 | p99 | reference p50 | p99 "
        "| peer p50 | p99 | convstore/floor | reference/convstore | peer/convstore |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for op in OP_NAMES:
        c = _p(res, op, "convstore")
        n = res.stats.get(op, {}).get("convstore", {}).get("n")
        cells = [
            f"`{op}`",
            "-" if n is None else str(int(n)),
            _fmt(c),
            _fmt(_p(res, op, "convstore", "p95_us")),
            _fmt(_p(res, op, "convstore", "p99_us")),
        ]
        for system in ("floor", "reference", "peer"):
            cells += [_fmt(_p(res, op, system)), _fmt(_p(res, op, system, "p99_us"))]
        cells += [
            _ratio(c, _p(res, op, "floor")),
            _ratio(_p(res, op, "reference"), c),
            _ratio(_p(res, op, "peer"), c),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Times in µs unless marked; ratios on p50; - = not measured / no such operation.")
    return "\n".join(lines)


def check_targets(results: list[SizeResult]) -> list[dict[str, Any]]:
    """The issue's targets, evaluated on this run (never asserted)."""
    out: list[dict[str, Any]] = []
    if not results:
        return out
    big = max(results, key=lambda r: r.events)
    small = min(results, key=lambda r: r.events)

    def add(name: str, value: float | None, goal: str, ok: bool | None, size: int) -> None:
        out.append(
            {
                "target": name,
                "events": size,
                "value": value,
                "goal": goal,
                "met": None if value is None else ok,
            }
        )

    # append_no_fts is a floor-only reference point (what search costs), not a target.
    targeted = [op for op in OP_NAMES if op != "append_no_fts"]
    for op in targeted:
        c, f = _p(big, op, "convstore"), _p(big, op, "floor")
        v = None if c is None or f is None else c / f
        limit = 1.5 if op.startswith("cold_start") else 1.25
        add(f"convstore/floor {op}", v, f"≤ {limit}", v is not None and v <= limit, big.events)
    c, r = _p(big, "append", "convstore"), _p(big, "append", "reference")
    v = None if c is None or r is None else r / c
    add("append: reference/convstore", v, "≥ 1.5", v is not None and v >= 1.5, big.events)
    one, many = _p(big, "resume_1", "convstore"), _p(big, "resume_1000", "convstore")
    v = None if one is None or many is None else many / one
    add("resume 1000 sessions / 1 session", v, "≤ 1.3", v is not None and v <= 1.3, big.events)
    for op in ("load_cold", "load_uncached"):
        c, r = _p(big, op, "convstore"), _p(big, op, "reference")
        v = None if c is None or r is None else r / c
        add(
            f"cold load_events ({op}): reference/convstore",
            v,
            "≥ 3",
            v is not None and v >= 3,
            big.events,
        )
    if big is not small:
        for op in targeted:
            hi, lo = _p(big, op, "convstore", "p99_us"), _p(small, op, "convstore", "p99_us")
            v = None if hi is None or lo is None else hi / lo
            add(
                f"p99 {op}: {big.events:,} / {small.events:,}",
                v,
                "≤ 2",
                v is not None and v <= 2,
                big.events,
            )
    for res in results:
        single, batch = _p(res, "append", "convstore"), _p(res, "append_batch100", "convstore")
        v = None if single is None or batch is None else 100 * single / batch
        add(
            "batch throughput / single-append throughput",
            v,
            "≥ 10",
            v is not None and v >= 10,
            res.events,
        )
    for res in results:
        for op, goal in (("append", 20.0), ("load_warm", 3.0)):
            c, p = _p(res, op, "convstore"), _p(res, op, "peer")
            v = None if c is None or p is None else p / c
            add(f"peer/convstore {op}", v, f"≥ {goal:g}", v is not None and v >= goal, res.events)
    return out


def targets_markdown(targets: list[dict[str, Any]]) -> str:
    lines = ["| target | events | value | goal | met |", "|---|--:|--:|--:|---|"]
    for t in targets:
        v = "-" if t["value"] is None else f"{t['value']:.2f}"
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['events']:,} | {v} | {t['goal']} | {met} |")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    import os

    import apsw

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "apsw": apsw.apsw_version(),
        "sqlite": apsw.sqlite_lib_version(),
    }
    try:
        from importlib.metadata import version

        info["openai-agents"] = version("openai-agents")
    except Exception:
        info["openai-agents"] = None
    return info


def write_json(path: Path, results: list[SizeResult], meta: dict[str, Any]) -> None:
    payload = {
        "meta": meta,
        "operations": {o[0]: o[1] for o in OPERATIONS},
        "sizes": [asdict(r) for r in results],
        "targets": check_targets(results),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))


def write_plot(path: Path, results: list[SizeResult]) -> str | None:
    """p50 (solid) and p99 (dashed) against table size, one panel per operation.

    Returns a note instead of raising when matplotlib (the ``bench`` extra) is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install '.[bench]'): no plot written"
    ops = [o for o in OP_NAMES if o != "cold_start_inproc"]
    colors = {"convstore": "C0", "floor": "C2", "reference": "C3", "peer": "C1"}
    fig, axes = plt.subplots(3, 3, figsize=(13, 10))
    sizes = sorted(results, key=lambda r: r.events)
    for ax, op in zip(axes.flat, ops, strict=False):
        for system, color in colors.items():
            xs, p50, p99 = [], [], []
            for r in sizes:
                s = r.stats.get(op, {}).get(system)
                if s:
                    xs.append(r.events)
                    p50.append(s["p50_us"])
                    p99.append(s["p99_us"])
            if xs:
                ax.plot(xs, p50, "-o", color=color, ms=3, label=f"{system} p50")
                ax.plot(xs, p99, "--", color=color, lw=1, label=f"{system} p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(op, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", lw=0.3, alpha=0.5)
    for ax in axes[:, 0]:
        ax.set_ylabel("µs per call")
    for ax in axes[-1, :]:
        ax.set_xlabel("events in the table", fontsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=8, fontsize=7)
    fig.suptitle("convstore benchmarks: p50 (solid) and p99 (dashed) vs table size", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return None

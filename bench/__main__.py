"""``python -m bench [SUITE ...] [--quick]``: run the benchmarks, write ``bench/out/results.json``, print a table.

Suites run in the order listed in ``SUITES`` (``build`` first: it leaves the sample city that the
later suites measure).  A new benchmark (a peer such as pygeoapi or PostGIS, imports, tiles) is a
module with ``NAME``, ``TITLE``, ``run(ctx)`` and ``rows(result)`` added to ``SUITES``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from . import (
    build,
    citygml_import,
    filters,
    imports,
    items,
    kernels,
    load,
    memory,
    peers,
    render,
    sensors,
    stores,
    tiles,
    tiling,
    underground,
    workers,
)
from .common import OUT, Context, Row, machine
from .report import write as write_peers_report

SUITES: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        build,
        items,
        stores,
        filters,
        underground,
        tiles,
        render,
        workers,
        load,
        peers,
        kernels,
        tiling,
        imports,
        citygml_import,
        memory,
        sensors,
    )
}


def _fmt(v: Any, digits: int = 2) -> str:
    if not isinstance(v, int | float) or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def table(rows: list[Row]) -> str:
    head = ("suite", "measurement", "p50 ms", "p99 ms", "req/s", "value", "note")
    body = [
        (s, m, _fmt(d.get("p50")), _fmt(d.get("p99")), _fmt(d.get("rps"), 0), _fmt(d.get("value")), note)
        for s, m, d, note in rows
    ]
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    right = {2, 3, 4, 5}

    def line(r: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *(line(r) for r in body)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("suites", nargs="*", metavar="SUITE", help=f"suites to run (default all: {', '.join(SUITES)})")
    ap.add_argument("--quick", action="store_true", help="one run of each, short durations (a smoke test)")
    ap.add_argument("--repeats", type=int, help="runs per measurement (default 3, quick 1)")
    ap.add_argument("--duration", type=float, help="seconds per HTTP load run (default 10, quick 2)")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=20260101, help="sample-city seed")
    ap.add_argument("--store", type=Path, help="measure this existing store instead of building the sample city")
    ap.add_argument("--out", type=Path, default=OUT, help="output folder (default bench/out)")
    ap.add_argument(
        "--write-doc",
        action="store_true",
        help="replace the generated peers block of BENCHMARKS.md and docs/bench-latency.png",
    )
    args = ap.parse_args(argv)
    unknown = [n for n in args.suites if n not in SUITES]
    if unknown:
        ap.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")

    names = [n for n in SUITES if n in args.suites] if args.suites else list(SUITES)
    if args.store is not None:
        if not args.store.exists():
            ap.error(f"no store at {args.store}")
        names = [n for n in names if n != "build"] if not args.suites else names
    ctx = Context(
        quick=args.quick,
        out=args.out,
        seed=args.seed,
        workers=args.workers,
        store=args.store,
        repeats=args.repeats or (1 if args.quick else 3),
        duration=args.duration or (2.0 if args.quick else 10.0),
    )
    ctx.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "options": {
            "quick": ctx.quick,
            "repeats": ctx.repeats,
            "duration_s": ctx.duration,
            "workers": ctx.workers,
            "seed": ctx.seed,
        },
        "machine": machine(),
        "suites": {},
    }
    ctx.log(
        f"suites: {', '.join(names)}; {ctx.repeats} run(s) each; {report['machine']['cpu']}, "
        f"{report['machine']['cores_usable']} cores"
    )
    all_rows: list[Row] = []
    failed = []
    for name in names:
        mod = SUITES[name]
        ctx.log(f"== {mod.TITLE}")
        t0 = time.perf_counter()
        try:
            res = mod.run(ctx)
        except Exception as exc:  # one broken suite should not lose the others' figures
            ctx.log(f"suite {name} failed: {type(exc).__name__}: {exc}")
            report["suites"][name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
            continue
        res["elapsed_s"] = time.perf_counter() - t0
        ctx.results[name] = res
        report["suites"][name] = res
        all_rows += mod.rows(res)
    report["elapsed_s"] = time.perf_counter() - started
    path = ctx.out / "results.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")

    m = report["machine"]
    print(
        f"\n{m['cpu']}, {m['cores_usable']} cores, {m['ram_gib']} GiB, Python {m['python']}, "
        f"SQLite {m['sqlite']}; medians of {ctx.repeats} run(s)"
    )
    if "build" in ctx.results:
        counts = ctx.results["build"]["counts"]
        print("sample city: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(table(all_rows))
    md = write_peers_report(report, ctx.out, doc=args.write_doc, log=ctx.log)
    print(f"\nresults: {path} ({report['elapsed_s']:.0f} s)" + (f"; side by side with peers: {md}" if md else ""))
    if failed:
        print(f"FAILED suites: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

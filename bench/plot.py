"""Query latency against store size, as a PNG: ``python -m bench.plot RESULTS.json OUT.png``.

Runs in the peers' environment (``bench/out/peers-venv``, where matplotlib is installed; the project
does not depend on it) and imports nothing from the project: it reads the ``kernels`` suite of a
``results.json``.  Left: p50, right: p99, both in milliseconds on log axes against the number of
buildings; this service's SQLite kernel in solid lines, PostGIS in dashed ones, one colour per query.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = {
    "bbox": "bbox 200 m (ids)",
    "underground": "3-D pipes, 500 m x 30-45 m",
    "tall": "3-D buildings > 100 m",
    "page": "bbox page of 100 (store.query)",
}
COLOURS = {"bbox": "#1f77b4", "underground": "#2ca02c", "tall": "#9467bd", "page": "#d62728"}


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.plot RESULTS.json OUT.png", file=sys.stderr)
        return 2
    report = json.loads(Path(args[0]).read_text())
    k = report.get("suites", {}).get("kernels")
    if not k or not k.get("runs"):
        print("no kernels suite in the results", file=sys.stderr)
        return 1
    sizes = sorted(int(n) for n in k["runs"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), sharey=True)
    for ax, stat in zip(axes, ("p50", "p99"), strict=True):
        for kind, label in LABELS.items():
            for side, style in (("ours", "-"), ("postgis", "--")):
                pts = [
                    (n, k["runs"][str(n)][kind][side][stat]) for n in sizes if side in k["runs"][str(n)].get(kind, {})
                ]
                if not pts:
                    continue
                who = "SQLite (ours)" if side == "ours" else ("PostGIS store" if kind == "page" else "PostGIS SQL")
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    style,
                    marker="o",
                    color=COLOURS[kind],
                    label=f"{label}: {who}",
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("buildings in the store (synthetic city; pipes ~ 1/16)")
        ax.set_title(f"{stat} latency per query")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("milliseconds")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=4, frameon=False)
    m = report.get("machine", {})
    fig.suptitle(
        f"Spatial queries: this service's SQLite kernel against PostGIS - {m.get('cores_usable')} cores "
        f"{m.get('cpu')}, {report.get('date', '')[:10]}",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    Path(args[1]).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args[1], dpi=110)
    print(args[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

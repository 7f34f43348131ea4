"""The side-by-side tables in Markdown: ``bench/out/peers.md`` after every run, and BENCHMARKS.md on request.

``python -m bench`` calls :func:`write` after its suites; ``python -m bench.report RESULTS.json ...
[--write-doc]`` rebuilds the tables from saved results (several files merge, suite by suite, later
ones winning), and with ``--write-doc`` replaces the generated block of BENCHMARKS.md (between
``<!-- bench:peers begin -->`` and ``<!-- bench:peers end -->``) and copies the plot to
``docs/bench-latency.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .common import OUT, ROOT

SUITES = ("peers", "kernels", "tiling", "imports", "memory")
BEGIN, END = "<!-- bench:peers begin -->", "<!-- bench:peers end -->"
DOC = ROOT / "BENCHMARKS.md"
PLOT_DOC = ROOT / "docs" / "bench-latency.png"


def _f(v: Any, digits: int = 2) -> str:
    if not isinstance(v, int | float) or isinstance(v, bool) or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def _x(v: Any) -> str:
    return "-" if not isinstance(v, int | float) or math.isnan(v) else f"**{v:.1f}x**"


def _table(head: list[str], body: list[list[str]]) -> list[str]:
    align = ["---" if i == 0 else "---:" for i in range(len(head))]
    return [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(r) + " |" for r in body),
    ]


def _machine(report: dict[str, Any]) -> list[str]:
    m = report.get("machine", {})
    p = m.get("packages", {})
    return [
        f"Machine: {m.get('cpu')}, {m.get('cores_usable')} cores usable, {m.get('ram_gib')} GiB, {m.get('os')}; "
        f"Python {m.get('python')}, SQLite {m.get('sqlite')}, numpy {p.get('numpy')}, shapely {p.get('shapely')}, "
        f"uvicorn {p.get('uvicorn')}; {m.get('wrk')}.",
        f"Run: `{report.get('command')}` on {report.get('date')}, "
        f"{report.get('options', {}).get('repeats')} run(s) per figure (medians), HTTP runs of "
        f"{report.get('options', {}).get('duration_s')} s.",
    ]


def _load(res: dict[str, Any]) -> str:
    a, b = res.get("loadavg_start"), res.get("loadavg_end")
    if a is None:
        return ""
    return f" Load average (1 min) {a:.1f} at the start, {b if b is not None else float('nan'):.1f} at the end."


def peers_md(res: dict[str, Any]) -> list[str]:
    out = ["#### OGC API - Features items: this service against pygeoapi", ""]
    if res.get("skipped"):
        return [*out, f"skipped: {res['skipped']}", ""]
    out += [
        f"pygeoapi: {res.get('pygeoapi')}; wrk on loopback, 1 uvicorn worker each; "
        f"{res.get('repeats')} interleaved run(s) of {res.get('duration_s')} s per figure.",
        "",
    ]
    for label, d in res.get("datasets", {}).items():
        h = d["http"]
        out += [f"**{label}** ({d['buildings']:,} buildings), bbox `{d['bbox']}`, `limit=100`." + _load(d), ""]
        head = [
            "request",
            "conn",
            "ours req/s",
            "ours p50 / p99 ms",
            "pygeoapi req/s",
            "p50 / p99 ms",
            "tuned pygeoapi req/s",
            "p50 / p99 ms",
            "ours / stock",
            "ours / tuned",
        ]
        body = []
        for kind, label_k in (("bbox", "bbox page"), ("item", "single item")):
            for c in h.get("ours", {}).get(kind, {}):
                row = [label_k, c[1:]]
                for name in ("ours", "pygeoapi", "pygeoapi-tuned"):
                    m = h.get(name, {}).get(kind, {}).get(c)
                    row += (
                        [_f(m and m.get("rps"), 0), f"{_f(m and m.get('p50'))} / {_f(m and m.get('p99'))}"]
                        if m
                        else ["-", "-"]
                    )
                for peer in ("pygeoapi", "pygeoapi-tuned"):
                    r = d.get("ratios", {}).get(peer, {}).get(kind, {}).get(c)
                    row.append(_x(r and r["rps"]))
                body.append(row)
        out += _table(head, body) + [""]
        ans = d.get("answers", {})
        if "ours" in ans:
            body = []
            for name, a in ans.items():
                bb, it = a["bbox"], a["item"]
                match = a.get("match", {}).get("bbox", {})
                body.append(
                    [
                        name,
                        f"{bb['features']} of {bb['numberMatched']}",
                        _f(bb["bytes"], 0),
                        str(match.get("ids_in_common", "-")) if match else "-",
                        _f(it["bytes"], 0),
                    ]
                )
            out += _table(
                ["answer", "bbox: features of numberMatched", "bbox bytes", "ids shared with ours", "item bytes"], body
            ) + [""]
        if d.get("rss"):
            out.append(
                "Server RSS after the runs: "
                + ", ".join(f"{k} {v.get('VmRSS', 0) / 2**20:.0f} MiB" for k, v in d["rss"].items())
                + "."
            )
        prof = d.get("profile_ours", {})
        if prof.get("buckets"):
            how = "samples of the thread holding the GIL" if prof.get("mode") == "gil" else "samples of busy threads"
            out.append(
                f"Where this service's time goes under the bbox load (py-spy, {prof['samples']:,} {how}): "
                + ", ".join(f"{k} {v:.0%}" for k, v in prof["buckets"].items() if v >= 0.02)
                + "."
            )
        out.append("")
    return out


def kernels_md(res: dict[str, Any]) -> list[str]:
    out = [
        "#### Spatial query kernels: SQLite against PostGIS on the same data",
        "",
        f"PostGIS: {res.get('postgis')}; raw SQL through psycopg 3 over the Unix socket; "
        "ratio = PostGIS p50 / ours p50 (above 1: ours faster)." + _load(res),
        "",
    ]
    head = [
        "buildings",
        "query",
        "matched",
        "ours p50 / p99 ms",
        "PostGIS p50 / p99 ms",
        "PostGIS exec ms",
        "ratio p50",
        "ratio p99",
    ]
    body = []
    from .kernels import _LABEL, KINDS

    for n, per in res.get("runs", {}).items():
        for kind in KINDS:
            r = per.get(kind)
            if not r:
                continue
            pgr = r.get("postgis", {})
            srv = r.get("postgis_server", {})
            body.append(
                [
                    f"{int(n):,}",
                    _LABEL[kind],
                    f"{r['mean_matched']:.0f}",
                    f"{_f(r['ours']['p50'], 3)} / {_f(r['ours']['p99'], 3)}",
                    f"{_f(pgr.get('p50'), 3)} / {_f(pgr.get('p99'), 3)}",
                    _f(srv.get("execution_ms"), 3),
                    _x(r.get("ratio_p50")),
                    _x(r.get("ratio_p99")),
                ]
            )
    return out + _table(head, body) + ["", "![query latency against store size](docs/bench-latency.png)", ""]


def tiling_md(res: dict[str, Any]) -> list[str]:
    out = ["#### CityJSON to GLB against cjio, LAS to 3D Tiles against py3dtiles", ""]
    if res.get("pending"):
        return [*out, res["pending"], ""]
    out += [
        f"{res.get('cjio')}, {res.get('py3dtiles')}; each conversion a fresh process, wall clock, median of "
        f"{res.get('repeat')} run(s) after a warm-up run." + _load(res),
        "",
    ]
    body = []
    for label, r in res.get("glb", {}).items():
        if "skipped" in r:
            body.append([label, "skipped", "", "", "", "", ""])
            continue
        n = r.get("buildings") or 0
        o, t, c, a = r.get("ours", {}), r.get("ours_tileset", {}), r.get("cjio_buildings", {}), r.get("cjio", {})
        per = {k: (v.get("s", math.nan) / n * 1e3 if n else None) for k, v in (("o", o), ("c", c))}
        body.append(
            [
                f"{r['file']} ({n} buildings)",
                _f(o.get("s")),
                _f(per["o"], 1),
                _f(t.get("s")),
                _f(c.get("s")),
                _f(per["c"], 1),
                _f(a.get("s")) if a else "-",
                _x(r.get("ratio")),
            ]
        )
    out += _table(
        [
            "file",
            "ours GLB s",
            "ms/bldg",
            "ours import + 3D Tiles s",
            "cjio glb (buildings) s",
            "ms/bldg",
            "cjio glb (every object) s",
            "cjio / ours",
        ],
        body,
    ) + [""]
    body = []
    for label, r in res.get("las", {}).items():
        o, p = r.get("ours", {}), r.get("py3dtiles", {})
        body.append(
            [
                f"{label} ({r['file']})",
                f"{r['points']:,}",
                _f(o.get("s")),
                _f(r["points"] / o["s"] / 1e6 if "s" in o else None),
                _f(p.get("s")),
                _f(r["points"] / p["s"] / 1e6 if "s" in p else None),
                _x(r.get("ratio")),
            ]
        )
    out += _table(
        ["LAS", "points", "ours terrain tiles s", "M points/s", "py3dtiles s", "M points/s", "py3dtiles / ours"], body
    ) + [""]
    return out


def imports_md(res: dict[str, Any]) -> list[str]:
    out = [
        "#### CityJSON LoD2 import against 3DCityDB's published figure",
        "",
        f"Median of {res.get('repeat')} imports into a fresh SQLite store; 3DCityDB v5's "
        f"{res.get('citydb_buildings_per_s'):.0f} buildings/s is published, not measured here. CPU s: the "
        "importing process's own CPU time (the machine is shared)." + _load(res),
        "",
    ]
    body = []
    for label, r in res.get("files", {}).items():
        if "skipped" in r:
            body.append([label, "skipped", "", "", "", "", "", ""])
            continue
        body.append(
            [
                f"{label} ({r['file']})",
                f"{r['buildings']:,}",
                _f(r["s"]),
                _f(r["buildings_per_s"], 0),
                _f(r["cpu_s"]) if "cpu_s" in r else "-",
                _f(r["buildings_per_cpu_s"], 0) if "cpu_s" in r else "-",
                _f(r["read_s"]),
                _x(r["vs_3dcitydb"]),
            ]
        )
    out += _table(
        ["file", "buildings", "import s", "buildings/s", "CPU s", "buildings/CPU s", "parsing s", "ours / 3DCityDB"],
        body,
    ) + [""]
    if (m := res.get("memory")) is not None:
        out += [
            f"Peak RSS of a fresh process importing a {m['bytes'] / 1e6:.0f} MB CityJSONSeq ({m['buildings']:,} "
            f"buildings) into a fresh SQLite store: **{m['peak_rss_mib']:.0f} MiB** (the process after its imports, "
            f"before reading: {m['baseline_rss_mib']:.0f} MiB); {m['s']:.1f} s.",
            "",
        ]
    return out


def memory_md(res: dict[str, Any]) -> list[str]:
    out = [
        "#### Server memory",
        "",
        f"RSS of the uvicorn process (1 worker), SQLite store; load: wrk, {res.get('connections')} connections, "
        f"{res.get('duration_s')} s of bbox pages, items and offset pages." + _load(res),
        "",
    ]
    body = []
    for n, r in res.get("runs", {}).items():
        a = r["after_load"]
        body.append(
            [
                f"{int(n):,}",
                _f(r["store_bytes"] / 2**20, 0),
                _f(r["up"].get("VmRSS", 0) / 2**20, 0),
                _f(r["warm"].get("VmRSS", 0) / 2**20, 0),
                _f(a.get("VmRSS", 0) / 2**20, 0),
                _f(a.get("RssAnon", 0) / 2**20, 0),
                _f(a.get("RssFile", 0) / 2**20, 0),
            ]
        )
    return (
        out
        + _table(
            [
                "buildings",
                "store MiB",
                "RSS up MiB",
                "after warm-up",
                "after load",
                "of which heap",
                "of which file pages",
            ],
            body,
        )
        + [""]
    )


def targets_md(s: dict[str, Any]) -> list[str]:
    """One line per target of the issue: met or missed, with the figures."""
    out = ["#### Targets", ""]
    p = s.get("peers", {})
    for label, d in p.get("datasets", {}).items():
        for peer, name in (("pygeoapi", "stock"), ("pygeoapi-tuned", "tuned")):
            rs = [v["rps"] for v in d.get("ratios", {}).get(peer, {}).get("bbox", {}).values()]
            if rs:
                verdict = "met" if min(rs) >= 3 else ("partly met" if max(rs) >= 3 else "missed")
                out.append(
                    f"- Items bbox pages >= 3x pygeoapi's req/s ({label}, {name}): {min(rs):.1f}-{max(rs):.1f}x "
                    f"over 1/16/64 connections: **{verdict}**."
                )
    k = s.get("kernels", {})
    for kind in ("bbox", "underground", "tall", "page"):
        rs = [per[kind]["ratio_p50"] for per in k.get("runs", {}).values() if "ratio_p50" in per.get(kind, {})]
        if rs:
            verdict = "met" if min(rs) >= 1 else ("met within 10%" if min(rs) >= 0.9 else "missed")
            out.append(
                f"- Query kernel no slower than PostGIS ({kind}): PostGIS/ours p50 {min(rs):.2f}-{max(rs):.2f}x "
                f"over the sizes: **{verdict}**."
            )
    t = s.get("tiling", {})
    if t.get("pending"):
        out.append(f"- GLB and tiling against cjio and py3dtiles: {t['pending']}.")
    for label, r in t.get("glb", {}).items():
        if "ratio" in r:
            out.append(
                f"- GLB faster per building than cjio ({label}): {r['ratio']:.1f}x: "
                f"**{'met' if r['ratio'] > 1 else 'missed'}**."
            )
    for label, r in t.get("las", {}).items():
        if "ratio" in r:
            out.append(
                f"- Tiling faster per point than py3dtiles ({label}): {r['ratio']:.1f}x: "
                f"**{'met' if r['ratio'] > 1 else 'missed'}**."
            )
    return [*out, ""]


def markdown(report: dict[str, Any]) -> str:
    s = report.get("suites", {})
    lines = ["### Medians and ratios (generated by `python -m bench`)", "", *_machine(report), ""]
    lines += targets_md(s)
    for name, fn in (
        ("peers", peers_md),
        ("kernels", kernels_md),
        ("tiling", tiling_md),
        ("imports", imports_md),
        ("memory", memory_md),
    ):
        res = s.get(name)
        if res is None:
            continue
        if "error" in res and len(res) == 1:
            lines += [f"#### {name}", "", f"FAILED: {res['error']}", ""]
            continue
        lines += fn(res)
    return "\n".join(lines).rstrip() + "\n"


def plot(results: Path, png: Path, log=print) -> str | None:
    """Draw the latency plot with matplotlib from the peers' environment; None when done, else why not."""
    from .peers_env import PeersEnv

    env = PeersEnv(log=log)
    why = env.ensure("plot")
    if why:
        return why
    proc = subprocess.run(
        [str(env.python), "-m", "bench.plot", str(results), str(png)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        return f"bench.plot failed: {(proc.stderr or proc.stdout)[-400:]}"
    return None


def write(report: dict[str, Any], out: Path, *, doc: bool = False, log=print) -> Path | None:
    """bench/out/peers.md (and the plot) when the report has any of these suites; BENCHMARKS.md when ``doc``."""
    if not any(k in report.get("suites", {}) for k in SUITES):
        return None
    md = markdown(report)
    path = out / "peers.md"
    path.write_text(md)
    png = out / "bench-latency.png"
    if "kernels" in report["suites"]:
        results = out / "results-merged.json"
        results.write_text(json.dumps(report, default=str))
        why = plot(results, png, log)
        if why:
            log(f"plot skipped: {why}")
    if doc:
        text = DOC.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{BEGIN}\n{md}{END}{tail}")
            log(f"updated {DOC}")
        else:
            log(f"{DOC} has no {BEGIN} ... {END} block; not updated")
        if png.exists():
            PLOT_DOC.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, PLOT_DOC)
            log(f"copied the plot to {PLOT_DOC}")
    return path


def merge(paths: list[Path]) -> dict[str, Any]:
    """Several results.json files as one report: suites merged, later files winning; the last file's header."""
    report: dict[str, Any] = {"suites": {}}
    for p in paths:
        r = json.loads(p.read_text())
        suites = {**report["suites"], **r.get("suites", {})}
        report = {**report, **r, "suites": suites}
    if len(paths) > 1:
        report["command"] = " + ".join(json.loads(p.read_text()).get("command", "?") for p in paths)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="*", type=Path, default=[OUT / "results.json"])
    ap.add_argument("--write-doc", action="store_true", help="replace the generated block of BENCHMARKS.md")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    path = write(merge(a.results), a.out, doc=a.write_doc, log=lambda m: print(m, file=sys.stderr))
    print(path or "no peer suites in the results")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

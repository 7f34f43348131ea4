"""CPU per request, this service against tuned pygeoapi, on the synthetic city (issue 16).

``python -m bench.peers_cpu [OUT.json] [--duration S] [--repeats N]``: the servers, data and requests of
``bench/peers.py`` (the bbox page, ``limit=100``, and single items; one uvicorn worker each; wrk on loopback;
interleaved runs at 1 and 16 connections), and for each run the CPU time the server process used per answered
request (for pygeoapi also its PostgreSQL backends', from ``/proc``).  On a loaded machine req/s ratios swing
with the load (pygeoapi needs two processes per request); CPU per request is far steadier.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from urllib.parse import quote

import numpy as np

from . import items, peers
from .common import Context, Server, load
from .datasets import buildings_table, synth_store
from .peers_env import PeersEnv

_TCK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of one process."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / _TCK


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


def _tree_cpu(root: int) -> float:
    """CPU seconds of a process and its children (the postmaster and its backends)."""
    total = 0.0
    for pid in [root] + [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == root]:
        try:
            total += _cpu(pid)
        except OSError:
            pass
    return total


def run(ctx: Context, n: int = 100_000) -> dict:
    """Interleaved runs; returns every run and the medians per (server, request, connections)."""
    from cim.crs import city_to_lonlat
    from cim.store import open_store
    from tests import pg as pgmod

    env = PeersEnv(log=ctx.log)
    why = pgmod.why_unavailable() or env.ensure("pygeoapi")
    if why:
        return {"skipped": why}
    path = synth_store(ctx, n)
    store = open_store(str(path))
    plan = items.plan(store)
    b = store.bounds(items.COLLECTION)
    ll = city_to_lonlat(np.array([[b[0], b[1]], [b[3], b[4]]]), store.city().crs_epsg)
    extent = [float(ll[:, 0].min()), float(ll[:, 1].min()), float(ll[:, 0].max()), float(ll[:, 1].max())]
    cluster = pgmod.Cluster()
    runs: dict[str, list[dict]] = {}
    try:
        buildings_table(store, cluster.url, "peers", "buildings_synthetic")
        store.close()
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        work = ctx.out / "pygeoapi"
        servers = {
            "ours": Server(path, log=ctx.out / "server-peers-cpu.log"),
            "pygeoapi-tuned": peers._pygeoapi(env, work, cluster, "peers", "buildings_synthetic", extent, tuned=True),
        }
        q = f"bbox={plan['bbox']}&limit={items.LIMIT}"
        ids = [quote(i, safe="") for i in plan["ids"]]
        paths = {
            "ours": {"bbox": [f"{items.ITEMS}?{q}"], "item": [f"{items.ITEMS}/{i}" for i in ids]},
            "pygeoapi-tuned": {
                "bbox": [f"{items.ITEMS}?{q}&f=json"],
                "item": [f"{items.ITEMS}/{i}?f=json" for i in ids],
            },
        }
        for srv in servers.values():
            srv.start()
        try:
            for name, srv in servers.items():  # warm the threads and connection pools
                load(srv.url, paths[name]["bbox"], connections=16, duration=2)
                load(srv.url, paths[name]["item"], connections=16, duration=1)
            for _ in range(ctx.repeats):
                for kind in ("bbox", "item"):
                    for c in (1, 16):
                        for name, srv in servers.items():
                            own0, pg0 = _cpu(srv.proc.pid), _tree_cpu(postmaster)
                            r = load(srv.url, paths[name][kind], connections=c, duration=ctx.duration)
                            answered = max(r["rps"] * ctx.duration, 1.0)
                            pg_ms = 1000 * (_tree_cpu(postmaster) - pg0) / answered if name != "ours" else 0.0
                            row = {
                                "rps": r["rps"],
                                "cpu_ms": 1000 * (_cpu(srv.proc.pid) - own0) / answered,
                                "pg_cpu_ms": max(pg_ms, 0.0),
                                "load1": os.getloadavg()[0],
                            }
                            runs.setdefault(f"{name} {kind} c{c}", []).append(row)
                            ctx.log(
                                f"{name} {kind} c{c}: {r['rps']:.0f} req/s, {row['cpu_ms']:.2f} ms CPU/request "
                                f"(+ PostgreSQL {row['pg_cpu_ms']:.2f})"
                            )
        finally:
            for srv in servers.values():
                srv.stop()
    finally:
        cluster.stop()
    medians = {
        k: {m: statistics.median(x[m] for x in v) for m in ("rps", "cpu_ms", "pg_cpu_ms", "load1")}
        for k, v in runs.items()
    }
    return {"runs": runs, "median": medians}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=Path("bench/out/peers-cpu.json"))
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    res = run(Context(duration=args.duration, repeats=args.repeats))
    args.out.write_text(json.dumps(res, indent=1))
    if "median" not in res:
        print(res)
        return
    m = res["median"]
    for kind in ("bbox", "item"):
        for c in (1, 16):
            o, p = m[f"ours {kind} c{c}"], m[f"pygeoapi-tuned {kind} c{c}"]
            theirs = p["cpu_ms"] + p["pg_cpu_ms"]
            print(
                f"{kind} c{c}: ours {o['rps']:.0f} req/s, {o['cpu_ms']:.2f} ms CPU/req; tuned pygeoapi {p['rps']:.0f} "
                f"req/s, {theirs:.2f} ms; req/s {o['rps'] / p['rps']:.1f}x, CPU {theirs / o['cpu_ms']:.1f}x"
            )


if __name__ == "__main__":
    main()

"""Water network segment criticality against WNTR's own ``valve_segments``, same network and valve layer.

Networks: ky10 (the largest EPANET file in ../shared/data/pipes: 1,043 pipes, 13 pumps, 5 valves) and
generated square grids up to about 100,000 pipes.  Valve layer: WNTR's "strategic N-2" rule (at every node, a
valve on each link but two), drawn once with a fixed seed and given to both.

* **ours**: :func:`cim.water.segments.segments` (one ``connected_components`` call) and
  :func:`cim.water.segments.criticality` (population and demand cut off by isolating each segment, every
  segment in one pass); also end to end from a store for ky10 (load pipes and valves, segments, buildings,
  criticality: the ``water-criticality`` analysis);
* **WNTR**: ``wntr.metrics.valve_segments(G, valve_layer)`` (segments only; WNTR has no per-segment cut-off
  computation, so ours does more work).  It runs in a child process with a time cap; where it does not finish,
  the time is reported as "> cap".

The partitions are compared label-independently (a one-to-one map between the two labellings).

    PYTHONPATH=. python -m bench.water [--cap 900] [--sizes 1000,4000,10000,25000,100000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cim.water.network import WaterNetwork
from cim.water.segments import criticality, segments

NAME = "water"
TITLE = "Water segment criticality vs WNTR valve_segments (same network, same N-2 valve layer)"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pipes"


def grid(pipes: int, seed: int = 1) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """A k x k grid with about ``pipes`` links (2 k (k - 1)); node 0 is the only source.  Returns node ids, a, b
    (m,) and the source mask."""
    k = int(np.ceil((1 + np.sqrt(1 + 2 * pipes)) / 2))
    idx = np.arange(k * k).reshape(k, k)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    src = np.zeros(k * k, dtype=bool)
    src[0] = True
    return [f"n{i}" for i in range(k * k)], a, b, src


def strategic_layer(
    n: int, a: np.ndarray, b: np.ndarray, keep: int = 2, seed: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """WNTR's strategic rule: at each node, valves on all its links but ``keep`` (random).  (link, node) arrays."""
    rng = np.random.default_rng(seed)
    m = len(a)
    ends = np.concatenate([a, b])
    links = np.concatenate([np.arange(m), np.arange(m)])
    order = np.lexsort((rng.random(2 * m), ends))
    ends, links = ends[order], links[order]
    start = np.searchsorted(ends, np.arange(n))
    rank = np.arange(2 * m) - start[ends]
    deg = np.bincount(ends, minlength=n)
    take = rank < deg[ends] - keep
    return links[take], ends[take]


def network(ids, a, b, src, vlink, vnode) -> WaterNetwork:
    n, m = len(ids), len(a)
    return WaterNetwork(
        name=None,
        node_ids=list(ids),
        node_kind=np.full(n, "junction", dtype=object),
        node_xy=np.zeros((n, 2)),
        source=src,
        demand=np.ones(n),
        link_ids=[f"p{i}" for i in range(m)],
        link_kind=np.full(m, "pipe", dtype=object),
        a=np.asarray(a),
        b=np.asarray(b),
        length=np.ones(m),
        valve_ids=[f"v{i}" for i in range(len(vlink))],
        valve_link=np.asarray(vlink),
        valve_node=np.asarray(vnode),
        valve_xy=np.zeros((len(vlink), 2)),
    )


def ours(net: WaterNetwork) -> tuple[float, np.ndarray, int]:
    """Seconds for segments + criticality of every segment; the labels (nodes then links); segment count."""
    rng = np.random.default_rng(3)
    pop = rng.integers(0, 200, net.n).astype(float)
    t = time.perf_counter()
    seg = segments(net)
    criticality(seg, seg.node_weights(np.column_stack([pop, net.demand])))
    dt = time.perf_counter() - t
    return dt, np.concatenate([seg.node_seg, seg.link_seg]), seg.count


def _wntr_child(q, node_ids, link_ids, a, b, vlink, vnode) -> None:
    import networkx as nx
    import pandas as pd
    from wntr.metrics.topographic import valve_segments

    g = nx.MultiDiGraph()
    g.add_nodes_from(node_ids)
    g.add_edges_from((node_ids[i], node_ids[j], link_ids[k]) for k, (i, j) in enumerate(zip(a, b, strict=True)))
    layer = pd.DataFrame({"link": [link_ids[i] for i in vlink], "node": [node_ids[i] for i in vnode]})
    t = time.perf_counter()
    ns, ls, _ = valve_segments(g, layer)
    dt = time.perf_counter() - t
    q.put((dt, ns[node_ids].to_numpy().tolist(), ls[link_ids].to_numpy().tolist()))


def wntr_segments(net: WaterNetwork, cap: float) -> tuple[float | None, np.ndarray | None]:
    """WNTR's valve_segments in a child process; (seconds, labels) or (None, None) past ``cap`` seconds."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(
        target=_wntr_child,
        args=(
            q,
            net.node_ids,
            net.link_ids,
            net.a.tolist(),
            net.b.tolist(),
            net.valve_link.tolist(),
            net.valve_node.tolist(),
        ),
    )
    p.start()
    try:
        dt, ns, ls = q.get(timeout=cap)
    except Exception:
        p.terminate()
        p.join()
        return None, None
    p.join()
    return dt, np.asarray(ns + ls)


def same_partition(x: np.ndarray, y: np.ndarray) -> bool:
    pairs = set(zip(x.tolist(), y.tolist(), strict=True))
    return len(pairs) == len(set(x.tolist())) == len(set(y.tolist()))


def ky10() -> WaterNetwork:
    import wntr

    wn = wntr.network.WaterNetworkModel(str(SHARED / "ky10.inp"))
    ids = wn.node_name_list
    ix = {v: i for i, v in enumerate(ids)}
    names = wn.link_name_list
    a = np.array([ix[wn.get_link(x).start_node_name] for x in names])
    b = np.array([ix[wn.get_link(x).end_node_name] for x in names])
    src = np.array([wn.get_node(x).node_type in ("Reservoir", "Tank") for x in ids])
    vl, vn = strategic_layer(len(ids), a, b)
    net = network(ids, a, b, src, vl, vn)
    net.link_ids = list(names)
    net.__post_init__()
    return net


def ky10_store(net: WaterNetwork) -> float:
    """Seconds of the water-criticality analysis on ky10 imported into a SQLite store with the valve layer."""
    from cim.city import LocalCity
    from cim.io import import_files
    from cim.model import City, NodeKind, PipeNode, Utility
    from cim.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "ky10.sqlite", create=True)
        store.init(City(crs_epsg=32617))
        import_files(store, [SHARED / "ky10.inp"], crs="EPSG:3089")
        nodes = {n.id: n for n in store.iter_features("pipe-nodes")}
        pipes = set(p.id for p in store.iter_features("pipes"))
        valves = []
        for k, (li, ni) in enumerate(zip(net.valve_link, net.valve_node, strict=True)):
            link, node = net.link_ids[li], net.node_ids[ni]
            if link not in pipes:  # valves of WNTR's layer on pumps and control valves: not isolation valves here
                continue
            x, y, z = nodes[node].position
            valves.append(
                PipeNode(
                    id=f"GV{k}",
                    kind=NodeKind.valve,
                    utility=Utility.water,
                    position=(x, y, z),
                    attributes={"isolation": True, "pipe": link, "node": node},
                )
            )
        store.write(valves)
        city = LocalCity(store)
        t = time.perf_counter()
        r = city.analyse("water-criticality", top=10)
        dt = time.perf_counter() - t
        store.close()
        assert r.segments > 0
    return dt


def run(ctx: Any = None, cap: float = 900.0, sizes: tuple[int, ...] = (1000, 4000, 10000, 25000, 100000)) -> dict:
    out: dict[str, Any] = {"cap_s": cap, "networks": []}
    cases: list[tuple[str, WaterNetwork]] = [("ky10", ky10())]
    for s in sizes:
        ids, a, b, src = grid(s)
        vl, vn = strategic_layer(len(ids), a, b)
        cases.append((f"grid {len(a):,} pipes", network(ids, a, b, src, vl, vn)))
    for label, net in cases:
        t_ours = min(ours(net)[0] for _ in range(3))
        _, lab, count = ours(net)
        t_wntr, lab_w = wntr_segments(net, cap)
        row = {
            "network": label,
            "nodes": net.n,
            "links": net.m,
            "valves": len(net.valve_ids),
            "segments": count,
            "ours_s": round(t_ours, 4),
            "wntr_s": None if t_wntr is None else round(t_wntr, 3),
            "speedup": None if t_wntr is None else round(t_wntr / t_ours, 1),
            "same_segments": None if lab_w is None else same_partition(lab, lab_w),
        }
        out["networks"].append(row)
        print(json.dumps(row), flush=True)
    out["ky10_store_analysis_s"] = round(ky10_store(cases[0][1]), 3)
    print(json.dumps({"ky10_store_analysis_s": out["ky10_store_analysis_s"]}), flush=True)
    return out


def rows(result: dict) -> list:
    return [
        (
            NAME,
            r["network"],
            {"ours_s": r["ours_s"], "wntr_s": r["wntr_s"], "speedup": r["speedup"]},
            f"{r['segments']} segments, same: {r['same_segments']}",
        )
        for r in result["networks"]
    ]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", type=float, default=900.0, help="seconds WNTR may take per network")
    ap.add_argument("--sizes", default="1000,4000,10000,25000,100000")
    args = ap.parse_args()
    res = run(cap=args.cap, sizes=tuple(int(x) for x in args.sizes.split(",")))
    print(json.dumps(res, indent=1))

"""Isolation segments, one burst's isolation and every segment's criticality, as graph passes.

A valve sits on a pipe beside one of its end nodes (WNTR's valve layer).  Segments are the connected
components of a graph whose vertices are the n nodes and the m links, where each link is joined to each of its
two end nodes unless a valve sits there: one ``scipy.sparse.csgraph.connected_components`` call labels
every node and link.  This is the partition of ``wntr.metrics.valve_segments`` (a link valved at both ends is a
segment of its own; a link valved at one end belongs to the segment of its other end; a node valved on
every link is a segment of its own).

The *segment graph* has the segments as vertices and one edge per valve (the link's segment to the node's
segment).  Isolating a segment closes the valves on its boundary; a failed valve cannot close, so the
segments on both its sides are isolated together.  The nodes cut off are those of the isolated segments and
of every segment left with no path to a source.  For all segments at once (criticality), a depth-first
search from a super-source joined to every segment with a source finds, with Tarjan's low-links, for each
segment the segments that only reach a source through it: one pass, linear in the network's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParameter
from .network import WaterNetwork


@dataclass
class Segments:
    """Segment labels.  ``node_seg`` (n,), ``link_seg`` (m,) in 0..count-1; ``valve_link_seg`` and
    ``valve_node_seg`` (k,): the segments on the two sides of each valve."""

    net: WaterNetwork
    count: int
    node_seg: np.ndarray
    link_seg: np.ndarray
    valve_link_seg: np.ndarray
    valve_node_seg: np.ndarray

    def source_segments(self) -> np.ndarray:
        """(count,) bool: segments holding a source."""
        out = np.zeros(self.count, dtype=bool)
        out[self.node_seg[self.net.source]] = True
        return out

    def node_weights(self, w: np.ndarray) -> np.ndarray:
        """Per-node values (n,) or (n, q) summed per segment -> (count,) or (count, q)."""
        w = np.asarray(w, dtype=float)
        out = np.zeros((self.count, *w.shape[1:]))
        np.add.at(out, self.node_seg, w)
        return out

    def members(self, labels: np.ndarray) -> list[np.ndarray]:
        """For labels (e.g. ``link_seg``) the indices of each segment, as a list of ``count`` arrays."""
        order = np.argsort(labels, kind="stable")
        cuts = np.searchsorted(labels[order], np.arange(1, self.count))
        return np.split(order, cuts)


def segments(net: WaterNetwork) -> Segments:
    """Label every node and link with its isolation segment (one connected-components pass)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, m = net.n, net.m
    va = np.zeros(m, dtype=bool)
    vb = np.zeros(m, dtype=bool)
    on_a = net.valve_node == net.a[net.valve_link]
    va[net.valve_link[on_a]] = True
    vb[net.valve_link[~on_a]] = True
    links = np.arange(m)
    rows = np.concatenate([net.a[~va], net.b[~vb]])
    cols = n + np.concatenate([links[~va], links[~vb]])
    g = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n + m, n + m)).tocsr()
    count, labels = connected_components(g, directed=False)
    node_seg, link_seg = labels[:n], labels[n:]
    return Segments(net, int(count), node_seg, link_seg, link_seg[net.valve_link], node_seg[net.valve_node])


def _supplied(seg: Segments, edges: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """(count,) bool: segments with a path to a source over ``edges`` (valve mask), ``removed`` segments out."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    k = seg.count
    root = k
    src = np.flatnonzero(seg.source_segments() & ~removed)
    keep = edges & ~removed[seg.valve_link_seg] & ~removed[seg.valve_node_seg]
    r = np.concatenate([seg.valve_link_seg[keep], np.full(len(src), root)])
    c = np.concatenate([seg.valve_node_seg[keep], src])
    g = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(k + 1, k + 1)).tocsr()
    _, lab = connected_components(g, directed=False)
    return (lab[:k] == lab[root]) & ~removed


@dataclass
class Isolation:
    """One burst's isolation.  Index arrays into the network's links, valves and nodes."""

    segments: np.ndarray  # segment labels isolated together (the burst's, and those joined by failed valves)
    links: np.ndarray  # links in the isolated segments
    valves_to_close: np.ndarray
    nodes_cut_off: np.ndarray  # nodes supplied before and not after (the isolated segments' and downstream)
    nodes_in_segment: np.ndarray


def isolate(seg: Segments, link: int, failed: np.ndarray | None = None) -> Isolation:
    """Isolate the segment of ``link``; ``failed`` valve indices do not close (the segment grows past them)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    net = seg.net
    k = seg.count
    failed_mask = np.zeros(len(net.valve_ids), dtype=bool)
    if failed is not None and len(failed):
        failed_mask[np.asarray(failed, dtype=np.int64)] = True
    fa, fb = seg.valve_link_seg[failed_mask], seg.valve_node_seg[failed_mask]
    g = coo_matrix((np.ones(len(fa), dtype=np.int8), (fa, fb)), shape=(k, k)).tocsr()
    _, merged = connected_components(g, directed=False)
    target = merged == merged[seg.link_seg[link]]
    in_a, in_b = target[seg.valve_link_seg], target[seg.valve_node_seg]
    close = np.flatnonzero((in_a ^ in_b) & ~failed_mask)
    every = np.ones(len(net.valve_ids), dtype=bool)
    before = _supplied(seg, every, np.zeros(k, dtype=bool))
    after = _supplied(seg, every, target)
    lost = before & ~after
    return Isolation(
        segments=np.flatnonzero(target),
        links=np.flatnonzero(target[seg.link_seg]),
        valves_to_close=close,
        nodes_cut_off=np.flatnonzero(lost[seg.node_seg]),
        nodes_in_segment=np.flatnonzero(target[seg.node_seg]),
    )


def failed_valves(net: WaterNetwork, ids: list[str]) -> np.ndarray:
    """Valve indices of ``ids``; InvalidParameter ``failed_valves`` names an unknown one."""
    out = []
    for v in ids:
        i = net.valve_index.get(v)
        if i is None:
            raise InvalidParameter("failed_valves", f"No isolation valve {v!r} in {net.label()}.")
        out.append(i)
    return np.asarray(out, dtype=np.int64)


def criticality(seg: Segments, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What each segment's isolation cuts off, for every segment in one pass.

    ``weights`` (count, q): per-segment quantities (population, demand, nodes ...).  Returns ``lost``
    (count, q): the sum over the segment itself and every segment that reaches a source only through it,
    and ``supplied`` (count,) bool; unsupplied segments lose nothing (they had no water to lose).
    """
    from scipy.sparse import coo_matrix

    k = seg.count
    w = np.asarray(weights, dtype=float).reshape(k, -1)
    root = k
    src = np.flatnonzero(seg.source_segments())
    r = np.concatenate([seg.valve_link_seg, seg.valve_node_seg, np.full(len(src), root), src])
    c = np.concatenate([seg.valve_node_seg, seg.valve_link_seg, src, np.full(len(src), root)])
    off = r != c
    g = coo_matrix((np.ones(int(off.sum()), dtype=np.int8), (r[off], c[off])), shape=(k + 1, k + 1)).tocsr()
    g.sum_duplicates()
    indptr, indices = g.indptr.tolist(), g.indices.tolist()

    disc = [-1] * (k + 1)
    low = [0] * (k + 1)
    parent = [-1] * (k + 1)
    fin = [0] * (k + 1)  # discovery time after the vertex's subtree: the subtree is disc[v] <= time < fin[v]
    ptr = indptr[:-1].copy()
    order: list[int] = []
    disc[root] = 0
    t = 1
    stack = [root]
    while stack:
        v = stack[-1]
        p = ptr[v]
        if p < indptr[v + 1]:
            ptr[v] = p + 1
            u = indices[p]
            du = disc[u]
            if du < 0:
                disc[u] = low[u] = t
                t += 1
                parent[u] = v
                order.append(u)
                stack.append(u)
            elif du < low[v]:
                low[v] = du
        else:
            stack.pop()
            fin[v] = t
            if stack:
                pv = stack[-1]
                if low[v] < low[pv]:
                    low[pv] = low[v]

    supplied = np.asarray(disc[:k]) >= 0
    o = np.asarray(order, dtype=np.int64)  # vertex discovered at time 1, 2, ...
    par = np.asarray(parent, dtype=np.int64)
    dsc = np.asarray(disc)
    # subtree sums from prefix sums over discovery order (a subtree is a run of discovery times)
    csum = np.zeros((t + 1, w.shape[1]))
    csum[2:] = np.cumsum(w[o], axis=0) if len(o) else 0.0
    fin_a = np.asarray(fin)
    sub = np.zeros((k + 1, w.shape[1]))
    sub[o] = csum[fin_a[o]] - csum[dsc[o]]
    lost = np.zeros((k, w.shape[1]))
    lost[supplied] = w[supplied]
    if len(o):
        po = par[o]  # each discovered vertex's parent
        low_a = np.asarray(low)
        cut = (po != root) & (low_a[o] >= dsc[po])
        np.add.at(lost, po[cut], sub[o[cut]])
    return lost, supplied

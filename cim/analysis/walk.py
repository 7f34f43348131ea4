"""Walking distances on a street graph: one multi-source shortest-path pass per facility group.

The graph's nodes are the street vertices (streets meet where they share a vertex, to the millimetre); its edges
are the straight pieces between consecutive vertices, weighted by their length in metres.  Facilities and
buildings reach the graph at the nearest point of the nearest walkable piece (shapely STRtree, vectorised):

* every facility's snap point splits its piece (a new node there), and the facility becomes a virtual node with
  one outgoing edge to it, weighted by the access leg (facility to street, metres, or 0);
* per group of facilities (a kind), one :func:`scipy.sparse.csgraph.dijkstra` from all of the group's virtual
  nodes at once (``min_only=True``) gives every node's distance to the nearest facility of the group and which
  facility that is; no search runs per building;
* a building snapped at ``a`` metres along a piece lies between the split points (or piece ends) ``lo`` and
  ``hi`` around it: its distance is ``min(D[lo] + a - a_lo, D[hi] + a_hi - a)`` plus its own access leg.

Distances are exact for the graph (no node snapping): on a grid they equal the Manhattan distance along the
streets.  Unreachable (another component, no facility of the group): ``inf``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely

_MM = 1e-3  # metres: vertices closer than this are one node; split points closer than this are one


@dataclass
class StreetGraph:
    """Nodes ``xy`` (n, 2) metres; pieces ``u``, ``v`` (p,) node indices with ``length`` (p,) metres and their
    ``line`` (p,) index into the input lines."""

    xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    line: np.ndarray
    _tree: shapely.STRtree | None = None

    @classmethod
    def from_lines(cls, lines: Sequence[np.ndarray]) -> StreetGraph:
        """A graph from polylines, each an (k, 2+) array of vertices in metres."""
        if not len(lines):
            z = np.zeros(0, dtype=np.int64)
            return cls(np.zeros((0, 2)), z, z, np.zeros(0), z)
        sizes = np.array([len(c) for c in lines], dtype=np.int64)
        pts = np.concatenate([np.asarray(c, dtype=float)[:, :2] for c in lines])
        keys = np.round(pts / _MM).astype(np.int64)
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        xy = pts[first]
        ends = np.cumsum(sizes)
        starts = ends - sizes
        # piece k joins vertex k and k + 1 unless k is the last vertex of its line
        is_last = np.zeros(len(pts), dtype=bool)
        is_last[ends - 1] = True
        k = np.flatnonzero(~is_last)
        u, v = inverse[k], inverse[k + 1]
        line = np.repeat(np.arange(len(lines)), sizes)[k]
        keep = u != v
        u, v, line = u[keep], v[keep], line[keep]
        length = np.hypot(*(xy[v] - xy[u]).T)
        del starts
        return cls(xy, u, v, length, line)

    @property
    def tree(self) -> shapely.STRtree:
        if self._tree is None:
            self._tree = shapely.STRtree(shapely.linestrings(self._piece_coords()))
        return self._tree

    def _piece_coords(self) -> np.ndarray:
        return np.stack([self.xy[self.u], self.xy[self.v]], axis=1)

    def snap(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest piece of every point (m, 2): piece index (m,), metres along it from ``u`` (m,), and the
        distance from the point to the street (m,).  Ties go to the lowest piece index."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        if len(points) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        if len(self.u) == 0:
            raise ValueError("no street to snap to")
        idx = self.tree.query_nearest(shapely.points(points), all_matches=True)
        # all_matches: several rows per point at equal distance; keep the lowest piece index of each point
        order = np.lexsort((idx[1], idx[0]))
        idx = idx[:, order]
        first = np.ones(idx.shape[1], dtype=bool)
        first[1:] = idx[0, 1:] != idx[0, :-1]
        piece = np.empty(len(points), dtype=np.int64)
        piece[idx[0, first]] = idx[1, first]
        a, b = self.xy[self.u[piece]], self.xy[self.v[piece]]
        d = b - a
        ln = self.length[piece]
        t = np.clip(np.einsum("ij,ij->i", points - a, d) / (ln * ln), 0.0, 1.0)
        foot = a + t[:, None] * d
        return piece, t * ln, np.hypot(*(points - foot).T)


@dataclass
class Nearest:
    """Per target: distance (m,) metres (inf where unreachable) and nearest facility index (m,) (-1 where none)."""

    distance: np.ndarray
    facility: np.ndarray


class Access:
    """Distances from targets to the nearest facility of each group, on one street graph.

    ``facilities`` (f, 2) metres; ``groups`` maps a group name to facility indices.  ``access`` adds the legs
    from a facility or a target to its snap point (off-street distance) to the distances.
    """

    def __init__(self, graph: StreetGraph, facilities: np.ndarray, *, access: bool = True) -> None:
        from scipy import sparse

        self.graph, self.access = graph, access
        n, p = len(graph.xy), len(graph.u)
        fxy = np.asarray(facilities, dtype=float).reshape(-1, 2)
        f = len(fxy)
        self.n_facilities = f
        fpiece, fa, foff = graph.snap(fxy) if f else (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        ln = graph.length[fpiece]
        at_u, at_v = fa < _MM / 2, fa > ln - _MM / 2
        inner = ~(at_u | at_v)
        # split points: facilities inside a piece, one per (piece, millimetre along it), at their exact place
        keys = np.column_stack([fpiece[inner], np.round(fa[inner] / _MM).astype(np.int64)])
        if len(keys):
            uniq, first_of, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        else:
            uniq, first_of, inv = np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        s_piece, s_a = uniq[:, 0], fa[inner][first_of]  # sorted by piece, then along
        s_node = n + np.arange(len(uniq))
        fnode = np.where(at_u, graph.u[fpiece], graph.v[fpiece])
        fnode[inner] = s_node[np.asarray(inv, dtype=np.int64).reshape(-1)]
        n_split = len(uniq)
        # edges: unsplit pieces, chains through the split points, facility legs (virtual node -> its node)
        split = np.zeros(p, dtype=bool)
        split[s_piece] = True
        first = np.ones(n_split, dtype=bool)
        first[1:] = s_piece[1:] != s_piece[:-1]
        last = np.ones(n_split, dtype=bool)
        last[:-1] = s_piece[1:] != s_piece[:-1]
        prev_node = np.where(first, graph.u[s_piece], np.roll(s_node, 1))
        prev_a = np.where(first, 0.0, np.roll(s_a, 1))
        ei = [graph.u[~split], prev_node, s_node[last]]
        ej = [graph.v[~split], s_node, graph.v[s_piece[last]]]
        ew = [graph.length[~split], s_a - prev_a, graph.length[s_piece[last]] - s_a[last]]
        i = np.concatenate(ei)
        j = np.concatenate(ej)
        w = np.concatenate(ew)
        # both directions; parallel pieces between one pair of nodes keep the shortest
        i, j, w = np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([w, w])
        order = np.lexsort((w, j, i))
        i, j, w = i[order], j[order], w[order]
        keep = np.ones(len(i), dtype=bool)
        keep[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
        i, j, w = i[keep], j[keep], w[keep]
        m = n + n_split
        virt = m + np.arange(f)
        legs = foff if access else np.zeros(f)
        i = np.concatenate([i, virt])
        j = np.concatenate([j, fnode])
        w = np.concatenate([w, legs])
        self.matrix = sparse.csr_matrix((w, (i, j)), shape=(m + f, m + f))
        self._virt = virt
        self._split = (s_piece, s_a, s_node)
        self.facility_node = fnode
        self.facility_offset = foff

    def locate(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Where targets (m, 2) reach the graph: nodes ``lo``, ``hi`` around the snap point, the metres from
        each to it, and the access leg, each (m,)."""
        g = self.graph
        piece, a, off = g.snap(points)
        s_piece, s_a, s_node = self._split
        ln = g.length
        skey = s_piece + s_a / (ln[s_piece] * (1 + 1e-9)) if len(s_piece) else np.zeros(0)
        tkey = piece + a / (ln[piece] * (1 + 1e-9))
        k = np.searchsorted(skey, tkey, side="right")
        has_hi = (k < len(s_piece)) & (s_piece[np.minimum(k, len(s_piece) - 1)] == piece) if len(s_piece) else None
        has_lo = (k > 0) & (s_piece[np.maximum(k - 1, 0)] == piece) if len(s_piece) else None
        lo, a_lo = g.u[piece].copy(), np.zeros(len(piece))
        hi, a_hi = g.v[piece].copy(), ln[piece].copy()
        if len(s_piece):
            lo[has_lo], a_lo[has_lo] = s_node[k[has_lo] - 1], s_a[k[has_lo] - 1]
            hi[has_hi], a_hi[has_hi] = s_node[k[has_hi]], s_a[k[has_hi]]
        return lo, hi, np.maximum(a - a_lo, 0.0), np.maximum(a_hi - a, 0.0), (off if self.access else 0 * off)

    def nearest(self, groups: Mapping[str, Sequence[int] | np.ndarray], targets: np.ndarray) -> dict[str, Nearest]:
        """For every group: each target's distance to the group's nearest facility and which facility it is."""
        from scipy.sparse.csgraph import dijkstra

        lo, hi, d_lo, d_hi, off = self.locate(targets)
        out: dict[str, Nearest] = {}
        m = len(lo)
        for name, members in groups.items():
            members = np.asarray(members, dtype=np.int64)
            if len(members) == 0 or m == 0:
                out[name] = Nearest(np.full(m, np.inf), np.full(m, -1, dtype=np.int64))
                continue
            dist, _, src = dijkstra(
                self.matrix, directed=True, indices=self._virt[members], min_only=True, return_predecessors=True
            )
            via_lo, via_hi = dist[lo] + d_lo, dist[hi] + d_hi
            use_hi = via_hi < via_lo
            d = np.where(use_hi, via_hi, via_lo) + off
            s = np.where(use_hi, src[hi], src[lo])
            fac = np.where(s >= 0, s - (len(self.matrix.indptr) - 1 - self.n_facilities), -1)
            out[name] = Nearest(d, np.where(np.isfinite(d), fac, -1))
        return out


__all__ = ["StreetGraph", "Access", "Nearest"]

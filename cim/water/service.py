"""Buildings to the water junctions that serve them, and the people in them.

Rule (stated, M): a building is served by the junction nearest its footprint (``shapely.STRtree``), among
the network's nodes of kind ``junction`` (not reservoirs, tanks, valves or hydrants), if one lies within
:data:`MAX_SERVICE_DISTANCE_M`; ``attributes["served_by"]`` (a node id) overrides the rule.

Population of a building: ``attributes["population"]`` (or ``"persons"``) where given; else, for residential
and mixed-use buildings, floors x footprint area x the city's persons per m² of floor area
(``City.persons_per_m2``, default 0.025: 40 m² per person, M); floors = ``floors_above``, else height / 3 m.
Other buildings count no residents unless they say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..model import Building, BuildingUse
from ..store.typed import iter_typed
from .network import PER_CAPITA_M3_PER_DAY, WaterNetwork

if TYPE_CHECKING:
    from ..store import Store

MAX_SERVICE_DISTANCE_M = 300.0  # a building farther than this from every junction is not on the network (M)
STOREY_M = 3.0  # storey height when only the building height is known (M)
RESIDENT_USES = (BuildingUse.residential, BuildingUse.mixed)


@dataclass
class Service:
    """Buildings and the nodes serving them: ``node`` (b,) int, -1 where none; ``population`` (b,)."""

    building_ids: list[str]
    node: np.ndarray
    population: np.ndarray

    def node_population(self, n: int) -> np.ndarray:
        """(n,) people served at each node."""
        out = np.zeros(n)
        ok = self.node >= 0
        np.add.at(out, self.node[ok], self.population[ok])
        return out

    def buildings_at(self, nodes: np.ndarray) -> np.ndarray:
        """Indices of the buildings served by any of ``nodes`` (node indices)."""
        return np.flatnonzero(np.isin(self.node, nodes) & (self.node >= 0))


def population(b: Building, persons_per_m2: float) -> float:
    """People in one building (see the module docstring)."""
    for key in ("population", "persons"):
        v = b.attributes.get(key)
        if v is not None:
            try:
                return max(0.0, float(v))
            except (TypeError, ValueError):
                pass
    if b.use not in RESIDENT_USES:
        return 0.0
    import shapely

    area = shapely.Polygon(b.footprint[0], b.footprint[1:]).area
    floors = b.floors_above if b.floors_above else max(1, round(b.height / STOREY_M))
    return floors * area * persons_per_m2


def serve(store: Store, net: WaterNetwork, persons_per_m2: float) -> Service:
    """Every building of the store to its serving node (see the module docstring)."""
    import shapely

    buildings = list(iter_typed(store, "buildings", Building, batch=5000))
    ids = [b.id for b in buildings]
    pop = np.array([population(b, persons_per_m2) for b in buildings], dtype=np.float64)
    node = np.full(len(buildings), -1, dtype=np.int64)
    cand = np.flatnonzero((net.node_kind == "junction") & ~net.source)
    if len(buildings) and len(cand):
        tree = shapely.STRtree(shapely.points(net.node_xy[cand]))
        polys = [shapely.Polygon(b.footprint[0], b.footprint[1:]) for b in buildings]
        (src, hit), dist = tree.query_nearest(polys, max_distance=MAX_SERVICE_DISTANCE_M, return_distance=True)
        first = np.unique(src, return_index=True)[1]  # ties: the first
        node[src[first]] = cand[hit[first]]
        del dist
    for i, b in enumerate(buildings):
        v = b.attributes.get("served_by")
        if v is not None:
            node[i] = net.node_index.get(str(v), -1)
    return Service(ids, node, pop)


def demand_from_population(net: WaterNetwork, service: Service) -> np.ndarray:
    """(n,) m³/h: the population served at each node times the per-capita use (networks stating no demand)."""
    return service.node_population(net.n) * PER_CAPITA_M3_PER_DAY / 24.0

"""The water network of a store as arrays: nodes, links, isolation valves and sources.

What is what (utility ``water``):

* **nodes**: pipe-nodes that pipes start or end at (junctions, hydrants, line-valve chambers, reservoirs,
  tanks); a pipe end naming no stored node (or no node at all) gets an implicit junction at its end point
  (pipes that end at the same point within 1 cm share it);
* **links**: pipes, and the pumps and control valves of EPANET files (pipe-nodes ``pump:<id>`` /
  ``valve:<id>`` with ``from_node`` / ``to_node``), under their EPANET link ids;
* **sources**: reservoirs and tanks, and any node with ``attributes["source"] = true`` (an inlet from a
  network outside the store);
* **isolation valves** (gate valves): pipe-nodes of kind ``valve`` with ``attributes["isolation"] = true``,
  ``["pipe"]`` (the pipe they sit on) and ``["node"]`` (the end node they sit beside), as WNTR's valve
  layer; without ``node`` the pipe end nearest the valve is taken.  A line-valve chamber between two pipes
  may itself be such a valve (``node`` = its own id).  EPANET's control valves (PRV, TCV ...) are links,
  not isolation valves.
* **demand** (m³/h per node): ``attributes["base_demand"]`` in the file's ``flow_units`` (EPANET; the
  ``[DEMANDS]`` section and the demand multiplier are not counted here, the hydraulic model has them) or
  ``attributes["demand_m3_per_h"]``; where no node of the network states a demand, the population served
  times :data:`PER_CAPITA_M3_PER_DAY` (see :mod:`cim.water.service`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameter
from ..model import NodeKind, PipeNode, PipeSegment, Utility
from ..store.typed import iter_typed

if TYPE_CHECKING:
    from ..store import Store

#: m³/h per one unit of each EPANET flow unit (EPANET 2.2 manual, table of units)
FLOW_UNIT_M3_PER_H = {
    "CFS": 0.028316846592 * 3600,
    "GPM": 0.003785411784 * 60,
    "MGD": 3785.411784 / 24,
    "IMGD": 4546.09 / 24,
    "AFD": 1233.48183754752 / 24,
    "LPS": 3.6,
    "LPM": 0.06,
    "MLD": 1000.0 / 24,
    "CMH": 1.0,
    "CMD": 1.0 / 24,
    "CMS": 3600.0,
}
#: water use per person, m³/day, for networks whose nodes state no demand (an assumption, M: GB 50013-2018
#: gives ranges of 综合生活用水定额 by city size and region; 200 L/person/day lies inside them)
PER_CAPITA_M3_PER_DAY = 0.2
SOURCE_KINDS = (NodeKind.reservoir, NodeKind.tank)


def _unset() -> np.ndarray:
    return np.empty(0)


@dataclass
class WaterNetwork:
    """The network as arrays.  n nodes, m links, k isolation valves; positions in city metres."""

    name: str | None  # the EPANET network (file stem) or None for every water pipe of the store
    node_ids: list[str]
    node_kind: np.ndarray  # (n,) str
    node_xy: np.ndarray  # (n, 2)
    source: np.ndarray  # (n,) bool
    demand: np.ndarray  # (n,) m³/h
    link_ids: list[str]
    link_kind: np.ndarray  # (m,) "pipe" | "pump" | "valve"
    a: np.ndarray  # (m,) int: start node
    b: np.ndarray  # (m,) int: end node
    length: np.ndarray  # (m,) metres
    valve_ids: list[str]
    valve_link: np.ndarray  # (k,) int
    valve_node: np.ndarray  # (k,) int
    valve_xy: np.ndarray  # (k, 2)
    # optional per-node and per-link values: NaN throughout when not given
    node_z: np.ndarray = field(default_factory=_unset)  # (n,) ground elevation (stored z; a pipe's end if implicit)
    node_head: np.ndarray = field(default_factory=_unset)  # (n,) attributes["head_m"] of sources, else NaN
    diameter: np.ndarray = field(default_factory=_unset)  # (m,) metres, NaN for pumps and valves without one
    roughness: np.ndarray = field(default_factory=_unset)  # (m,) attributes["roughness"], else NaN
    demand_stated: bool = False  # whether the demand came from the nodes' attributes
    node_index: dict[str, int] = field(default_factory=dict)
    link_index: dict[str, int] = field(default_factory=dict)
    valve_index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, size in (("node_z", self.n), ("node_head", self.n), ("diameter", self.m), ("roughness", self.m)):
            if getattr(self, name).size == 0 and size:
                setattr(self, name, np.full(size, np.nan))
        self.node_index = {v: i for i, v in enumerate(self.node_ids)}
        self.link_index = {v: i for i, v in enumerate(self.link_ids)}
        self.valve_index = {v: i for i, v in enumerate(self.valve_ids)}

    @property
    def n(self) -> int:
        return len(self.node_ids)

    @property
    def m(self) -> int:
        return len(self.link_ids)

    def link(self, pipe: str, parameter: str = "pipe") -> int:
        """Index of a link id, or InvalidParameter naming ``parameter``."""
        try:
            return self.link_index[pipe]
        except KeyError:
            raise InvalidParameter(parameter, f"No water pipe {pipe!r} in {self.label()}.") from None

    def label(self) -> str:
        return f"network {self.name!r}" if self.name else "the water network"


def networks(store: Store) -> list[str]:
    """Names of the EPANET networks stored with their files (``epanet/<name>`` blobs)."""
    return [n.removeprefix("epanet/") for n in store.blob_names("epanet/")]


def _kind(node: PipeNode) -> str:
    return node.kind.value


def _is_link_node(node: PipeNode) -> bool:
    return node.kind in (NodeKind.pump, NodeKind.valve) and "from_node" in node.attributes


def _is_isolation(node: PipeNode) -> bool:
    v = node.attributes.get("isolation")
    return (
        node.kind == NodeKind.valve
        and (v is True or str(v).lower() in ("true", "1", "yes"))
        and "pipe" in node.attributes
    )


def load(store: Store, network: str | None = None) -> WaterNetwork:
    """The water network of ``store`` (every water pipe, or the EPANET network ``network``)."""
    pipes: list[PipeSegment] = []
    for p in iter_typed(store, "pipes", PipeSegment, batch=5000):
        if p.utility == Utility.water and (network is None or p.attributes.get("network") == network):
            pipes.append(p)
    if network is not None and not pipes:
        known = networks(store)
        raise InvalidParameter(
            "network",
            f"No water network {network!r} in the store" + (f"; it holds {', '.join(known)}." if known else "."),
        )
    pipe_ids = {p.id for p in pipes}
    stored: dict[str, PipeNode] = {}
    link_nodes: list[PipeNode] = []
    valves: list[PipeNode] = []
    for nd in iter_typed(store, "pipe-nodes", PipeNode, batch=5000):
        if nd.utility != Utility.water:
            continue
        if _is_isolation(nd):
            if network is None or str(nd.attributes["pipe"]) in pipe_ids:
                valves.append(nd)
            if nd.attributes.get("node") != nd.id:
                continue
        if network is not None and nd.attributes.get("network") != network:
            continue
        if _is_link_node(nd):
            link_nodes.append(nd)
        else:
            stored[nd.id] = nd
    return build(network, pipes, stored, link_nodes, valves)


def build(
    name: str | None,
    pipes: list[PipeSegment],
    stored: dict[str, PipeNode],
    link_nodes: list[PipeNode],
    valves: list[PipeNode],
) -> WaterNetwork:
    """Arrays from features (see the module docstring)."""
    ids: list[str] = []
    kind: list[str] = []
    xy: list[tuple[float, float]] = []
    zs: list[float] = []
    index: dict[str, int] = {}
    at_point: dict[tuple[int, int], int] = {}

    def add(fid: str, k: str, p: tuple[float, ...]) -> int:
        index[fid] = len(ids)
        ids.append(fid)
        kind.append(k)
        xy.append((p[0], p[1]))
        zs.append(p[2] if len(p) > 2 else np.nan)
        at_point.setdefault((round(p[0] * 100), round(p[1] * 100)), index[fid])
        return index[fid]

    def end(fid: str | None, p: tuple[float, ...]) -> int:
        if fid is not None and fid in index:
            return index[fid]
        if fid is not None and fid in stored:
            nd = stored[fid]
            return add(fid, _kind(nd), tuple(nd.position))
        if fid is None:
            hit = at_point.get((round(p[0] * 100), round(p[1] * 100)))
            if hit is not None:
                return hit
        return add(fid or f"xy:{p[0]:.2f},{p[1]:.2f}", NodeKind.junction.value, p)

    a, b, lids, lkind, length, diam, rough = [], [], [], [], [], [], []
    for p in pipes:
        c = p.coords()
        a.append(end(p.from_node, (c[0, 0], c[0, 1], c[0, 2] + p.outer_height / 2 + 1.0)))
        b.append(end(p.to_node, (c[-1, 0], c[-1, 1], c[-1, 2] + p.outer_height / 2 + 1.0)))
        lids.append(p.id)
        lkind.append("pipe")
        diam.append(p.diameter if p.diameter is not None else np.nan)
        r = p.attributes.get("roughness")
        rough.append(float(r) if isinstance(r, int | float) else np.nan)
        length.append(float(p.attributes.get("length_m") or np.hypot(*np.diff(c[:, :2], axis=0).T).sum()))
    for nd in link_nodes:
        at = (nd.position[0], nd.position[1])
        a.append(end(str(nd.attributes["from_node"]), at))
        b.append(end(str(nd.attributes["to_node"]), at))
        lids.append(str(nd.attributes.get("link_id") or nd.id))
        lkind.append(nd.kind.value)
        length.append(0.0)
        diam.append(float(nd.attributes.get("diameter_m") or np.nan))
        rough.append(np.nan)
    for fid, nd in stored.items():  # nodes no pipe reaches (a lone reservoir, say)
        if fid not in index:
            add(fid, _kind(nd), tuple(nd.position))

    node_xy = np.asarray(xy, dtype=float).reshape(len(ids), 2)
    src, demand, head, stated = _node_attributes(ids, kind, stored)
    link_ids = lids
    link_index = {v: i for i, v in enumerate(link_ids)}
    if len(link_index) != len(link_ids):
        dup = next(x for x in link_ids if link_ids.count(x) > 1)
        raise InvalidParameter("network", f"Link id {dup!r} is used twice in the water network; name a network.")
    a_arr, b_arr = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    va, vn, vids, vxy = _place_valves(valves, ids, index, node_xy, link_index, a_arr, b_arr)
    return WaterNetwork(
        name=name,
        node_ids=ids,
        node_kind=np.asarray(kind, dtype=object),
        node_xy=node_xy,
        source=src,
        demand=demand,
        link_ids=link_ids,
        link_kind=np.asarray(lkind, dtype=object),
        a=a_arr,
        b=b_arr,
        length=np.asarray(length, dtype=float),
        valve_ids=vids,
        valve_link=np.asarray(va, dtype=np.int64),
        valve_node=np.asarray(vn, dtype=np.int64),
        valve_xy=np.asarray(vxy, dtype=float).reshape(-1, 2),
        demand_stated=stated,
        node_z=np.asarray(zs, dtype=float),
        node_head=head,
        diameter=np.asarray(diam, dtype=float),
        roughness=np.asarray(rough, dtype=float),
    )


def _node_attributes(
    ids: list[str], kind: list[str], stored: dict[str, PipeNode]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Per node (n,): source flags, demand (m³/h), fixed head (m, NaN where none); and whether any node states
    a demand.  Reservoirs and tanks are sources, as is a stored node whose ``attributes["source"]`` is true."""
    n = len(ids)
    src = np.array([k in (NodeKind.reservoir.value, NodeKind.tank.value) for k in kind], dtype=bool)
    demand = np.zeros(n)
    head = np.full(n, np.nan)
    stated = False
    for i, fid in enumerate(ids):
        nd = stored.get(fid)
        if nd is None:
            continue
        attrs = nd.attributes
        if _truthy(attrs.get("source")):
            src[i] = True
        if isinstance(attrs.get("head_m"), int | float):
            head[i] = float(attrs["head_m"])
        d = _demand(attrs)
        if d is not None:
            demand[i] = d
            stated = True
    return src, demand, head, stated


def _place_valves(
    valves: list[PipeNode],
    ids: list[str],
    index: dict[str, int],
    node_xy: np.ndarray,
    link_index: dict[str, int],
    a_arr: np.ndarray,
    b_arr: np.ndarray,
) -> tuple[list[int], list[int], list[str], list[Any]]:
    """Each isolation valve's link and the end node it sits beside (its ``node`` attribute, else the pipe end
    nearest it): link indices, node indices, valve ids, valve positions (x, y metres)."""
    va: list[int] = []
    vn: list[int] = []
    vids: list[str] = []
    vxy: list[Any] = []
    for v in valves:
        pipe = str(v.attributes["pipe"])
        li = link_index.get(pipe)
        if li is None:
            raise InvalidParameter("valves", f"Isolation valve {v.id!r} sits on pipe {pipe!r}, not a water pipe.")
        ends = (int(a_arr[li]), int(b_arr[li]))
        node = v.attributes.get("node")
        if node is None:
            d = np.hypot(*(node_xy[list(ends)] - np.asarray(v.position[:2])).T)
            ni = ends[int(np.argmin(d))]
        else:
            ni = index.get(str(node), -1)
            if ni not in ends:
                raise InvalidParameter(
                    "valves",
                    f"Isolation valve {v.id!r} names node {node!r}, which is not an end of pipe {pipe!r} "
                    f"({ids[ends[0]]!r}, {ids[ends[1]]!r}).",
                )
        va.append(li)
        vn.append(ni)
        vids.append(v.id)
        vxy.append(v.position[:2])
    return va, vn, vids, vxy


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() in ("true", "1", "yes")


def _demand(attrs: dict[str, Any]) -> float | None:
    """A node's stated demand, m³/h, or None."""
    if attrs.get("demand_m3_per_h") is not None:
        return float(attrs["demand_m3_per_h"])
    if attrs.get("base_demand") is not None:
        unit = str(attrs.get("flow_units", "GPM")).upper()
        return float(attrs["base_demand"]) * FLOW_UNIT_M3_PER_H.get(unit, FLOW_UNIT_M3_PER_H["GPM"])
    return None


@dataclass
class Prepared:
    """A network with its segments, the buildings it serves and the demand per node (m³/h)."""

    net: WaterNetwork
    seg: Any  # cim.water.segments.Segments
    service: Any  # cim.water.service.Service
    demand: np.ndarray
    population: np.ndarray  # (n,) people served per node


_CACHE: dict[tuple, Prepared] = {}


def prepare(store: Store, network: str | None, persons_per_m2: float) -> Prepared:
    """:func:`load`, segments and service for ``store`` (cached per store version)."""
    from .segments import segments
    from .service import demand_from_population, serve

    key = (str(store.url), store.version(), network, persons_per_m2)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    net = load(store, network)
    service = serve(store, net, persons_per_m2)
    demand = net.demand if net.demand_stated else demand_from_population(net, service)
    out = Prepared(net, segments(net), service, demand, service.node_population(net.n))
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[key] = out
    return out

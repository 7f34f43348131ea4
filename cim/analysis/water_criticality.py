"""Criticality of every isolation segment: who loses water when it is isolated (one graph pass)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from .registry import Analysis
from .water_isolation import NETWORK_DOC

if TYPE_CHECKING:
    from ..city import LocalCity


class CriticalityRequest(BaseModel):
    """How many segments to rank, by population or demand, and how many to simulate hydraulically."""

    model_config = ConfigDict(extra="forbid")
    top: int = Field(20, ge=1, le=10_000, description="How many segments to list.")
    by: Literal["population", "demand"] = Field("population", description="Rank by people or demand cut off.")
    hydraulic_top: int = Field(
        0,
        ge=0,
        le=20,
        description="Also simulate the isolation of the first N ranked segments (WNTR, pressure-dependent "
        "demand at the service pressure, one hour): junctions left below the service pressure.",
    )
    network: str | None = Field(None, description=NETWORK_DOC)


class SegmentCriticality(BaseModel):
    """One ranked isolation segment: its pipes, nodes and valves and what its isolation cuts off (people, m³/h)."""

    rank: int
    segment: int = Field(description="Segment number (stable for an unchanged network).")
    pipes: list[str] = Field(description="Pipes (and EPANET pumps and valves) of the segment (none: a lone node).")
    nodes: list[str] = Field(description="Nodes of the segment.")
    valves: list[str] = Field(description="Isolation valves to close to isolate it.")
    pipe_length_m: float
    nodes_cut_off: int = Field(description="Nodes without water once it is isolated (its own and beyond).")
    population_cut_off: float
    demand_cut_off_m3_per_h: float
    below_service: list[str] | None = Field(
        None, description="hydraulic_top: junctions below the service pressure once it is isolated (simulated)."
    )
    population_below_service: float | None = None


class CriticalityResult(BaseModel):
    """The network's segment and valve counts and the most critical segments, most critical first."""

    network: str | None
    segments: int = Field(description="Isolation segments in the network.")
    valves: int
    unsupplied_segments: int = Field(description="Segments with no path to any source even before a burst.")
    ranked: list[SegmentCriticality]


def run(city: LocalCity, req: CriticalityRequest) -> CriticalityResult:
    """The registered analysis: every segment's cut-off population and demand in one graph pass, ranked."""
    import numpy as np

    from ..water.network import prepare
    from ..water.segments import criticality

    p = prepare(city.store, req.network, city.store.city().persons_per_m2)
    net, seg = p.net, p.seg
    w = seg.node_weights(np.column_stack([p.population, p.demand, np.ones(net.n)]))
    lost, supplied = criticality(seg, w)
    col = 0 if req.by == "population" else 1
    order = np.lexsort((-lost[:, 1 - col], -lost[:, col]))[: req.top]
    links = seg.members(seg.link_seg)
    nodes = seg.members(seg.node_seg)
    # valves on each segment's boundary: a valve borders the segments on its two sides
    vs = np.concatenate([seg.valve_link_seg, seg.valve_node_seg])
    vi = np.concatenate([np.arange(len(net.valve_ids))] * 2)
    border = seg.valve_link_seg != seg.valve_node_seg
    vs, vi = vs[np.concatenate([border, border])], vi[np.concatenate([border, border])]
    by_seg: dict[int, list[str]] = {}
    for s in order.tolist():
        by_seg[s] = sorted(net.valve_ids[i] for i in vi[vs == s])
    ranked = [
        SegmentCriticality(
            rank=r + 1,
            segment=int(s),
            pipes=sorted(net.link_ids[i] for i in links[s]),
            nodes=sorted(net.node_ids[i] for i in nodes[s]),
            valves=by_seg[s],
            pipe_length_m=round(float(net.length[links[s]].sum()), 2),
            nodes_cut_off=int(round(lost[s, 2])),
            population_cut_off=round(float(lost[s, 0]), 2),
            demand_cut_off_m3_per_h=round(float(lost[s, 1]), 4),
        )
        for r, s in enumerate(order.tolist())
    ]
    if req.hydraulic_top and ranked:
        _hydraulic(city, p, ranked[: req.hydraulic_top], links, req.network)
    return CriticalityResult(
        network=req.network,
        segments=seg.count,
        valves=len(net.valve_ids),
        unsupplied_segments=int((~supplied).sum()),
        ranked=ranked,
    )


def _hydraulic(city: LocalCity, p, ranked: list[SegmentCriticality], links, network: str | None) -> None:
    """Fill ``below_service`` for ``ranked``: one WNTR pressure-dependent run per segment, its links closed."""
    import copy

    import numpy as np
    import wntr

    from ..errors import InvalidParameter
    from ..water import hydraulics as hy

    c = city.store.city()
    service = c.water_service_pressure_m
    base = hy.model(city.store, hy.pick_network(city.store, network), p, c.persons_per_m2)
    hy.configure(
        base, duration_h=1, step_min=60, demand_model="PDD", required_pressure_m=service, minimum_pressure_m=0.0
    )
    junctions = set(base.junction_name_list)
    for item in ranked:
        wn = copy.deepcopy(base)
        for i in links[item.segment]:
            lid = p.net.link_ids[i]
            if lid in wn.link_name_list:
                wn.get_link(lid).initial_status = wntr.network.LinkStatus.Closed
        for nid in item.nodes:  # a lone node (an inlet): close every link at it
            if nid in wn.node_name_list:
                for lid in wn.get_links_for_node(nid):
                    wn.get_link(lid).initial_status = wntr.network.LinkStatus.Closed
        try:
            res = wntr.sim.WNTRSimulator(wn).run_sim()
        except Exception as exc:
            raise InvalidParameter("hydraulic_top", f"The simulation of segment {item.segment} failed: {exc}") from None
        pr = res.node["pressure"]
        below = sorted(x for x in pr.columns if x in junctions and float(pr[x].min()) < service - 1e-6)
        idx = np.asarray([p.net.node_index[x] for x in below if x in p.net.node_index], dtype=np.int64)
        b = p.service.buildings_at(idx)
        item.below_service = below
        item.population_below_service = round(float(p.service.population[b].sum()), 2)


ANALYSIS = Analysis(
    id="water-criticality",
    title="Water network segment criticality",
    description="Every isolation segment of the water network ranked by the population and demand cut off "
    "when it is isolated (its own nodes and every node that reaches a source only through it), computed for "
    "all segments in one graph pass.",
    request=CriticalityRequest,
    result=CriticalityResult,
    run=run,
    method="GET",
    heavy=False,
    keywords=("water", "criticality", "segment", "valve", "resilience"),
)

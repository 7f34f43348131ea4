"""Criticality of every isolation segment: who loses water when it is isolated (one graph pass)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from .registry import Analysis
from .water_isolation import NETWORK_DOC

if TYPE_CHECKING:
    from ..city import LocalCity


class CriticalityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    top: int = Field(20, ge=1, le=10_000, description="How many segments to list.")
    by: Literal["population", "demand"] = Field("population", description="Rank by people or demand cut off.")
    network: str | None = Field(None, description=NETWORK_DOC)


class SegmentCriticality(BaseModel):
    rank: int
    segment: int = Field(description="Segment number (stable for an unchanged network).")
    pipes: list[str] = Field(description="Pipes (and EPANET pumps and valves) of the segment (none: a lone node).")
    nodes: list[str] = Field(description="Nodes of the segment.")
    valves: list[str] = Field(description="Isolation valves to close to isolate it.")
    pipe_length_m: float
    nodes_cut_off: int = Field(description="Nodes without water once it is isolated (its own and beyond).")
    population_cut_off: float
    demand_cut_off_m3_per_h: float


class CriticalityResult(BaseModel):
    network: str | None
    segments: int = Field(description="Isolation segments in the network.")
    valves: int
    unsupplied_segments: int = Field(description="Segments with no path to any source even before a burst.")
    ranked: list[SegmentCriticality]


def run(city: LocalCity, req: CriticalityRequest) -> CriticalityResult:
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
    return CriticalityResult(
        network=req.network,
        segments=seg.count,
        valves=len(net.valve_ids),
        unsupplied_segments=int((~supplied).sum()),
        ranked=ranked,
    )


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

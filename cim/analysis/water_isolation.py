"""Burst isolation: the isolation segment of a pipe, the valves to close and who loses water."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity

NETWORK_DOC = "EPANET network (the imported file's name without extension); default: every water pipe of the store."


class IsolationRequest(BaseModel):
    """A burst pipe and the isolation valves that fail to close."""

    model_config = ConfigDict(extra="forbid")
    pipe: str = Field(min_length=1, description="Id of the burst pipe.")
    failed_valves: list[str] = Field(
        default_factory=list, description="Ids of isolation valves that fail to close (the segment grows past them)."
    )
    network: str | None = Field(None, description=NETWORK_DOC)


class IsolationResult(BaseModel):
    """A burst pipe's isolation segment, the valves to close and the nodes, buildings, people and demand cut off."""

    pipe: str
    segment_pipes: list[str] = Field(description="Pipes (and EPANET pumps and valves) isolated with the burst pipe.")
    valves_to_close: list[str] = Field(description="Isolation valves to close, sorted.")
    segment_nodes: list[str] = Field(description="Nodes inside the isolated segment.")
    nodes_cut_off: list[str] = Field(
        description="Nodes supplied before and left without a path to a source (reservoir, tank, inlet) after: "
        "the segment's own and those beyond it."
    )
    buildings_affected: list[str] = Field(description="Buildings served by a node cut off.")
    population_affected: float = Field(description="People in those buildings.")
    demand_lost_m3_per_h: float = Field(description="Base demand of the nodes cut off, m³/h.")


def run(city: LocalCity, req: IsolationRequest) -> IsolationResult:
    """The registered analysis: the burst pipe's isolation segment and what loses its path to a source."""
    import numpy as np

    from ..water.network import prepare
    from ..water.segments import failed_valves, isolate

    c = city.store.city()
    p = prepare(city.store, req.network, c.persons_per_m2)
    net = p.net
    iso = isolate(p.seg, net.link(req.pipe), failed_valves(net, req.failed_valves))
    b = p.service.buildings_at(iso.nodes_cut_off)
    return IsolationResult(
        pipe=req.pipe,
        segment_pipes=sorted(net.link_ids[i] for i in iso.links),
        valves_to_close=sorted(net.valve_ids[i] for i in iso.valves_to_close),
        segment_nodes=sorted(net.node_ids[i] for i in iso.nodes_in_segment),
        nodes_cut_off=sorted(net.node_ids[i] for i in iso.nodes_cut_off),
        buildings_affected=sorted(p.service.building_ids[i] for i in b),
        population_affected=round(float(p.service.population[b].sum()), 3),
        demand_lost_m3_per_h=round(float(np.sum(p.demand[iso.nodes_cut_off])), 6),
    )


ANALYSIS = Analysis(
    id="water-isolation",
    title="Water pipe burst isolation",
    description="The isolation segment of a burst pipe (the pipes reachable without crossing an isolation "
    "valve), the valves to close, the nodes left without a path to a source, and the buildings, people and "
    "demand cut off.  Failed valves extend the segment to the next valves.",
    request=IsolationRequest,
    result=IsolationResult,
    run=run,
    heavy=False,
    keywords=("water", "burst", "valve", "isolation", "segment"),
)

"""Hydraulic simulation of the stored water network with WNTR's EPANET simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from .registry import Analysis
from .water_isolation import NETWORK_DOC

if TYPE_CHECKING:
    from ..city import LocalCity


class HydraulicsRequest(BaseModel):
    """Simulation settings (h, min, demand model, PDD pressures in m); unset: the EPANET file's."""

    model_config = ConfigDict(extra="forbid")
    duration_h: float | None = Field(
        None, ge=0, le=24 * 31, description="Simulated hours; default: the EPANET file's, else 24."
    )
    step_min: float | None = Field(
        None, gt=0, le=24 * 60, description="Hydraulic and report step, minutes; default: the file's, else 60."
    )
    demand_model: Literal["DD", "PDD"] | None = Field(
        None, description="Demand-driven or pressure-dependent demand; default: the file's, else DD."
    )
    required_pressure_m: float | None = Field(
        None, ge=0, le=200, description="PDD: pressure at which the full demand is met, m (WNTR's least: 0.07)."
    )
    minimum_pressure_m: float | None = Field(None, ge=0, le=200, description="PDD: pressure below which no water, m.")
    network: str | None = Field(None, description=NETWORK_DOC)


class NodeSeries(BaseModel):
    """A node's time series, one value per report time: pressure (m), head (m), demand (m³/h)."""

    pressure_m: list[float]
    head_m: list[float]
    demand_m3_per_h: list[float]


class LinkSeries(BaseModel):
    """A link's time series, one value per report time: flow (m³/h) and velocity (m/s)."""

    flow_m3_per_h: list[float]
    velocity_m_per_s: list[float]


class HydraulicsResult(BaseModel):
    """Report times (s from the start) and every node's and link's series."""

    network: str | None = Field(description="The EPANET network simulated, or None for one built from features.")
    times_s: list[int]
    nodes: dict[str, NodeSeries]
    links: dict[str, LinkSeries]


def run(city: LocalCity, req: HydraulicsRequest) -> HydraulicsResult:
    """The registered analysis: the network (an EPANET file or one built from pipe features) run by EPANET."""
    from ..water import hydraulics as hy

    name = hy.pick_network(city.store, req.network)
    wn = hy.model(city.store, name, persons_per_m2=city.store.city().persons_per_m2)
    fresh = name is None
    hy.configure(
        wn,
        duration_h=req.duration_h if req.duration_h is not None or not fresh else 24.0,
        step_min=req.step_min if req.step_min is not None or not fresh else 60.0,
        demand_model=req.demand_model,
        required_pressure_m=req.required_pressure_m,
        minimum_pressure_m=req.minimum_pressure_m,
    )
    res = hy.run_epanet(wn)
    return result(name, res)


def result(name: str | None, res) -> HydraulicsResult:
    """WNTR results -> the response (m, m³/h, m/s; 4 decimals)."""
    p, h, d = (res.node[k] for k in ("pressure", "head", "demand"))
    q, v = res.link["flowrate"], res.link["velocity"]

    def col(frame, scale=1.0):
        return (frame * scale).round(4).to_dict(orient="list")

    pp, hh, dd = col(p), col(h), col(d, 3600.0)
    qq, vv = col(q, 3600.0), col(v)
    return HydraulicsResult(
        network=name,
        times_s=[int(t) for t in p.index],
        nodes={str(k): NodeSeries(pressure_m=pp[k], head_m=hh[k], demand_m3_per_h=dd[k]) for k in p.columns},
        links={str(k): LinkSeries(flow_m3_per_h=qq[k], velocity_m_per_s=vv[k]) for k in q.columns},
    )


ANALYSIS = Analysis(
    id="water-hydraulics",
    title="Water network hydraulics",
    description="Pressures, heads and demands at every node and flows and velocities in every link over time, "
    "simulated with WNTR's EPANET simulator on the stored network (an imported EPANET file simulates exactly "
    "like the file; networks from other sources get stated defaults: cim.water.hydraulics).",
    request=HydraulicsRequest,
    result=HydraulicsResult,
    run=run,
    keywords=("water", "hydraulics", "EPANET", "WNTR", "pressure"),
)

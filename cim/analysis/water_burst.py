"""A pipe burst simulated before and after isolation (WNTR's leak model, pressure-dependent demand)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from .registry import Analysis
from .water_isolation import NETWORK_DOC

if TYPE_CHECKING:
    from ..city import LocalCity


class BurstRequest(BaseModel):
    """A burst: the pipe, the leak area (m²), the simulated time (h, min) and the service pressure (m)."""

    model_config = ConfigDict(extra="forbid")
    pipe: str = Field(min_length=1, description="Id of the burst pipe (the leak sits at its middle).")
    leak_area_m2: float = Field(0.01, gt=0, le=10, description="Leak opening area, m² (discharge coefficient 0.75).")
    duration_h: float = Field(6.0, gt=0, le=72, description="Simulated hours, each phase.")
    step_min: float = Field(60.0, gt=0, le=24 * 60, description="Hydraulic step, minutes.")
    service_pressure_m: float | None = Field(
        None, ge=0.07, le=100, description="Least pressure of a served node, m; default: the city's (14 m, M)."
    )
    failed_valves: list[str] = Field(default_factory=list, description="Isolation valves that fail to close.")
    network: str | None = Field(None, description=NETWORK_DOC)


class Phase(BaseModel):
    """One simulated phase (normal, burst, isolated): junctions below service pressure, people and water."""

    phase: str = Field(description="normal (no burst), burst (leaking, before isolation), isolated.")
    nodes_below_service: list[str] = Field(description="Junctions whose pressure falls below the service pressure.")
    newly_below_service: list[str] = Field(description="Those that are not below it in normal operation.")
    buildings_affected: list[str] = Field(description="Buildings served by a node newly below service pressure.")
    population_affected: float
    demand_required_m3: float = Field(description="Demand over the phase, m³.")
    demand_delivered_m3: float = Field(description="Water delivered under pressure-dependent demand, m³.")
    leak_m3_per_h: float | None = Field(None, description="Mean leak flow (burst phase), m³/h.")


class BurstResult(BaseModel):
    """The three phases of a burst, the valves to close and the pipes of the isolation segment."""

    pipe: str
    service_pressure_m: float
    valves_to_close: list[str]
    segment_pipes: list[str]
    phases: list[Phase]


def run(city: LocalCity, req: BurstRequest) -> BurstResult:
    """The registered analysis: three WNTR pressure-dependent runs (normal, leaking, isolated) compared."""
    import numpy as np

    from ..errors import InvalidParameter
    from ..water import hydraulics as hy
    from ..water.network import prepare
    from ..water.segments import failed_valves, isolate

    c = city.store.city()
    service = req.service_pressure_m if req.service_pressure_m is not None else c.water_service_pressure_m
    name = hy.pick_network(city.store, req.network)
    p = prepare(city.store, name, c.persons_per_m2)
    net = p.net
    li = net.link(req.pipe)
    iso = isolate(p.seg, li, failed_valves(net, req.failed_valves))
    base = hy.model(city.store, name, p, c.persons_per_m2)
    if req.pipe not in base.pipe_name_list:
        raise InvalidParameter("pipe", f"{req.pipe!r} is not a pipe of the simulated network (a pump or valve?).")

    def setup(wn):
        hy.configure(
            wn,
            duration_h=req.duration_h,
            step_min=req.step_min,
            demand_model="PDD",
            required_pressure_m=service,
            minimum_pressure_m=0.0,
        )
        return wn

    import copy

    import wntr

    normal = setup(copy.deepcopy(base))
    burst = setup(wntr.morph.split_pipe(base, req.pipe, f"{req.pipe}__b", f"{req.pipe}__leak"))
    leak_node = f"{req.pipe}__leak"
    burst.get_node(leak_node).add_leak(burst, area=req.leak_area_m2, discharge_coeff=0.75, start_time=0)
    isolated = setup(copy.deepcopy(base))
    for i in iso.links:
        lid = net.link_ids[i]
        if lid in isolated.link_name_list:
            isolated.get_link(lid).initial_status = wntr.network.LinkStatus.Closed

    junctions = set(base.junction_name_list)
    phases: list[Phase] = []
    below_normal: set[str] = set()
    for label, wn in (("normal", normal), ("burst", burst), ("isolated", isolated)):
        try:
            res = wntr.sim.WNTRSimulator(wn).run_sim()
        except Exception as exc:  # convergence failures and the like
            raise InvalidParameter("pipe", f"The {label} simulation failed: {exc}") from None
        pr = res.node["pressure"]
        cols = [x for x in pr.columns if x in junctions]
        below = {x for x in cols if float(pr[x].min()) < service - 1e-6}
        if label == "normal":
            below_normal = below
        new = sorted(below - below_normal)
        idx = np.asarray([net.node_index[x] for x in new if x in net.node_index], dtype=np.int64)
        b = p.service.buildings_at(idx)
        step_h = req.step_min / 60.0
        dem = res.node["demand"][cols].to_numpy() * 3600.0
        req_dem = wntr.metrics.expected_demand(wn).reindex(index=pr.index, columns=cols).to_numpy() * 3600.0
        leak = None
        if label == "burst":
            leak = round(float(res.node["leak_demand"][leak_node].mean()) * 3600.0, 4)
        phases.append(
            Phase(
                phase=label,
                nodes_below_service=sorted(below),
                newly_below_service=new,
                buildings_affected=sorted(p.service.building_ids[i] for i in b),
                population_affected=round(float(p.service.population[b].sum()), 2),
                demand_required_m3=round(float(req_dem[:-1].sum() * step_h), 3),
                demand_delivered_m3=round(float(dem[:-1].sum() * step_h), 3),
                leak_m3_per_h=leak,
            )
        )
    return BurstResult(
        pipe=req.pipe,
        service_pressure_m=service,
        valves_to_close=sorted(net.valve_ids[i] for i in iso.valves_to_close),
        segment_pipes=sorted(net.link_ids[i] for i in iso.links),
        phases=phases,
    )


ANALYSIS = Analysis(
    id="water-burst",
    title="Water pipe burst: before and after isolation",
    description="A leak of the given area at the middle of a pipe (WNTR's leak model, pressure-dependent "
    "demand with the service pressure as the required pressure), then the pipe's isolation segment closed: "
    "the junctions below the service pressure, the buildings and people affected and the water delivered in "
    "each phase, against normal operation.",
    request=BurstRequest,
    result=BurstResult,
    run=run,
    keywords=("water", "burst", "leak", "pressure", "WNTR"),
)

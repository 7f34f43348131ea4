"""The water network's isolation valves, inlets and district metered areas.

* **Isolation valves** (gate valves, ``kind`` valve, ``isolation: true``, ``pipe``, ``node``): at every tee and
  cross of the water mains, a valve on each pipe but one (the "N-1" placement of WNTR's strategic valve layer;
  the pipe left unvalved is drawn with the seed), 3 m from the junction along the pipe; the line-valve
  chambers halfway along long spans close their span too, and each inlet has its valve.  Corners and dead
  ends (hydrants) have none: the realistic gaps that make segments larger than one pipe.
* **Inlets**: every water pipe that reaches the district's edge is fed there from the city's network (each
  street's pipes form a comb hanging off the pipe of the N-S street, so each needs its own inlet); those
  edge junctions are sources at a fixed head 35 m above ground (an assumption, M: 0.35 MPa at the inlet).
* **District metered areas**: the four quadrants of the 2 km district, DMA-NW, DMA-NE, DMA-SW, DMA-SE; their
  inlet meters are datastreams whose Thing names ``water-districts/<id>`` with role ``dma-inlet``
  (the monitoring data).
"""

from __future__ import annotations

import numpy as np
import shapely

from cim.model import NodeKind, PipeNode, PipeSegment, Utility
from cim.terrain import Terrain
from cim.water.district import WaterDistrict

from .layout import SIZE, origin

VALVE_OFFSET = 3.0  # metres from the junction along the pipe
INLET_HEAD = 35.0  # m above ground at an inlet (M)
DMA = {"DMA-SW": (0, 0), "DMA-SE": (1, 0), "DMA-NW": (0, 1), "DMA-NE": (1, 1)}
DMA_NAME = {"DMA-SW": "西南计量分区 (SW DMA)", "DMA-SE": "东南计量分区 (SE DMA)", "DMA-NW": "西北计量分区 (NW DMA)"}
DMA_NAME["DMA-NE"] = "东北计量分区 (NE DMA)"


def _near(p: PipeSegment, node: str) -> tuple[float, float]:
    line = shapely.LineString(p.coords()[:, :2])
    d = min(VALVE_OFFSET, line.length / 3)
    pt = line.interpolate(d if p.from_node == node else line.length - d)
    return pt.x, pt.y


def water(
    pipes: list[PipeSegment], nodes: list[PipeNode], terrain: Terrain, seed: int
) -> tuple[list[PipeNode], list[WaterDistrict]]:
    """New isolation valves and the districts; marks inlets (sources) and line valves in ``nodes`` in place."""
    rng = np.random.default_rng([seed, 18])
    wp = sorted((p for p in pipes if p.utility == Utility.water), key=lambda p: p.id)
    at: dict[str, list[PipeSegment]] = {}
    for p in wp:
        for n in (p.from_node, p.to_node):
            if n is not None:
                at.setdefault(n, []).append(p)
    by_id = {n.id: n for n in nodes if n.utility == Utility.water}
    places: list[tuple[PipeSegment, str]] = []
    for nid in sorted(at):
        nd = by_id.get(nid)
        if nd is None:
            continue
        links = at[nid]
        if nd.kind == NodeKind.junction and len(links) >= 3:
            skip = int(rng.integers(len(links)))
            places += [(p, nid) for k, p in enumerate(links) if k != skip]
        elif nd.kind == NodeKind.valve and len(links) == 2:
            nd.attributes.update(isolation=True, pipe=links[0].id, node=nid)
        if nd.attributes.get("boundary"):
            nd.attributes.update(source=True, head_m=round(nd.position[2] + INLET_HEAD, 3))
            places += [(p, nid) for p in links]  # the inlet valve
    xy = np.array([_near(p, n) for p, n in places]).reshape(-1, 2)
    z = terrain.sample(xy) if len(xy) else np.zeros(0)
    valves = [
        PipeNode(
            id=f"V-WAT-{k + 1:05d}",
            name=f"闸阀 (gate valve) DN{round((p.diameter or 0.2) * 1000)}",
            kind=NodeKind.valve,
            utility=Utility.water,
            position=(round(float(x), 3), round(float(y), 3), float(zz)),
            diameter=1.2,
            attributes={"isolation": True, "pipe": p.id, "node": n, "role": "isolation_valve"},
        )
        for k, ((p, n), (x, y), zz) in enumerate(zip(places, xy.tolist(), z.tolist(), strict=True))
    ]
    x0, y0 = origin()
    half = SIZE / 2
    districts = []
    for did, (i, j) in DMA.items():
        ax, ay = x0 + i * half, y0 + j * half
        districts.append(
            WaterDistrict(
                id=did,
                name=DMA_NAME[did],
                area=[[(ax, ay), (ax + half, ay), (ax + half, ay + half), (ax, ay + half)]],
            )
        )
    return valves, districts

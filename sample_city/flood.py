"""Flood features of the sample district: an underpass and a low block in the ground, and a SWMM model of the
storm network with subcatchments.

* **The underpass** (下穿立交): 重工街 (local u = 900 m) continues north of the district and dips under the
  railway embankment beyond 北四路: a 24 m wide cut between retaining walls, 4.5 m deep along 20 m at its
  lowest point (local v = 2040-2060 m), with 30 m ramps.  Nothing drains it but the network (not modelled
  at the surface), so its own runoff stands in it.
* **The low block** (老旧小区, block col 3 row 5, between 卫工街/兴工街 and 沈辽路/北四路... see ``LOW_BLOCK``):
  its ground sinks in a paraboloid 1.6 m deep (radius 85 m) below the surrounding streets, an old
  residential compound built in a hollow.  Its buildings stand on that ground.
* **The SWMM model** (blob ``swmm/sample_storm``): the stored storm network (manholes, outfalls, conduits
  at their stored inverts and diameters) with one subcatchment per manhole draining the streets and blocks
  next to it (a strip 10 m either side of the pipes that leave the manhole, 50 % impervious: the streets; the
  blocks' own drains are not modelled).  Manholes no conduit leaves (laterals ending at the district's edge,
  whose network goes on beyond it) are free outfalls.  The
  branch of 重工街 (the CBD collector, local u = 900 m) also takes the CBD's roofs and plazas (tributary
  width 110 m, 95 % impervious): that branch surcharges under the 30-year storm while the others carry it.

:func:`relief` is added to the analytic ground in :mod:`sample_city.terrain`; :func:`swmm_model` is called
once by the generator.
"""

from __future__ import annotations

import numpy as np

from cim.hydro.storm import Storm, hyetograph
from cim.model import NodeKind, PipeNode, PipeSegment, Utility

from .layout import block, origin

UNDERPASS_U = 900.0  # 重工街
UNDERPASS_HALF_WIDTH = 12.0
UNDERPASS_V = (2010.0, 2040.0, 2060.0, 2090.0)  # ramp start, floor start, floor end, ramp end (local v)
UNDERPASS_DEPTH = 4.5
UNDERPASS_ROAD = "RD-NS05-underpass"
LOW_BLOCK = (3, 5)
LOW_BLOCK_DEPTH = 1.6
LOW_BLOCK_RADIUS = 85.0
LOW_BLOCK_ID = "B-0305"  # the prefix of the low block's building ids
CBD_COLLECTOR_U = 900.0
TRIBUTARY = (10.0, 50)  # metres either side of a pipe that drain into its upstream manhole, % impervious
CBD_TRIBUTARY = (110.0, 95)  # the same along the CBD collector
MODEL = "sample_storm"


def relief(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Change of the ground (metres, <= 0) at local ``u``, ``v``: the underpass cut and the low block."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    a, b, c, d = UNDERPASS_V
    ramp = np.clip(np.minimum((v - a) / (b - a), (d - v) / (d - c)), 0.0, 1.0)
    cut = np.where(np.abs(u - UNDERPASS_U) <= UNDERPASS_HALF_WIDTH, UNDERPASS_DEPTH * ramp, 0.0)
    bx0, by0, bx1, by1 = block(*LOW_BLOCK).buildable
    cu, cv = (bx0 + bx1) / 2, (by0 + by1) / 2
    r2 = ((u - cu) ** 2 + (v - cv) ** 2) / LOW_BLOCK_RADIUS**2
    hollow = LOW_BLOCK_DEPTH * np.clip(1.0 - r2, 0.0, None)
    return -(cut + hollow)


def underpass_road(axis_order: str = "xy") -> dict:
    """The underpass's centre line as a ponding request's road (EPSG:4550; ``"yx"``: northing first, the
    CRS's official axis order)."""
    x0, y0 = origin()
    pts = [(x0 + UNDERPASS_U, y0 + v) for v in (UNDERPASS_V[0] - 5, UNDERPASS_V[3] + 5)]
    coords = [[y, x] if axis_order == "yx" else [x, y] for x, y in pts]
    return {"id": UNDERPASS_ROAD, "geometry": {"type": "LineString", "coordinates": coords}}


def swmm_model(pipes: list[PipeSegment], nodes: list[PipeNode], storm: Storm | None = None) -> bytes:
    """The storm network as a SWMM 5 input file (CMS, dynamic wave, city-CRS coordinates), rain from
    ``storm`` (default the 30-year Chicago storm of the city's formula)."""
    x0, _ = origin()
    sn = {n.id: n for n in nodes if n.utility == Utility.storm}
    segs = [p for p in pipes if p.utility == Utility.storm and p.from_node in sn and p.to_node in sn and p.diameter]
    used = {p.from_node for p in segs} | {p.to_node for p in segs}
    # a manhole no conduit leaves (a lateral ending at the district's edge, whose network goes on beyond it)
    # discharges freely, as an outfall
    ends = {p.to_node for p in segs} - {p.from_node for p in segs}
    outlet = {k for k in used if sn[k].kind == NodeKind.outfall} | ends
    invert = {k: n.position[2] - (n.depth or 0.0) for k, n in sn.items()}
    hy = hyetograph(storm or Storm(return_period_a=30, duration_min=120, step_min=5))
    out = [
        "[TITLE]",
        "Sample district storm network (sample_city/flood.py)",
        "",
        "[OPTIONS]",
        "FLOW_UNITS CMS",
        "INFILTRATION HORTON",
        "FLOW_ROUTING DYNWAVE",
        "LINK_OFFSETS DEPTH",
        "ALLOW_PONDING NO",
        "START_DATE 07/01/2026",
        "START_TIME 00:00:00",
        "REPORT_START_DATE 07/01/2026",
        "REPORT_START_TIME 00:00:00",
        "END_DATE 07/01/2026",
        "END_TIME 03:00:00",
        "REPORT_STEP 00:05:00",
        "WET_STEP 00:01:00",
        "DRY_STEP 01:00:00",
        "ROUTING_STEP 0:00:10",
        "VARIABLE_STEP 0.75",
        "",
        "[RAINGAGES]",
        "G1 INTENSITY 0:05 1.0 TIMESERIES design",
        "",
        "[TIMESERIES]",
        *[f"design {k * 5 / 60:.6f} {v:.4f}" for k, v in enumerate(hy.intensity_mm_per_h)],
        f"design {hy.duration_min / 60:.6f} 0",
        "",
    ]
    length = {p.id: float(np.hypot(*np.diff(np.asarray(p.centreline)[:, :2], axis=0).T).sum()) for p in segs}
    sub, area_of = [], {}
    for p in segs:
        cbd = (
            abs(sn[p.from_node].position[0] - (x0 + CBD_COLLECTOR_U)) < 30
            and abs(sn[p.to_node].position[0] - (x0 + CBD_COLLECTOR_U)) < 30
        )
        width, imperv = CBD_TRIBUTARY if cbd else TRIBUTARY
        a, i = area_of.get(p.from_node, (0.0, 0))
        area_of[p.from_node] = (a + length[p.id] * 2 * width / 1e4, max(i, imperv))
    out.append("[SUBCATCHMENTS]")
    for k, (nid, (area, imperv)) in enumerate(sorted(area_of.items())):
        name = f"S{k + 1:03d}"
        sub.append(name)
        out.append(f"{name} G1 {nid} {area:.4f} {imperv} {np.sqrt(area * 1e4):.1f} 0.5 0")
    out += ["", "[SUBAREAS]", *[f"{s} 0.013 0.15 2 5 25 OUTLET" for s in sub], ""]
    out += ["[INFILTRATION]", *[f"{s} 76.2 3.81 4 7 0" for s in sub], ""]
    out.append("[JUNCTIONS]")
    for k in sorted(used):
        n = sn[k]
        if k not in outlet:
            out.append(f"{k} {invert[k]:.3f} {n.position[2] - invert[k]:.3f} 0 0 0")
    out += ["", "[OUTFALLS]"]
    out += [f"{k} {invert[k]:.3f} FREE NO" for k in sorted(outlet)]
    out += ["", "[CONDUITS]"]
    xs = []
    for p in segs:
        c = np.asarray(p.centreline)
        d = p.diameter
        off_in = max(c[0, 2] - d / 2 - invert[p.from_node], 0.0)
        off_out = max(c[-1, 2] - d / 2 - invert[p.to_node], 0.0)
        out.append(
            f"{p.id} {p.from_node} {p.to_node} {max(length[p.id], 1.0):.2f} 0.013 {off_in:.3f} {off_out:.3f} 0 0"
        )
        xs.append(f"{p.id} CIRCULAR {d:.3f} 0 0 0 1")
    out += ["", "[XSECTIONS]", *xs, "", "[COORDINATES]"]
    out += [f"{k} {sn[k].position[0]:.3f} {sn[k].position[1]:.3f}" for k in sorted(used)]
    return ("\n".join(out) + "\n").encode()

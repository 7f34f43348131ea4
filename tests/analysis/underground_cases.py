"""Tiny hand-made underground cities whose volumes and distances can be worked out by hand.

Flat terrain at GROUND (so depth = GROUND - z exactly), EPSG:4550 metres near tests.common.ORIGIN.
"""

from __future__ import annotations

import math

import numpy as np

from cim.model import Compartment, PipeNode, PipeSegment, UndergroundStructure
from cim.terrain import Terrain
from tests.common import X0, Y0

GROUND = 50.0


def flat_terrain(z: float = GROUND) -> Terrain:
    """A flat DEM over [-100, 500] m around the origin, 10 m cells."""
    return Terrain(X0 - 100, Y0 - 100, 10.0, np.full((61, 61), z, dtype=np.float32))


def pipe(pid: str, pts, d: float | None = 0.6, utility: str = "water", **kw) -> PipeSegment:
    sec = {"diameter": d} if d is not None else {}
    return PipeSegment(id=pid, utility=utility, centreline=[(X0 + x, Y0 + y, z) for x, y, z in pts], **sec, **kw)


def basement(sid: str, x: float, y: float, w: float, h: float, top: float, bottom: float, **kw) -> UndergroundStructure:
    ring = [(X0 + x, Y0 + y), (X0 + x + w, Y0 + y), (X0 + x + w, Y0 + y + h), (X0 + x, Y0 + y + h)]
    return UndergroundStructure(
        id=sid, kind=kw.pop("kind", "basement"), footprint=[ring], top_elevation=top, bottom_elevation=bottom, **kw
    )


def manhole(nid: str, x: float, y: float, depth: float, d: float = 1.0, utility: str = "sewer") -> PipeNode:
    return PipeNode(id=nid, kind="manhole", utility=utility, position=(X0 + x, Y0 + y, GROUND), depth=depth, diameter=d)


def tunnel(
    tid: str, pts, width: float, section: str = "circular", height: float | None = None, kind: str = "tunnel", **kw
) -> UndergroundStructure:
    return UndergroundStructure(
        id=tid,
        kind=kind,
        centreline=[(X0 + x, Y0 + y, z) for x, y, z in pts],
        section=section,
        width=width,
        section_height=height,
        **kw,
    )


def utility_tunnel() -> UndergroundStructure:
    return tunnel(
        "utl",
        [(0, 300, GROUND - 5), (200, 300, GROUND - 5)],
        4.0,
        "box",
        3.0,
        kind="utility_tunnel",
        compartments=[Compartment(name="a", contents=["gas", "water"]), Compartment(name="b", contents=["heat"])],
    )


def below_integral(ha: float, hb: float, r: float) -> float:
    """Exact integral of a circle's area below a line over line heights h in [ha, hb] (relative to the centre):
    r^3 [G(t)] with G(t) = t acos(-t) + sqrt(1 - t^2) - (1 - t^2)^(3/2) / 3, t = h / r, plus pi r^2 per metre
    of h above the circle."""

    def g(t: float) -> float:
        return t * math.acos(-t) + math.sqrt(1 - t * t) - (1 - t * t) ** 1.5 / 3

    ta, tb = (max(-1.0, min(1.0, h / r)) for h in (ha, hb))
    return r**3 * (g(tb) - g(ta)) + math.pi * r * r * (max(hb, r) - max(ha, r))


def sloping_split(d: float, length: float, z0: float, z1: float, plane: float) -> tuple[float, float]:
    """Volumes of a straight pipe (axis z0 -> z1 over 3-D length ``length``) above and below the plane z = plane,
    by the analytic integral of the circular-segment area along the axis."""
    r = d / 2
    h0, h1 = plane - z0, plane - z1  # plane height above the axis at either end
    below = length / abs(h1 - h0) * below_integral(min(h0, h1), max(h0, h1), r)
    total = math.pi * r * r * length
    return total - below, below

"""A hand-made water network whose isolation answers are worked out by hand.

::

       R --P1--|J1 --P2--  J2 --P5--  J4 --P6--  J5 --P7--| J6         (| = isolation valve beside the node)
               |  \\          /        |(V4 at J2)  |(V5 at J4)    \\
                P4   --P3-- J3                               P8 -- J7
               (V1 on P1, V2 on P2, V3 on P4: all at J1; V6 on P7 at J5)

``second_source`` adds a reservoir R2 joined to J5 by P9 (no valve).  Buildings: B6 beside J6 (population 50
given), B7 beside J7 (residential, 5 floors, 20 m x 10 m: 5 x 200 x 0.025 = 25 people).  Demands: J5 2, J6 3,
J7 4 m³/h.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cim.model import Building, BuildingUse, NodeKind, PipeNode, PipeSegment, Utility

from ..common import X0, Y0

XY = {
    "R": (0, 0),
    "J1": (100, 0),
    "J2": (200, 0),
    "J3": (150, 80),
    "J4": (300, 0),
    "J5": (400, 0),
    "J6": (400, 100),
    "J7": (500, 0),
    "R2": (400, -100),
}
PIPES = {
    "P1": ("R", "J1"),
    "P2": ("J1", "J2"),
    "P3": ("J2", "J3"),
    "P4": ("J3", "J1"),
    "P5": ("J2", "J4"),
    "P6": ("J4", "J5"),
    "P7": ("J5", "J6"),
    "P8": ("J5", "J7"),
    "P9": ("R2", "J5"),
}
VALVES = {
    "V1": ("P1", "J1"),
    "V2": ("P2", "J1"),
    "V3": ("P4", "J1"),
    "V4": ("P5", "J2"),
    "V5": ("P6", "J4"),
    "V6": ("P7", "J5"),
}
DEMAND = {"J5": 2.0, "J6": 3.0, "J7": 4.0}


def xy(node: str) -> tuple[float, float]:
    x, y = XY[node]
    return X0 + x, Y0 + y


def network(second_source: bool = False) -> list:
    """Pipes, nodes and buildings (the valves come from :func:`valves_geojson`)."""
    out: list = []
    for nid in XY:
        if nid == "R2" and not second_source:
            continue
        kind = NodeKind.reservoir if nid.startswith("R") else NodeKind.junction
        attrs = {"demand_m3_per_h": DEMAND.get(nid, 0.0)} if kind == NodeKind.junction else {"head_m": 60.0}
        out.append(PipeNode(id=nid, kind=kind, utility=Utility.water, position=(*xy(nid), 40.0), attributes=attrs))
    for pid, (a, b) in PIPES.items():
        if pid == "P9" and not second_source:
            continue
        out.append(
            PipeSegment(
                id=pid,
                utility=Utility.water,
                diameter=0.2,
                from_node=a,
                to_node=b,
                centreline=[(*xy(a), 38.0), (*xy(b), 38.0)],
            )
        )
    x6, y6 = xy("J6")
    x7, y7 = xy("J7")
    out.append(
        Building(
            id="B6",
            footprint=[[(x6 + 10, y6 - 5), (x6 + 20, y6 - 5), (x6 + 20, y6 + 5), (x6 + 10, y6 + 5)]],
            ground_elevation=40.0,
            height=9.0,
            use=BuildingUse.commercial,
            attributes={"population": 50},
        )
    )
    out.append(
        Building(
            id="B7",
            footprint=[[(x7 + 5, y7 - 30), (x7 + 15, y7 - 30), (x7 + 15, y7 - 10), (x7 + 5, y7 - 10)]],
            ground_elevation=40.0,
            height=15.0,
            floors_above=5,
            use=BuildingUse.residential,
        )
    )
    return out


def valve_position(pipe: str, node: str) -> tuple[float, float]:
    """2 m from ``node`` along ``pipe``."""
    a, b = PIPES[pipe]
    p, q = np.asarray(xy(node)), np.asarray(xy(b if node == a else a))
    v = p + 2.0 * (q - p) / np.linalg.norm(q - p)
    return float(v[0]), float(v[1])


def valves_geojson(path: Path, valves: dict[str, tuple[str, str]] = VALVES) -> Path:
    """The valves as GeoJSON points in EPSG:4550 (x, y as easting, northing in the file)."""
    feats = [
        {
            "type": "Feature",
            "id": vid,
            "geometry": {"type": "Point", "coordinates": [*valve_position(pipe, node), 40.0]},
            "properties": {"kind": "valve", "utility": "water", "isolation": True, "pipe": pipe, "node": node},
        }
        for vid, (pipe, node) in valves.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path

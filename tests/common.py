"""Canonical sample objects: a tiny hand-made city whose answers can be worked out by hand.

Coordinates are EPSG:4550 metres near Shenyang (origin ORIGIN), heights in the 1985 datum.
"""

from __future__ import annotations

import numpy as np

from cim.model import (
    Building,
    BuildingUse,
    City,
    Compartment,
    NodeKind,
    PipeNode,
    PipeSegment,
    StructureKind,
    UndergroundStructure,
    Utility,
)
from cim.terrain import Terrain

ORIGIN = (535000.0, 4627000.0)
X0, Y0 = ORIGIN

CITY = City(name="Test city", crs_epsg=4550, urban_population=9_000_000)


def rect(x: float, y: float, w: float, h: float) -> list[list[tuple[float, float]]]:
    return [[(x, y), (x + w, y), (x + w, y + h), (x, y + h)]]


def buildings() -> list[Building]:
    """A 10 x 10 grid of 20 m squares every 50 m; heights 3..300 m; ids b-<row>-<col>."""
    out = []
    for r in range(10):
        for c in range(10):
            k = r * 10 + c
            out.append(
                Building(
                    id=f"b-{r}-{c}",
                    footprint=rect(X0 + 50 * c, Y0 + 50 * r, 20, 20),
                    ground_elevation=45.0,
                    height=3.0 * (k + 1),
                    floors_above=k + 1,
                    use=list(BuildingUse)[k % 5],
                    year_built=1950 + k,
                )
            )
    # an L-shaped building whose bounding box reaches the empty corner at (X0+600, Y0+600)
    out.append(
        Building(
            id="b-L",
            footprint=[
                [
                    (X0 + 560, Y0 + 560),
                    (X0 + 660, Y0 + 560),
                    (X0 + 660, Y0 + 580),
                    (X0 + 580, Y0 + 580),
                    (X0 + 580, Y0 + 660),
                    (X0 + 560, Y0 + 660),
                ]
            ],
            ground_elevation=45.0,
            height=12.0,
        )
    )
    return out


def pipes() -> list[PipeSegment]:
    """Eight straight pipes, one per utility, along y = Y0 - 10 - 2k, and one diagonal pipe."""
    out = [
        PipeSegment(
            id=f"p-{u.value}",
            utility=u,
            centreline=[(X0, Y0 - 10 - 2 * k, 43.0 - 0.3 * k), (X0 + 500, Y0 - 10 - 2 * k, 43.0 - 0.3 * k)],
            diameter=0.3,
            lane="motor_lane",
        )
        for k, u in enumerate(Utility)
    ]
    out.append(
        PipeSegment(
            id="p-diag",
            utility=Utility.sewer,
            centreline=[(X0 + 700, Y0, 42.0), (X0 + 900, Y0 + 200, 41.0)],
            width=1.0,
            section_height=0.8,
        )
    )
    return out


def nodes() -> list[PipeNode]:
    return [
        PipeNode(
            id=f"n-{i}",
            kind=NodeKind.manhole,
            utility=Utility.sewer,
            position=(X0 + 100 * i, Y0 - 30, 45.0),
            depth=3.0,
            diameter=1.2,
        )
        for i in range(6)
    ]


def structures() -> list[UndergroundStructure]:
    return [
        UndergroundStructure(
            id="s-basement",
            kind=StructureKind.basement,
            footprint=rect(X0, Y0, 20, 20),
            top_elevation=45.0,
            bottom_elevation=37.0,
            building_id="b-0-0",
        ),
        UndergroundStructure(
            id="s-tunnel",
            kind=StructureKind.utility_tunnel,
            centreline=[(X0 - 50, Y0, 40.0), (X0 - 50, Y0 + 500, 40.0)],
            section="box",
            width=8.0,
            section_height=3.5,
            compartments=[Compartment(name="gas", contents=[Utility.gas])],
        ),
    ]


def terrain() -> Terrain:
    """A plane z = 45 + 0.01 * (x - X0) on 10 m cells over [-100, 1000] m around the origin."""
    xs = X0 - 100 + 10 * np.arange(111)
    z = np.tile(45 + 0.01 * (xs - X0), (111, 1)).astype(np.float32)
    return Terrain(X0 - 100, Y0 - 100, 10.0, z)


def all_features():
    return [*buildings(), *pipes(), *nodes(), *structures()]

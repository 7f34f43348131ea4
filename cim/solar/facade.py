"""Window-sill points on the walls of buildings that face the sun's range.

A wall (an edge of a footprint ring, exterior or courtyard) is kept when the sun stands in front of it for at
least one step of the track: its outward normal makes an angle of at most 90° - ``sweep_deg`` with the sun's
horizontal direction (the sweep angle of GB/T 50947: sun rays grazing a wall at less than it do not count).
Each kept wall is cut into pieces of at most ``spacing`` metres and a **column** stands at the middle of each
piece, ``offset`` metres out from the wall; a column carries one point per floor at
``ground + floor x storey + sill`` (floor 0: the lowest floor).  Points of one column share the plan position,
so the LOD1 shadow test computes one 2-D answer per column and time (see :mod:`cim.solar.shadow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

OFFSET = 0.01  # metres: columns stand this far out from their wall (rays must not start inside it)


@dataclass
class Columns:
    """Façade columns (plan positions on the walls) of a set of buildings.

    xy : (C, 2) position on the wall, city CRS metres; origin : (C, 2) the same, ``offset`` out from the wall.
    normal : (C, 2) outward unit normal of the wall.  building : (C,) index of the building in the input list.
    facing : (C, T) bool, the sun is in front of the wall (beyond the sweep angle) at step t.
    wall : (C,) index of the wall (footprint edge) the column stands on; columns of a wall share ``facing``.
    """

    xy: np.ndarray
    origin: np.ndarray
    normal: np.ndarray
    building: np.ndarray
    facing: np.ndarray
    wall: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)


@dataclass
class Points:
    """Façade points: columns x floors.

    column : (N,) index into :class:`Columns`; floor : (N,) 0 = lowest; z : (N,) elevation, metres.
    """

    column: np.ndarray
    floor: np.ndarray
    z: np.ndarray

    def __len__(self) -> int:
        return len(self.z)


def _rings(footprint: Sequence[Sequence[Sequence[float]]]) -> list[np.ndarray]:
    """Rings of a footprint oriented exterior counter-clockwise, holes clockwise, without the closing vertex."""
    poly = shapely.Polygon(footprint[0], list(footprint[1:]))
    poly = (
        shapely.orient_polygons(poly) if hasattr(shapely, "orient_polygons") else shapely.geometry.polygon.orient(poly)
    )
    rings = [np.asarray(poly.exterior.coords)[:-1, :2]]
    rings += [np.asarray(h.coords)[:-1, :2] for h in poly.interiors]
    return rings


def facade_columns(
    footprints: Sequence[Sequence[Sequence[Sequence[float]]]],
    sun_horizontal: np.ndarray,
    sun_up: np.ndarray,
    *,
    spacing: float = 1.0,
    sweep_deg: float = 0.0,
    offset: float = OFFSET,
) -> Columns:
    """Columns on the walls of ``footprints`` that the sun faces during the track.

    sun_horizontal : (T, 2) unit horizontal directions towards the sun (city grid); sun_up : (T,) bool, the
    sun above the horizon.  spacing : metres between columns along a wall (each wall gets ceil(L / spacing)
    columns at the middles of equal pieces).
    """
    a_list, b_list, own = [], [], []
    for k, fp in enumerate(footprints):
        for ring in _rings(fp):
            a_list.append(ring)
            b_list.append(np.roll(ring, -1, axis=0))
            own.append(np.full(len(ring), k))
    if not a_list:
        return Columns(
            np.zeros((0, 2)),
            np.zeros((0, 2)),
            np.zeros((0, 2)),
            np.zeros(0, np.int64),
            np.zeros((0, 0), bool),
            np.zeros(0, np.int64),
        )
    a, b, own_e = np.concatenate(a_list), np.concatenate(b_list), np.concatenate(own)
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 1e-6
    a, d, length, own_e = a[keep], d[keep], length[keep], own_e[keep]
    normal = np.column_stack([d[:, 1], -d[:, 0]]) / length[:, None]  # right of a CCW exterior = outward
    cos_in = normal @ sun_horizontal.T  # (W, T)
    facing_w = (cos_in > np.sin(np.radians(sweep_deg)) + 1e-12) & sun_up[None, :]
    wall = np.flatnonzero(facing_w.any(axis=1))
    n = np.maximum(1, np.ceil(length[wall] / spacing - 1e-9).astype(np.int64))
    w = np.repeat(wall, n)
    first = np.repeat(np.cumsum(n) - n, n)
    s = (np.arange(len(w)) - first + 0.5) / np.repeat(n, n)
    xy = a[w] + s[:, None] * d[w]
    return Columns(
        xy=xy,
        origin=xy + offset * normal[w],
        normal=normal[w],
        building=own_e[w].astype(np.int64),
        facing=facing_w[w],
        wall=w.astype(np.int64),
    )


def facade_points(
    columns: Columns, ground: np.ndarray, floors: np.ndarray, storey: np.ndarray, sill: float, all_floors: bool
) -> Points:
    """Points of each column: the lowest floor only, or every floor.

    ground, storey : (B,) metres per building; floors : (B,) floor count per building.
    """
    b = columns.building
    nf = np.where(all_floors, np.maximum(floors[b], 1), 1).astype(np.int64) if len(b) else np.zeros(0, np.int64)
    col = np.repeat(np.arange(len(b)), nf)
    first = np.repeat(np.cumsum(nf) - nf, nf)
    floor = np.arange(len(col)) - first
    z = ground[b][col] + floor * storey[b][col] + sill
    return Points(column=col, floor=floor, z=z)

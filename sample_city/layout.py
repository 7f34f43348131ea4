"""The district's plan: origin, river line, street grid, street cross-sections and blocks.

Everything here is in *local* metres: ``u`` east and ``v`` north of the district's south-west
corner, which sits at :func:`origin` in EPSG:4550.  The district is ``SIZE`` x ``SIZE`` metres.
The Xi River (细河) meanders west to east through the southern part; the street grid lies north of
it (from the riverside road at v = 400 m to the north edge) and the strip south of the riverside
road, the river and its south bank form a riverside park with no buildings and no streets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer

from cim.model import Utility

SIZE = 2000.0  # district side, metres
ORIGIN_LONLAT = (123.40, 41.78)  # south-west corner, CGCS2000 (EPSG:4490) lon/lat
DEM_MARGIN = 100.0  # the DEM reaches this far beyond the district
DEM_CELL = 5.0

# -- the river -------------------------------------------------------------------------------
RIVER_HALF_WIDTH = 50.0  # channel half width (water and bed), metres: the channel is 100 m wide
RIVER_DEPTH = 7.0  # bed below the flood plain, metres
OUTFALL_OFFSET = 54.0  # outfalls sit this far from the river's centre line, just outside the channel


def river_centre(u: np.ndarray | float) -> np.ndarray:
    """Northing of the river's centre line (local metres) at easting ``u`` (local metres)."""
    u = np.asarray(u, dtype=float)
    return 245.0 + 32.0 * np.sin(2 * np.pi * u / 1150.0 + 0.7) + 9.0 * np.sin(2 * np.pi * u / 430.0 + 2.1)


def river_channel_local(step: float = 5.0, extend: float = DEM_MARGIN) -> shapely.Polygon:
    """The river channel (|v - centre| <= RIVER_HALF_WIDTH) as a polygon in local metres."""
    u = np.arange(-extend, SIZE + extend + step / 2, step)
    c = river_centre(u)
    north = np.column_stack([u, c + RIVER_HALF_WIDTH])
    south = np.column_stack([u, c - RIVER_HALF_WIDTH])[::-1]
    return shapely.Polygon(np.vstack([north, south]))


@lru_cache(maxsize=1)
def origin() -> tuple[float, float]:
    """EPSG:4550 easting/northing of the district's south-west corner, whole metres."""
    t = Transformer.from_crs(4490, 4550, always_xy=True)
    x, y = t.transform(*ORIGIN_LONLAT)
    return float(round(x)), float(round(y))


def river_channel() -> shapely.Polygon:
    """The river channel in the city CRS (EPSG:4550)."""
    x0, y0 = origin()
    return shapely.transform(river_channel_local(), lambda c: c + np.array([x0, y0]))


# -- streets ---------------------------------------------------------------------------------
HALF_WIDTH = {True: 20.0, False: 12.0}  # main 40 m, secondary 24 m between red lines
FOOTWAY = {True: 12.0, False: 7.5}  # |offset| beyond this is under the footway
SETBACK = {True: 8.0, False: 5.0}  # building line behind the red line
EDGE_SETBACK = 5.0  # from the district boundary
RIVERSIDE_V = 400.0  # the riverside road; the grid lies north of it

# Horizontal position of each utility, metres from the street centre line (+ = east side of a
# N-S street, north side of an E-W street).  Each side holds four utilities whose depth increases
# from the building line inwards (east/north: power, water, gas, storm; west/south: telecom,
# heat, reclaimed, sewer), so that wherever two pipes cross the vertical order of GB 50289
# §4.1.12 holds (see utilities.py).  The centre band (|offset| < 5 m on main roads) stays free
# for the utility tunnel.
SECTION: dict[bool, dict[Utility, float]] = {
    True: {
        Utility.power: 18.0,
        Utility.water: 14.5,
        Utility.gas: 10.5,
        Utility.storm: 6.0,
        Utility.telecom: -18.0,
        Utility.heat: -14.5,
        Utility.reclaimed: -10.5,
        Utility.sewer: -6.0,
    },
    False: {
        Utility.power: 11.0,
        Utility.water: 8.5,
        Utility.gas: 6.0,
        Utility.storm: 2.5,
        Utility.telecom: -11.0,
        Utility.heat: -8.5,
        Utility.reclaimed: -6.0,
        Utility.sewer: -2.5,
    },
}


@dataclass(frozen=True)
class Street:
    """A street centre line: ``axis`` "ns" (at easting ``at``) or "ew" (at northing ``at``)."""

    code: str
    name: str
    axis: str
    at: float
    main: bool

    @property
    def half_width(self) -> float:
        return HALF_WIDTH[self.main]

    @property
    def width(self) -> float:
        return 2 * self.half_width

    def offset(self, utility: Utility) -> float:
        return SECTION[self.main][utility]

    def lane(self, utility: Utility) -> str:
        return "footway" if abs(self.offset(utility)) >= FOOTWAY[self.main] else "motor_lane"


# N-S streets (街) west to east, E-W roads (路) south to north; main roads every 400 m.
_NS_NAMES = [
    ("保工街", "Baogong St"),
    ("启工街", "Qigong St"),
    ("卫工街", "Weigong St"),
    ("兴工街", "Xinggong St"),
    ("重工街", "Zhonggong St"),
    ("肇工街", "Zhaogong St"),
    ("勋工街", "Xungong St"),
    ("齐贤街", "Qixian St"),
    ("云峰街", "Yunfeng St"),
    ("景星街", "Jingxing St"),
]
_EW_NAMES = [
    ("细河北路", "Xihe North Rd"),
    ("南八路", "Nanba Rd"),
    ("建设大路", "Jianshe Ave"),
    ("北一路", "Beiyi Rd"),
    ("北二路", "Beier Rd"),
    ("北三路", "Beisan Rd"),
    ("沈辽路", "Shenliao Rd"),
    ("北四路", "Beisi Rd"),
]

NS_STREETS: tuple[Street, ...] = tuple(
    Street(f"NS{i + 1:02d}", f"{zh} ({en})", "ns", 100.0 + 200.0 * i, i % 2 == 0)
    for i, (zh, en) in enumerate(_NS_NAMES)
)
EW_STREETS: tuple[Street, ...] = tuple(
    Street(f"EW{j + 1:02d}", f"{zh} ({en})", "ew", RIVERSIDE_V + 200.0 * j, j % 2 == 0)
    for j, (zh, en) in enumerate(_EW_NAMES)
)
STREETS = NS_STREETS + EW_STREETS


def ns_street(u: float) -> Street:
    return next(s for s in NS_STREETS if s.at == u)


def ew_street(v: float) -> Street:
    return next(s for s in EW_STREETS if s.at == v)


# -- blocks ----------------------------------------------------------------------------------
Rect = tuple[float, float, float, float]  # (u0, v0, u1, v1), local metres


@dataclass(frozen=True)
class Block:
    """A city block between streets: ``col`` west to east (0..10), ``row`` south to north (0..7)."""

    col: int
    row: int
    red: Rect  # between the streets' red lines (and the district edge)
    buildable: Rect  # red-line rectangle minus setbacks
    main_sides: tuple[str, ...]  # sides ("s", "n", "w", "e") that face a main road

    @property
    def key(self) -> str:
        return f"{self.col:02d}{self.row:02d}"


def _bounds(streets: tuple[Street, ...]) -> list[tuple[float, float | None]]:
    """Block edges along one axis: (position, half width or None for the district edge)."""
    return [(0.0, None)] + [(s.at, s.half_width) for s in streets] + [(SIZE, None)]


@lru_cache(maxsize=1)
def blocks() -> tuple[Block, ...]:
    cols = _bounds(NS_STREETS)
    rows = [(s.at, s.half_width) for s in EW_STREETS] + [(SIZE, None)]
    out = []
    for j in range(len(rows) - 1):
        (va, hwa), (vb, hwb) = rows[j], rows[j + 1]
        for i in range(len(cols) - 1):
            (ua, hua), (ub, hub) = cols[i], cols[i + 1]
            red = (ua + (hua or 0.0), va + (hwa or 0.0), ub - (hub or 0.0), vb - (hwb or 0.0))

            def sb(hw: float | None) -> float:
                return EDGE_SETBACK if hw is None else SETBACK[hw == HALF_WIDTH[True]]

            build = (red[0] + sb(hua), red[1] + sb(hwa), red[2] - sb(hub), red[3] - sb(hwb))
            sides = tuple(
                side for side, hw in (("s", hwa), ("n", hwb), ("w", hua), ("e", hub)) if hw == HALF_WIDTH[True]
            )
            out.append(Block(i, j, red, build, sides))
    return tuple(out)


def block(col: int, row: int) -> Block:
    return next(b for b in blocks() if b.col == col and b.row == row)
